/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the capability file parser: any input either fails cleanly or
 * gives a set that writes back to a file that parses to the same text, and
 * whose check agrees with a naive scan on the set's own targets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/capabilities.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first matching rule of side deny, by plain scan (FILE kinds). */
static const ob_capability *naive(const ob_capset *s, bool deny, ob_cap_kind k, const char *p)
{
        for (size_t i = 0; i < ob_capset_count(s, deny); i++) {
                const ob_capability *c = ob_capset_get(s, deny, i);
                if (c->kind == k && ob_pattern_match(c->target, p))
                        return c;
        }
        return NULL;
}

static void check_targets(const ob_capset *s, bool deny)
{
        for (size_t i = 0; i < ob_capset_count(s, deny); i++) {
                const ob_capability *c = ob_capset_get(s, deny, i);
                const ob_capability *want;
                ob_decision d;
                char *canon = NULL;
                /* a rule's own target, as a request (fails for patterns
                 * that are not concrete, which is fine) */
                if (ob_capset_check(s, c->kind, c->target, &d) < 0 ||
                    c->kind == OB_CAP_NETWORK_CONNECT ||
                    ob_path_canonicalize(c->target, &canon) < 0)
                        continue;
                want = naive(s, true, c->kind, canon);
                if (!want && !(want = naive(s, false, c->kind, canon)) && d.rule)
                        abort();
                if (want && d.rule != want)
                        abort();
                free(canon);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ob_capset *s = NULL, *t = NULL;
        ob_error err;
        char *a = NULL, *b = NULL;
        bool sub = false;

        if (ob_capset_parse((const char *)data, size, &s, &err) < 0)
                return 0;
        if (ob_capset_to_json(s, &a) < 0 || ob_capset_parse(a, strlen(a), &t, &err) < 0 ||
            ob_capset_to_json(t, &b) < 0 || strcmp(a, b) != 0)
                abort(); /* what we write, we read back identically */
        check_targets(s, false);
        check_targets(s, true);
        if (ob_capset_is_subset(s, t, &sub) < 0 || !sub)
                abort(); /* a set is no broader than its own copy */
        if (ob_capset_union(t, s) < 0)
                abort();
        free(a);
        free(b);
        ob_capset_free(s);
        ob_capset_free(t);
        return 0;
}
