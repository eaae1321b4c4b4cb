/* SPDX-License-Identifier: Apache-2.0 */
/* The environment operations of the table (api.h): each a thin call of
 * environments/env.h, the one implementation the CLI also uses. Access: an
 * owner acts only on its own environments and gets "not_found" for anyone
 * else's (the same words as for an id that does not exist). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api/api.h"
#include "common/macros.h"
#include "environments/env.h"
#include "environments/render_k8s.h"

#define MAX_ARGV    256
#define MAX_FLAGS   OB_ENV_MAX_FLAGS
#define MAX_SECRETS 64

/* ---- output schemas ---- */

#define S_STR_OR_NULL "{\"type\": [\"string\", \"null\"]}"
#define S_STRINGS     "{\"type\": \"array\", \"items\": {\"type\": \"string\"}}"
#define ENV_PROPS                                                                                  \
        "\"id\": {\"type\": \"string\"}, \"name\": " S_STR_OR_NULL ", \"owner\": {\"type\": "      \
        "\"string\"}, \"template\": {\"type\": \"string\"}, \"state\": {\"type\": \"string\", "    \
        "\"enum\": [\"creating\", \"running\", \"stopped\", \"expired\", \"deleting\", "           \
        "\"deleted\", \"failed\"]}, \"reason\": " S_STR_OR_NULL ", \"created_at\": {\"type\": "    \
        "\"string\"}, \"expires_at\": {\"type\": \"string\"}, \"last_activity_at\": {\"type\": "   \
        "\"string\"}, \"seed\": " S_STR_OR_NULL ", \"feature_flags\": " S_STRINGS                  \
        ", \"secrets\": " S_STRINGS                                                                \
        ", \"memory_mb\": {\"type\": \"integer\"}, \"approved_by\": " S_STR_OR_NULL                \
        ", \"supervisor_pid\": {\"type\": \"integer\"}"
#define ENV_REQUIRED "\"required\": [\"id\", \"owner\", \"template\", \"state\", \"expires_at\"]"
#define ENV_SCHEMA   "{\"type\": \"object\", \"properties\": {" ENV_PROPS "}, " ENV_REQUIRED "}"
#define ENV_SCHEMA_EXISTED                                                                         \
        "{\"type\": \"object\", \"properties\": {" ENV_PROPS                                       \
        ", \"existed\": {\"type\": \"boolean\", \"description\": \"true when the "                 \
        "idempotency key named an environment that already existed\"}}, " ENV_REQUIRED "}"
#define VIOLATIONS                                                                                 \
        "\"violations\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": " \
        "{\"capability\": {\"type\": \"string\"}, \"target\": {\"type\": \"string\"}, "            \
        "\"syscall\": {\"type\": \"string\"}, \"layer\": {\"type\": \"string\"}, \"policy_id\": "  \
        "{\"type\": [\"string\", \"null\"]}, \"pid\": {\"type\": \"integer\"}}}}"
#define EXEC_SCHEMA                                                                                \
        "{\"type\": \"object\", \"properties\": {\"env_id\": {\"type\": \"string\"}, \"status\": " \
        "{\"type\": \"string\", \"enum\": [\"ok\", \"violation\", \"timeout\", "                   \
        "\"limit_exceeded\", \"error\"]}, \"exit_code\": {\"type\": \"integer\"}, \"stdout\": "    \
        "{\"type\": \"string\"}, \"stderr\": {\"type\": \"string\"}, \"stdout_truncated\": "       \
        "{\"type\": \"boolean\"}, \"stderr_truncated\": {\"type\": \"boolean\"}, " VIOLATIONS      \
        "}, \"required\": [\"status\", \"exit_code\", \"stdout\", \"stderr\"]}"
#define EVENTS_SCHEMA                                                                              \
        "{\"type\": \"object\", \"properties\": {\"env_id\": {\"type\": \"string\"}, \"events\": " \
        "{\"type\": \"array\", \"items\": {\"type\": \"object\"}}, \"last_seq\": {\"type\": "      \
        "\"integer\"}}, \"required\": [\"events\", \"last_seq\"]}"

/* ---- helpers ---- */

/* The record of id_or_name if the caller may see it. */
static int env_get(const ob_api_ctx *ctx, const char *id, ob_env_record *ret, ob_error *err)
{
        ob_env_record rec = {0};
        int r = ob_env_get(ctx->state_dir, id, &rec, err);

        if (r < 0)
                return r;
        if (ctx->caller.role == OB_API_OWNER && !streq(rec.owner, ctx->caller.name)) {
                ob_env_record_done(&rec);
                return ob_error_set_code(err, "not_found", ENOENT, "no environment %.80s", id);
        }
        *ret = rec;
        return 0;
}

/* The environment's id (checked for access) into id (>= OB_ENV_ID_LEN + 1). */
static int env_id(const ob_api_ctx *ctx, const cJSON *args, char *id, ob_error *err)
{
        ob_env_record rec = {0};
        int r = env_get(ctx, ob_api_str(args, "id"), &rec, err);

        if (r >= 0)
                memcpy(id, rec.id, OB_ENV_ID_LEN + 1);
        ob_env_record_done(&rec);
        return r;
}

static int record_result(const ob_env_record *rec, cJSON **ret, ob_error *err)
{
        _cleanup_free_ char *text = NULL;

        if (ob_env_record_to_json(rec, &text) < 0 || !(*ret = cJSON_Parse(text)))
                return ob_error_set_code(err, "internal", ENOMEM, "out of memory");
        return 0;
}

/* The record of id as it is now. */
static int fresh_record(const ob_api_ctx *ctx, const char *id, cJSON **ret, ob_error *err)
{
        ob_env_record rec = {0};
        int r = ob_env_get(ctx->state_dir, id, &rec, err);

        if (r >= 0)
                r = record_result(&rec, ret, err);
        ob_env_record_done(&rec);
        return r;
}

/* A JSON array of strings into v (NULL-terminated, pointing into the JSON). */
static int strv(const cJSON *a, const char **v, size_t max, const char *what, ob_error *err)
{
        const cJSON *e;
        size_t n = 0;

        cJSON_ArrayForEach (e, a) {
                if (n + 1 >= max)
                        return ob_error_set_code(err, "invalid", E2BIG, "too many %s (at most %zu)",
                                                 what, max - 1);
                v[n++] = e->valuestring;
        }
        v[n] = NULL;
        return 0;
}

/* ttl (a duration) or ttl_hours (a number) into buf; NULL when neither. */
static int ttl_arg(const cJSON *args, char *buf, size_t size, const char **ret, ob_error *err)
{
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(args, "ttl_hours");
        const char *ttl = ob_api_str(args, "ttl");

        if (h && ttl)
                return ob_error_set_code(err, "invalid", EINVAL, "give ttl or ttl_hours, not both");
        *ret = ttl;
        if (!h)
                return 0;
        if (!(h->valuedouble > 0) || h->valuedouble > 365.0 * 24 || !isfinite(h->valuedouble) ||
            h->valuedouble * 3600 < 1)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "ttl_hours %g: want a number of hours above 0 and at "
                                         "most 8760",
                                         h->valuedouble);
        snprintf(buf, size, "%llds", (long long)llround(h->valuedouble * 3600));
        *ret = buf;
        return 0;
}

/* ---- the operations ---- */

typedef struct secret_files {
        int fds[MAX_SECRETS];
        char *specs[MAX_SECRETS + 1];
        size_t n;
} secret_files;

static void secret_files_done(secret_files *s)
{
        for (size_t i = 0; i < s->n; i++) {
                off_t len = lseek(s->fds[i], 0, SEEK_END);
                if (len > 0) { /* wipe what the kernel holds before it is freed */
                        char zero[4096] = {0};
                        for (off_t off = 0; off < len; off += (off_t)sizeof(zero))
                                if (pwrite(s->fds[i], zero, sizeof(zero), off) < 0)
                                        break;
                }
                close(s->fds[i]);
                free(s->specs[i]);
        }
        s->n = 0;
}

/* {"NAME": "value", ...} into NAME=@/proc/self/fd/N specs of memfds. */
static int secret_specs(const cJSON *obj, secret_files *s, ob_error *err)
{
        const cJSON *v;

        cJSON_ArrayForEach (v, obj) {
                int fd;
                if (!cJSON_IsString(v))
                        return ob_error_set_code(err, "invalid", EINVAL,
                                                 "secret %.64s: the value must be a string",
                                                 v->string);
                if (s->n >= MAX_SECRETS)
                        return ob_error_set_code(err, "invalid", E2BIG, "at most %d secrets",
                                                 MAX_SECRETS);
                fd = ob_api_memfd("secret", v->valuestring, strlen(v->valuestring));
                if (fd < 0)
                        return ob_error_set_code(err, "internal", -fd, "secret: memfd: %s",
                                                 strerror(-fd));
                s->fds[s->n] = fd;
                if (asprintf(&s->specs[s->n], "%s=@/proc/self/fd/%d", v->string, fd) < 0) {
                        close(fd);
                        return ob_error_set_code(err, "internal", ENOMEM, "out of memory");
                }
                s->n++;
        }
        s->specs[s->n] = NULL;
        return 0;
}

static int op_create(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        ob_env_create_opts o;
        const char *flags[MAX_FLAGS + 1];
        _cleanup_(secret_files_done) secret_files sec = {0};
        ob_env_record rec = {0};
        char ttl[32];
        bool existed = false;
        int r;

        ob_env_create_opts_init(&o);
        o.owner = ob_api_str(args, "owner");
        if (!o.owner)
                o.owner = ctx->caller.name;
        if (ctx->caller.role == OB_API_OWNER && !streq(o.owner, ctx->caller.name))
                return ob_error_set_code(err, "forbidden", EPERM,
                                         "%s may create environments only for itself, not "
                                         "for %.64s",
                                         ctx->caller.name, o.owner);
        o.template_name = ob_api_str(args, "template");
        o.seed = ob_api_str(args, "seed_profile");
        o.name = ob_api_str(args, "name");
        o.idempotency_key = ob_api_str(args, "idempotency_key");
        o.approved_by = ob_api_str(args, "approved_by");
        r = ttl_arg(args, ttl, sizeof(ttl), &o.ttl, err);
        if (r >= 0 && cJSON_GetObjectItemCaseSensitive(args, "feature_flags")) {
                r = strv(cJSON_GetObjectItemCaseSensitive(args, "feature_flags"), flags,
                         ARRAY_SIZE(flags), "feature flags", err);
                o.flags = flags;
        }
        if (r >= 0)
                r = secret_specs(cJSON_GetObjectItemCaseSensitive(args, "secrets"), &sec, err);
        o.secrets = (const char *const *)sec.specs;
        if (r >= 0)
                r = ob_env_create(ctx->state_dir, &o, &rec, &existed, err);
        if (r >= 0)
                r = record_result(&rec, ret, err);
        if (r >= 0)
                cJSON_AddBoolToObject(*ret, "existed", existed);
        ob_env_record_done(&rec);
        return r;
}

static int op_list(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        const char *owner = ob_api_str(args, "owner");
        ob_env_record *v = NULL;
        size_t n = 0;
        cJSON *out, *a;
        int r;

        if (ctx->caller.role == OB_API_OWNER) {
                if (owner && !streq(owner, ctx->caller.name))
                        return ob_error_set_code(err, "forbidden", EPERM,
                                                 "%s may list only its own environments",
                                                 ctx->caller.name);
                owner = ctx->caller.name;
        }
        r = ob_env_list(ctx->state_dir, owner, ob_api_bool(args, "all", false), &v, &n, err);
        if (r < 0)
                return r;
        out = cJSON_CreateObject();
        a = cJSON_AddArrayToObject(out, "environments");
        for (size_t i = 0; i < n && r >= 0; i++) {
                cJSON *one = NULL;
                r = record_result(&v[i], &one, err);
                if (r >= 0)
                        cJSON_AddItemToArray(a, one);
        }
        ob_env_records_free(v, n);
        *ret = out;
        return r;
}

static int op_show(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        ob_env_record rec = {0};
        int r = env_get(ctx, ob_api_str(args, "id"), &rec, err);

        if (r >= 0)
                r = record_result(&rec, ret, err);
        ob_env_record_done(&rec);
        return r;
}

static int op_exec(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        const char *argv[MAX_ARGV + 1];
        const char *in = ob_api_str(args, "stdin");
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(args, "timeout_s");
        ob_env_exec_opts o;
        _cleanup_close_ int fin = -1, fout = -1, ferr = -1;
        _cleanup_free_ char *json = NULL;
        char id[OB_ENV_ID_LEN + 1];
        int r, code = 0;

        ob_env_exec_opts_init(&o);
        o.cwd = ob_api_str(args, "cwd");
        r = env_id(ctx, args, id, err);
        if (r >= 0)
                r = strv(cJSON_GetObjectItemCaseSensitive(args, "argv"), argv, ARRAY_SIZE(argv),
                         "arguments", err);
        if (r < 0)
                return r;
        if (!argv[0])
                return ob_error_set_code(err, "invalid", EINVAL, "argv: give the command");
        if (to && (!(to->valuedouble > 0) || to->valuedouble > 86400))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "timeout_s %g: want seconds above 0, at most 86400",
                                         to->valuedouble);
        o.argv = argv;
        o.timeout_ms = to ? (int64_t)llround(to->valuedouble * 1000) : 0;
        fin = in ? ob_api_memfd("stdin", in, strlen(in)) : open("/dev/null", O_RDONLY | O_CLOEXEC);
        fout = memfd_create("stdout", MFD_CLOEXEC);
        ferr = memfd_create("stderr", MFD_CLOEXEC);
        if (fin < 0 || fout < 0 || ferr < 0)
                return ob_error_set_code(err, "internal", EIO, "exec: memfd: %s", strerror(errno));
        o.fds[0] = fin;
        o.fds[1] = fout;
        o.fds[2] = ferr;
        r = ob_env_exec(ctx->state_dir, id, &o, &json, &code, err);
        if (r < 0)
                return r;
        *ret = cJSON_Parse(json);
        if (!*ret)
                return ob_error_set_code(err, "internal", EIO, "exec: a bad result");
        ob_api_add_output(*ret, "stdout", fout);
        ob_api_add_output(*ret, "stderr", ferr);
        return 0;
}

static int op_logs(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        ob_env_record rec = {0};
        unsigned long long last = 0;
        cJSON *events = NULL;
        long long limit = ob_api_int(args, "limit", 100);
        int r;

        if (limit < 1 || limit > 1000)
                return ob_error_set_code(err, "invalid", EINVAL, "limit %lld: want 1 to 1000",
                                         limit);
        r = env_get(ctx, ob_api_str(args, "id"), &rec, err);
        ob_env_record_done(&rec);
        if (r >= 0)
                r = ob_env_logs_touch(ctx->state_dir, ob_api_str(args, "id"), &rec, err);
        if (r >= 0)
                r = ob_api_events_query(ctx, ob_api_str(args, "type"), rec.id,
                                        (unsigned long long)ob_api_int(args, "after_seq", 0),
                                        (size_t)limit, &events, &last, err);
        if (r >= 0) {
                *ret = cJSON_CreateObject();
                cJSON_AddStringToObject(*ret, "env_id", rec.id);
                cJSON_AddItemToObject(*ret, "events", events);
                cJSON_AddNumberToObject(*ret, "last_seq", (double)last);
        }
        ob_env_record_done(&rec);
        return r;
}

static int op_extend(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        ob_env_record rec = {0};
        const char *ttl;
        char buf[32], id[OB_ENV_ID_LEN + 1];
        int r = env_id(ctx, args, id, err);

        if (r >= 0)
                r = ttl_arg(args, buf, sizeof(buf), &ttl, err);
        if (r >= 0 && !ttl)
                r = ob_error_set_code(err, "invalid", EINVAL, "give ttl or ttl_hours");
        if (r >= 0)
                r = ob_env_extend(ctx->state_dir, id, ttl, ob_api_str(args, "approved_by"), &rec,
                                  err);
        if (r >= 0)
                r = record_result(&rec, ret, err);
        ob_env_record_done(&rec);
        return r;
}

static int op_flags(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        char specs[MAX_FLAGS][OB_ENV_FLAG_MAX + 8];
        const char *set[MAX_FLAGS + 1];
        const cJSON *v;
        ob_env_record rec = {0};
        char id[OB_ENV_ID_LEN + 1];
        size_t n = 0;
        int r = env_id(ctx, args, id, err);

        if (r < 0)
                return r;
        cJSON_ArrayForEach (v, cJSON_GetObjectItemCaseSensitive(args, "set")) {
                if (n >= MAX_FLAGS || strlen(v->string) > OB_ENV_FLAG_MAX)
                        return ob_error_set_code(err, "invalid", EINVAL,
                                                 "set: too many flags or a name too long");
                snprintf(specs[n], sizeof(specs[n]), "%s=%s", v->string,
                         cJSON_IsTrue(v) ? "on" : "off");
                set[n] = specs[n];
                n++;
        }
        set[n] = NULL;
        r = ob_env_flags(ctx->state_dir, id, set, &rec, err);
        if (r >= 0)
                r = record_result(&rec, ret, err);
        ob_env_record_done(&rec);
        return r;
}

/* reset, stop, start: the record after. */
static int op_lifecycle(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err,
                        int (*fn)(const char *, const char *, ob_error *))
{
        char id[OB_ENV_ID_LEN + 1];
        int r = env_id(ctx, args, id, err);

        if (r >= 0)
                r = fn(ctx->state_dir, id, err);
        if (r >= 0)
                r = fresh_record(ctx, id, ret, err);
        return r;
}

static int op_reset(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        return op_lifecycle(ctx, args, ret, err, ob_env_reset);
}

static int op_stop(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        return op_lifecycle(ctx, args, ret, err, ob_env_stop);
}

static int op_start(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        return op_lifecycle(ctx, args, ret, err, ob_env_start);
}

static int op_delete(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        return op_lifecycle(ctx, args, ret, err, ob_env_delete);
}

static int op_snapshot(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        _cleanup_free_ char *path = NULL;
        char hash[65], id[OB_ENV_ID_LEN + 1];
        const char *base;
        int r = env_id(ctx, args, id, err);

        if (r >= 0)
                r = ob_env_snapshot_memory(ctx->state_dir, id, NULL,
                                           ob_api_bool(args, "memory", false), &path, hash, err);
        if (r < 0)
                return r;
        base = strrchr(path, '/');
        *ret = cJSON_CreateObject();
        cJSON_AddStringToObject(*ret, "env_id", id);
        cJSON_AddStringToObject(*ret, "snapshot", base ? base + 1 : path);
        cJSON_AddStringToObject(*ret, "path", path);
        cJSON_AddStringToObject(*ret, "tree_sha256", hash);
        return 0;
}

/* A snapshot by its file name in $STATE/snapshots (no path: the server
 * never opens a caller's path as root); an owner restores only snapshots
 * of its own environments (the name starts with the environment's id). */
static int op_restore(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        const char *snap = ob_api_str(args, "snapshot");
        const char *owner = ob_api_str(args, "owner");
        ob_env_record rec = {0};
        _cleanup_free_ char *path = NULL;
        char id[OB_ENV_ID_LEN + 1];
        int r;

        if (!snap[0] || strchr(snap, '/') || snap[0] == '.' || strlen(snap) < OB_ENV_ID_LEN ||
            strncmp(snap, "env-", 4) != 0)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "snapshot \"%.80s\": want the file name env_snapshot "
                                         "gave (env-...tar.gz), not a path",
                                         snap);
        memcpy(id, snap, OB_ENV_ID_LEN);
        id[OB_ENV_ID_LEN] = '\0';
        if (ctx->caller.role == OB_API_OWNER) {
                if (owner && !streq(owner, ctx->caller.name))
                        return ob_error_set_code(err, "forbidden", EPERM,
                                                 "%s may restore only for itself",
                                                 ctx->caller.name);
                owner = ctx->caller.name;
                r = ob_env_get(ctx->state_dir, id, &rec, err);
                if (r < 0 || !streq(rec.owner, ctx->caller.name))
                        r = ob_error_set_code(err, "not_found", ENOENT, "no snapshot %.80s", snap);
                ob_env_record_done(&rec);
                if (r < 0)
                        return r;
        }
        if (asprintf(&path, "%s/snapshots/%s", ob_env_state_dir(ctx->state_dir), snap) < 0)
                return ob_error_set_code(err, "internal", ENOMEM, "out of memory");
        if (access(path, R_OK) < 0)
                return ob_error_set_code(err, "not_found", ENOENT, "no snapshot %.80s", snap);
        r = ob_env_restore(ctx->state_dir, path, owner, ob_api_str(args, "name"), &rec, err);
        if (r >= 0)
                r = record_result(&rec, ret, err);
        ob_env_record_done(&rec);
        return r;
}

static int op_sweep(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        unsigned n = 0;
        int r;

        (void)args;
        r = ob_env_sweep(ctx->state_dir, &n, err);
        if (r < 0)
                return r;
        *ret = cJSON_CreateObject();
        cJSON_AddNumberToObject(*ret, "ended", n);
        return 0;
}

static int op_render(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        const char *backend = ob_api_str(args, "backend");
        ob_k8s_opts o = {.struct_size = sizeof(o), .image = ob_api_str(args, "image")};
        ob_env_record rec = {0};
        ob_template *tpl = NULL;
        ob_env_config cfg;
        int r;

        if (backend && !streq(backend, "kubernetes"))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "backend \"%.32s\": only kubernetes", backend);
        o.cfg = &cfg;
        r = ob_env_config_load(NULL, &cfg, err);
        if (r >= 0)
                r = env_get(ctx, ob_api_str(args, "id"), &rec, err);
        if (r >= 0 && (rec.state == OB_ENV_DELETED || rec.state == OB_ENV_EXPIRED))
                r = ob_error_set_code(err, "not_found", ENOENT, "environment %s is %s", rec.id,
                                      ob_env_state_to_string(rec.state));
        if (r >= 0)
                r = ob_template_load(rec.template_name, &tpl, err);
        if (r >= 0)
                r = ob_k8s_render_env(&rec, tpl, &o, ret, err);
        ob_template_free(tpl);
        ob_env_record_done(&rec);
        return r;
}

/* ---- the table ---- */

#define P_ID                                                                                       \
        {                                                                                          \
                "id", OB_API_STRING, true, OB_API_PATH, NULL,                                      \
                    "the environment's id (env-...) or name"                                       \
        }
#define P_TTL                                                                                      \
        {"ttl",       OB_API_STRING, false,                                                        \
         OB_API_BODY, NULL,          "a duration: 30s, 15m, 72h, 7d (or give ttl_hours)"},         \
        {                                                                                          \
                "ttl_hours", OB_API_NUMBER, false, OB_API_BODY, NULL,                              \
                    "the TTL in hours (seed 000)"                                                  \
        }
#define P_APPROVED                                                                                 \
        {                                                                                          \
                "approved_by", OB_API_STRING, false, OB_API_BODY, NULL,                            \
                    "who approved a lifetime beyond the limit without approval"                    \
        }

const ob_api_op ob_api_env_ops[] = {
    {"env_create",
     "env create",
     "POST",
     "/sandboxes",
     "Create an environment",
     "Creates a long-lived environment from an approved template and waits until its gVisor "
     "sandbox runs: owner, TTL, seed data, feature flags and secrets. Fails with "
     "quota_exceeded, template_not_approved or ttl_needs_approval rather than bending a rule; "
     "it may not grant more than the template does.",
     0,
     {{"owner", OB_API_STRING, false, OB_API_BODY, NULL,
       "who owns it (default: the caller; only an admin may name another owner)"},
      {"template", OB_API_STRING, true, OB_API_BODY, NULL, "an approved template's name"},
      P_TTL,
      {"seed_profile", OB_API_STRING, false, OB_API_BODY, NULL,
       "seed data NAME:VERSION (default: the template's)"},
      {"feature_flags", OB_API_STRINGS, false, OB_API_BODY, NULL,
       "the flags that are on (default: the template's)"},
      {"name", OB_API_STRING, false, OB_API_BODY, NULL, "a unique name ([a-z0-9-], 63 at most)"},
      {"secrets", OB_API_OBJECT, false, OB_API_BODY, NULL,
       "NAME: value pairs, sealed and given to every exec as variables; never shown again"},
      {"idempotency_key", OB_API_STRING, false, OB_API_HEADER, "Idempotency-Key",
       "the same key (and owner) gives the same environment instead of a second one"},
      P_APPROVED},
     ENV_SCHEMA_EXISTED,
     201,
     op_create},
    {"env_list",
     "env list",
     "GET",
     "/sandboxes",
     "List environments",
     "Lists the environments the caller may see (an owner: its own) that are not deleted, "
     "or all of them with all.",
     OB_API_READ,
     {{"owner", OB_API_STRING, false, OB_API_BODY, NULL, "only this owner's"},
      {"all", OB_API_BOOLEAN, false, OB_API_BODY, NULL, "include deleted and expired ones"}},
     "{\"type\": \"object\", \"properties\": {\"environments\": {\"type\": \"array\", "
     "\"items\": " ENV_SCHEMA "}}, \"required\": [\"environments\"]}",
     200,
     op_list},
    {"env_show",
     "env show",
     "GET",
     "/sandboxes/{id}",
     "Show an environment",
     "One environment: state, owner, template, expiry, seed, flags, secret names (never values).",
     OB_API_READ,
     {P_ID},
     ENV_SCHEMA,
     200,
     op_show},
    {"env_exec",
     "env exec",
     "POST",
     "/sandboxes/{id}/exec",
     "Run a command in an environment",
     "Runs argv inside the running environment's sandbox as uid 65534 under its capability "
     "set, with stdin, and returns status, exit_code, stdout and stderr (1 MiB each at most). "
     "A capability the environment lacks is denied, not granted: the result has status "
     "violation and the violations (capability, target, syscall) so that the code can be "
     "fixed. It cannot leave the sandbox or reach what the template does not grant.",
     0,
     {P_ID,
      {"argv", OB_API_STRINGS, true, OB_API_BODY, NULL, "the command and its arguments"},
      {"stdin", OB_API_STRING, false, OB_API_BODY, NULL, "the command's standard input"},
      {"timeout_s", OB_API_NUMBER, false, OB_API_BODY, NULL, "kill it after this many seconds"},
      {"cwd", OB_API_STRING, false, OB_API_BODY, NULL, "working directory (default /workspace)"}},
     EXEC_SCHEMA,
     200,
     op_exec},
    {"env_logs",
     "env logs",
     "GET",
     "/sandboxes/{id}/logs",
     "An environment's events",
     "The environment's audit events (lifecycle, execs, denials) after after_seq, oldest "
     "first. Reading them counts as activity (no idle stop). Over REST a Server-Sent Events "
     "stream.",
     OB_API_READ | OB_API_STREAM,
     {P_ID,
      {"type", OB_API_STRING, false, OB_API_BODY, NULL, "only these event types (comma list)"},
      {"after_seq", OB_API_INTEGER, false, OB_API_BODY, NULL, "only events after this seq"},
      {"limit", OB_API_INTEGER, false, OB_API_BODY, NULL, "at most this many (1-1000, 100)"}},
     EVENTS_SCHEMA,
     200,
     op_logs},
    {"env_extend",
     "env extend",
     "POST",
     "/sandboxes/{id}/extend",
     "Extend an environment's TTL",
     "Sets the expiry to now + ttl. A lifetime beyond the configured limit needs approved_by "
     "(ttl_needs_approval otherwise).",
     0,
     {P_ID, P_TTL, P_APPROVED},
     ENV_SCHEMA,
     200,
     op_extend},
    {"env_flags",
     "env flags",
     "POST",
     "/sandboxes/{id}/flags",
     "Set feature flags",
     "Turns feature flags on or off; the environment sees them at /omnibase/flags.json at "
     "once. With no set, only shows them.",
     OB_API_IDEMPOTENT,
     {P_ID, {"set", OB_API_FLAGS, false, OB_API_BODY, NULL, "flag name: true (on) or false"}},
     ENV_SCHEMA,
     200,
     op_flags},
    {"env_reset",
     "env reset",
     "POST",
     "/sandboxes/{id}/reset",
     "Reset an environment",
     "Back to the state right after its seed: every process killed, the workspace restored, "
     "flags back to the template's, secrets re-sealed. What was written since is lost.",
     OB_API_DESTRUCTIVE | OB_API_IDEMPOTENT,
     {P_ID},
     ENV_SCHEMA,
     200,
     op_reset},
    {"env_snapshot",
     "env snapshot",
     "POST",
     "/sandboxes/{id}/snapshot",
     "Snapshot a workspace",
     "Saves the workspace (not secrets) as an archive in the state directory, to restore "
     "elsewhere with env_restore. With memory, its memory too (runsc checkpoint: the "
     "environment pauses while it is saved; refused while an exec runs, with a secret or a "
     "network grant).",
     0,
     {P_ID,
      {"memory", OB_API_BOOLEAN, false, OB_API_BODY, NULL,
       "save the sandbox's memory too (its /tmp, /dev/shm, kernel state)"}},
     "{\"type\": \"object\", \"properties\": {\"env_id\": {\"type\": \"string\"}, \"snapshot\": "
     "{\"type\": \"string\"}, \"path\": {\"type\": \"string\"}, \"tree_sha256\": {\"type\": "
     "\"string\"}}, \"required\": [\"snapshot\", \"tree_sha256\"]}",
     200,
     op_snapshot},
    {"env_restore",
     "env restore",
     "POST",
     "/snapshots/restore",
     "A new environment from a snapshot",
     "Creates a new environment from a snapshot env_snapshot made (its template, flags and "
     "seed), under the caller's quota. Secrets are not in snapshots.",
     0,
     {{"snapshot", OB_API_STRING, true, OB_API_BODY, NULL,
       "the snapshot's file name, as env_snapshot gave it"},
      {"owner", OB_API_STRING, false, OB_API_BODY, NULL, "the new owner (admins only)"},
      {"name", OB_API_STRING, false, OB_API_BODY, NULL, "the new environment's name"}},
     ENV_SCHEMA,
     201,
     op_restore},
    {"env_stop",
     "env stop",
     "POST",
     "/sandboxes/{id}/stop",
     "Stop an environment",
     "Stops the sandbox (every process), keeping the workspace; env_start brings it back.",
     OB_API_IDEMPOTENT,
     {P_ID},
     ENV_SCHEMA,
     200,
     op_stop},
    {"env_start",
     "env start",
     "POST",
     "/sandboxes/{id}/start",
     "Start a stopped environment",
     "Starts a stopped environment's sandbox again with its workspace.",
     OB_API_IDEMPOTENT,
     {P_ID},
     ENV_SCHEMA,
     200,
     op_start},
    {"env_delete",
     "env delete",
     "DELETE",
     "/sandboxes/{id}",
     "Delete an environment",
     "Ends the environment for good: sandbox, workspace and secrets are destroyed.",
     OB_API_DESTRUCTIVE | OB_API_IDEMPOTENT,
     {P_ID},
     ENV_SCHEMA,
     200,
     op_delete},
    {"env_sweep",
     "env sweep",
     "POST",
     "/sweep",
     "Expire and stop what is due",
     "Expires environments past their TTL and stops idle ones (admins only).",
     OB_API_ADMIN_ONLY | OB_API_DESTRUCTIVE | OB_API_IDEMPOTENT,
     {{0}},
     "{\"type\": \"object\", \"properties\": {\"ended\": {\"type\": \"integer\"}}, "
     "\"required\": [\"ended\"]}",
     200,
     op_sweep},
    {"env_render",
     "env render",
     "GET",
     "/sandboxes/{id}/render",
     "Render an environment for Kubernetes",
     "The environment as Kubernetes objects (a v1 List: namespace, quota, network policy, "
     "roles, agent-sandbox Sandbox) with the same limits and egress. Applies nothing.",
     OB_API_READ,
     {P_ID,
      {"backend", OB_API_STRING, false, OB_API_BODY, NULL, "kubernetes (the only one)"},
      {"image", OB_API_STRING, false, OB_API_BODY, NULL, "the container image"}},
     "{\"type\": \"object\", \"properties\": {\"apiVersion\": {\"type\": \"string\"}, \"kind\": "
     "{\"type\": \"string\"}, \"items\": {\"type\": \"array\", \"items\": {\"type\": "
     "\"object\"}}}, \"required\": [\"kind\", \"items\"]}",
     200,
     op_render},
};
const size_t ob_api_n_env_ops = ARRAY_SIZE(ob_api_env_ops);
