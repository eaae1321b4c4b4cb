/* SPDX-License-Identifier: Apache-2.0 */
/* What the pool's daemon and clients share: the key a warm run must match
 * and the result on the wire. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit-internal.h"
#include "capabilities/limits.h"
#include "runner/pool.h"

int ob_pool_path(const char *state_dir, const char *leaf, char *buf, size_t size)
{
        int n = snprintf(buf, size, "%s/%s%s%s", state_dir ? state_dir : ob_state_dir_default(),
                         OB_POOL_DIR, leaf ? "/" : "", leaf ? leaf : "");
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int ob_pool_key(const ob_run_plan *plan, const ob_capset *caps, char **ret)
{
        _cleanup_free_ char *caps_json = NULL;
        cJSON *o = cJSON_CreateObject(), *l, *c;
        char *text = NULL;
        int r = ob_capset_to_json(caps, &caps_json);

        if (r >= 0 && o && (c = cJSON_Parse(caps_json)) && !cJSON_AddItemToObject(o, "caps", c))
                cJSON_Delete(c), c = NULL;
        l = o ? cJSON_AddObjectToObject(o, "limits") : NULL;
        for (size_t i = 0; l && i < OB_LIMIT_COUNT; i++)
                if (!cJSON_AddNumberToObject(
                        l, ob_limit_table[i].key,
                        (double)ob_limit_get(&plan->limits, &ob_limit_table[i])))
                        l = NULL;
        if (r >= 0 && l && cJSON_AddStringToObject(o, "profile", plan->profile->name) &&
            cJSON_AddStringToObject(o, "profile_file",
                                    plan->profile->file ? plan->profile->file : ""))
                text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text)
                return r < 0 ? r : -ENOMEM;
        *ret = text;
        return 0;
}

int ob_pool_key_hash(const char *text, char hex[65])
{
        return ob_audit_sha256_hex(text, strlen(text), NULL, 0, hex);
}

static bool add_b64(cJSON *o, const char *key, const char *buf, size_t len)
{
        _cleanup_free_ char *out = malloc(4 * ((len + 2) / 3) + 1);

        if (!out)
                return false;
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)(buf ? buf : ""), (int)len);
        return cJSON_AddStringToObject(o, key, out) != NULL;
}

int ob_pool_result_encode(const ob_sandbox_result *r, char **ret)
{
        _cleanup_free_ char *base = NULL;
        cJSON *o;
        char *text;
        int k = ob_sandbox_result_to_json(r, &base);

        if (k < 0)
                return k;
        o = cJSON_Parse(base);
        if (!o)
                return -ENOMEM;
        bool ok = cJSON_AddNumberToObject(o, "limit_value", (double)r->limit_value) &&
                  add_b64(o, "stdout_b64", r->stdout_buf, r->stdout_len) &&
                  add_b64(o, "stderr_b64", r->stderr_buf, r->stderr_len) &&
                  cJSON_AddStringToObject(o, "message", r->message);
        text = ok ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

static int get_b64(const cJSON *o, const char *key, char **ret, size_t *ret_len)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        size_t n, pad = 0;
        char *out;
        int len;

        if (!cJSON_IsString(v))
                return -EBADMSG;
        n = strlen(v->valuestring);
        if (n % 4)
                return -EBADMSG;
        out = malloc(n / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        len = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)v->valuestring, (int)n);
        if (len < 0) {
                free(out);
                return -EBADMSG;
        }
        for (size_t i = n; i > 0 && pad < 2 && v->valuestring[i - 1] == '='; i--)
                pad++;
        len -= (int)pad;
        out[len] = '\0';
        *ret = out;
        *ret_len = (size_t)len;
        return 0;
}

static const char *const statuses[] = {"ok", "violation", "timeout", "limit_exceeded", "error"};

static int status_of(const cJSON *o, const char *key, ob_sandbox_status *ret)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        for (size_t i = 0; cJSON_IsString(v) && i < ARRAY_SIZE(statuses); i++)
                if (streq(v->valuestring, statuses[i])) {
                        *ret = (ob_sandbox_status)i;
                        return 0;
                }
        /* ended_by says "exit" for a workload that exited by itself */
        if (cJSON_IsString(v) && streq(v->valuestring, "exit")) {
                *ret = OB_SANDBOX_OK;
                return 0;
        }
        return -EBADMSG;
}

static int64_t num(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

static const char *str(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The limit names the result points to are static strings. */
static const char *static_word(const char *s, const char *const *words)
{
        for (size_t i = 0; s && words[i]; i++)
                if (streq(s, words[i]))
                        return words[i];
        return NULL;
}

static int decode_violations(const cJSON *o, ob_sandbox_result *r)
{
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "violations"), *v;
        int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;

        if (n <= 0)
                return 0;
        r->violations = calloc((size_t)n, sizeof(*r->violations));
        if (!r->violations)
                return -ENOMEM;
        cJSON_ArrayForEach (v, a) {
                ob_sandbox_violation *x = &r->violations[r->n_violations];
                const char *f[5] = {str(v, "capability"), str(v, "target"), str(v, "syscall"),
                                    str(v, "policy_id"), str(v, "layer")};
                for (size_t i = 0; i < 5; i++)
                        if (!f[i])
                                return -EBADMSG;
                x->capability = strdup(f[0]);
                x->target = strdup(f[1]);
                x->syscall = strdup(f[2]);
                x->policy_id = strdup(f[3]);
                x->layer = strdup(f[4]);
                x->pid = num(v, "pid");
                r->n_violations++;
                if (!x->capability || !x->target || !x->syscall || !x->policy_id || !x->layer)
                        return -ENOMEM;
        }
        return 0;
}

int ob_pool_result_decode(const char *line, ob_sandbox_result *ret)
{
        static const char *const limits[] = {"memory", "output", "pids", NULL};
        static const char *const units[] = {"MiB", "KiB", "tasks", NULL};
        cJSON *o = cJSON_Parse(line), *u;
        ob_sandbox_result r = {0};
        const char *id, *msg;
        int k = o ? 0 : -EBADMSG;

        if (k >= 0)
                k = status_of(o, "status", &r.status);
        if (k >= 0)
                k = status_of(o, "ended_by", &r.ended_by);
        if (k >= 0)
                k = get_b64(o, "stdout_b64", &r.stdout_buf, &r.stdout_len);
        if (k >= 0)
                k = get_b64(o, "stderr_b64", &r.stderr_buf, &r.stderr_len);
        if (k >= 0)
                k = decode_violations(o, &r);
        if (k >= 0) {
                r.exit_code = (int)num(o, "exit_code");
                r.stdout_truncated =
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stdout_truncated"));
                r.stderr_truncated =
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stderr_truncated"));
                r.warm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "warm"));
                r.limit = static_word(str(o, "limit"), limits);
                r.limit_value = num(o, "limit_value");
                for (size_t i = 0; r.limit && limits[i]; i++)
                        if (r.limit == limits[i])
                                r.limit_unit = units[i];
                r.denials = num(o, "denials");
                u = cJSON_GetObjectItemCaseSensitive(o, "usage");
                r.usage =
                    (ob_sandbox_usage){num(u, "max_rss_kb"), num(u, "cpu_ms"), num(u, "wall_ms")};
                id = str(o, "sandbox_id");
                msg = str(o, "message");
                snprintf(r.sandbox_id, sizeof(r.sandbox_id), "%s", id ? id : "");
                snprintf(r.message, sizeof(r.message), "%s", msg ? msg : "");
        }
        cJSON_Delete(o);
        if (k < 0) {
                ob_sandbox_result_done(&r);
                return k;
        }
        *ret = r;
        return 0;
}
