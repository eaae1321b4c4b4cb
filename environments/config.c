/* SPDX-License-Identifier: Apache-2.0 */
/* The environment layer's settings ($OMNIBASE_CONFIG), durations, the state
 * names and the checks on names, owners and flags. */
#define _GNU_SOURCE
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "common/json.h"
#include "environments/store.h"

#define CONFIG_DEFAULT_PATH "/etc/omnibase/config.json"
#define CONFIG_MAX_BYTES    (64 * 1024)
#define DURATION_MAX_S      (365 * 86400LL)
#define DURATION_TEXT_MAX   16

static const char *const state_names[] = {
    [OB_ENV_CREATING] = "creating", [OB_ENV_RUNNING] = "running",   [OB_ENV_STOPPED] = "stopped",
    [OB_ENV_EXPIRED] = "expired",   [OB_ENV_DELETING] = "deleting", [OB_ENV_DELETED] = "deleted",
    [OB_ENV_FAILED] = "failed",
};

const char *ob_env_state_to_string(ob_env_state s)
{
        if ((unsigned)s >= ARRAY_SIZE(state_names))
                return NULL;
        return state_names[s];
}

int ob_env_state_from_string(const char *s, ob_env_state *ret)
{
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
                if (streq(s, state_names[i])) {
                        *ret = (ob_env_state)i;
                        return 0;
                }
        return -EINVAL;
}

void ob_env_config_defaults(ob_env_config *c)
{
        *c = (ob_env_config){
            .max_environments_per_owner = 3,
            .max_memory_mb_per_owner = 0,
            .default_ttl_s = 48 * 3600,
            .max_ttl_without_approval_s = 7 * 86400,
            .idle_stop_after_s = 24 * 3600,
            .exec_spare_idle_s = 10 * 60,
        };
}

static int64_t unit_seconds(char u)
{
        switch (u) {
        case 's':
                return 1;
        case 'm':
                return 60;
        case 'h':
                return 3600;
        case 'd':
                return 86400;
        default:
                return 0;
        }
}

int ob_duration_parse(const char *text, int64_t *ret_s, ob_error *err)
{
        size_t len = text ? strlen(text) : 0, digits = 0;
        int64_t n = 0, unit;

        if (len < 2 || len > DURATION_TEXT_MAX)
                goto bad;
        while (digits < len - 1 && isdigit((unsigned char)text[digits])) {
                n = n * 10 + (text[digits] - '0');
                if (n > DURATION_MAX_S)
                        goto bad;
                digits++;
        }
        unit = unit_seconds(text[len - 1]);
        if (digits != len - 1 || unit == 0 || n <= 0 || n > DURATION_MAX_S / unit)
                goto bad;
        *ret_s = n * unit;
        return 0;
bad:
        return ob_error_set_code(err, "invalid", EINVAL,
                                 "bad duration \"%.*s\": want a positive integer and one unit "
                                 "of s, m, h, d (\"30s\", \"15m\", \"72h\", \"7d\"), at most 365d",
                                 DURATION_TEXT_MAX * 2, text ? text : "");
}

void ob_duration_format(int64_t s, char *buf, size_t len)
{
        static const struct {
                int64_t secs;
                char unit;
        } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};

        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (s != 0 && s % units[i].secs == 0) {
                        snprintf(buf, len, "%" PRId64 "%c", s / units[i].secs, units[i].unit);
                        return;
                }
        snprintf(buf, len, "%" PRId64 "s", s);
}

/* first: the first character's set; rest: the others'; max: the length. */
static bool chars_ok(const char *s, const char *first, const char *rest, size_t max)
{
        size_t len = s ? strlen(s) : 0;

        if (len == 0 || len > max)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                const char *extra = i == 0 ? first : rest;
                bool lower_digit = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                if (lower_digit || (c != '\0' && strchr(extra, c)))
                        continue;
                return false;
        }
        return true;
}

int ob_env_name_check(const char *name, ob_error *err)
{
        if (chars_ok(name, "", "-", OB_ENV_NAME_MAX))
                return 0;
        return ob_error_set_code(err, "invalid", EINVAL,
                                 "bad environment name \"%.80s\": want [a-z0-9][a-z0-9-]{0,62}",
                                 name ? name : "");
}

#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

int ob_env_owner_check(const char *owner, ob_error *err)
{
        if (chars_ok(owner, UPPER, UPPER "._@-", OB_ENV_OWNER_MAX))
                return 0;
        return ob_error_set_code(err, "invalid", EINVAL,
                                 "bad owner \"%.80s\": want [A-Za-z0-9][A-Za-z0-9._@-]{0,63}",
                                 owner ? owner : "");
}

int ob_env_flag_check(const char *flag, ob_error *err)
{
        if (chars_ok(flag, "", "_.-", OB_ENV_FLAG_MAX))
                return 0;
        return ob_error_set_code(err, "invalid", EINVAL,
                                 "bad feature flag \"%.80s\": want [a-z0-9][a-z0-9_.-]{0,62}",
                                 flag ? flag : "");
}

/* A config error at node's position, prefixed with the file's name. */
static int config_error(ob_error *err, const char *path, const ob_json_doc *doc, const cJSON *node,
                        bool key, const char *what)
{
        unsigned line = 0, column = 0;

        ob_json_position(doc, node, key, &line, &column);
        ob_error_set(err, line, column, EINVAL, "%s:%u:%u: %s", path, line, column, what);
        if (err)
                err->code = "invalid";
        return -EINVAL;
}

/* A count: a non-negative integer. */
static int config_count(const char *path, const ob_json_doc *doc, const cJSON *v, int64_t *ret,
                        ob_error *err)
{
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)INT32_MAX ||
            v->valuedouble != (double)(int64_t)v->valuedouble)
                return config_error(err, path, doc, v, false,
                                    "want a non-negative integer (at most 2147483647)");
        *ret = (int64_t)v->valuedouble;
        return 0;
}

/* A duration: a string ("48h") or a number of seconds; 0 only when zero_ok. */
static int config_duration(const char *path, const ob_json_doc *doc, const cJSON *v, bool zero_ok,
                           int64_t *ret, ob_error *err)
{
        ob_error derr = {0};
        int64_t s;

        if (cJSON_IsString(v)) {
                if (ob_duration_parse(v->valuestring, &s, &derr) < 0)
                        return config_error(err, path, doc, v, false, derr.message);
        } else if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
                   v->valuedouble <= (double)DURATION_MAX_S &&
                   v->valuedouble == (double)(int64_t)v->valuedouble) {
                s = (int64_t)v->valuedouble;
                if (s == 0 && !zero_ok)
                        return config_error(err, path, doc, v, false, "want a positive duration");
        } else {
                return config_error(err, path, doc, v, false,
                                    "want a duration (\"48h\") or seconds, at most 365d");
        }
        *ret = s;
        return 0;
}

/* A list of group or owner names (printable ASCII, 1..OB_K8S_GROUP_MAX, at most
 * OB_K8S_MAX_GROUPS) into v. */
static int config_groups(const char *path, const ob_json_doc *doc, const cJSON *v,
                         char (*out)[OB_K8S_GROUP_MAX + 1], size_t *ret_n, ob_error *err)
{
        const cJSON *g;
        size_t n = 0;

        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > OB_K8S_MAX_GROUPS)
                return config_error(err, path, doc, v, false, "want an array of at most 8 names");
        cJSON_ArrayForEach (g, v) {
                size_t len = cJSON_IsString(g) ? strlen(g->valuestring) : 0;
                bool ok = len > 0 && len <= OB_K8S_GROUP_MAX;
                for (size_t i = 0; ok && i < len; i++)
                        ok = g->valuestring[i] > 0x20 && g->valuestring[i] < 0x7f;
                if (!ok)
                        return config_error(err, path, doc, g, false,
                                            "want a group name: 1 to 128 printable ASCII "
                                            "characters, no spaces");
                memcpy(out[n++], g->valuestring, len + 1);
        }
        *ret_n = n;
        return 0;
}

/* The "kubernetes" object: admin_groups, observer_groups. */
static int config_k8s(const char *path, const ob_json_doc *doc, const cJSON *obj, ob_env_config *c,
                      ob_error *err)
{
        const cJSON *v;
        int r = 0;

        if (!cJSON_IsObject(obj))
                return config_error(err, path, doc, obj, false, "want a JSON object");
        cJSON_ArrayForEach (v, obj) {
                if (streq(v->string, "admin_groups"))
                        r = config_groups(path, doc, v, c->k8s_admin_groups, &c->n_k8s_admin_groups,
                                          err);
                else if (streq(v->string, "observer_groups"))
                        r = config_groups(path, doc, v, c->k8s_observer_groups,
                                          &c->n_k8s_observer_groups, err);
                else
                        r = config_error(err, path, doc, v, true,
                                         "unknown key (kubernetes takes admin_groups, "
                                         "observer_groups)");
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The "api" object: admins, observers (owner names). */
static int config_api(const char *path, const ob_json_doc *doc, const cJSON *obj, ob_env_config *c,
                      ob_error *err)
{
        const cJSON *v;
        int r = 0;

        if (!cJSON_IsObject(obj))
                return config_error(err, path, doc, obj, false, "want a JSON object");
        cJSON_ArrayForEach (v, obj) {
                if (streq(v->string, "admins"))
                        r = config_groups(path, doc, v, c->api_admins, &c->n_api_admins, err);
                else if (streq(v->string, "observers"))
                        r = config_groups(path, doc, v, c->api_observers, &c->n_api_observers, err);
                else
                        r = config_error(err, path, doc, v, true,
                                         "unknown key (api takes admins, observers)");
                if (r < 0)
                        return r;
        }
        return 0;
}

static int config_apply(const char *path, const ob_json_doc *doc, ob_env_config *c, ob_error *err)
{
        const cJSON *v;

        if (!cJSON_IsObject(doc->root))
                return config_error(err, path, doc, doc->root, false, "want a JSON object");
        cJSON_ArrayForEach (v, doc->root) {
                const char *k = v->string;
                int r;
                if (streq(k, "max_environments_per_owner"))
                        r = config_count(path, doc, v, &c->max_environments_per_owner, err);
                else if (streq(k, "max_memory_mb_per_owner"))
                        r = config_count(path, doc, v, &c->max_memory_mb_per_owner, err);
                else if (streq(k, "default_ttl"))
                        r = config_duration(path, doc, v, false, &c->default_ttl_s, err);
                else if (streq(k, "max_ttl_without_approval"))
                        r = config_duration(path, doc, v, false, &c->max_ttl_without_approval_s,
                                            err);
                else if (streq(k, "idle_stop_after"))
                        r = config_duration(path, doc, v, true, &c->idle_stop_after_s, err);
                else if (streq(k, "exec_spare_idle"))
                        r = config_duration(path, doc, v, true, &c->exec_spare_idle_s, err);
                else if (streq(k, "kubernetes"))
                        r = config_k8s(path, doc, v, c, err);
                else if (streq(k, "api"))
                        r = config_api(path, doc, v, c, err);
                else {
                        char what[160];
                        snprintf(what, sizeof(what), "unknown key \"%.64s\"", k);
                        r = config_error(err, path, doc, v, true, what);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int ob_env_config_load(const char *path, ob_env_config *ret, ob_error *err)
{
        const char *env = getenv("OMNIBASE_CONFIG");
        bool named = path || (env && env[0]);
        _cleanup_free_ char *text = NULL;
        _cleanup_(ob_json_doc_done) ob_json_doc doc = {0};
        ob_env_config c;
        size_t len = 0;
        int r;

        if (!path)
                path = named ? env : CONFIG_DEFAULT_PATH;
        ob_env_config_defaults(&c);
        r = ob_read_file(path, CONFIG_MAX_BYTES, &text, &len);
        if (r == -ENOENT && !named) {
                *ret = c;
                return 0;
        }
        if (r < 0)
                return ob_error_set_code(err, "invalid", r, "%s: %s", path,
                                         r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
        r = ob_json_parse(text, len, CONFIG_MAX_BYTES, &doc, err);
        if (r < 0) {
                if (err) {
                        char msg[sizeof(err->message)];
                        snprintf(msg, sizeof(msg), "%s", err->message);
                        ob_error_set(err, err->line, err->column, r, "%s:%u:%u: %s", path,
                                     err->line, err->column, msg);
                        err->code = "invalid";
                }
                return r;
        }
        r = config_apply(path, &doc, &c, err);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}
