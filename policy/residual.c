/* SPDX-License-Identifier: Apache-2.0 */
/* Partial evaluation of a checked policy for a known principal and action:
 * everything but the resource is a constant, and what depends on the
 * resource becomes a formula over resource.path / .host / .port atoms. */
#include "common/error.h"
#include "policy/compile-internal.h"

typedef enum svkind {
        SV_CONST,
        SV_RES,  /* the resource entity */
        SV_PATH, /* resource.path */
        SV_HOST,
        SV_PORT,
        SV_FORM, /* a boolean that depends on the resource */
} svkind;

typedef struct sval {
        svkind k;
        pol_value v;
        cc_form *f;
} sval;

static sval sv_bool(bool b)
{
        return (sval){.k = SV_CONST, .v = {.type = PV_BOOL, .b = b}};
}

static cc_form *form_new(cctx *c, cc_fkind kind, cc_form *l, cc_form *r)
{
        cc_form *f = cc_alloc(c, sizeof(*f));
        if (f)
                *f = (cc_form){.kind = kind, .l = l, .r = r};
        return f;
}

static sval sv_form(cc_form *f)
{
        if (f->kind == CF_TRUE || f->kind == CF_FALSE)
                return sv_bool(f->kind == CF_TRUE);
        return (sval){.k = SV_FORM, .f = f};
}

static int atom(cctx *c, cc_akind kind, const pol_expr *at, sval *ret, cc_form **retf)
{
        cc_form *f = form_new(c, CF_ATOM, NULL, NULL);
        if (!f)
                return cc_fail(c, at, "out of memory");
        f->atom = (cc_atom){.kind = kind, .at = at};
        *retf = f;
        *ret = sv_form(f);
        return 0;
}

/* An exact match on path or host: a one-literal pattern. */
static int exact(cctx *c, cc_akind kind, const char *s, const pol_expr *at, sval *ret)
{
        pol_pat_elem *pat = cc_alloc(c, sizeof(*pat));
        cc_form *f = NULL;
        int r;

        if (!pat)
                return cc_fail(c, at, "out of memory");
        pat->lit = (char *)s;
        if ((r = atom(c, kind, at, ret, &f)) < 0)
                return r;
        f->atom.pat = pat;
        f->atom.n_pat = 1;
        return 0;
}

static int port_atom(cctx *c, pol_ekind op, int64_t n, const pol_expr *at, sval *ret)
{
        cc_form *f = NULL;
        int r = atom(c, CA_PORT, at, ret, &f);
        if (r == 0) {
                f->atom.op = op;
                f->atom.n = n;
        }
        return r;
}

static int to_form(cctx *c, const sval *v, const pol_expr *at, cc_form **ret)
{
        if (v->k == SV_FORM) {
                *ret = v->f;
                return 0;
        }
        if (v->k != SV_CONST || v->v.type != PV_BOOL)
                return cc_fail(c, at, "expected a boolean");
        *ret = form_new(c, v->v.b ? CF_TRUE : CF_FALSE, NULL, NULL);
        return *ret ? 0 : cc_fail(c, at, "out of memory");
}

/* a && b, a || b, !a with constant folding. */
static int combine(cctx *c, cc_fkind kind, const sval *a, const sval *b, const pol_expr *at,
                   sval *ret)
{
        cc_form *fa = NULL, *fb = NULL, *f;
        int r = to_form(c, a, at, &fa);

        if (r == 0 && b)
                r = to_form(c, b, at, &fb);
        if (r < 0)
                return r;
        if (kind == CF_NOT && fa->kind <= CF_TRUE)
                f = form_new(c, fa->kind == CF_TRUE ? CF_FALSE : CF_TRUE, NULL, NULL);
        else if (kind == CF_NOT)
                f = form_new(c, CF_NOT, fa, NULL);
        else if (fa->kind <= CF_TRUE) /* absorbing or neutral */
                f = (fa->kind == CF_TRUE) == (kind == CF_AND) ? fb : fa;
        else if (fb->kind <= CF_TRUE)
                f = (fb->kind == CF_TRUE) == (kind == CF_AND) ? fa : fb;
        else
                f = form_new(c, kind, fa, fb);
        if (!f)
                return cc_fail(c, at, "out of memory");
        *ret = sv_form(f);
        return 0;
}

/* resource == E, for a constant entity E. */
static int res_eq(cctx *c, const pol_value *e, const pol_expr *at, sval *ret)
{
        _cleanup_free_ char *host = NULL, *rid = NULL;
        int64_t port;
        sval h = {0}, p = {0};
        char *hcopy;
        int r;

        *ret = sv_bool(false);
        if (e->type != PV_ENTITY || !streq(e->etype, c->rtype))
                return 0;
        if (streq(c->rtype, "File"))
                return exact(c, CA_PATH, e->s, at, ret);
        if (pol_endpoint_canonical(e->s, &host, &port, &rid) < 0 || !streq(rid, e->s))
                return 0; /* no request carries this id */
        hcopy = cc_alloc(c, strlen(host) + 1);
        if (!hcopy)
                return cc_fail(c, at, "out of memory");
        strcpy(hcopy, host);
        if ((r = exact(c, CA_HOST, hcopy, at, &h)) < 0 ||
            (r = port_atom(c, PE_EQ, port, at, &p)) < 0)
                return r;
        return combine(c, CF_AND, &h, &p, at, ret);
}

static int sym_eq(cctx *c, const sval *x, const sval *y, const pol_expr *at, sval *ret)
{
        const sval *a = x->k == SV_CONST ? y : x, *b = x->k == SV_CONST ? x : y;

        if (a->k == SV_CONST) {
                *ret = sv_bool(pol_value_eq(&a->v, &b->v));
                return 0;
        }
        if (b->k != SV_CONST)
                return cc_fail(c, at, "comparing two resource-dependent values");
        *ret = sv_bool(false);
        switch (a->k) {
        case SV_RES:
                return res_eq(c, &b->v, at, ret);
        case SV_PATH:
        case SV_HOST:
                if (b->v.type != PV_STRING)
                        return 0;
                return exact(c, a->k == SV_PATH ? CA_PATH : CA_HOST, b->v.s, at, ret);
        case SV_PORT:
                return b->v.type == PV_LONG ? port_atom(c, PE_EQ, b->v.l, at, ret) : 0;
        case SV_FORM:
                if (b->v.type != PV_BOOL)
                        return 0;
                return b->v.b ? (*ret = *a, 0) : combine(c, CF_NOT, a, NULL, at, ret);
        default:
                return cc_fail(c, at, "unexpected operand");
        }
}

static int sym(cctx *c, const pol_expr *e, sval *ret);

static int sym_attr(cctx *c, const pol_expr *e, sval *ret)
{
        bool file = streq(c->rtype, "File");
        sval v = {0};
        int r = sym(c, e->a, &v);

        if (r < 0)
                return r;
        if (e->kind == PE_HAS) {
                bool known =
                    file ? streq(e->str, "path") : streq(e->str, "host") || streq(e->str, "port");
                *ret = sv_bool(false);
                if (v.k == SV_RES)
                        *ret = sv_bool(known);
                else if (v.k == SV_CONST && v.v.type == PV_ENTITY && known)
                        return res_eq(c, &v.v, e, ret);
                else if (v.k != SV_CONST)
                        return cc_fail(c, e, "\"has\" on a resource attribute");
                return 0;
        }
        if (v.k != SV_RES)
                return cc_fail(c, e, "attribute \"%s\" of something other than the resource",
                               e->str);
        if (file && streq(e->str, "path"))
                ret->k = SV_PATH;
        else if (!file && streq(e->str, "host"))
                ret->k = SV_HOST;
        else if (!file && streq(e->str, "port"))
                ret->k = SV_PORT;
        else
                return cc_fail(c, e, "%s has no attribute \"%s\"", c->rtype, e->str);
        return 0;
}

static pol_ekind flip(pol_ekind k)
{
        return k == PE_LT ? PE_GT : k == PE_LE ? PE_GE : k == PE_GT ? PE_LT : PE_LE;
}

static int sym_compare(cctx *c, const pol_expr *e, const sval *a, const sval *b, sval *ret)
{
        if (a->k == SV_CONST && b->k == SV_CONST) {
                int64_t x = a->v.l, y = b->v.l;
                *ret = sv_bool(e->kind == PE_LT   ? x < y
                               : e->kind == PE_LE ? x <= y
                               : e->kind == PE_GT ? x > y
                                                  : x >= y);
                return 0;
        }
        if (a->k == SV_PORT && b->k == SV_CONST)
                return port_atom(c, e->kind, b->v.l, e, ret);
        if (b->k == SV_PORT && a->k == SV_CONST)
                return port_atom(c, flip(e->kind), a->v.l, e, ret);
        return cc_fail(c, e, "\"%s\" between two resource-dependent values",
                       pol_ekind_name(e->kind));
}

/* x in S or S contains x, over the items of a constant set: an OR. */
static int any_eq(cctx *c, const pol_expr *e, const pol_value *set, const sval *x, sval *ret)
{
        *ret = sv_bool(false);
        for (size_t i = 0; i < set->n_items; i++) {
                sval item = {.k = SV_CONST, .v = set->items[i]}, eq, acc = *ret;
                int r = sym_eq(c, x, &item, e, &eq);
                if (r == 0)
                        r = combine(c, CF_OR, &acc, &eq, e, ret);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int sym_binary(cctx *c, const pol_expr *e, sval *ret)
{
        sval a = {0}, b = {0};
        int r;

        if ((r = sym(c, e->a, &a)) < 0 || (r = sym(c, e->b, &b)) < 0)
                return r;
        switch (e->kind) {
        case PE_EQ:
                return sym_eq(c, &a, &b, e, ret);
        case PE_NE: {
                sval eq;
                if ((r = sym_eq(c, &a, &b, e, &eq)) < 0)
                        return r;
                return combine(c, CF_NOT, &eq, NULL, e, ret);
        }
        case PE_IN:
                if (b.k == SV_CONST && b.v.type == PV_SET)
                        return any_eq(c, e, &b.v, &a, ret);
                return sym_eq(c, &a, &b, e, ret); /* no hierarchy: in is == */
        case PE_CONTAINS:
                if (a.k != SV_CONST)
                        return cc_fail(c, e, "\"contains\" on a resource-dependent set");
                return any_eq(c, e, &a.v, &b, ret);
        default:
                return sym_compare(c, e, &a, &b, ret);
        }
}

static int sym_set(cctx *c, const pol_expr *e, sval *ret)
{
        pol_value *items = cc_alloc(c, (e->n_items + 1) * sizeof(*items));
        if (!items)
                return cc_fail(c, e, "out of memory");
        for (size_t i = 0; i < e->n_items; i++) {
                sval v = {0};
                int r = sym(c, e->items[i], &v);
                if (r < 0)
                        return r;
                if (v.k != SV_CONST)
                        return cc_fail(c, e->items[i], "a set holding a resource-dependent value");
                items[i] = v.v;
        }
        *ret = (sval){.k = SV_CONST, .v = {.type = PV_SET, .items = items, .n_items = e->n_items}};
        return 0;
}

static int sym_logic(cctx *c, const pol_expr *e, sval *ret)
{
        sval a = {0}, b = {0};
        int r = sym(c, e->a, &a);

        if (r < 0)
                return r;
        if (e->kind == PE_NOT)
                return combine(c, CF_NOT, &a, NULL, e, ret);
        /* Cedar short-circuits: the right side of false && / true || is never
         * evaluated, so it need not be expressible either. */
        if (a.k == SV_CONST && a.v.type == PV_BOOL && a.v.b == (e->kind == PE_OR)) {
                *ret = a;
                return 0;
        }
        if ((r = sym(c, e->b, &b)) < 0)
                return r;
        return combine(c, e->kind == PE_AND ? CF_AND : CF_OR, &a, &b, e, ret);
}

static int sym(cctx *c, const pol_expr *e, sval *ret)
{
        sval v = {0};
        int r;

        *ret = (sval){.k = SV_CONST};
        switch (e->kind) {
        case PE_VALUE:
                ret->v = e->val;
                return 0;
        case PE_VAR:
                if (e->var == PVAR_RESOURCE)
                        ret->k = SV_RES;
                else if (e->var == PVAR_CONTEXT)
                        ret->v.type = PV_RECORD;
                else
                        ret->v =
                            (pol_value){.type = PV_ENTITY,
                                        .etype = e->var == PVAR_PRINCIPAL ? "Component" : "Action",
                                        .s = e->var == PVAR_PRINCIPAL ? c->principal : c->action};
                return 0;
        case PE_NOT:
        case PE_AND:
        case PE_OR:
                return sym_logic(c, e, ret);
        case PE_ATTR:
        case PE_HAS:
                return sym_attr(c, e, ret);
        case PE_SET:
                return sym_set(c, e, ret);
        case PE_LIKE:
        case PE_IS:
                if ((r = sym(c, e->a, &v)) < 0)
                        return r;
                if (e->kind == PE_IS && (v.k == SV_RES || v.k == SV_CONST)) {
                        *ret = sv_bool(streq(v.k == SV_RES ? c->rtype : v.v.etype, e->str));
                        return 0;
                }
                if (e->kind == PE_LIKE && v.k == SV_CONST) {
                        *ret = sv_bool(pol_like(e->pat, e->n_pat, v.v.s));
                        return 0;
                }
                if (e->kind == PE_LIKE && (v.k == SV_PATH || v.k == SV_HOST)) {
                        cc_form *f = NULL;
                        if ((r = atom(c, v.k == SV_PATH ? CA_PATH : CA_HOST, e, ret, &f)) < 0)
                                return r;
                        f->atom.pat = e->pat;
                        f->atom.n_pat = e->n_pat;
                        return 0;
                }
                return cc_fail(c, e, "unexpected operand of \"%s\"", pol_ekind_name(e->kind));
        default:
                return sym_binary(c, e, ret);
        }
}

static int scope_formula(cctx *c, sval *ret)
{
        const pol_scope *s = &c->p->resource;
        pol_value e = {.type = PV_ENTITY, .etype = s->entity.type, .s = s->entity.id};

        *ret = sv_bool(true);
        if (s->op == PS_IS && !streq(s->is_type, c->rtype)) {
                *ret = sv_bool(false);
                return 0;
        }
        if (s->has_entity)
                return res_eq(c, &e, NULL, ret);
        return 0;
}

/* The residual of c->p for c->principal and c->action: resource scope
 * and conditions, folded; *ret allocated from c. */
int cc_policy_formula(cctx *c, cc_form **ret)
{
        sval acc;
        int r = scope_formula(c, &acc);

        for (size_t i = 0; i < c->p->n_conds && r == 0; i++) {
                const pol_cond *cond = &c->p->conds[i];
                sval v, prev = acc;
                if (acc.k == SV_CONST && !acc.v.b)
                        break; /* && short-circuits: later conditions never run */
                if ((r = sym(c, cond->body, &v)) < 0)
                        return r;
                if (cond->unless && (r = combine(c, CF_NOT, &v, NULL, cond->body, &v)) < 0)
                        return r;
                r = combine(c, CF_AND, &prev, &v, cond->body, &acc);
        }
        return r < 0 ? r : to_form(c, &acc, NULL, ret);
}
