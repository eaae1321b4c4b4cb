/* SPDX-License-Identifier: Apache-2.0 */
/* `policy check`: static validation. A policy whose evaluation errors is
 * skipped by Cedar, and a skipped forbid opens a hole; so check refuses
 * every policy that could error for some request, and every policy that
 * could never apply (a misspelt action or entity type). It type-checks each
 * policy once per action the scope admits, with the resource type that
 * action implies (DESIGN §4), tracking known booleans so that `has` guards
 * and short-circuits make unreachable sub-expressions harmless, as Cedar's
 * validator does. */
#include <stdarg.h>

#include "common/error.h"
#include "policy/policy-internal.h"

static const char *const kinds[] = {"FILE_READ", "FILE_WRITE", "FILE_EXEC", "NETWORK_CONNECT"};

/* Which entity an entity-typed expression denotes. */
typedef enum ent_src {
        ENT_PRINCIPAL,
        ENT_ACTION,
        ENT_RESOURCE,
        ENT_LITERAL,
} ent_src;

typedef struct aval {
        pol_vtype type;
        int known;          /* bool: -1 unknown, 0 false, 1 true */
        ent_src src;        /* PV_ENTITY */
        const char *etype;  /* PV_ENTITY */
        unsigned elem_mask; /* PV_SET: bit per pol_vtype of the elements */
} aval;

typedef struct cctx {
        const pol_policy *p;
        const char *action;
        const char *rtype;
        ob_error *err;
} cctx;

static const char *vname(pol_vtype t)
{
        static const char *const names[] = {"bool", "long", "string", "entity", "set", "record"};
        return names[t];
}

static int fail(const cctx *c, const pol_expr *e, const char *fmt, ...) _printf_(3, 4);
static int fail(const cctx *c, const pol_expr *e, const char *fmt, ...)
{
        char what[320];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return ob_error_set(c->err, e->line, e->column, EINVAL,
                            "policy \"%s\" can error when the action is %s: %s", c->p->id,
                            c->action, what);
}

/* Attributes of the request entities (DESIGN §4). */
static bool has_attr(const char *rtype, const char *attr, pol_vtype *ret)
{
        if (streq(rtype, "File") && streq(attr, "path")) {
                *ret = PV_STRING;
                return true;
        }
        if (streq(rtype, "Endpoint") && (streq(attr, "host") || streq(attr, "port"))) {
                *ret = streq(attr, "host") ? PV_STRING : PV_LONG;
                return true;
        }
        return false;
}

static unsigned value_mask(const pol_value *v)
{
        unsigned m = 0;
        for (size_t i = 0; i < v->n_items; i++)
                m |= 1u << v->items[i].type;
        return m;
}

static int check(const cctx *c, const pol_expr *e, aval *ret);

static int want(const cctx *c, const pol_expr *e, pol_vtype t, const char *op, aval *ret)
{
        int r = check(c, e, ret);
        if (r < 0)
                return r;
        if (ret->type != t)
                return fail(c, e, "type error: %s expects %s here", op, vname(t));
        return 0;
}

static int check_attr(const cctx *c, const pol_expr *e, aval *ret)
{
        aval v = {0};
        pol_vtype t;
        int r = check(c, e->a, &v);

        if (r < 0)
                return r;
        if (v.type != PV_ENTITY && v.type != PV_RECORD)
                return fail(c, e, "type error: \"%s\" on a %s", e->kind == PE_HAS ? "has" : ".",
                            vname(v.type));
        if (e->kind == PE_HAS) {
                *ret = (aval){.type = PV_BOOL, .known = 0};
                if (v.type == PV_ENTITY && v.src == ENT_RESOURCE)
                        ret->known = has_attr(c->rtype, e->str, &t);
                else if (v.type == PV_ENTITY && v.src == ENT_LITERAL)
                        ret->known = -1; /* true only when it is the resource */
                return 0;
        }
        if (v.type == PV_RECORD)
                return fail(c, e, "context has no attribute \"%s\"", e->str);
        if (v.src == ENT_LITERAL)
                return fail(c, e,
                            "%s::\"...\" is an entity literal, which exists only when it is the "
                            "request's resource; use resource.%s",
                            v.etype, e->str);
        if (v.src != ENT_RESOURCE || !has_attr(c->rtype, e->str, &t))
                return fail(c, e, "%s has no attribute \"%s\" (guard it with \"has\")",
                            v.src == ENT_RESOURCE ? c->rtype : v.etype, e->str);
        *ret = (aval){.type = t, .known = -1};
        return 0;
}

static int check_logic(const cctx *c, const pol_expr *e, aval *ret)
{
        const char *op = pol_ekind_name(e->kind);
        aval a = {0}, b = {0};
        int r = want(c, e->a, PV_BOOL, op, &a);

        if (r < 0)
                return r;
        *ret = (aval){.type = PV_BOOL, .known = -1};
        if (e->kind == PE_NOT) {
                ret->known = a.known < 0 ? -1 : !a.known;
                return 0;
        }
        /* Short-circuit: the right side is never evaluated. */
        if (a.known == (e->kind == PE_AND ? 0 : 1)) {
                ret->known = a.known;
                return 0;
        }
        if ((r = want(c, e->b, PV_BOOL, op, &b)) < 0)
                return r;
        if (a.known >= 0) /* neutral element: the result is the right side */
                ret->known = b.known;
        else if (b.known == (e->kind == PE_AND ? 0 : 1))
                ret->known = b.known;
        return 0;
}

static int check_binary(const cctx *c, const pol_expr *e, aval *ret)
{
        const char *op = pol_ekind_name(e->kind);
        aval a = {0}, b = {0};
        int r;

        *ret = (aval){.type = PV_BOOL, .known = -1};
        switch (e->kind) {
        case PE_EQ:
        case PE_NE:
                r = check(c, e->a, &a);
                return r < 0 ? r : check(c, e->b, &b);
        case PE_IN:
                if ((r = want(c, e->a, PV_ENTITY, op, &a)) < 0 || (r = check(c, e->b, &b)) < 0)
                        return r;
                if (b.type == PV_SET && (b.elem_mask & ~(1u << PV_ENTITY)) == 0)
                        return 0;
                if (b.type == PV_ENTITY)
                        return 0;
                return fail(c, e->b, "type error: \"in\" expects an entity or a set of entities");
        case PE_CONTAINS:
                r = want(c, e->a, PV_SET, op, &a);
                return r < 0 ? r : check(c, e->b, &b);
        default:
                r = want(c, e->a, PV_LONG, op, &a);
                return r < 0 ? r : want(c, e->b, PV_LONG, op, &b);
        }
}

static int check(const cctx *c, const pol_expr *e, aval *ret)
{
        aval v = {0};
        int r;

        switch (e->kind) {
        case PE_VALUE:
                *ret = (aval){.type = e->val.type,
                              .known = -1,
                              .src = ENT_LITERAL,
                              .etype = e->val.etype,
                              .elem_mask = value_mask(&e->val)};
                if (e->val.type == PV_BOOL)
                        ret->known = e->val.b;
                return 0;
        case PE_VAR:
                *ret = (aval){.type = PV_ENTITY, .known = -1};
                if (e->var == PVAR_CONTEXT)
                        ret->type = PV_RECORD;
                ret->src = e->var == PVAR_PRINCIPAL ? ENT_PRINCIPAL
                           : e->var == PVAR_ACTION  ? ENT_ACTION
                                                    : ENT_RESOURCE;
                ret->etype = e->var == PVAR_PRINCIPAL ? "Component"
                             : e->var == PVAR_ACTION  ? "Action"
                                                      : c->rtype;
                return 0;
        case PE_NOT:
        case PE_AND:
        case PE_OR:
                return check_logic(c, e, ret);
        case PE_ATTR:
        case PE_HAS:
                return check_attr(c, e, ret);
        case PE_SET:
                *ret = (aval){.type = PV_SET, .known = -1};
                for (size_t i = 0; i < e->n_items; i++) {
                        if ((r = check(c, e->items[i], &v)) < 0)
                                return r;
                        ret->elem_mask |= 1u << v.type;
                }
                return 0;
        case PE_LIKE:
                *ret = (aval){.type = PV_BOOL, .known = -1};
                return want(c, e->a, PV_STRING, "like", &v);
        case PE_IS:
                if ((r = want(c, e->a, PV_ENTITY, "is", &v)) < 0)
                        return r;
                *ret = (aval){.type = PV_BOOL, .known = -1};
                if (v.src != ENT_LITERAL || v.etype)
                        ret->known = streq(v.etype, e->str);
                return 0;
        default:
                return check_binary(c, e, ret);
        }
}

static int scope_error(const pol_policy *p, const pol_scope *s, ob_error *err, const char *what,
                       const char *type)
{
        return ob_error_set(err, s->line, s->column, EINVAL,
                            "policy \"%s\" can never apply: %s (entity type \"%s\")", p->id, what,
                            type);
}

/* Entity types and ids in the scope that no request can carry. */
static int check_scopes(const pol_policy *p, ob_error *err)
{
        const pol_scope *s = &p->action;
        const pol_entity *ents = s->op == PS_IN_SET ? s->entities : &s->entity;
        size_t n = s->op == PS_IN_SET ? s->n_entities : s->has_entity ? 1 : 0;

        for (size_t i = 0; i < n; i++) {
                ob_cap_kind k;
                if (!streq(ents[i].type, "Action"))
                        return scope_error(p, s, err, "actions are Action::\"<KIND>\"",
                                           ents[i].type);
                if (ob_cap_kind_from_string(ents[i].id, &k) < 0)
                        return ob_error_set(err, s->line, s->column, EINVAL,
                                            "policy \"%s\": unknown action \"%s\" (FILE_READ, "
                                            "FILE_WRITE, FILE_EXEC, NETWORK_CONNECT)",
                                            p->id, ents[i].id);
        }
        s = &p->principal;
        if ((s->has_entity && !streq(s->entity.type, "Component")) ||
            (s->op == PS_IS && !streq(s->is_type, "Component")))
                return scope_error(p, s, err, "principals are Component::\"<uuid>\"",
                                   s->op == PS_IS ? s->is_type : s->entity.type);
        s = &p->resource;
        if (s->op == PS_IS && !streq(s->is_type, "File") && !streq(s->is_type, "Endpoint"))
                return scope_error(p, s, err, "resources are File or Endpoint", s->is_type);
        if (s->has_entity && !streq(s->entity.type, "File") && !streq(s->entity.type, "Endpoint"))
                return scope_error(p, s, err, "resources are File or Endpoint", s->entity.type);
        if (s->op == PS_IS && s->has_entity && !streq(s->is_type, s->entity.type))
                return scope_error(p, s, err, "\"is\" and \"in\" name different types",
                                   s->entity.type);
        return 0;
}

static bool resource_type_possible(const pol_scope *s, const char *rtype)
{
        if (s->op == PS_IS)
                return streq(s->is_type, rtype);
        if (s->has_entity)
                return streq(s->entity.type, rtype);
        return true;
}

/* Type-checks the conditions for one action; *ret_applies is false when
 * some condition is known to fail (the policy never applies there). */
static int check_env(const pol_policy *p, const char *action, ob_error *err, bool *ret_applies)
{
        cctx c = {.p = p, .action = action, .err = err};
        c.rtype = streq(action, "NETWORK_CONNECT") ? "Endpoint" : "File";
        *ret_applies = false;
        if (!pol_scope_match(&p->action, "Action", action) ||
            !resource_type_possible(&p->resource, c.rtype))
                return 0;
        for (size_t i = 0; i < p->n_conds; i++) {
                aval v = {0};
                int r =
                    want(&c, p->conds[i].body, PV_BOOL, p->conds[i].unless ? "unless" : "when", &v);
                if (r < 0)
                        return r;
                if (v.known == (p->conds[i].unless ? 1 : 0))
                        return 0;
        }
        *ret_applies = true;
        return 0;
}

/* 0 when no policy can error or never apply; else -EINVAL, *err at the
 * offending expression or scope (see the file comment). */
int ob_policy_check(const ob_policy_set *set, ob_error *err)
{
        if (!set)
                return -EINVAL;
        for (size_t i = 0; i < set->n_policies; i++) {
                const pol_policy *p = &set->policies[i];
                bool any = false;
                int r = check_scopes(p, err);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
                        bool applies;
                        if ((r = check_env(p, kinds[k], err, &applies)) < 0)
                                return r;
                        any = any || applies;
                }
                if (!any)
                        return ob_error_set(err, p->line, p->column, EINVAL,
                                            "policy \"%s\" can never apply (its scope and "
                                            "conditions exclude every request)",
                                            p->id);
        }
        return 0;
}
