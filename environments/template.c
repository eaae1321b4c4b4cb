/* SPDX-License-Identifier: Apache-2.0 */
/* Environment templates: strict parsing with file:line:column errors
 * (docs/environments-templates.md). Finding, listing and printing them is in
 * template_dir.c. */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "capabilities/capset.h"
#include "common/json.h"
#include "environments/seed.h"
#include "environments/template_internal.h"
#include "runner/runner.h"

#define TEMPLATE_MAX_FLAGS     256
#define TEMPLATE_MAX_TTL_S     (365LL * 86400)
#define TEMPLATE_WORKSPACE_MIN 8
#define TEMPLATE_WORKSPACE_MAX 65536
#define TEMPLATE_WORKSPACE_DEF 256
#define TEMPLATE_TEXT_MAX      4096 /* description, approved_by, classification */

ob_template *ob_template_free(ob_template *t)
{
        if (!t)
                return NULL;
        free(t->name);
        free(t->file);
        free(t->description);
        free(t->approved_by);
        free(t->data_classification);
        free(t->profile);
        ob_capset_free(t->caps);
        free(t->default_seed);
        ob_strv_free(t->flags_available);
        ob_strv_free(t->flags_default);
        free(t);
        return NULL;
}

bool template_name_valid(const char *s, size_t max)
{
        size_t n = strlen(s);

        if (n == 0 || n > max || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
                        return false;
        return true;
}

/* The rules of ob_duration_parse (environments/store.h): one positive
 * integer and one unit s|m|h|d, at most 365d. */
int template_duration(const char *text, int64_t *ret_s, ob_error *err)
{
        static const struct {
                char unit;
                int64_t mul;
        } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
        int64_t v = 0;
        size_t i = 0;

        while (isdigit((unsigned char)text[i]) && i < 12)
                v = v * 10 + (text[i++] - '0');
        if (i == 0 || v == 0 || text[i] == '\0' || text[i + 1] != '\0' || text[0] == '0')
                goto bad;
        for (size_t k = 0; k < ARRAY_SIZE(units); k++)
                if (text[i] == units[k].unit) {
                        if (v > TEMPLATE_MAX_TTL_S / units[k].mul)
                                return ob_error_set(err, 0, 0, ERANGE,
                                                    "duration \"%s\" is longer than 365d", text);
                        *ret_s = v * units[k].mul;
                        return 0;
                }
bad:
        return ob_error_set(err, 0, 0, EINVAL,
                            "duration \"%s\": expected a positive integer and a unit s, m, h or d "
                            "(\"48h\")",
                            text);
}

/* A string member's copy, with a typed error at its value. */
static int member_string(const ob_json_doc *doc, const cJSON *m, char **slot, ob_error *err)
{
        if (!cJSON_IsString(m))
                return ob_json_error(err, doc, m, false, EINVAL, "%s: expected a string, got %s",
                                     m->string, ob_json_type_name(m));
        if (!m->valuestring[0] || strlen(m->valuestring) > TEMPLATE_TEXT_MAX)
                return ob_json_error(err, doc, m, false, EINVAL, "%s: expected 1-%d bytes",
                                     m->string, TEMPLATE_TEXT_MAX);
        free(*slot);
        *slot = strdup(m->valuestring);
        return *slot ? 0 : -ENOMEM;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A flag list: an array of distinct flag names, sorted into *ret. */
static int parse_flag_list(const ob_json_doc *doc, const cJSON *arr, const char *where, char ***ret,
                           ob_error *err)
{
        const cJSON *it;
        size_t n = 0, i = 0;
        char **v;

        if (!cJSON_IsArray(arr))
                return ob_json_error(err, doc, arr, false, EINVAL,
                                     "feature_flags.%s: expected an array, got %s", where,
                                     ob_json_type_name(arr));
        cJSON_ArrayForEach (it, arr)
                if (++n > TEMPLATE_MAX_FLAGS)
                        return ob_json_error(err, doc, it, false, E2BIG,
                                             "feature_flags.%s: more than %d flags", where,
                                             TEMPLATE_MAX_FLAGS);
        v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        cJSON_ArrayForEach (it, arr) {
                int r = 0;
                if (!cJSON_IsString(it) || !template_name_valid(it->valuestring, 63))
                        r = ob_json_error(err, doc, it, false, EINVAL,
                                          "feature_flags.%s[%zu]: expected a flag name "
                                          "([a-z0-9][a-z0-9-]{0,62})",
                                          where, i);
                for (size_t k = 0; r == 0 && k < i; k++)
                        if (streq(v[k], it->valuestring))
                                r = ob_json_error(err, doc, it, false, EINVAL,
                                                  "feature_flags.%s[%zu]: \"%s\" listed twice",
                                                  where, i, it->valuestring);
                if (r == 0 && !(v[i++] = strdup(it->valuestring)))
                        r = -ENOMEM;
                if (r < 0) {
                        ob_strv_free(v);
                        return r;
                }
        }
        qsort(v, n, sizeof(char *), cmp_str);
        *ret = v;
        return 0;
}

static bool strv_contains(char **v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}

static int parse_flags(const ob_json_doc *doc, const cJSON *obj, ob_template *t, ob_error *err)
{
        const cJSON *m, *avail, *def;
        int r;

        if (!cJSON_IsObject(obj))
                return ob_json_error(err, doc, obj, false, EINVAL,
                                     "feature_flags: expected an object, got %s",
                                     ob_json_type_name(obj));
        cJSON_ArrayForEach (m, obj)
                if (!streq(m->string, "available") && !streq(m->string, "default"))
                        return ob_json_error(err, doc, m, true, EINVAL,
                                             "feature_flags: unknown key \"%s\"", m->string);
        avail = cJSON_GetObjectItemCaseSensitive(obj, "available");
        def = cJSON_GetObjectItemCaseSensitive(obj, "default");
        if (!avail)
                return ob_json_error(err, doc, obj, false, EINVAL,
                                     "feature_flags: missing \"available\"");
        r = parse_flag_list(doc, avail, "available", &t->flags_available, err);
        if (r < 0 || !def)
                return r;
        r = parse_flag_list(doc, def, "default", &t->flags_default, err);
        if (r < 0)
                return r;
        cJSON_ArrayForEach (m, def)
                if (!strv_contains(t->flags_available, m->valuestring))
                        return ob_json_error(err, doc, m, false, EINVAL,
                                             "feature_flags.default: \"%s\" is not in "
                                             "feature_flags.available",
                                             m->valuestring);
        return 0;
}

static int parse_one_ttl(const ob_json_doc *doc, const cJSON *v, int64_t *slot, ob_error *err)
{
        ob_error sub = {0};
        int r;

        if (!cJSON_IsString(v))
                return ob_json_error(err, doc, v, false, EINVAL,
                                     "ttl.%s: expected a duration string (\"48h\"), got %s",
                                     v->string, ob_json_type_name(v));
        r = template_duration(v->valuestring, slot, &sub);
        if (r < 0)
                return ob_json_error(err, doc, v, false, -r, "ttl.%s: %s", v->string, sub.message);
        return 0;
}

static int parse_ttl(const ob_json_doc *doc, const cJSON *obj, ob_template *t, ob_error *err)
{
        const cJSON *m;
        int r;

        if (!cJSON_IsObject(obj))
                return ob_json_error(err, doc, obj, false, EINVAL,
                                     "ttl: expected an object, got %s", ob_json_type_name(obj));
        cJSON_ArrayForEach (m, obj) {
                if (streq(m->string, "default"))
                        r = parse_one_ttl(doc, m, &t->default_ttl_s, err);
                else if (streq(m->string, "max"))
                        r = parse_one_ttl(doc, m, &t->max_ttl_s, err);
                else
                        r = ob_json_error(err, doc, m, true, EINVAL, "ttl: unknown key \"%s\"",
                                          m->string);
                if (r < 0)
                        return r;
        }
        if (!t->default_ttl_s || !t->max_ttl_s)
                return ob_json_error(err, doc, obj, false, EINVAL, "ttl: missing \"%s\"",
                                     t->default_ttl_s ? "max" : "default");
        if (t->default_ttl_s > t->max_ttl_s)
                return ob_json_error(err, doc, cJSON_GetObjectItemCaseSensitive(obj, "default"),
                                     false, EINVAL, "ttl.default is longer than ttl.max");
        return 0;
}

static int parse_profile(const ob_json_doc *doc, const cJSON *m, ob_template *t, ob_error *err)
{
        ob_profile *p = NULL;
        ob_error sub = {0};
        int r;

        r = member_string(doc, m, &t->profile, err);
        if (r < 0)
                return r;
        if (strchr(t->profile, '/'))
                return ob_json_error(err, doc, m, false, EINVAL,
                                     "profile: expected a profile name, not a path");
        r = ob_profile_load(t->profile, &p, &sub);
        ob_profile_free(p);
        if (r < 0)
                return ob_json_error(err, doc, m, false, EINVAL, "profile: %s", sub.message);
        return 0;
}

static int parse_seed(const ob_json_doc *doc, const cJSON *m, ob_template *t, ob_error *err)
{
        _cleanup_free_ char *dir = NULL;
        ob_error sub = {0};
        int r;

        if (cJSON_IsNull(m))
                return 0;
        r = member_string(doc, m, &t->default_seed, err);
        if (r < 0)
                return r;
        r = ob_seed_find(t->default_seed, &dir, &sub);
        if (r < 0)
                return ob_json_error(err, doc, m, false, EINVAL, "default_seed: %s", sub.message);
        return 0;
}

static int parse_caps(const ob_json_doc *doc, const cJSON *m, ob_template *t, ob_error *err)
{
        ob_capset *set = NULL;
        int r;

        if (!cJSON_IsObject(m))
                return ob_json_error(err, doc, m, false, EINVAL,
                                     "capabilities: expected an object, got %s",
                                     ob_json_type_name(m));
        r = ob_capset_parse_node(doc, m, &set, err);
        if (r < 0) {
                static const char pre[] = "capabilities: ";
                size_t n = err ? strnlen(err->message, sizeof(err->message) - sizeof(pre)) : 0;
                if (err) {
                        memmove(err->message + sizeof(pre) - 1, err->message, n);
                        memcpy(err->message, pre, sizeof(pre) - 1);
                        err->message[sizeof(pre) - 1 + n] = '\0';
                }
                return r;
        }
        ob_capset_free(t->caps);
        t->caps = set;
        return 0;
}

static int parse_scalar(const ob_json_doc *doc, const cJSON *m, ob_template *t, ob_error *err)
{
        if (streq(m->string, "approved")) {
                if (!cJSON_IsBool(m))
                        return ob_json_error(err, doc, m, false, EINVAL,
                                             "approved: expected true or false, got %s",
                                             ob_json_type_name(m));
                t->approved = cJSON_IsTrue(m);
                return 0;
        }
        /* workspace_mb */
        if (!cJSON_IsNumber(m) || m->valuedouble != (double)(int64_t)m->valuedouble ||
            m->valuedouble < TEMPLATE_WORKSPACE_MIN || m->valuedouble > TEMPLATE_WORKSPACE_MAX)
                return ob_json_error(err, doc, m, false, EINVAL,
                                     "workspace_mb: expected an integer %d-%d",
                                     TEMPLATE_WORKSPACE_MIN, TEMPLATE_WORKSPACE_MAX);
        t->workspace_mb = (int64_t)m->valuedouble;
        return 0;
}

static int parse_member(const ob_json_doc *doc, const cJSON *m, ob_template *t, ob_error *err)
{
        const char *k = m->string;

        if (streq(k, "name"))
                return member_string(doc, m, &t->name, err);
        if (streq(k, "description"))
                return member_string(doc, m, &t->description, err);
        if (streq(k, "approved_by"))
                return member_string(doc, m, &t->approved_by, err);
        if (streq(k, "data_classification"))
                return member_string(doc, m, &t->data_classification, err);
        if (streq(k, "approved") || streq(k, "workspace_mb"))
                return parse_scalar(doc, m, t, err);
        if (streq(k, "profile"))
                return parse_profile(doc, m, t, err);
        if (streq(k, "capabilities"))
                return parse_caps(doc, m, t, err);
        if (streq(k, "ttl"))
                return parse_ttl(doc, m, t, err);
        if (streq(k, "default_seed"))
                return parse_seed(doc, m, t, err);
        if (streq(k, "feature_flags"))
                return parse_flags(doc, m, t, err);
        return ob_json_error(err, doc, m, true, EINVAL, "unknown key \"%s\"", k);
}

/* The base name of file without its directory and its ".json". */
static char *file_base_name(const char *file)
{
        const char *b = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
        size_t n = strlen(b);

        if (n > 5 && streq(b + n - 5, ".json"))
                n -= 5;
        return strndup(b, n);
}

/* Required keys, approved_by, the name against the file. */
static int check_template(const ob_json_doc *doc, const char *file, ob_template *t, ob_error *err)
{
        static const char *const required[] = {
            "name",         "description", "approved",           "profile",
            "capabilities", "ttl",         "data_classification"};
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc->root, "name");
        _cleanup_free_ char *base = NULL;

        for (size_t i = 0; i < ARRAY_SIZE(required); i++)
                if (!cJSON_GetObjectItemCaseSensitive(doc->root, required[i]))
                        return ob_json_error(err, doc, doc->root, false, EINVAL, "missing \"%s\"",
                                             required[i]);
        if (!template_name_valid(t->name, OB_TEMPLATE_NAME_MAX))
                return ob_json_error(err, doc, name, false, EINVAL,
                                     "name: \"%s\" is not [a-z0-9][a-z0-9-]{0,62}", t->name);
        if (t->approved && !t->approved_by)
                return ob_json_error(err, doc,
                                     cJSON_GetObjectItemCaseSensitive(doc->root, "approved"), false,
                                     EINVAL, "approved: true needs \"approved_by\"");
        if (!file)
                return 0;
        base = file_base_name(file);
        if (!base)
                return -ENOMEM;
        if (!streq(base, t->name))
                return ob_json_error(err, doc, name, false, EINVAL,
                                     "name: \"%s\" differs from the file's base name \"%s\" (%s)",
                                     t->name, base, file);
        return 0;
}

static int parse_doc(const ob_json_doc *doc, const char *file, ob_template *t, ob_error *err)
{
        const cJSON *m;
        int r;

        if (!cJSON_IsObject(doc->root))
                return ob_json_error(err, doc, doc->root, false, EINVAL,
                                     "a template is a JSON object, got %s",
                                     ob_json_type_name(doc->root));
        cJSON_ArrayForEach (m, doc->root) {
                r = parse_member(doc, m, t, err);
                if (r < 0)
                        return r;
        }
        r = check_template(doc, file, t, err);
        if (r < 0)
                return r;
        if (!t->flags_available)
                t->flags_available = calloc(1, sizeof(char *));
        if (!t->flags_default)
                t->flags_default = calloc(1, sizeof(char *));
        if (!t->flags_available || !t->flags_default || (file && !(t->file = strdup(file))))
                return -ENOMEM;
        return 0;
}

/* Parses a template from memory; errors carry line:column in err (code
 * "invalid"), the message does not name the file. */
int ob_template_parse(const char *text, size_t len, const char *file, ob_template **ret,
                      ob_error *err)
{
        _cleanup_(ob_json_doc_done) ob_json_doc doc = {0};
        ob_template *t;
        int r;

        if (err)
                err->code = NULL;
        if (!text || !ret)
                return ob_error_set_code(err, "invalid", EINVAL, "no input");
        r = ob_json_parse(text, len, TEMPLATE_MAX_BYTES, &doc, err);
        if (r < 0)
                goto fail;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->workspace_mb = TEMPLATE_WORKSPACE_DEF;
        r = parse_doc(&doc, file, t, err);
        if (r < 0) {
                ob_template_free(t);
                goto fail;
        }
        *ret = t;
        return 0;
fail:
        if (err && r != -ENOMEM)
                err->code = "invalid";
        return r;
}

/* -EPERM with code "template_not_approved" when the template is unapproved. */
int ob_template_require_approved(const ob_template *t, ob_error *err)
{
        if (!t)
                return ob_error_set_code(err, "invalid", EINVAL, "no template");
        if (!t->approved)
                return ob_error_set_code(err, "template_not_approved", EPERM,
                                         "template %s is not approved (it needs \"approved\": "
                                         "true and \"approved_by\")",
                                         t->name);
        return 0;
}
