/* SPDX-License-Identifier: Apache-2.0 */
/* An environment record's memory, its string lists and its --json face. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <time.h>

#include "environments/store_internal.h"
#include "environments/secrets.h"

static void cjson_deletep(cJSON **j)
{
        cJSON_Delete(*j);
}
#define _cleanup_cjson_ _cleanup_(cjson_deletep)

size_t ob_strv_len(char *const *v)
{
        size_t n = 0;

        while (v && v[n])
                n++;
        return n;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ob_strv_from_json(const char *text, char ***ret)
{
        _cleanup_cjson_ cJSON *root = NULL;
        const cJSON *it;
        char **v;
        size_t n = 0;

        *ret = NULL;
        if (!text)
                return 0;
        root = cJSON_Parse(text);
        if (!cJSON_IsArray(root))
                return -EBADMSG;
        if (cJSON_GetArraySize(root) == 0)
                return 0;
        v = calloc((size_t)cJSON_GetArraySize(root) + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        cJSON_ArrayForEach (it, root) {
                if (!cJSON_IsString(it) || !(v[n] = strdup(it->valuestring))) {
                        ob_strv_free_n(v, n);
                        return cJSON_IsString(it) ? -ENOMEM : -EBADMSG;
                }
                n++;
        }
        qsort(v, n, sizeof(*v), cmp_str);
        *ret = v;
        return 0;
}

int ob_strv_to_json(const char *const *v, size_t n, char **ret)
{
        _cleanup_free_ const char **sorted = NULL;
        _cleanup_cjson_ cJSON *arr = cJSON_CreateArray();
        char *text;

        if (!arr || (n && !(sorted = calloc(n, sizeof(*sorted)))))
                return -ENOMEM;
        if (n)
                memcpy(sorted, v, n * sizeof(*sorted));
        if (n)
                qsort(sorted, n, sizeof(*sorted), cmp_str);
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && streq(sorted[i], sorted[i - 1]))
                        continue;
                if (!cJSON_AddItemToArray(arr, cJSON_CreateString(sorted[i])))
                        return -ENOMEM;
        }
        text = cJSON_PrintUnformatted(arr);
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

void ob_env_record_done(ob_env_record *r)
{
        if (!r)
                return;
        free(r->name);
        free(r->owner);
        free(r->template_name);
        free(r->reason);
        free(r->seed);
        ob_strv_free_n(r->flags, ob_strv_len(r->flags));
        ob_strv_free_n(r->secret_names, ob_strv_len(r->secret_names));
        free(r->approved_by);
        free(r->idempotency_key);
        *r = (ob_env_record){0};
}

void ob_env_records_free(ob_env_record *v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                ob_env_record_done(&v[i]);
        free(v);
}

/* "2026-12-07T11:00:00Z"; NULL on a time gmtime cannot represent. */
static cJSON *iso_time(int64_t t)
{
        time_t tt = (time_t)t;
        struct tm tm;
        char buf[32];

        if (!gmtime_r(&tt, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return NULL;
        return cJSON_CreateString(buf);
}

static cJSON *string_or_null(const char *s)
{
        return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *string_array(char *const *v)
{
        cJSON *arr = cJSON_CreateArray();

        for (size_t i = 0; arr && v && v[i]; i++)
                if (!cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]))) {
                        cJSON_Delete(arr);
                        return NULL;
                }
        return arr;
}

int ob_env_record_to_json(const ob_env_record *r, char **ret)
{
        _cleanup_cjson_ cJSON *o = cJSON_CreateObject();
        const char *state = ob_env_state_to_string(r->state);
        const struct {
                const char *key;
                cJSON *val;
        } members[] = {
            {"id", cJSON_CreateString(r->id)},
            {"name", string_or_null(r->name)},
            {"owner", string_or_null(r->owner)},
            {"template", string_or_null(r->template_name)},
            {"state", string_or_null(state)},
            {"reason", string_or_null(r->reason)},
            {"created_at", iso_time(r->created_at)},
            {"expires_at", iso_time(r->expires_at)},
            {"last_activity_at", iso_time(r->last_activity_at)},
            {"seed", string_or_null(r->seed)},
            {"feature_flags", string_array(r->flags)},
            {"secrets", string_array(r->secret_names)},
            {"memory_mb", cJSON_CreateNumber((double)r->memory_mb)},
            {"approved_by", string_or_null(r->approved_by)},
            {"supervisor_pid", cJSON_CreateNumber((double)r->supervisor_pid)},
        };
        bool ok = o != NULL;
        char *text;

        for (size_t i = 0; i < ARRAY_SIZE(members); i++) {
                if (ok && members[i].val &&
                    cJSON_AddItemToObject(o, members[i].key, members[i].val))
                        continue;
                ok = false;
                cJSON_Delete(members[i].val);
        }
        if (!ok)
                return -ENOMEM;
        text = cJSON_PrintUnformatted(o);
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}
