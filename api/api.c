/* SPDX-License-Identifier: Apache-2.0 */
/* The operation table: concatenation, argument checking, roles, errors and
 * result capture (api.h). Schemas and OpenAPI are in schema.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api/api.h"
#include "common/fs.h"
#include "common/macros.h"

#define OUTPUT_CAP (1024 * 1024)

const char *ob_api_role_to_string(ob_api_role r)
{
        return r == OB_API_ADMIN ? "admin" : r == OB_API_OBSERVER ? "observer" : "owner";
}

static ob_api_op *table;
static size_t n_table;

const ob_api_op *ob_api_ops(size_t *ret_n)
{
        if (!table) {
                size_t n = ob_api_n_env_ops + ob_api_n_tool_ops + ob_api_n_pool_ops;
                ob_api_op *t = calloc(n, sizeof(*t));
                if (!t) {
                        *ret_n = 0;
                        return NULL;
                }
                memcpy(t, ob_api_env_ops, ob_api_n_env_ops * sizeof(*t));
                memcpy(t + ob_api_n_env_ops, ob_api_tool_ops, ob_api_n_tool_ops * sizeof(*t));
                memcpy(t + ob_api_n_env_ops + ob_api_n_tool_ops, ob_api_pool_ops,
                       ob_api_n_pool_ops * sizeof(*t));
                table = t;
                n_table = n;
        }
        *ret_n = n_table;
        return table;
}

const ob_api_op *ob_api_find(const char *name)
{
        size_t n;
        const ob_api_op *ops = ob_api_ops(&n);

        for (size_t i = 0; name && i < n; i++)
                if (streq(ops[i].name, name))
                        return &ops[i];
        return NULL;
}

static const ob_api_param *find_param(const ob_api_op *op, const char *name)
{
        for (const ob_api_param *p = op->params; p->name; p++)
                if (streq(p->name, name))
                        return p;
        return NULL;
}

static const char *type_word(ob_api_type t)
{
        static const char *const words[] = {
            "a string",  "an integer",          "a number",
            "a boolean", "an array of strings", "an object of names to booleans",
            "an object"};
        return words[t];
}

static bool type_ok(ob_api_type t, const cJSON *v)
{
        const cJSON *e;

        switch (t) {
        case OB_API_STRING:
                return cJSON_IsString(v);
        case OB_API_INTEGER:
                /* within +-2^53 first: a cast of 1e300 would overflow */
                return cJSON_IsNumber(v) && fabs(v->valuedouble) <= 9007199254740992.0 &&
                       v->valuedouble == (double)(long long)v->valuedouble;
        case OB_API_NUMBER:
                return cJSON_IsNumber(v);
        case OB_API_BOOLEAN:
                return cJSON_IsBool(v);
        case OB_API_STRINGS:
                if (!cJSON_IsArray(v))
                        return false;
                cJSON_ArrayForEach (e, v)
                        if (!cJSON_IsString(e))
                                return false;
                return true;
        case OB_API_FLAGS:
                if (!cJSON_IsObject(v))
                        return false;
                cJSON_ArrayForEach (e, v)
                        if (!cJSON_IsBool(e))
                                return false;
                return true;
        case OB_API_OBJECT:
                return cJSON_IsObject(v);
        }
        return false;
}

/* Unknown, mistyped and missing arguments, each named. */
static int check_args(const ob_api_op *op, const cJSON *args, ob_error *err)
{
        const cJSON *v;

        if (args && !cJSON_IsObject(args))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "%s: the arguments must be a "
                                         "JSON object",
                                         op->name);
        cJSON_ArrayForEach (v, args) {
                const ob_api_param *p = find_param(op, v->string);
                if (!p) {
                        char names[256] = "";
                        size_t len = 0;
                        for (const ob_api_param *q = op->params; q->name && len < sizeof(names);
                             q++)
                                len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
                                                        len ? ", " : "", q->name);
                        return ob_error_set_code(err, "invalid", EINVAL,
                                                 "%s: unknown argument \"%.64s\" (it takes %s)",
                                                 op->name, v->string, len ? names : "none");
                }
                if (!type_ok(p->type, v))
                        return ob_error_set_code(err, "invalid", EINVAL,
                                                 "%s: argument \"%s\" must be %s", op->name,
                                                 p->name, type_word(p->type));
        }
        for (const ob_api_param *p = op->params; p->name; p++)
                if (p->required && !cJSON_GetObjectItemCaseSensitive(args, p->name))
                        return ob_error_set_code(err, "invalid", EINVAL,
                                                 "%s: argument \"%s\" is required", op->name,
                                                 p->name);
        return 0;
}

static int check_role(const ob_api_ctx *ctx, const ob_api_op *op, ob_error *err)
{
        const ob_api_caller *c = &ctx->caller;

        if ((op->flags & OB_API_ADMIN_ONLY) && c->role != OB_API_ADMIN)
                return ob_error_set_code(err, "forbidden", EPERM, "%s: only an admin may %s",
                                         c->name, op->cli);
        if (!(op->flags & OB_API_READ) && c->role == OB_API_OBSERVER)
                return ob_error_set_code(err, "forbidden", EPERM,
                                         "%s is an observer: it may read, not %s", c->name,
                                         op->cli);
        return 0;
}

int ob_api_call(const ob_api_ctx *ctx, const ob_api_op *op, const cJSON *args, cJSON **ret,
                ob_error *err)
{
        cJSON *out = NULL;
        int r;

        r = check_args(op, args, err);
        if (r >= 0)
                r = check_role(ctx, op, err);
        if (r >= 0)
                r = op->call(ctx, args, &out, err);
        if (r < 0) {
                cJSON_Delete(out);
                if (err && !err->code)
                        err->code = "internal";
                return r;
        }
        if (!out)
                return ob_error_set_code(err, "internal", ENOMEM, "%s: out of memory", op->name);
        *ret = out;
        return 0;
}

bool ob_api_result_is_error(const cJSON *result)
{
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(result, "status");

        if (cJSON_GetObjectItemCaseSensitive(result, "error") &&
            cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(result, "error")))
                return true;
        return cJSON_IsString(st) && !streq(st->valuestring, "ok");
}

int ob_api_http_status(const char *code)
{
        static const struct {
                const char *code;
                int status;
        } map[] = {
            {"invalid", 400},
            {"forbidden", 403},
            {"unauthorized", 401},
            {"not_found", 404},
            {"template_not_found", 404},
            {"not_running", 409},
            {"conflict", 409},
            {"template_not_approved", 422},
            {"ttl_needs_approval", 422},
            {"seed_corrupt", 422},
            {"snapshot_corrupt", 422},
            {"quota_exceeded", 429},
            {"too_large", 413},
            {"busy", 503},
        };

        for (size_t i = 0; code && i < ARRAY_SIZE(map); i++)
                if (streq(map[i].code, code))
                        return map[i].status;
        return 500;
}

cJSON *ob_api_error_json(const ob_error *err)
{
        cJSON *root = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(root, "error");

        cJSON_AddStringToObject(e, "code", err && err->code ? err->code : "internal");
        cJSON_AddStringToObject(e, "message",
                                err && err->message[0] ? err->message : "internal error");
        return root;
}

const char *ob_api_str(const cJSON *args, const char *name)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

long long ob_api_int(const cJSON *args, const char *name, long long def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
        return cJSON_IsNumber(v) ? (long long)v->valuedouble : def;
}

bool ob_api_bool(const cJSON *args, const char *name, bool def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
        return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

void ob_api_add_output(cJSON *obj, const char *key, int fd)
{
        _cleanup_free_ char *buf = malloc(OUTPUT_CAP + 1);
        ssize_t n = buf ? pread(fd, buf, OUTPUT_CAP, 0) : -1;
        char trunc[64];

        if (n < 0)
                n = 0;
        if (buf) { /* a NUL byte would end the JSON string: U+FFFD stands for it */
                size_t nul = 0;
                for (ssize_t i = 0; i < n; i++)
                        nul += buf[i] == '\0';
                _cleanup_free_ char *text = malloc((size_t)n + 2 * nul + 1);
                if (text) {
                        size_t k = 0;
                        for (ssize_t i = 0; i < n; i++) {
                                if (buf[i] != '\0') {
                                        text[k++] = buf[i];
                                        continue;
                                }
                                memcpy(text + k, "\xef\xbf\xbd", 3);
                                k += 3;
                        }
                        text[k] = '\0';
                        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
                        cJSON_AddStringToObject(obj, key, text);
                }
        }
        snprintf(trunc, sizeof(trunc), "%s_truncated", key);
        cJSON_DeleteItemFromObjectCaseSensitive(obj, trunc);
        cJSON_AddBoolToObject(obj, trunc, lseek(fd, 0, SEEK_END) > OUTPUT_CAP);
}

int ob_api_memfd(const char *name, const char *data, size_t len)
{
        _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC);
        int r;

        if (fd < 0)
                return -errno;
        r = ob_write_all(fd, data, len);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        return TAKE_FD(fd);
}
