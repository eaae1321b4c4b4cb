/* SPDX-License-Identifier: Apache-2.0 */
/* The capability file (DESIGN §4): parse with positions, write back. */
#include <math.h>

#include "capabilities/capset.h"
#include "capabilities/limits.h"
#include "common/json.h"

#define CAPFILE_MAX_BYTES (1u << 20)
#define CAPFILE_MAX_RULES 10000

static int parse_limit(const ob_json_doc *doc, const cJSON *v, const ob_limit_info *d,
                       ob_limits *limits, ob_error *err)
{
        double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        double scaled = d->fractional ? x * 1000.0 : x;
        int64_t rounded;
        char why[160];

        if (!cJSON_IsNumber(v) || !(scaled >= 1.0) || scaled > 9.0e15)
                goto bad;
        rounded = (int64_t)(scaled + 0.5);
        if (fabs(scaled - (double)rounded) > 1e-6)
                goto bad;
        if (ob_limit_out_of_bounds(d, rounded, why, sizeof(why)))
                return ob_json_error(err, doc, v, false, ERANGE, "limits.%s", why);
        *ob_limit_slot(limits, d) = rounded;
        return 0;
bad:
        return ob_json_error(err, doc, v, false, EINVAL,
                             d->fractional
                                 ? "limits.%s: expected a positive number (at most 3 decimals)"
                                 : "limits.%s: expected a positive integer",
                             d->key);
}

static int parse_limits(const ob_json_doc *doc, const cJSON *obj, ob_limits *limits, ob_error *err)
{
        const cJSON *m;

        if (!cJSON_IsObject(obj))
                return ob_json_error(err, doc, obj, false, EINVAL,
                                     "limits: expected an object, got %s", ob_json_type_name(obj));
        cJSON_ArrayForEach (m, obj) {
                const ob_limit_info *d = ob_limit_by_key(m->string);
                int r;
                if (!d)
                        return ob_json_error(err, doc, m, true, EINVAL,
                                             "limits: unknown key \"%s\"", m->string);
                r = parse_limit(doc, m, d, limits, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The string member key of a rule object, with a typed error. */
static int rule_string(const ob_json_doc *doc, const cJSON *rule, const char *where, size_t i,
                       const char *key, bool required, const char **ret, ob_error *err)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rule, key);

        *ret = NULL;
        if (!v) {
                if (required)
                        return ob_json_error(err, doc, rule, false, EINVAL,
                                             "%s[%zu]: missing \"%s\"", where, i, key);
                return 0;
        }
        if (!cJSON_IsString(v))
                return ob_json_error(err, doc, v, false, EINVAL,
                                     "%s[%zu].%s: expected a string, got %s", where, i, key,
                                     ob_json_type_name(v));
        *ret = v->valuestring;
        return 0;
}

static int parse_rule(const ob_json_doc *doc, const cJSON *rule, bool deny, size_t i,
                      ob_capset *set, ob_error *err)
{
        const char *where = deny ? "denials" : "grants", *kind_s, *target, *pid;
        const cJSON *m;
        ob_cap_kind kind;
        ob_error sub = {0};
        int r;

        if (!cJSON_IsObject(rule))
                return ob_json_error(err, doc, rule, false, EINVAL,
                                     "%s[%zu]: expected an object, got %s", where, i,
                                     ob_json_type_name(rule));
        cJSON_ArrayForEach (m, rule) {
                if (!streq(m->string, "capability") && !streq(m->string, "target") &&
                    !streq(m->string, "policy_id"))
                        return ob_json_error(err, doc, m, true, EINVAL,
                                             "%s[%zu]: unknown key \"%s\"", where, i, m->string);
        }
        if ((r = rule_string(doc, rule, where, i, "capability", true, &kind_s, err)) < 0 ||
            (r = rule_string(doc, rule, where, i, "target", true, &target, err)) < 0 ||
            (r = rule_string(doc, rule, where, i, "policy_id", false, &pid, err)) < 0)
                return r;
        if (ob_cap_kind_from_string(kind_s, &kind) < 0)
                return ob_json_error(err, doc, cJSON_GetObjectItemCaseSensitive(rule, "capability"),
                                     false, EINVAL, "%s[%zu].capability: unknown capability \"%s\"",
                                     where, i, kind_s);
        if (pid && (pid[0] == '\0' || strlen(pid) > CAP_POLICY_ID_MAX))
                return ob_json_error(err, doc, cJSON_GetObjectItemCaseSensitive(rule, "policy_id"),
                                     false, EINVAL, "%s[%zu].policy_id: expected 1-%d bytes", where,
                                     i, CAP_POLICY_ID_MAX);
        r = ob_capset_add(set, deny, kind, target, pid, &sub);
        if (r < 0)
                return ob_json_error(err, doc, cJSON_GetObjectItemCaseSensitive(rule, "target"),
                                     false, -r, "%s[%zu].target: %s", where, i, sub.message);
        return 0;
}

static int parse_rules(const ob_json_doc *doc, const cJSON *arr, bool deny, size_t *n_rules,
                       ob_capset *set, ob_error *err)
{
        const char *where = deny ? "denials" : "grants";
        const cJSON *rule;
        size_t i = 0;

        if (!cJSON_IsArray(arr))
                return ob_json_error(err, doc, arr, false, EINVAL, "%s: expected an array, got %s",
                                     where, ob_json_type_name(arr));
        cJSON_ArrayForEach (rule, arr) {
                int r;
                if (++*n_rules > CAPFILE_MAX_RULES)
                        return ob_json_error(err, doc, rule, false, E2BIG,
                                             "%s[%zu]: more than %d rules in one file", where, i,
                                             CAPFILE_MAX_RULES);
                r = parse_rule(doc, rule, deny, i++, set, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_top_member(const ob_json_doc *doc, const cJSON *m, size_t *n_rules, ob_capset *set,
                            ob_error *err)
{
        if (streq(m->string, "version")) {
                if (!cJSON_IsNumber(m) || m->valuedouble != 1.0)
                        return ob_json_error(err, doc, m, false, EINVAL,
                                             "version: expected 1 (the only version)");
                return 0;
        }
        if (streq(m->string, "principal")) {
                if (!cJSON_IsString(m) || ob_capset_set_principal(set, m->valuestring) < 0)
                        return ob_json_error(err, doc, m, false, EINVAL,
                                             "principal: expected a UUID string");
                return 0;
        }
        if (streq(m->string, "grants"))
                return parse_rules(doc, m, false, n_rules, set, err);
        if (streq(m->string, "denials"))
                return parse_rules(doc, m, true, n_rules, set, err);
        if (streq(m->string, "limits"))
                return parse_limits(doc, m, &set->limits, err);
        return ob_json_error(err, doc, m, true, EINVAL, "unknown key \"%s\"", m->string);
}

/* Parses a capability-file object already parsed in doc (a template's
 * "capabilities" member, or a file's root): errors at positions in doc. */
int ob_capset_parse_node(const ob_json_doc *doc, const cJSON *obj, ob_capset **ret, ob_error *err)
{
        ob_capset *set = NULL;
        const cJSON *m;
        size_t n_rules = 0;
        int r;

        if (!doc || !obj || !ret)
                return ob_error_set(err, 0, 0, EINVAL, "no input");
        if (!cJSON_IsObject(obj))
                return ob_json_error(err, doc, obj, false, EINVAL, "expected an object, got %s",
                                     ob_json_type_name(obj));
        if (!cJSON_GetObjectItemCaseSensitive(obj, "version") ||
            !cJSON_GetObjectItemCaseSensitive(obj, "grants"))
                return ob_json_error(err, doc, obj, false, EINVAL, "missing \"%s\"",
                                     cJSON_GetObjectItemCaseSensitive(obj, "version") ? "grants"
                                                                                      : "version");
        r = ob_capset_new(&set);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "out of memory");
        cJSON_ArrayForEach (m, obj) {
                r = parse_top_member(doc, m, &n_rules, set, err);
                if (r < 0) {
                        ob_capset_free(set);
                        return r;
                }
        }
        *ret = set;
        return 0;
}

/* Parses a capability file from memory. */
int ob_capset_parse(const char *text, size_t len, ob_capset **ret, ob_error *err)
{
        _cleanup_(ob_json_doc_done) ob_json_doc doc = {0};
        int r;

        if (!text || !ret)
                return ob_error_set(err, 0, 0, EINVAL, "no input");
        r = ob_json_parse(text, len, CAPFILE_MAX_BYTES, &doc, err);
        if (r < 0)
                return r;
        return ob_capset_parse_node(&doc, doc.root, ret, err);
}

/* Reads and parses a capability file. */
int ob_capset_load(const char *path, ob_capset **ret, ob_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        if (!path)
                return ob_error_set(err, 0, 0, EINVAL, "no file name");
        r = ob_read_file(path, CAPFILE_MAX_BYTES, &text, &len);
        if (r == -EFBIG)
                return ob_error_set(err, 0, 0, EFBIG, "file larger than %u bytes",
                                    CAPFILE_MAX_BYTES);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "cannot read: %s", strerror(-r));
        return ob_capset_parse(text, len, ret, err);
}

static cJSON *rules_to_json(const ob_capset *set, bool deny)
{
        cJSON *arr = cJSON_CreateArray();

        for (size_t i = 0; arr && i < ob_capset_count(set, deny); i++) {
                const ob_capability *c = ob_capset_get(set, deny, i);
                cJSON *o = cJSON_CreateObject();
                if (!o || !cJSON_AddItemToArray(arr, o)) {
                        cJSON_Delete(o);
                        cJSON_Delete(arr);
                        return NULL;
                }
                if (!cJSON_AddStringToObject(o, "capability", ob_cap_kind_to_string(c->kind)) ||
                    !cJSON_AddStringToObject(o, "target", c->target) ||
                    (c->policy_id && !cJSON_AddStringToObject(o, "policy_id", c->policy_id))) {
                        cJSON_Delete(arr);
                        return NULL;
                }
        }
        return arr;
}

static cJSON *limits_to_json(const ob_limits *l)
{
        cJSON *o = cJSON_CreateObject();

        for (size_t i = 0; o && i < OB_LIMIT_COUNT; i++) {
                const ob_limit_info *d = &ob_limit_table[i];
                int64_t v = ob_limit_get(l, d);
                double x = d->fractional ? (double)v / 1000.0 : (double)v;
                if (v == OB_LIMIT_UNSET)
                        continue;
                if (!cJSON_AddNumberToObject(o, d->key, x)) {
                        cJSON_Delete(o);
                        return NULL;
                }
        }
        return o;
}

/* Writes the set as a capability file; *ret malloc'd. */
int ob_capset_to_json(const ob_capset *set, char **ret)
{
        cJSON *root, *grants, *denials, *limits;
        char *text, *out;
        size_t n;

        if (!set || !ret)
                return -EINVAL;
        root = cJSON_CreateObject();
        grants = rules_to_json(set, false);
        denials = rules_to_json(set, true);
        limits = limits_to_json(&set->limits);
        if (!root || !grants || !denials || !limits ||
            !cJSON_AddNumberToObject(root, "version", 1) ||
            (set->principal && !cJSON_AddStringToObject(root, "principal", set->principal)))
                goto fail;
        if (!cJSON_AddItemToObject(root, "grants", grants))
                goto fail;
        grants = NULL;
        if (!cJSON_AddItemToObject(root, "denials", denials))
                goto fail;
        denials = NULL;
        if (limits->child) {
                if (!cJSON_AddItemToObject(root, "limits", limits))
                        goto fail;
                limits = NULL;
        }
        cJSON_Delete(limits);
        text = cJSON_Print(root);
        cJSON_Delete(root);
        if (!text)
                return -ENOMEM;
        n = strlen(text);
        out = malloc(n + 2);
        if (out) {
                memcpy(out, text, n);
                memcpy(out + n, "\n", 2);
                *ret = out;
        }
        free(text);
        return out ? 0 : -ENOMEM;
fail:
        cJSON_Delete(root);
        cJSON_Delete(grants);
        cJSON_Delete(denials);
        cJSON_Delete(limits);
        return -ENOMEM;
}
