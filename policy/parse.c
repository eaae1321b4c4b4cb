/* SPDX-License-Identifier: Apache-2.0 */
/* Cedar JSON policy format, expressions, values and entity references
 * (omnibase's subset); parse-policy.c does policies, scopes and the set. */
#define _GNU_SOURCE 1
#include <ctype.h>
#include <math.h>

#include "common/error.h"
#include "common/json.h"
#include "policy/policy-internal.h"

#include "policy/parse-internal.h"

/* The position record of node n (doc->pos is sorted by node address).
 * cJSON allocates nodes in document order and the parser visits them in
 * that order, so the next one is usually just after the last one. */
static const ob_json_pos *find_pos(pctx *c, const cJSON *n)
{
        const ob_json_doc *doc = c->doc;
        size_t lo = 0, hi = doc->n_pos;

        for (size_t i = c->last_pos; i < doc->n_pos && i < c->last_pos + 8; i++)
                if (doc->pos[i].node == n) {
                        c->last_pos = i;
                        return &doc->pos[i];
                }
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (doc->pos[mid].node == n) {
                        c->last_pos = mid;
                        return &doc->pos[mid];
                }
                if ((uintptr_t)doc->pos[mid].node < (uintptr_t)n)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Line and column of node n (linear over a document-order walk). */
void pol_pos_of(pctx *c, const cJSON *n, unsigned *line, unsigned *col)
{
        const ob_json_pos *p = find_pos(c, n);
        size_t off;

        *line = *col = 0;
        if (!p)
                return;
        off = p->val_off;
        if (off < c->cur_off || c->cur_line == 0) {
                c->cur_off = 0;
                c->cur_line = c->cur_col = 1;
        }
        if (off > c->doc->len)
                off = c->doc->len;
        {
                const char *t = c->doc->text + c->cur_off, *end = c->doc->text + off, *nl;
                while ((nl = memchr(t, '\n', (size_t)(end - t)))) {
                        c->cur_line++;
                        c->cur_col = 1;
                        t = nl + 1;
                }
                for (; t < end; t++) /* characters: bytes that are not continuations */
                        c->cur_col += ((unsigned char)*t & 0xC0) != 0x80;
                c->cur_off = off;
        }
        *line = c->cur_line;
        *col = c->cur_col;
}

void *pol_alloc(ob_policy_set *set, size_t size)
{
        const size_t align = sizeof(max_align_t);
        pol_chunk *ch = set->chunks;
        void *p;

        size = (size + align - 1) / align * align;
        if (!ch || ch->cap - ch->used < size) {
                size_t cap = size > 60000 ? size : 60000;
                ch = malloc(sizeof(*ch) + cap);
                if (!ch)
                        return NULL;
                *ch = (pol_chunk){.next = set->chunks, .cap = cap};
                set->chunks = ch;
        }
        p = (char *)ch->data + ch->used;
        ch->used += size;
        memset(p, 0, size);
        return p;
}

char *pol_strdup(ob_policy_set *set, const char *s)
{
        size_t n = strlen(s) + 1;
        char *d = pol_alloc(set, n);
        if (d)
                memcpy(d, s, n);
        return d;
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
bool pol_is_type_name(const char *s)
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

/* Copies a string member into *ret, or fails naming what it is. */
int pol_want_string(pctx *c, const cJSON *n, const char *what, char **ret)
{
        if (!cJSON_IsString(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "%s must be a string, not %s", what, ob_json_type_name(n));
        *ret = pol_strdup(c->set, n->valuestring);
        return *ret ? 0 : -ENOMEM;
}

/* {"type": T, "id": I} or {"__entity": {"type": T, "id": I}}. */
int pol_parse_entity(pctx *c, const cJSON *n, pol_entity *ret)
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
        r = pol_want_string(c, type, "entity type", &e.type);
        if (r == 0)
                r = pol_want_string(c, id, "entity id", &e.id);
        if (r == 0 && !pol_is_type_name(e.type))
                r = ob_json_error(c->err, c->doc, type, false, EINVAL,
                                  "invalid entity type name \"%s\"", e.type);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

static int parse_value(pctx *c, const cJSON *n, pol_value *ret);

static int parse_set_value(pctx *c, const cJSON *n, pol_value *ret)
{
        size_t k = (size_t)cJSON_GetArraySize(n), i = 0;
        pol_value *items;
        const cJSON *m;
        pol_value v = {.type = PV_SET};

        if (k > OB_POLICY_MAX_SET)
                return ob_json_error(c->err, c->doc, n, false, E2BIG,
                                     "set too large (%zu elements, limit %d)", k,
                                     OB_POLICY_MAX_SET);
        items = k ? pol_alloc(c->set, k * sizeof(*items)) : NULL;
        if (k && !items)
                return -ENOMEM;
        v.items = items;
        cJSON_ArrayForEach (m, n) {
                int r = parse_value(c, m, &items[i]);
                if (r < 0)
                        return r;
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
                if (fabs(n->valuedouble) > 9007199254740991.0) /* 1e999 is an "integer" too */
                        return ob_json_error(c->err, c->doc, n, false, ERANGE,
                                             "integer out of range (|n| > 2^53-1)");
                v.type = PV_LONG;
                v.l = (int64_t)n->valuedouble;
        } else if (cJSON_IsString(n)) {
                v.type = PV_STRING;
                if (!(v.s = pol_strdup(c->set, n->valuestring)))
                        return -ENOMEM;
        } else if (cJSON_IsArray(n)) {
                return parse_set_value(c, n, ret);
        } else if (cJSON_IsObject(n) && n->child && !n->child->next &&
                   streq(n->child->string, "__entity")) {
                pol_entity e;
                int r = pol_parse_entity(c, n, &e);
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

/* The JSON spelling of an expression kind. */
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

/* Fetches the members of an operator's argument object: exactly the keys
 * named in keys (NULL-terminated), all required unless listed in optional. */
int pol_get_members(pctx *c, const cJSON *n, const char *op, const char *const *keys,
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
        int r = pol_get_members(c, n, op, keys, NULL, m);
        if (r < 0)
                return r;
        r = pol_parse_expr(c, m[0], &e->a);
        return r < 0 ? r : pol_parse_expr(c, m[1], &e->b);
}

/* Merges adjacent literals, collapses runs of wildcards and drops empty
 * literals, so that matching and compiling see a canonical pattern. */
static int normalize_pattern(pctx *c, pol_expr *e)
{
        size_t out = 0;
        for (size_t i = 0; i < e->n_pat; i++) {
                pol_pat_elem cur = e->pat[i], *prev = out ? &e->pat[out - 1] : NULL;
                if (!cur.wildcard && !cur.lit[0]) {
                        continue;
                } else if (prev && prev->wildcard && cur.wildcard) {
                        continue;
                } else if (prev && !prev->wildcard && !cur.wildcard) {
                        size_t a = strlen(prev->lit), b = strlen(cur.lit);
                        char *m = pol_alloc(c->set, a + b + 1);
                        if (!m)
                                return -ENOMEM;
                        memcpy(m, prev->lit, a);
                        memcpy(m + a, cur.lit, b + 1);
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
        e->pat = pol_alloc(c->set, ((size_t)cJSON_GetArraySize(n) + 1) * sizeof(*e->pat));
        if (!e->pat)
                return -ENOMEM;
        cJSON_ArrayForEach (m, n) {
                if (cJSON_IsString(m) && streq(m->valuestring, "Wildcard")) {
                        e->pat[k++].wildcard = true;
                } else if (cJSON_IsObject(m) && m->child && !m->child->next &&
                           streq(m->child->string, "Literal") && cJSON_IsString(m->child)) {
                        if (!(e->pat[k].lit = pol_strdup(c->set, m->child->valuestring)))
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
        return normalize_pattern(c, e);
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
                r = pol_get_members(c, arg, op, like_keys, NULL, m);
        else if (e->kind == PE_IS)
                r = pol_get_members(c, arg, op, is_keys, "in", m);
        else
                r = pol_get_members(c, arg, op, attr_keys, NULL, m);
        if (r < 0)
                return r;
        if ((r = pol_parse_expr(c, m[0], &e->a)) < 0)
                return r;
        if (e->kind == PE_LIKE)
                return parse_pattern(c, m[1], e);
        if ((r = pol_want_string(c, m[1], e->kind == PE_IS ? "\"entity_type\"" : "\"attr\"",
                                 &e->str)) < 0)
                return r;
        if (e->kind == PE_IS && !pol_is_type_name(e->str))
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
        if (cJSON_GetArraySize(arg) > OB_POLICY_MAX_SET)
                return ob_json_error(c->err, c->doc, arg, false, E2BIG,
                                     "set too large (%d elements, limit %d)",
                                     cJSON_GetArraySize(arg), OB_POLICY_MAX_SET);
        e->items = pol_alloc(c->set, ((size_t)cJSON_GetArraySize(arg) + 1) * sizeof(*e->items));
        if (!e->items)
                return -ENOMEM;
        cJSON_ArrayForEach (m, arg) {
                int r = pol_parse_expr(c, m, &e->items[e->n_items]);
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
                int r = pol_get_members(c, arg, op, keys, NULL, m);
                e->kind = PE_NOT;
                return r < 0 ? r : pol_parse_expr(c, m[0], &e->a);
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
int pol_parse_expr(pctx *c, const cJSON *n, pol_expr **ret)
{
        pol_expr *e;
        int r;

        if (!cJSON_IsObject(n) || !n->child || n->child->next)
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "expression must be an object with exactly one key, "
                                     "not %s",
                                     ob_json_type_name(n));
        e = pol_alloc(c->set, sizeof(*e));
        if (!e)
                return -ENOMEM;
        pol_pos_of(c, n, &e->line, &e->column);
        r = parse_expr_body(c, n->child->string, n->child, e);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}
