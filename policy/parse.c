/* SPDX-License-Identifier: Apache-2.0 */
/* Cedar JSON policy format → pol_policy trees (omnibase's subset). */
#define _GNU_SOURCE 1
#include <ctype.h>
#include <math.h>

#include "common/error.h"
#include "common/json.h"
#include "policy/policy-internal.h"

#define UNSUPPORTED "unsupported in omnibase's Cedar subset: "

typedef struct pctx {
        const ob_json_doc *doc;
        ob_error *err;
        /* A cursor for positions: nodes are visited mostly in document
         * order, so line:column advance from the last one (linear overall;
         * ob_json_position scans from the start each time). */
        size_t cur_off;
        unsigned cur_line, cur_col;
} pctx;

static int cmp_node(const void *key, const void *elem)
{
        const cJSON *k = key, *n = ((const ob_json_pos *)elem)->node;
        return k < n ? -1 : k > n;
}

static void pos_of(pctx *c, const cJSON *n, unsigned *line, unsigned *col)
{
        const ob_json_pos *p = bsearch(n, c->doc->pos, c->doc->n_pos, sizeof(*p), cmp_node);
        size_t off;

        *line = *col = 0;
        if (!p)
                return;
        off = p->val_off;
        if (off < c->cur_off || c->cur_line == 0) {
                c->cur_off = 0;
                c->cur_line = c->cur_col = 1;
        }
        for (; c->cur_off < off && c->cur_off < c->doc->len; c->cur_off++) {
                unsigned char ch = (unsigned char)c->doc->text[c->cur_off];
                if (ch == '\n') {
                        c->cur_line++;
                        c->cur_col = 1;
                } else if ((ch & 0xC0) != 0x80) {
                        c->cur_col++;
                }
        }
        *line = c->cur_line;
        *col = c->cur_col;
}

static void value_done(pol_value *v)
{
        free((char *)v->s);
        free((char *)v->etype);
        for (size_t i = 0; i < v->n_items; i++)
                value_done((pol_value *)&v->items[i]);
        free((pol_value *)v->items);
}

static pol_expr *expr_free(pol_expr *e)
{
        if (!e)
                return NULL;
        expr_free(e->a);
        expr_free(e->b);
        value_done(&e->val);
        free(e->str);
        for (size_t i = 0; i < e->n_items; i++)
                expr_free(e->items[i]);
        free(e->items);
        for (size_t i = 0; i < e->n_pat; i++)
                free(e->pat[i].lit);
        free(e->pat);
        free(e);
        return NULL;
}

static void entity_done(pol_entity *e)
{
        free(e->type);
        free(e->id);
}

static void scope_done(pol_scope *s)
{
        free(s->is_type);
        entity_done(&s->entity);
        for (size_t i = 0; i < s->n_entities; i++)
                entity_done(&s->entities[i]);
        free(s->entities);
}

static void policy_done(pol_policy *p)
{
        free(p->id);
        scope_done(&p->principal);
        scope_done(&p->action);
        scope_done(&p->resource);
        for (size_t i = 0; i < p->n_conds; i++)
                expr_free(p->conds[i].body);
        free(p->conds);
}

ob_policy_set *ob_policy_set_free(ob_policy_set *set)
{
        if (!set)
                return NULL;
        for (size_t i = 0; i < set->n_policies; i++)
                policy_done(&set->policies[i]);
        free(set->policies);
        free(set);
        return NULL;
}

static bool is_ident(const char *s, size_t n)
{
        static const char *const reserved[] = {"true", "false", "if",   "then", "else",
                                               "in",   "is",    "like", "has",  "__cedar"};
        if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
                        return false;
        for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
                if (strlen(reserved[i]) == n && memcmp(reserved[i], s, n) == 0)
                        return false;
        return true;
}

/* Cedar entity type names: Ident ("::" Ident)*. */
static bool is_type_name(const char *s)
{
        for (;;) {
                const char *sep = strstr(s, "::");
                size_t n = sep ? (size_t)(sep - s) : strlen(s);
                if (!is_ident(s, n))
                        return false;
                if (!sep)
                        return true;
                s = sep + 2;
        }
}

static int want_string(pctx *c, const cJSON *n, const char *what, char **ret)
{
        if (!cJSON_IsString(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "%s must be a string, not %s", what, ob_json_type_name(n));
        *ret = strdup(n->valuestring);
        return *ret ? 0 : -ENOMEM;
}

/* {"type": T, "id": I} or {"__entity": {"type": T, "id": I}}. */
static int parse_entity(pctx *c, const cJSON *n, pol_entity *ret)
{
        const cJSON *m, *type = NULL, *id = NULL;
        pol_entity e = {0};
        int r;

        if (cJSON_IsObject(n) && n->child && !n->child->next && n->child->string &&
            streq(n->child->string, "__entity"))
                n = n->child;
        if (!cJSON_IsObject(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "entity must be an object {\"type\", \"id\"}, not %s",
                                     ob_json_type_name(n));
        cJSON_ArrayForEach (m, n) {
                if (streq(m->string, "type"))
                        type = m;
                else if (streq(m->string, "id"))
                        id = m;
                else
                        return ob_json_error(c->err, c->doc, m, true, EINVAL,
                                             "unknown key \"%s\" in entity", m->string);
        }
        if (!type || !id)
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "entity needs \"type\" and \"id\"");
        r = want_string(c, type, "entity type", &e.type);
        if (r == 0)
                r = want_string(c, id, "entity id", &e.id);
        if (r == 0 && !is_type_name(e.type))
                r = ob_json_error(c->err, c->doc, type, false, EINVAL,
                                  "invalid entity type name \"%s\"", e.type);
        if (r < 0) {
                entity_done(&e);
                return r;
        }
        *ret = e;
        return 0;
}

static int parse_value(pctx *c, const cJSON *n, pol_value *ret);

static int parse_set_value(pctx *c, const cJSON *n, pol_value *ret)
{
        size_t k = (size_t)cJSON_GetArraySize(n), i = 0;
        pol_value *items = k ? calloc(k, sizeof(*items)) : NULL;
        const cJSON *m;
        pol_value v = {.type = PV_SET};

        if (k && !items)
                return -ENOMEM;
        v.items = items;
        cJSON_ArrayForEach (m, n) {
                int r = parse_value(c, m, &items[i]);
                if (r < 0) {
                        v.n_items = i;
                        value_done(&v);
                        return r;
                }
                i++;
        }
        v.n_items = i;
        *ret = v;
        return 0;
}

/* A Cedar JSON value: bool, integer, string, [set], {"__entity": ...}. */
static int parse_value(pctx *c, const cJSON *n, pol_value *ret)
{
        pol_value v = {0};

        if (cJSON_IsBool(n)) {
                v.type = PV_BOOL;
                v.b = cJSON_IsTrue(n);
        } else if (cJSON_IsNumber(n)) {
                if (n->valuedouble != floor(n->valuedouble))
                        return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                             UNSUPPORTED "non-integer number");
                v.type = PV_LONG;
                v.l = (int64_t)n->valuedouble;
        } else if (cJSON_IsString(n)) {
                v.type = PV_STRING;
                if (!(v.s = strdup(n->valuestring)))
                        return -ENOMEM;
        } else if (cJSON_IsArray(n)) {
                return parse_set_value(c, n, ret);
        } else if (cJSON_IsObject(n) && n->child && !n->child->next &&
                   streq(n->child->string, "__entity")) {
                pol_entity e;
                int r = parse_entity(c, n, &e);
                if (r < 0)
                        return r;
                v.type = PV_ENTITY;
                v.etype = e.type;
                v.s = e.id;
        } else if (cJSON_IsObject(n) && n->child && !n->child->next &&
                   streq(n->child->string, "__extn")) {
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     UNSUPPORTED "extension values (__extn)");
        } else if (cJSON_IsObject(n)) {
                return ob_json_error(c->err, c->doc, n, false, EINVAL, UNSUPPORTED "record values");
        } else {
                return ob_json_error(c->err, c->doc, n, false, EINVAL, "invalid value: %s",
                                     ob_json_type_name(n));
        }
        *ret = v;
        return 0;
}

const char *pol_ekind_name(pol_ekind k)
{
        static const char *const names[] = {
            [PE_VALUE] = "Value",
            [PE_VAR] = "Var",
            [PE_NOT] = "!",
            [PE_AND] = "&&",
            [PE_OR] = "||",
            [PE_EQ] = "==",
            [PE_NE] = "!=",
            [PE_LT] = "<",
            [PE_LE] = "<=",
            [PE_GT] = ">",
            [PE_GE] = ">=",
            [PE_IN] = "in",
            [PE_CONTAINS] = "contains",
            [PE_ATTR] = ".",
            [PE_HAS] = "has",
            [PE_LIKE] = "like",
            [PE_IS] = "is",
            [PE_SET] = "Set",
        };
        return (size_t)k < ARRAY_SIZE(names) ? names[k] : "?";
}

static int parse_expr(pctx *c, const cJSON *n, pol_expr **ret);

/* Fetches the members of an operator's argument object: exactly the keys
 * named in keys (NULL-terminated), all required unless listed in optional. */
static int get_members(pctx *c, const cJSON *n, const char *op, const char *const *keys,
                       const char *optional, const cJSON **out)
{
        const cJSON *m;
        size_t k;

        if (!cJSON_IsObject(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"%s\" takes an object, not %s", op, ob_json_type_name(n));
        for (k = 0; keys[k]; k++)
                out[k] = NULL;
        cJSON_ArrayForEach (m, n) {
                for (k = 0; keys[k] && !streq(keys[k], m->string); k++)
                        ;
                if (!keys[k])
                        return ob_json_error(c->err, c->doc, m, true, EINVAL,
                                             "unknown key \"%s\" in \"%s\"", m->string, op);
                out[k] = m;
        }
        for (k = 0; keys[k]; k++)
                if (!out[k] && !(optional && streq(optional, keys[k])))
                        return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                             "\"%s\" needs \"%s\"", op, keys[k]);
        return 0;
}

static int parse_binary(pctx *c, const cJSON *n, const char *op, pol_expr *e)
{
        static const char *const keys[] = {"left", "right", NULL};
        const cJSON *m[2];
        int r = get_members(c, n, op, keys, NULL, m);
        if (r < 0)
                return r;
        r = parse_expr(c, m[0], &e->a);
        return r < 0 ? r : parse_expr(c, m[1], &e->b);
}

/* Merges adjacent literals, collapses runs of wildcards and drops empty
 * literals, so that matching and compiling see a canonical pattern. */
static int normalize_pattern(pol_expr *e)
{
        size_t out = 0;
        for (size_t i = 0; i < e->n_pat; i++) {
                pol_pat_elem cur = e->pat[i], *prev = out ? &e->pat[out - 1] : NULL;
                e->pat[i].lit = NULL;
                if (!cur.wildcard && !cur.lit[0]) {
                        free(cur.lit);
                } else if (prev && prev->wildcard && cur.wildcard) {
                        continue;
                } else if (prev && !prev->wildcard && !cur.wildcard) {
                        char *m;
                        int r = asprintf(&m, "%s%s", prev->lit, cur.lit);
                        free(cur.lit);
                        if (r < 0) {
                                e->n_pat = out;
                                return -ENOMEM;
                        }
                        free(prev->lit);
                        prev->lit = m;
                } else {
                        e->pat[out++] = cur;
                }
        }
        e->n_pat = out;
        return 0;
}

static int parse_pattern(pctx *c, const cJSON *n, pol_expr *e)
{
        const cJSON *m;
        size_t k = 0;

        if (!cJSON_IsArray(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"pattern\" must be an array of \"Wildcard\" and "
                                     "{\"Literal\": s}, not %s",
                                     ob_json_type_name(n));
        e->pat = calloc((size_t)cJSON_GetArraySize(n) + 1, sizeof(*e->pat));
        if (!e->pat)
                return -ENOMEM;
        cJSON_ArrayForEach (m, n) {
                if (cJSON_IsString(m) && streq(m->valuestring, "Wildcard")) {
                        e->pat[k++].wildcard = true;
                } else if (cJSON_IsObject(m) && m->child && !m->child->next &&
                           streq(m->child->string, "Literal") && cJSON_IsString(m->child)) {
                        if (!(e->pat[k].lit = strdup(m->child->valuestring)))
                                return -ENOMEM;
                        k++;
                } else {
                        e->n_pat = k;
                        return ob_json_error(c->err, c->doc, m, false, EINVAL,
                                             "pattern element must be \"Wildcard\" or "
                                             "{\"Literal\": string}");
                }
                e->n_pat = k;
        }
        return normalize_pattern(e);
}

/* like, has, ., is: objects with "left" and one more key. */
static int parse_special(pctx *c, const cJSON *arg, pol_expr *e)
{
        static const char *const attr_keys[] = {"left", "attr", NULL};
        static const char *const like_keys[] = {"left", "pattern", NULL};
        static const char *const is_keys[] = {"left", "entity_type", "in", NULL};
        const char *op = pol_ekind_name(e->kind);
        const cJSON *m[3];
        int r;

        if (e->kind == PE_LIKE)
                r = get_members(c, arg, op, like_keys, NULL, m);
        else if (e->kind == PE_IS)
                r = get_members(c, arg, op, is_keys, "in", m);
        else
                r = get_members(c, arg, op, attr_keys, NULL, m);
        if (r < 0)
                return r;
        if ((r = parse_expr(c, m[0], &e->a)) < 0)
                return r;
        if (e->kind == PE_LIKE)
                return parse_pattern(c, m[1], e);
        if ((r = want_string(c, m[1], e->kind == PE_IS ? "\"entity_type\"" : "\"attr\"", &e->str)) <
            0)
                return r;
        if (e->kind == PE_IS && !is_type_name(e->str))
                return ob_json_error(c->err, c->doc, m[1], false, EINVAL,
                                     "invalid entity type name \"%s\"", e->str);
        if (e->kind == PE_IS && m[2])
                return ob_json_error(c->err, c->doc, m[2], true, EINVAL,
                                     UNSUPPORTED "\"is ... in\" expressions");
        return 0;
}

static int parse_var(pctx *c, const cJSON *arg, pol_expr *e)
{
        static const char *const vars[] = {"principal", "action", "resource", "context"};
        if (cJSON_IsString(arg))
                for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
                        if (streq(arg->valuestring, vars[i])) {
                                e->var = (pol_var)i;
                                return 0;
                        }
        return ob_json_error(c->err, c->doc, arg, false, EINVAL,
                             "\"Var\" must be \"principal\", \"action\", \"resource\" or "
                             "\"context\"");
}

static int parse_set_expr(pctx *c, const cJSON *arg, pol_expr *e)
{
        const cJSON *m;
        if (!cJSON_IsArray(arg))
                return ob_json_error(c->err, c->doc, arg, false, EINVAL,
                                     "\"Set\" takes an array, not %s", ob_json_type_name(arg));
        e->items = calloc((size_t)cJSON_GetArraySize(arg) + 1, sizeof(*e->items));
        if (!e->items)
                return -ENOMEM;
        cJSON_ArrayForEach (m, arg) {
                int r = parse_expr(c, m, &e->items[e->n_items]);
                if (r < 0)
                        return r;
                e->n_items++;
        }
        return 0;
}

static int parse_expr_body(pctx *c, const char *op, const cJSON *arg, pol_expr *e)
{
        static const struct {
                const char *name;
                pol_ekind kind;
        } binary[] = {
            {"&&", PE_AND}, {"||", PE_OR}, {"==", PE_EQ}, {"!=", PE_NE}, {"<", PE_LT},
            {"<=", PE_LE},  {">", PE_GT},  {">=", PE_GE}, {"in", PE_IN}, {"contains", PE_CONTAINS},
        };
        for (size_t i = 0; i < ARRAY_SIZE(binary); i++)
                if (streq(op, binary[i].name)) {
                        e->kind = binary[i].kind;
                        return parse_binary(c, arg, op, e);
                }
        if (streq(op, "Value")) {
                e->kind = PE_VALUE;
                return parse_value(c, arg, &e->val);
        }
        if (streq(op, "Var")) {
                e->kind = PE_VAR;
                return parse_var(c, arg, e);
        }
        if (streq(op, "Set")) {
                e->kind = PE_SET;
                return parse_set_expr(c, arg, e);
        }
        if (streq(op, "!")) {
                static const char *const keys[] = {"arg", NULL};
                const cJSON *m[1];
                int r = get_members(c, arg, op, keys, NULL, m);
                e->kind = PE_NOT;
                return r < 0 ? r : parse_expr(c, m[0], &e->a);
        }
        if (streq(op, ".") || streq(op, "has") || streq(op, "like") || streq(op, "is")) {
                e->kind = op[0] == '.'   ? PE_ATTR
                          : op[0] == 'h' ? PE_HAS
                          : op[0] == 'l' ? PE_LIKE
                                         : PE_IS;
                return parse_special(c, arg, e);
        }
        return ob_json_error(c->err, c->doc, arg, true, EINVAL, UNSUPPORTED "expression \"%s\"",
                             op);
}

/* An expression: an object with exactly one key naming its kind. */
static int parse_expr(pctx *c, const cJSON *n, pol_expr **ret)
{
        pol_expr *e;
        int r;

        if (!cJSON_IsObject(n) || !n->child || n->child->next)
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "expression must be an object with exactly one key, "
                                     "not %s",
                                     ob_json_type_name(n));
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        pos_of(c, n, &e->line, &e->column);
        r = parse_expr_body(c, n->child->string, n->child, e);
        if (r < 0) {
                expr_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
        const cJSON *m;
        cJSON_ArrayForEach (m, obj)
                if (streq(m->string, key))
                        return m;
        return NULL;
}

static int parse_scope_is(pctx *c, const cJSON *n, pol_scope *s)
{
        const cJSON *t = member(n, "entity_type"), *in = member(n, "in");
        int r;

        if (!t)
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"is\" needs \"entity_type\"");
        if ((r = want_string(c, t, "\"entity_type\"", &s->is_type)) < 0)
                return r;
        if (!is_type_name(s->is_type))
                return ob_json_error(c->err, c->doc, t, false, EINVAL,
                                     "invalid entity type name \"%s\"", s->is_type);
        if (!in)
                return 0;
        if (!cJSON_IsObject(in) || !member(in, "entity") || in->child->next)
                return ob_json_error(c->err, c->doc, in, false, EINVAL,
                                     "\"in\" of \"is\" must be {\"entity\": ...}");
        s->has_entity = true;
        return parse_entity(c, member(in, "entity"), &s->entity);
}

static int parse_scope_entities(pctx *c, const cJSON *n, pol_scope *s)
{
        const cJSON *m;
        if (!cJSON_IsArray(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"entities\" must be an array, not %s", ob_json_type_name(n));
        s->entities = calloc((size_t)cJSON_GetArraySize(n) + 1, sizeof(*s->entities));
        if (!s->entities)
                return -ENOMEM;
        cJSON_ArrayForEach (m, n) {
                int r = parse_entity(c, m, &s->entities[s->n_entities]);
                if (r < 0)
                        return r;
                s->n_entities++;
        }
        return 0;
}

/* Checks that n has no keys beyond "op" and those allowed for its op. */
static int scope_keys(pctx *c, const cJSON *n, const char *what, const char *a, const char *b)
{
        const cJSON *m;
        cJSON_ArrayForEach (m, n) {
                if (streq(m->string, "op") || (a && streq(m->string, a)) ||
                    (b && streq(m->string, b)))
                        continue;
                if (streq(m->string, "slot"))
                        return ob_json_error(c->err, c->doc, m, true, EINVAL,
                                             UNSUPPORTED "template slots");
                return ob_json_error(c->err, c->doc, m, true, EINVAL, "unknown key \"%s\" in %s",
                                     m->string, what);
        }
        return 0;
}

static int parse_scope(pctx *c, const cJSON *n, const char *what, pol_scope *s)
{
        const cJSON *op = cJSON_IsObject(n) ? member(n, "op") : NULL, *ent;
        const char *o;
        bool action = streq(what, "action");
        int r;

        pos_of(c, n, &s->line, &s->column);
        if (!op || !cJSON_IsString(op))
                return ob_json_error(c->err, c->doc, op ? op : n, false, EINVAL,
                                     "%s must be an object with a string \"op\"", what);
        o = op->valuestring;
        if (streq(o, "All")) {
                s->op = PS_ALL;
                return scope_keys(c, n, what, NULL, NULL);
        }
        if (streq(o, "is") && !action) {
                s->op = PS_IS;
                r = scope_keys(c, n, what, "entity_type", "in");
                return r < 0 ? r : parse_scope_is(c, n, s);
        }
        if (!streq(o, "==") && !streq(o, "in"))
                return ob_json_error(c->err, c->doc, op, false, EINVAL,
                                     "unknown %s op \"%s\" (All, ==, in%s)", what, o,
                                     action ? "" : ", is");
        s->op = streq(o, "==") ? PS_EQ : PS_IN;
        if (action && s->op == PS_IN && member(n, "entities")) {
                s->op = PS_IN_SET;
                r = scope_keys(c, n, what, "entities", NULL);
                return r < 0 ? r : parse_scope_entities(c, member(n, "entities"), s);
        }
        if ((r = scope_keys(c, n, what, "entity", NULL)) < 0)
                return r;
        if (!(ent = member(n, "entity")))
                return ob_json_error(c->err, c->doc, n, false, EINVAL, "%s \"%s\" needs \"entity\"",
                                     what, o);
        s->has_entity = true;
        return parse_entity(c, ent, &s->entity);
}

static int parse_condition(pctx *c, const cJSON *n, pol_cond *ret)
{
        static const char *const keys[] = {"kind", "body", NULL};
        const cJSON *m[2];
        int r = get_members(c, n, "condition", keys, NULL, m);

        if (r < 0)
                return r;
        if (!cJSON_IsString(m[0]) ||
            (!streq(m[0]->valuestring, "when") && !streq(m[0]->valuestring, "unless")))
                return ob_json_error(c->err, c->doc, m[0], false, EINVAL,
                                     "condition \"kind\" must be \"when\" or \"unless\"");
        ret->unless = streq(m[0]->valuestring, "unless");
        return parse_expr(c, m[1], &ret->body);
}

static int parse_conditions(pctx *c, const cJSON *n, pol_policy *p)
{
        const cJSON *m;
        if (!cJSON_IsArray(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"conditions\" must be an array, not %s",
                                     ob_json_type_name(n));
        p->conds = calloc((size_t)cJSON_GetArraySize(n) + 1, sizeof(*p->conds));
        if (!p->conds)
                return -ENOMEM;
        cJSON_ArrayForEach (m, n) {
                int r = parse_condition(c, m, &p->conds[p->n_conds]);
                if (r < 0)
                        return r;
                p->n_conds++;
        }
        return 0;
}

static int parse_annotations(pctx *c, const cJSON *n)
{
        const cJSON *m;
        if (!cJSON_IsObject(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"annotations\" must be an object");
        cJSON_ArrayForEach (m, n)
                if (!cJSON_IsString(m) && !cJSON_IsNull(m))
                        return ob_json_error(c->err, c->doc, m, false, EINVAL,
                                             "annotation values must be strings");
        return 0;
}

static int parse_effect(pctx *c, const cJSON *n, pol_policy *p)
{
        if (!cJSON_IsString(n) ||
            (!streq(n->valuestring, "permit") && !streq(n->valuestring, "forbid")))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"effect\" must be \"permit\" or \"forbid\"");
        p->forbid = streq(n->valuestring, "forbid");
        return 0;
}

static int parse_policy_members(pctx *c, const cJSON *n, pol_policy *p)
{
        static const char *const keys[] = {"effect",     "principal",   "action", "resource",
                                           "conditions", "annotations", NULL};
        const cJSON *m[6];
        int r = get_members(c, n, "policy", keys, "annotations", m);

        if (r == 0)
                r = parse_effect(c, m[0], p);
        if (r == 0)
                r = parse_scope(c, m[1], "principal", &p->principal);
        if (r == 0)
                r = parse_scope(c, m[2], "action", &p->action);
        if (r == 0)
                r = parse_scope(c, m[3], "resource", &p->resource);
        if (r == 0)
                r = parse_conditions(c, m[4], p);
        if (r == 0 && m[5])
                r = parse_annotations(c, m[5]);
        return r;
}

static int parse_policy(pctx *c, const cJSON *n, const cJSON *id_node, const char *id,
                        pol_policy *p)
{
        size_t len = strlen(id);

        if (len == 0 || len > OB_POLICY_MAX_ID_LEN)
                return ob_json_error(c->err, c->doc, id_node, true, EINVAL,
                                     "policy id must be 1..%d bytes", OB_POLICY_MAX_ID_LEN);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
                        return ob_json_error(c->err, c->doc, id_node, true, EINVAL,
                                             "control character in policy id");
        if (!cJSON_IsObject(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "policy must be an object, not %s", ob_json_type_name(n));
        pos_of(c, n, &p->line, &p->column);
        if (!(p->id = strdup(id)))
                return -ENOMEM;
        return parse_policy_members(c, n, p);
}

static int parse_static(pctx *c, const cJSON *n, ob_policy_set *set)
{
        const cJSON *m;
        size_t k;

        if (!cJSON_IsObject(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"staticPolicies\" must be an object {id: policy}, not %s",
                                     ob_json_type_name(n));
        k = (size_t)cJSON_GetArraySize(n);
        if (k > OB_POLICY_MAX_POLICIES)
                return ob_json_error(c->err, c->doc, n, false, E2BIG,
                                     "too many policies (%zu, limit %d)", k,
                                     OB_POLICY_MAX_POLICIES);
        set->policies = calloc(k + 1, sizeof(*set->policies));
        if (!set->policies)
                return -ENOMEM;
        cJSON_ArrayForEach (m, n) {
                int r = parse_policy(c, m, m, m->string, &set->policies[set->n_policies]);
                set->n_policies++;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_root(pctx *c, const cJSON *root, ob_policy_set *set)
{
        const cJSON *m, *st = NULL;

        if (!cJSON_IsObject(root))
                return ob_json_error(c->err, c->doc, root, false, EINVAL,
                                     "policy file must be an object, not %s",
                                     ob_json_type_name(root));
        if (member(root, "effect")) {
                set->policies = calloc(1, sizeof(*set->policies));
                if (!set->policies)
                        return -ENOMEM;
                set->n_policies = 1;
                return parse_policy(c, root, root, "policy0", &set->policies[0]);
        }
        cJSON_ArrayForEach (m, root) {
                if (streq(m->string, "staticPolicies"))
                        st = m;
                else if ((streq(m->string, "templates") && cJSON_IsObject(m)) ||
                         (streq(m->string, "templateLinks") && cJSON_IsArray(m))) {
                        if (m->child)
                                return ob_json_error(c->err, c->doc, m, true, EINVAL,
                                                     UNSUPPORTED "%s", m->string);
                } else
                        return ob_json_error(c->err, c->doc, m, true, EINVAL,
                                             "unknown key \"%s\" in policy set", m->string);
        }
        if (!st)
                return ob_json_error(c->err, c->doc, root, false, EINVAL,
                                     "expected a policy set {\"staticPolicies\": {...}} or a "
                                     "policy {\"effect\": ...}");
        return parse_static(c, st, set);
}

int ob_policy_parse(const char *text, size_t len, ob_policy_set **ret, ob_error *err)
{
        ob_json_doc doc = {0};
        ob_policy_set *set;
        pctx c = {.doc = &doc, .err = err};
        int r;

        if (!text || !ret)
                return -EINVAL;
        r = ob_json_parse(text, len, OB_POLICY_MAX_BYTES, &doc, err);
        if (r < 0)
                return r;
        set = calloc(1, sizeof(*set));
        if (!set) {
                ob_json_doc_done(&doc);
                return ob_error_set(err, 0, 0, ENOMEM, "out of memory");
        }
        r = parse_root(&c, doc.root, set);
        ob_json_doc_done(&doc);
        if (r < 0) {
                if (r == -ENOMEM)
                        ob_error_set(err, 0, 0, ENOMEM, "out of memory");
                ob_policy_set_free(set);
                return r;
        }
        *ret = set;
        return 0;
}

int ob_policy_load(const char *path, ob_policy_set **ret, ob_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = ob_read_file(path, OB_POLICY_MAX_BYTES, &text, &len);

        if (r == -EFBIG)
                return ob_error_set(err, 0, 0, EFBIG, "policy file too large (limit %u bytes)",
                                    OB_POLICY_MAX_BYTES);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "cannot read: %s", strerror(-r));
        return ob_policy_parse(text, len, ret, err);
}

size_t ob_policy_set_size(const ob_policy_set *set)
{
        return set ? set->n_policies : 0;
}

const char *ob_policy_set_id(const ob_policy_set *set, size_t i)
{
        return set && i < set->n_policies ? set->policies[i].id : NULL;
}

int ob_policy_registry_path(const char *dir, const char *uuid, char **ret)
{
        static const int groups[] = {8, 4, 4, 4, 12};
        const char *s = uuid;
        char *path;

        if (!dir || !uuid || !ret)
                return -EINVAL;
        for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
                for (int i = 0; i < groups[g]; i++, s++)
                        if (!isxdigit((unsigned char)*s))
                                return -EINVAL;
                if (g + 1 < ARRAY_SIZE(groups) && *s++ != '-')
                        return -EINVAL;
        }
        if (*s)
                return -EINVAL;
        if (asprintf(&path, "%s/%s.cedar.json", dir, uuid) < 0)
                return -ENOMEM;
        *ret = path;
        return 0;
}
