/* SPDX-License-Identifier: Apache-2.0 */
/* Cedar JSON policy sets: the set or single-policy shape, policies, scopes,
 * conditions; the public parse/load entry points. */
#define _GNU_SOURCE 1
#include <ctype.h>

#include "common/error.h"
#include "policy/parse-internal.h"

/* Frees the set and every tree it owns; accepts NULL; returns NULL. */
ob_policy_set *ob_policy_set_free(ob_policy_set *set)
{
        if (!set)
                return NULL;
        while (set->chunks) {
                pol_chunk *next = set->chunks->next;
                free(set->chunks);
                set->chunks = next;
        }
        free(set);
        return NULL;
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
        if ((r = pol_want_string(c, t, "\"entity_type\"", &s->is_type)) < 0)
                return r;
        if (!pol_is_type_name(s->is_type))
                return ob_json_error(c->err, c->doc, t, false, EINVAL,
                                     "invalid entity type name \"%s\"", s->is_type);
        if (!in)
                return 0;
        if (!cJSON_IsObject(in) || !member(in, "entity") || in->child->next)
                return ob_json_error(c->err, c->doc, in, false, EINVAL,
                                     "\"in\" of \"is\" must be {\"entity\": ...}");
        s->has_entity = true;
        return pol_parse_entity(c, member(in, "entity"), &s->entity);
}

static int parse_scope_entities(pctx *c, const cJSON *n, pol_scope *s)
{
        const cJSON *m;
        if (!cJSON_IsArray(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"entities\" must be an array, not %s", ob_json_type_name(n));
        s->entities = pol_alloc(c->set, ((size_t)cJSON_GetArraySize(n) + 1) * sizeof(*s->entities));
        if (!s->entities)
                return -ENOMEM;
        cJSON_ArrayForEach (m, n) {
                int r = pol_parse_entity(c, m, &s->entities[s->n_entities]);
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

        pol_pos_of(c, n, &s->line, &s->column);
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
        return pol_parse_entity(c, ent, &s->entity);
}

static int parse_condition(pctx *c, const cJSON *n, pol_cond *ret)
{
        static const char *const keys[] = {"kind", "body", NULL};
        const cJSON *m[2];
        int r = pol_get_members(c, n, "condition", keys, NULL, m);

        if (r < 0)
                return r;
        if (!cJSON_IsString(m[0]) ||
            (!streq(m[0]->valuestring, "when") && !streq(m[0]->valuestring, "unless")))
                return ob_json_error(c->err, c->doc, m[0], false, EINVAL,
                                     "condition \"kind\" must be \"when\" or \"unless\"");
        ret->unless = streq(m[0]->valuestring, "unless");
        return pol_parse_expr(c, m[1], &ret->body);
}

static int parse_conditions(pctx *c, const cJSON *n, pol_policy *p)
{
        const cJSON *m;
        if (!cJSON_IsArray(n))
                return ob_json_error(c->err, c->doc, n, false, EINVAL,
                                     "\"conditions\" must be an array, not %s",
                                     ob_json_type_name(n));
        p->conds = pol_alloc(c->set, ((size_t)cJSON_GetArraySize(n) + 1) * sizeof(*p->conds));
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
        int r = pol_get_members(c, n, "policy", keys, "annotations", m);

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
        pol_pos_of(c, n, &p->line, &p->column);
        if (!(p->id = pol_strdup(c->set, id)))
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
        set->policies = pol_alloc(set, (k + 1) * sizeof(*set->policies));
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
                set->policies = pol_alloc(set, sizeof(*set->policies));
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

/* JSON (strict, with positions) → a policy set; *ret owned by the caller. */
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
        c.set = set;
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

/* Reads path (bounded by OB_POLICY_MAX_BYTES) and parses it. */
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

/* Number of policies (0 for NULL). */
size_t ob_policy_set_size(const ob_policy_set *set)
{
        return set ? set->n_policies : 0;
}

/* Id of the i-th policy in file order, or NULL. */
const char *ob_policy_set_id(const ob_policy_set *set, size_t i)
{
        return set && i < set->n_policies ? set->policies[i].id : NULL;
}

/* DIR/<uuid>.cedar.json; -EINVAL unless uuid is 8-4-4-4-12 hex. */
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
        /* principals are lower-cased everywhere: so is the file name */
        if (asprintf(&path, "%s/%s.cedar.json", dir, uuid) < 0)
                return -ENOMEM;
        for (char *p = path + strlen(dir) + 1; *p != '.'; p++)
                *p = (char)tolower((unsigned char)*p);
        *ret = path;
        return 0;
}
