/* SPDX-License-Identifier: Apache-2.0 */
/* Set algebra: union, and the conservative "a is no broader than b". */
#include "capabilities/capset.h"
#include "capabilities/pattern.h"
#include "common/macros.h"

/* A rule in the form the algebra compares: tokens for paths, a parsed
 * endpoint for the network. */
typedef struct rule_repr {
        ob_cap_kind kind;
        cap_tokens tok;
        cap_endpoint ep;
} rule_repr;

typedef struct repr_list {
        rule_repr *r;
        size_t n;
} repr_list;

static void repr_list_done(repr_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                cap_tokens_done(&l->r[i].tok);
        free(l->r);
        l->r = NULL;
        l->n = 0;
}

static int repr_list_make(const ob_capset *set, bool deny, repr_list *ret)
{
        size_t n = ob_capset_count(set, deny);
        repr_list l = {calloc(n + 1, sizeof(rule_repr)), 0};

        if (!l.r)
                return -ENOMEM;
        for (; l.n < n; l.n++) {
                const ob_capability *c = ob_capset_get(set, deny, l.n);
                rule_repr *x = &l.r[l.n];
                int r;
                x->kind = c->kind;
                r = c->kind == OB_CAP_NETWORK_CONNECT
                        ? cap_endpoint_parse(c->target, true, &x->ep, NULL)
                        : cap_pattern_tokens(c->target, &x->tok);
                if (r < 0) {
                        repr_list_done(&l);
                        return r;
                }
        }
        *ret = l;
        return 0;
}

static bool repr_contained(const rule_repr *x, const rule_repr *y)
{
        if (x->kind != y->kind)
                return false;
        if (x->kind == OB_CAP_NETWORK_CONNECT)
                return cap_endpoint_contained(&x->ep, &y->ep);
        return cap_tokens_contained(&x->tok, &y->tok);
}

static int repr_overlap(const rule_repr *x, const rule_repr *y, bool *ret)
{
        *ret = false;
        if (x->kind != y->kind)
                return 0;
        if (x->kind == OB_CAP_NETWORK_CONNECT)
                return cap_endpoint_overlap(&x->ep, &y->ep, ret);
        return cap_tokens_overlap(&x->tok, &y->tok, ret);
}

static bool contained_in_any(const rule_repr *x, const repr_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                if (repr_contained(x, &l->r[i]))
                        return true;
        return false;
}

/* Whether grant g of a is provably allowed by b: covered by one grant of b,
 * and every denial of b it may overlap lies inside one denial of a. */
static int grant_ok(const rule_repr *g, const repr_list *da, const repr_list *gb,
                    const repr_list *db, bool *ret)
{
        *ret = true;
        if (contained_in_any(g, da)) /* a denies all of it: allows nothing */
                return 0;
        if (!contained_in_any(g, gb)) {
                *ret = false;
                return 0;
        }
        for (size_t i = 0; i < db->n; i++) {
                bool ov;
                int r = repr_overlap(g, &db->r[i], &ov);
                if (r < 0)
                        return r;
                if (ov && !contained_in_any(&db->r[i], da)) {
                        *ret = false;
                        return 0;
                }
        }
        return 0;
}

/* Conservative subset test; see the header and docs/capabilities.md. */
int ob_capset_is_subset(const ob_capset *a, const ob_capset *b, bool *ret)
{
        repr_list ga = {0}, da = {0}, gb = {0}, db = {0};
        bool ok = true;
        int r;

        if (!a || !b || !ret)
                return -EINVAL;
        if ((r = repr_list_make(a, false, &ga)) >= 0 && (r = repr_list_make(a, true, &da)) >= 0 &&
            (r = repr_list_make(b, false, &gb)) >= 0 && (r = repr_list_make(b, true, &db)) >= 0)
                for (size_t i = 0; i < ga.n && ok && r >= 0; i++)
                        r = grant_ok(&ga.r[i], &da, &gb, &db, &ok);
        repr_list_done(&ga);
        repr_list_done(&da);
        repr_list_done(&gb);
        repr_list_done(&db);
        if (r < 0)
                return r;
        *ret = ok;
        return 0;
}

/* Appends src's rules to dst; fills dst's unset limits from src. */
int ob_capset_union(ob_capset *dst, const ob_capset *src)
{
        int64_t *d, *s;

        if (!dst || !src)
                return -EINVAL;
        for (int deny = 0; deny < 2; deny++) {
                size_t n = ob_capset_count(src, deny); /* fixed: src may be dst */
                for (size_t i = 0; i < n; i++) {
                        const ob_capability *c = ob_capset_get(src, deny, i);
                        int r = ob_capset_add(dst, deny, c->kind, c->target, c->policy_id, NULL);
                        if (r < 0)
                                return r;
                }
        }
        d = (int64_t *)&dst->limits;
        s = (int64_t *)&src->limits;
        for (size_t i = 0; i < sizeof(ob_limits) / sizeof(int64_t); i++)
                if (d[i] == OB_LIMIT_UNSET)
                        d[i] = s[i];
        return 0;
}
