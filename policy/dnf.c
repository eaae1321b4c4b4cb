/* SPDX-License-Identifier: Apache-2.0 */
/* Disjunctive normal form of residual formulas, bounded. */
#include "common/error.h"
#include "policy/compile-internal.h"

/* Intersects [*lo, *hi] with the ports that satisfy `port op n`. */
void cc_port_bounds(pol_ekind op, int64_t n, int64_t *lo, int64_t *hi)
{
        int64_t l = op == PE_GT ? n + 1 : (op == PE_GE || op == PE_EQ) ? n : INT64_MIN;
        int64_t h = op == PE_LT ? n - 1 : (op == PE_LE || op == PE_EQ) ? n : INT64_MAX;
        if (l > *lo)
                *lo = l;
        if (h < *hi)
                *hi = h;
}

static int dnf_or(cctx *c, const cc_dnf *a, const cc_dnf *b, cc_dnf *ret);

static int one_term(cctx *c, const cc_atom *a, bool neg, cc_dnf *ret)
{
        ret->terms = cc_alloc(c, sizeof(*ret->terms));
        if (!ret->terms || !(ret->terms[0].lits = cc_alloc(c, sizeof(cc_lit))))
                return cc_fail(c, a->at, "out of memory");
        ret->terms[0].lits[0] = (cc_lit){.atom = a, .neg = neg};
        ret->terms[0].n = 1;
        ret->n = 1;
        return 0;
}

/* !(port op n) as a disjunction of comparisons. */
static int negated_port(cctx *c, const cc_atom *a, cc_dnf *ret)
{
        static const pol_ekind comp[] = {
            [PE_LT] = PE_GE, [PE_LE] = PE_GT, [PE_GT] = PE_LE, [PE_GE] = PE_LT};
        cc_atom *x = cc_alloc(c, 2 * sizeof(*x));
        cc_dnf first, second;
        int r;

        if (!x)
                return cc_fail(c, a->at, "out of memory");
        x[0] = x[1] = *a;
        if (a->op != PE_EQ) {
                x[0].op = comp[a->op];
                return one_term(c, &x[0], false, ret);
        }
        x[0].op = PE_LT;
        x[1].op = PE_GT;
        if ((r = one_term(c, &x[0], false, &first)) < 0 ||
            (r = one_term(c, &x[1], false, &second)) < 0)
                return r;
        return dnf_or(c, &first, &second, ret);
}

static int dnf_or(cctx *c, const cc_dnf *a, const cc_dnf *b, cc_dnf *ret)
{
        if (a->n + b->n > CC_MAX_TERMS)
                return cc_fail(c, NULL, "condition too complex (over %d alternatives)",
                               CC_MAX_TERMS);
        ret->terms = cc_alloc(c, (a->n + b->n) * sizeof(*ret->terms));
        if (!ret->terms)
                return cc_fail(c, NULL, "out of memory");
        memcpy(ret->terms, a->terms, a->n * sizeof(*ret->terms));
        memcpy(ret->terms + a->n, b->terms, b->n * sizeof(*ret->terms));
        ret->n = a->n + b->n;
        return 0;
}

static int dnf_and(cctx *c, const cc_dnf *a, const cc_dnf *b, cc_dnf *ret)
{
        size_t k = 0;

        if (a->n * b->n > CC_MAX_TERMS)
                return cc_fail(c, NULL, "condition too complex (over %d alternatives)",
                               CC_MAX_TERMS);
        ret->terms = cc_alloc(c, (a->n * b->n + 1) * sizeof(*ret->terms));
        if (!ret->terms)
                return cc_fail(c, NULL, "out of memory");
        for (size_t i = 0; i < a->n; i++)
                for (size_t j = 0; j < b->n; j++) {
                        const cc_term *x = &a->terms[i], *y = &b->terms[j];
                        cc_term *t = &ret->terms[k++];
                        if (x->n + y->n > CC_MAX_LITS)
                                return cc_fail(c, NULL,
                                               "condition too complex (over %d tests "
                                               "in one alternative)",
                                               CC_MAX_LITS);
                        t->lits = cc_alloc(c, (x->n + y->n + 1) * sizeof(*t->lits));
                        if (!t->lits)
                                return cc_fail(c, NULL, "out of memory");
                        memcpy(t->lits, x->lits, x->n * sizeof(*t->lits));
                        memcpy(t->lits + x->n, y->lits, y->n * sizeof(*t->lits));
                        t->n = x->n + y->n;
                }
        ret->n = k;
        return 0;
}

/* DNF of f (of !f when neg) into *ret, allocated from c. */
int cc_to_dnf(cctx *c, const cc_form *f, bool neg, cc_dnf *ret)
{
        cc_dnf a = {0}, b = {0};
        int r;

        *ret = (cc_dnf){0};
        switch (f->kind) {
        case CF_TRUE:
        case CF_FALSE:
                if ((f->kind == CF_TRUE) == neg)
                        return 0; /* no term: false */
                ret->terms = cc_alloc(c, sizeof(*ret->terms));
                ret->n = 1; /* one empty term: true */
                return ret->terms ? 0 : cc_fail(c, NULL, "out of memory");
        case CF_ATOM:
                if (neg && f->atom.kind == CA_PORT)
                        return negated_port(c, &f->atom, ret);
                return one_term(c, &f->atom, neg, ret);
        case CF_NOT:
                return cc_to_dnf(c, f->l, !neg, ret);
        default:
                if ((r = cc_to_dnf(c, f->l, neg, &a)) < 0 || (r = cc_to_dnf(c, f->r, neg, &b)) < 0)
                        return r;
                return (f->kind == CF_AND) != neg ? dnf_and(c, &a, &b, ret)
                                                  : dnf_or(c, &a, &b, ret);
        }
}
