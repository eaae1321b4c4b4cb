/* SPDX-License-Identifier: Apache-2.0 */
/* The --json result object and the --dry-run plan. */
#define _GNU_SOURCE
#include <string.h>

#include "capabilities/limits.h"
#include "common/utf8.h"
#include "runner/runner.h"

const char *ob_sandbox_status_to_string(ob_sandbox_status status)
{
        static const char *const names[] = {"ok", "violation", "timeout", "limit_exceeded",
                                            "error"};
        if ((unsigned)status >= ARRAY_SIZE(names))
                return "error";
        return names[status];
}

const char *ob_sandbox_ended_by_to_string(ob_sandbox_status ended_by)
{
        return ended_by == OB_SANDBOX_OK || ended_by == OB_SANDBOX_VIOLATION
                   ? "exit"
                   : ob_sandbox_status_to_string(ended_by);
}

/* A copy of buf[0..len) that is valid UTF-8 without NULs (each bad byte
 * becomes U+FFFD), for JSON. *ret malloc'd. */
int ob_utf8_sanitize(const char *buf, size_t len, char **ret)
{
        *ret = ob_utf8_sanitize_dup(buf, len, true, NULL);
        return *ret ? 0 : -ENOMEM;
}

static bool add_text(cJSON *obj, const char *key, const char *buf, size_t len)
{
        _cleanup_free_ char *clean = NULL;
        if (ob_utf8_sanitize(buf ? buf : "", buf ? len : 0, &clean) < 0)
                return false;
        return cJSON_AddStringToObject(obj, key, clean) != NULL;
}

static bool add_violations(cJSON *obj, const ob_sandbox_result *r)
{
        cJSON *a = cJSON_AddArrayToObject(obj, "violations");

        for (size_t i = 0; a && i < r->n_violations; i++) {
                const ob_sandbox_violation *v = &r->violations[i];
                cJSON *o = cJSON_CreateObject();
                if (!o || !cJSON_AddItemToArray(a, o) ||
                    !cJSON_AddStringToObject(o, "capability", v->capability) ||
                    !add_text(o, "target", v->target, strlen(v->target)) ||
                    !cJSON_AddStringToObject(o, "syscall", v->syscall) ||
                    !add_text(o, "policy_id", v->policy_id, strlen(v->policy_id)) ||
                    !cJSON_AddStringToObject(o, "layer", v->layer) ||
                    !cJSON_AddNumberToObject(o, "pid", (double)v->pid))
                        return false;
        }
        return a && cJSON_AddNumberToObject(obj, "denials", (double)r->denials);
}

int ob_sandbox_result_to_json(const ob_sandbox_result *r, char **ret)
{
        cJSON *o = cJSON_CreateObject(), *u;
        char *text;
        bool ok;

        if (!o)
                return -ENOMEM;
        ok = cJSON_AddStringToObject(o, "status", ob_sandbox_status_to_string(r->status)) &&
             cJSON_AddNumberToObject(o, "exit_code", r->exit_code) &&
             (r->sandbox_id[0] ? cJSON_AddStringToObject(o, "sandbox_id", r->sandbox_id)
                               : cJSON_AddNullToObject(o, "sandbox_id")) &&
             add_text(o, "stdout", r->stdout_buf, r->stdout_len) &&
             add_text(o, "stderr", r->stderr_buf, r->stderr_len) &&
             cJSON_AddBoolToObject(o, "stdout_truncated", r->stdout_truncated) &&
             cJSON_AddBoolToObject(o, "stderr_truncated", r->stderr_truncated) &&
             cJSON_AddStringToObject(o, "ended_by", ob_sandbox_ended_by_to_string(r->ended_by)) &&
             (r->limit ? cJSON_AddStringToObject(o, "limit", r->limit)
                       : cJSON_AddNullToObject(o, "limit")) &&
             (u = cJSON_AddObjectToObject(o, "usage")) &&
             cJSON_AddNumberToObject(u, "max_rss_kb", (double)r->usage.max_rss_kb) &&
             cJSON_AddNumberToObject(u, "cpu_ms", (double)r->usage.cpu_ms) &&
             cJSON_AddNumberToObject(u, "wall_ms", (double)r->usage.wall_ms) &&
             add_violations(o, r) && (!r->warm || cJSON_AddBoolToObject(o, "warm", true)) &&
             (r->message[0] ? add_text(o, "error", r->message, strlen(r->message))
                            : cJSON_AddNullToObject(o, "error") != NULL);
        text = ok ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!text)
                return -ENOMEM;
        {
                size_t n = strlen(text);
                char *nl = malloc(n + 2);
                if (nl) {
                        memcpy(nl, text, n);
                        memcpy(nl + n, "\n", 2);
                }
                free(text);
                if (!nl)
                        return -ENOMEM;
                *ret = nl;
        }
        return 0;
}

void ob_sandbox_result_done(ob_sandbox_result *r)
{
        free(r->stdout_buf);
        free(r->stderr_buf);
        free(r->plan_json);
        r->stdout_buf = r->stderr_buf = r->plan_json = NULL;
        for (size_t i = 0; i < r->n_violations; i++) {
                ob_sandbox_violation *v = &r->violations[i];
                free(v->capability);
                free(v->target);
                free(v->syscall);
                free(v->policy_id);
                free(v->layer);
        }
        free(r->violations);
        r->violations = NULL;
        r->n_violations = 0;
}

static cJSON *limits_json(const ob_limits *l)
{
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        for (size_t i = 0; i < OB_LIMIT_COUNT; i++) {
                const ob_limit_info *d = &ob_limit_table[i];
                double v = (double)ob_limit_get(l, d);
                cJSON_AddNumberToObject(o, d->key, d->fractional ? v / 1000.0 : v);
        }
        return o;
}

/* The --dry-run plan: capability set, profile, argv, limits, mounts, config. */
int ob_plan_to_json(const ob_run_plan *plan, const ob_capset *caps, cJSON *config, char **ret)
{
        cJSON *o = cJSON_CreateObject(), *mounts, *argv;
        _cleanup_free_ char *caps_text = NULL;
        char *text;

        if (!o || ob_capset_to_json(caps, &caps_text) < 0) {
                cJSON_Delete(o);
                return -ENOMEM;
        }
        cJSON_AddStringToObject(o, "sandbox_id", plan->id);
        cJSON_AddItemToObject(o, "capabilities", cJSON_Parse(caps_text));
        cJSON_AddStringToObject(o, "profile", plan->profile->name);
        argv = cJSON_AddArrayToObject(o, "argv");
        for (size_t i = 0; argv && plan->argv[i]; i++)
                cJSON_AddItemToArray(argv, cJSON_CreateString(plan->argv[i]));
        cJSON_AddItemToObject(o, "limits", limits_json(&plan->limits));
        mounts = cJSON_AddArrayToObject(o, "mounts");
        for (size_t i = 0; mounts && i < plan->mounts.n; i++) {
                const ob_mount *m = &plan->mounts.v[i];
                cJSON *mo = cJSON_CreateObject();
                cJSON_AddStringToObject(mo, "destination", m->destination);
                cJSON_AddStringToObject(mo, "source", m->source);
                cJSON_AddStringToObject(mo, "mode", m->writable ? "rw" : "ro");
                cJSON_AddStringToObject(mo, "why", m->why);
                cJSON_AddItemToArray(mounts, mo);
        }
        cJSON_AddItemToObject(o, "config", cJSON_Duplicate(config, true));
        text = cJSON_Print(o);
        cJSON_Delete(o);
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

/* Lists one more violation (the first OB_SANDBOX_MAX_VIOLATIONS). */
void ob_result_add_violation(ob_sandbox_result *res, const ob_channel_msg *m)
{
        ob_sandbox_violation *nv, *v;

        if (res->n_violations >= OB_SANDBOX_MAX_VIOLATIONS)
                return;
        nv = realloc(res->violations, (res->n_violations + 1) * sizeof(*nv));
        if (!nv)
                return;
        res->violations = nv;
        v = &nv[res->n_violations];
        *v = (ob_sandbox_violation){.capability = strdup(m->capability),
                                    .target = strdup(m->target),
                                    .syscall = strdup(m->syscall),
                                    .policy_id = strdup(m->policy_id),
                                    .layer = strdup(m->layer),
                                    .pid = m->pid};
        if (v->capability && v->target && v->syscall && v->policy_id && v->layer) {
                res->n_violations++;
                return;
        }
        free(v->capability);
        free(v->target);
        free(v->syscall);
        free(v->policy_id);
        free(v->layer);
}
