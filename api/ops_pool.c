/* SPDX-License-Identifier: Apache-2.0 */
/* The warm pool's operations (docs/runner.md §10): status for anyone who
 * may read, start and stop for admins (the pool is the host's: one per state
 * directory, its sandboxes boot as root). Thin calls of ob_pool_*, the
 * functions `omnibase pool` uses. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/sandbox.h>

#include "api/api.h"
#include "common/macros.h"
#include "environments/env.h"
#include "environments/template.h"

#define POOL_SCHEMA                                                                                \
        "{\"type\": \"object\", \"properties\": {\"running\": {\"type\": \"boolean\"}, \"pid\": "  \
        "{\"type\": \"integer\"}, \"size\": {\"type\": \"integer\"}, \"ready\": {\"type\": "       \
        "\"integer\"}, \"booting\": {\"type\": \"integer\"}, \"busy\": {\"type\": \"integer\"}, "  \
        "\"taken\": {\"type\": \"integer\"}, \"profile\": {\"type\": \"string\"}, "                \
        "\"key_sha256\": "                                                                         \
        "{\"type\": \"string\"}}, \"required\": [\"running\"]}"

/* {"running": false}, or the daemon's status with "running": true. */
static int status_object(const ob_api_ctx *ctx, cJSON **ret, ob_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r = ob_pool_status(ctx->state_dir, &text, err);

        if (r == -ENOENT) {
                *ret = cJSON_CreateObject();
                cJSON_AddBoolToObject(*ret, "running", false);
                return 0;
        }
        if (r < 0)
                return ob_error_set_code(err, err->code ? err->code : "internal", -r, "%s",
                                         err->message[0] ? err->message : strerror(-r));
        *ret = cJSON_Parse(text);
        if (!cJSON_IsObject(*ret))
                return ob_error_set_code(err, "internal", EIO, "pool status: a bad answer");
        cJSON_AddBoolToObject(*ret, "running", true);
        return 0;
}

static int op_pool_status(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        (void)args;
        return status_object(ctx, ret, err);
}

static int op_pool_start(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        const char *name = ob_api_str(args, "template");
        ob_pool_options o;
        ob_template *tpl = NULL;
        long long size = ob_api_int(args, "size", 2);
        int r;

        ob_pool_options_init(&o);
        o.state_dir = ctx->state_dir;

        if (size < 1 || size > OB_POOL_MAX_SIZE)
                return ob_error_set_code(err, "invalid", EINVAL, "size %lld: want 1 to %d", size,
                                         OB_POOL_MAX_SIZE);
        if (strchr(name, '/'))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "template: a template name, not a path");
        r = ob_template_load(name, &tpl, err);
        if (r >= 0)
                r = ob_template_require_approved(tpl, err);
        if (r >= 0) {
                o.caps = tpl->caps;
                o.profile =
                    ob_api_str(args, "profile") ? ob_api_str(args, "profile") : tpl->profile;
                o.size = (size_t)size;
                r = ob_pool_start(&o, NULL, err);
                if (r == -EEXIST && !err->code)
                        err->code = "conflict";
                else if (r < 0 && !err->code)
                        err->code = "internal";
        }
        ob_template_free(tpl);
        return r < 0 ? r : status_object(ctx, ret, err);
}

static int op_pool_stop(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        int r;

        (void)args;
        r = ob_pool_stop(ctx->state_dir, err);
        if (r == -ENOENT)
                return ob_error_set_code(err, "not_found", ENOENT, "no pool is running");
        if (r < 0)
                return ob_error_set_code(err, err->code ? err->code : "internal", -r, "%s",
                                         err->message[0] ? err->message : strerror(-r));
        return status_object(ctx, ret, err);
}

const ob_api_op ob_api_pool_ops[] = {
    {"pool_start",
     "pool start",
     "POST",
     "/pool",
     "Start the warm pool",
     "Starts the host's warm pool: size sandboxes booted for an approved template's capability "
     "set and profile, each taken by one sandbox_run with warm and then destroyed, never "
     "reused. Admins only; one pool per host state directory (conflict when one runs).",
     OB_API_ADMIN_ONLY,
     {{"template", OB_API_STRING, true, OB_API_BODY, NULL,
       "an approved template whose capability set and profile the pool boots"},
      {"profile", OB_API_STRING, false, OB_API_BODY, NULL, "another profile name"},
      {"size", OB_API_INTEGER, false, OB_API_BODY, NULL, "how many sandboxes (1-16, 2)"}},
     POOL_SCHEMA,
     201,
     op_pool_start},
    {"pool_status",
     "pool status",
     "GET",
     "/pool",
     "The warm pool's state",
     "Whether a warm pool runs, and its counts (ready, booting, busy, taken), profile and the "
     "hash of the capability set a warm run must match exactly.",
     OB_API_READ,
     {{0}},
     POOL_SCHEMA,
     200,
     op_pool_status},
    {"pool_stop",
     "pool stop",
     "DELETE",
     "/pool",
     "Stop the warm pool",
     "Stops the warm pool and destroys every sandbox it holds (admins only).",
     OB_API_ADMIN_ONLY | OB_API_IDEMPOTENT,
     {{0}},
     POOL_SCHEMA,
     200,
     op_pool_stop},
};
const size_t ob_api_n_pool_ops = ARRAY_SIZE(ob_api_pool_ops);
