/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log through the operation table: ob_api_events_query (events_query,
 * env_logs, the server's SSE streams) and events_verify. Reads
 * $STATE/audit.jsonl with audit/'s own reader; writes nothing. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omnibase/audit.h>

#include "api/ops_tools.h"
#include "audit/audit-internal.h"
#include "common/macros.h"
#include "environments/env.h"

#define QUERY_MAX_TYPES 32
#define QUERY_MAX_LIMIT 1000
/* The events of one answer, in bytes of log lines: once passed, the
 * answer ends early (last_seq says where to go on). */
#define QUERY_MAX_BYTES (4u * 1024 * 1024)

typedef struct query {
        const ob_api_ctx *ctx;
        char *types_buf;
        const char *types[QUERY_MAX_TYPES];
        size_t n_types;
        const char *env_id;
        char env_principal[40]; /* the principal of env_id's sandbox ("" when none) */
        size_t limit, n, bytes;
        cJSON *events;
        unsigned long long last_seq;
        bool owner_only;   /* the caller is an owner: its own events only */
        bool owned_loaded; /* owned/n_owned hold its environments' ids */
        ob_env_record *owned;
        size_t n_owned;
        int error;
        ob_error *err;
} query;

static void query_done(query *q)
{
        free(q->types_buf);
        ob_env_records_free(q->owned, q->n_owned);
        cJSON_Delete(q->events);
}

static int audit_path(const ob_api_ctx *ctx, char **ret)
{
        return asprintf(ret, "%s/audit.jsonl", ob_env_state_dir(ctx->state_dir)) < 0 ? -ENOMEM : 0;
}

/* "A,B,C" into q->types. */
static int split_types(query *q, const char *types)
{
        if (!types)
                return 0;
        q->types_buf = strdup(types);
        if (!q->types_buf)
                return ob_error_set_code(q->err, NULL, ENOMEM, "out of memory");
        for (char *save = NULL, *t = strtok_r(q->types_buf, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
                if (q->n_types == QUERY_MAX_TYPES)
                        return ob_error_set_code(q->err, "invalid", E2BIG, "type: at most %d types",
                                                 QUERY_MAX_TYPES);
                q->types[q->n_types++] = t;
        }
        if (q->n_types == 0)
                return ob_error_set_code(q->err, "invalid", EINVAL,
                                         "type: a comma-separated list of event types");
        return 0;
}

static const char *member(const cJSON *ev, const char *key)
{
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, key);
        return cJSON_IsString(m) ? m->valuestring : NULL;
}

static bool type_matches(const query *q, const char *type)
{
        if (q->n_types == 0)
                return true;
        for (size_t i = 0; type && i < q->n_types; i++)
                if (streq(q->types[i], type))
                        return true;
        return false;
}

/* The caller's environments (every state), loaded once; none when there
 * is no store yet (a query creates nothing). */
static int load_owned(query *q)
{
        _cleanup_free_ char *db = NULL;
        ob_store *s = NULL;
        int r;

        q->owned_loaded = true;
        if (asprintf(&db, "%s/omnibase.db", ob_env_state_dir(q->ctx->state_dir)) < 0)
                return -ENOMEM;
        if (access(db, F_OK) < 0)
                return 0;
        r = ob_store_open(q->ctx->state_dir, &s, q->err);
        if (r >= 0)
                r = ob_store_list(s, q->ctx->caller.name, true, &q->owned, &q->n_owned, q->err);
        ob_store_close(s);
        return r;
}

static int visible(query *q, const cJSON *ev, bool *ret)
{
        const char *owner = member(ev, "owner");
        const char *ids[] = {member(ev, "env_id"), member(ev, "sandbox_id")};
        const char *principal = member(ev, "principal");
        int r;

        *ret = true;
        if (!q->owner_only || (owner && streq(owner, q->ctx->caller.name)))
                return 0;
        if (!q->owned_loaded && (r = load_owned(q)) < 0)
                return r;
        for (size_t k = 0; k < ARRAY_SIZE(ids); k++)
                for (size_t i = 0; ids[k] && i < q->n_owned; i++)
                        if (streq(ids[k], q->owned[i].id))
                                return 0;
        /* the sandbox's own events (SandboxStart, SandboxExit) name the
         * environment by its principal only */
        for (size_t i = 0; principal && i < q->n_owned; i++) {
                char p[40];
                ob_env_principal(q->owned[i].id, p, sizeof(p));
                if (streq(principal, p))
                        return 0;
        }
        *ret = false;
        return 0;
}

/* ob_audit_scan's callback: one decoded, chained line with seq > after_seq. */
static int on_line(const char *line, size_t len, void *userdata)
{
        query *q = userdata;
        cJSON *ev = cJSON_ParseWithLength(line, len);
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
        const char *env;
        bool show = false;
        int r = 0;

        if (!cJSON_IsObject(ev) || !cJSON_IsNumber(seq)) {
                cJSON_Delete(ev); /* not an event (ob_audit_scan decoded it: never) */
                return 0;
        }
        env = q->env_id ? (member(ev, "env_id") ? member(ev, "env_id") : member(ev, "sandbox_id"))
                        : NULL;
        if (type_matches(q, member(ev, "type")) &&
            (!q->env_id || (env && streq(env, q->env_id)) ||
             (member(ev, "principal") && streq(member(ev, "principal"), q->env_principal))))
                r = visible(q, ev, &show);
        if (r < 0 || !show) {
                cJSON_Delete(ev);
                q->error = r;
                return r < 0 ? 1 : 0;
        }
        q->last_seq = (unsigned long long)seq->valuedouble;
        if (!cJSON_AddItemToArray(q->events, ev)) {
                cJSON_Delete(ev);
                q->error = -ENOMEM;
                return 1;
        }
        q->n++;
        q->bytes += len;
        return q->n >= q->limit || q->bytes >= QUERY_MAX_BYTES ? 1 : 0;
}

int ob_api_events_query(const ob_api_ctx *ctx, const char *types, const char *env_id,
                        unsigned long long after_seq, size_t limit, cJSON **ret_events,
                        unsigned long long *ret_last_seq, ob_error *err)
{
        query q = {.ctx = ctx,
                   .env_id = env_id,
                   .limit = limit,
                   .last_seq = after_seq,
                   .owner_only = ctx->caller.role == OB_API_OWNER,
                   .err = err};
        _cleanup_free_ char *path = NULL;
        ob_audit_filter f = {0};
        int r;

        if (limit < 1 || limit > QUERY_MAX_LIMIT)
                return ob_error_set_code(err, "invalid", EINVAL, "limit: 1..%d", QUERY_MAX_LIMIT);
        if (after_seq >= OB_AUDIT_MAX_SEQ)
                return ob_error_set_code(err, "invalid", ERANGE, "after_seq: 0..%llu",
                                         OB_AUDIT_MAX_SEQ - 1);
        if (env_id && strlen(env_id) == OB_ENV_ID_LEN)
                ob_env_principal(env_id, q.env_principal, sizeof(q.env_principal));
        f.since_seq = after_seq + 1;
        r = split_types(&q, types);
        if (r >= 0 && !(q.events = cJSON_CreateArray()))
                r = -ENOMEM;
        if (r >= 0)
                r = audit_path(ctx, &path);
        if (r >= 0)
                r = ob_audit_scan(path, &f, on_line, &q);
        if (r >= 0 && q.error < 0)
                r = q.error;
        if (r >= 0) {
                *ret_events = TAKE_PTR(q.events);
                *ret_last_seq = q.last_seq;
        } else if (r == -ENOMEM) {
                ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        } else if (!err->message[0]) {
                ob_error_set_code(err, NULL, -r, "%s: %s", path ? path : "audit log", strerror(-r));
        }
        query_done(&q);
        return r;
}

int ob_api_op_events_query(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        long long after = ob_api_int(args, "after_seq", 0);
        long long limit = ob_api_int(args, "limit", 100);
        unsigned long long last = 0;
        cJSON *events = NULL, *o;
        int r;

        if (after < 0)
                return ob_error_set_code(err, "invalid", EINVAL, "after_seq: a seq >= 0");
        if (limit < 1 || limit > QUERY_MAX_LIMIT)
                return ob_error_set_code(err, "invalid", EINVAL, "limit: 1..%d", QUERY_MAX_LIMIT);
        r = ob_api_events_query(ctx, ob_api_str(args, "type"), ob_api_str(args, "env"),
                                (unsigned long long)after, (size_t)limit, &events, &last, err);
        if (r < 0)
                return r;
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToObject(o, "events", events) ||
            !cJSON_AddNumberToObject(o, "last_seq", (double)last)) {
                if (!o || !cJSON_GetObjectItemCaseSensitive(o, "events"))
                        cJSON_Delete(events);
                cJSON_Delete(o);
                return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        }
        *ret = o;
        return 0;
}

int ob_api_op_events_verify(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        _cleanup_free_ char *path = NULL;
        ob_audit_verify_result v;
        cJSON *o;
        bool ok;
        int r = audit_path(ctx, &path);

        if (r >= 0)
                r = ob_audit_verify(path, 0, &v);
        if (r == -ENOENT)
                return ob_error_set_code(err, "not_found", ENOENT, "no audit log yet (%s)", path);
        if (r < 0)
                return ob_error_set_code(err, NULL, -r, "%s: %s", path ? path : "audit log",
                                         strerror(-r));
        o = cJSON_CreateObject();
        ok = o && cJSON_AddBoolToObject(o, "ok", v.ok) &&
             cJSON_AddNumberToObject(o, "events", (double)v.n_events) &&
             cJSON_AddNumberToObject(o, "last_seq", (double)v.last_seq);
        if (ok && v.ok)
                ok = cJSON_AddStringToObject(o, "last_hash", v.last_hash) != NULL;
        if (ok && !v.ok)
                ok = cJSON_AddNumberToObject(o, "bad_seq", (double)v.bad_seq) &&
                     cJSON_AddNumberToObject(o, "bad_line", (double)v.bad_line) &&
                     cJSON_AddNumberToObject(o, "bad_column", (double)v.bad_column) &&
                     cJSON_AddStringToObject(o, "reason", v.reason);
        if (!ok) {
                cJSON_Delete(o);
                return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        }
        *ret = o;
        return 0;
}
