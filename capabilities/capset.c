/* SPDX-License-Identifier: Apache-2.0 */
/* Capability sets: rules, limits, principal, and the indexed check. */
#include <ctype.h>

#include "capabilities/capset.h"
#include "capabilities/limits.h"
#include "capabilities/path.h"
#include "capabilities/pattern.h"
#include "common/error.h"

static const char *const kind_names[OB_CAP_KIND_MAX] = {
    [OB_CAP_FILE_READ] = "FILE_READ",
    [OB_CAP_FILE_WRITE] = "FILE_WRITE",
    [OB_CAP_FILE_EXEC] = "FILE_EXEC",
    [OB_CAP_NETWORK_CONNECT] = "NETWORK_CONNECT",
};

/* Static name of a kind, or NULL. */
const char *ob_cap_kind_to_string(ob_cap_kind kind)
{
        if ((unsigned)kind >= OB_CAP_KIND_MAX)
                return NULL;
        return kind_names[kind];
}

/* Kind of a name (exact, upper case). */
int ob_cap_kind_from_string(const char *name, ob_cap_kind *ret)
{
        if (!name)
                return -EINVAL;
        for (unsigned k = 0; k < OB_CAP_KIND_MAX; k++)
                if (streq(name, kind_names[k])) {
                        *ret = (ob_cap_kind)k;
                        return 0;
                }
        return -EINVAL;
}

/* Every limit unset. */
ob_limits ob_limits_unset(void)
{
        return (ob_limits){OB_LIMIT_UNSET, OB_LIMIT_UNSET, OB_LIMIT_UNSET, OB_LIMIT_UNSET,
                           OB_LIMIT_UNSET, OB_LIMIT_UNSET, OB_LIMIT_UNSET};
}

/* l with defaults filled in. */
ob_limits ob_limits_effective(const ob_limits *l)
{
        ob_limits e = l ? *l : ob_limits_unset();

        for (size_t i = 0; i < OB_LIMIT_COUNT; i++)
                if (ob_limit_get(&e, &ob_limit_table[i]) == OB_LIMIT_UNSET)
                        *ob_limit_slot(&e, &ob_limit_table[i]) = ob_limit_table[i].def;
        return e;
}

/* A new empty set in *ret. */
int ob_capset_new(ob_capset **ret)
{
        ob_capset *s;

        if (!ret)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->limits = ob_limits_unset();
        *ret = s;
        return 0;
}

static void side_done(cap_side *side)
{
        for (size_t i = 0; i < side->n; i++) {
                free(side->rules[i]->target);
                free(side->rules[i]->policy_id);
                free(side->rules[i]);
        }
        free(side->rules);
        free(side->info);
        for (unsigned k = 0; k < OB_CAP_KIND_MAX; k++)
                cap_index_done(&side->ix[k]);
}

/* Frees set (NULL is fine); returns NULL. */
ob_capset *ob_capset_free(ob_capset *set)
{
        if (!set)
                return NULL;
        side_done(&set->side[0]);
        side_done(&set->side[1]);
        free(set->principal);
        free(set);
        return NULL;
}

/* The principal UUID or NULL. */
const char *ob_capset_principal(const ob_capset *set)
{
        return set ? set->principal : NULL;
}

/* Sets the principal (stored lower case). */
int ob_capset_set_principal(ob_capset *set, const char *uuid)
{
        static const unsigned groups[] = {8, 4, 4, 4, 12};
        char buf[37], *copy;
        size_t at = 0;

        if (!set || !uuid || strnlen(uuid, 37) != 36)
                return -EINVAL;
        for (unsigned g = 0; g < ARRAY_SIZE(groups); g++) {
                for (unsigned i = 0; i < groups[g]; i++, at++) {
                        if (!isxdigit((unsigned char)uuid[at]))
                                return -EINVAL;
                        buf[at] = (char)tolower((unsigned char)uuid[at]);
                }
                if (g + 1 < ARRAY_SIZE(groups)) {
                        if (uuid[at] != '-')
                                return -EINVAL;
                        buf[at++] = '-';
                }
        }
        buf[36] = '\0';
        copy = strdup(buf);
        if (!copy)
                return -ENOMEM;
        free(set->principal);
        set->principal = copy;
        return 0;
}

/* Canonical text of a rule target of kind; see capset.h. */
int cap_normalize_target(ob_cap_kind kind, const char *target, char **ret, ob_error *err)
{
        cap_endpoint ep;
        char buf[64 + CAP_HOST_MAX];
        int r;

        if (!target)
                return ob_error_set(err, 0, 0, EINVAL, "missing target");
        if (kind != OB_CAP_NETWORK_CONNECT)
                return cap_path_pattern_canonicalize(target, ret, err);
        r = cap_endpoint_parse(target, true, &ep, err);
        if (r < 0)
                return r;
        r = cap_endpoint_format(&ep, buf, sizeof(buf));
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "endpoint \"%s\" cannot be written", target);
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

static int side_reserve(cap_side *side)
{
        size_t ncap;
        ob_capability **nr;
        cap_rule_info *ni;

        if (side->n < side->cap)
                return 0;
        if (side->n >= UINT32_MAX - 1)
                return -E2BIG;
        ncap = side->cap ? side->cap * 2 : 16;
        nr = realloc(side->rules, ncap * sizeof(*nr));
        if (!nr)
                return -ENOMEM;
        side->rules = nr;
        ni = realloc(side->info, ncap * sizeof(*ni));
        if (!ni)
                return -ENOMEM;
        side->info = ni;
        side->cap = ncap;
        return 0;
}

static int check_policy_id(const char *policy_id, ob_error *err)
{
        size_t n;

        if (!policy_id)
                return 0;
        n = strnlen(policy_id, CAP_POLICY_ID_MAX + 1);
        if (n == 0 || n > CAP_POLICY_ID_MAX || !cap_utf8_valid(policy_id, n))
                return ob_error_set(err, 0, 0, EINVAL, "policy id must be 1-%d bytes of UTF-8",
                                    CAP_POLICY_ID_MAX);
        return 0;
}

/* Validates, normalises and appends a grant or denial. */
int ob_capset_add(ob_capset *set, bool deny, ob_cap_kind kind, const char *target,
                  const char *policy_id, ob_error *err)
{
        _cleanup_free_ char *norm = NULL, *pid = NULL;
        _cleanup_free_ ob_capability *cap = NULL;
        cap_side *side;
        int r;

        if (!set || (unsigned)kind >= OB_CAP_KIND_MAX)
                return ob_error_set(err, 0, 0, EINVAL, "unknown capability kind");
        r = check_policy_id(policy_id, err);
        if (r < 0)
                return r;
        r = cap_normalize_target(kind, target, &norm, err);
        if (r < 0)
                return r;
        side = &set->side[deny];
        cap = calloc(1, sizeof(*cap));
        if (!cap || (policy_id && !(pid = strdup(policy_id))))
                return ob_error_set(err, 0, 0, ENOMEM, "out of memory");
        r = side_reserve(side);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "too many rules");
        *cap = (ob_capability){.kind = kind, .target = norm, .policy_id = pid};
        side->rules[side->n] = cap;
        r = cap_index_rule(side, kind, (uint32_t)side->n);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "out of memory");
        side->n++;
        TAKE_PTR(norm);
        TAKE_PTR(pid);
        TAKE_PTR(cap);
        return 0;
}

/* Number of grants or denials. */
size_t ob_capset_count(const ob_capset *set, bool deny)
{
        return set ? set->side[deny].n : 0;
}

/* The i-th grant or denial, NULL when out of range. */
const ob_capability *ob_capset_get(const ob_capset *set, bool deny, size_t i)
{
        if (!set || i >= set->side[deny].n)
                return NULL;
        return set->side[deny].rules[i];
}

/* Limits of the set, writable. */
ob_limits *ob_capset_limits(ob_capset *set)
{
        return set ? &set->limits : NULL;
}

/* Limits of the set, read-only. */
const ob_limits *ob_capset_limits_const(const ob_capset *set)
{
        return set ? &set->limits : NULL;
}
