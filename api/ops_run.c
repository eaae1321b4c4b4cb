/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox_run: `omnibase sandbox run --json` through the operation table.
 * The capability set comes as an object (or policies and a principal), a
 * script as text: it is written into a private directory under the state
 * directory ($STATE/api-runs/XXXXXX, 0700) that is removed on every path.
 * The run itself is ob_sandbox_run with capture on, as the CLI's --json. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omnibase/policy.h>
#include <omnibase/sandbox.h>

#include "api/ops_tools.h"
#include "capabilities/limits.h"
#include "common/fs.h"
#include "common/macros.h"
#include "environments/env.h"
#include "runner/runner.h"

/* Captured output kept in the result, per stream. */
#define RUN_OUTPUT_CAP (1024 * 1024)

typedef struct run_args {
        ob_capset *caps;
        char **argv, **script_args; /* NULL-terminated, the strings borrowed from args */
        char *dir;                  /* the private directory of a script, or NULL */
        char *script;               /* its file */
} run_args;

static void run_args_done(run_args *a)
{
        if (a->dir)
                (void)ob_rm_rf(a->dir);
        free(a->dir);
        free(a->script);
        free(a->argv);
        free(a->script_args);
        ob_capset_free(a->caps);
}

/* A STRINGS argument as a NULL-terminated vector (NULL when absent). */
static int strv_arg(const cJSON *args, const char *name, char ***ret, ob_error *err)
{
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(args, name), *s;
        size_t n = 0;
        char **v;

        *ret = NULL;
        if (!a)
                return 0;
        if (cJSON_GetArraySize(a) > OB_SANDBOX_MAX_ARGS)
                return ob_error_set_code(err, "invalid", E2BIG, "%s: at most %d strings", name,
                                         OB_SANDBOX_MAX_ARGS);
        v = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *));
        if (!v)
                return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        cJSON_ArrayForEach (s, a)
                v[n++] = s->valuestring;
        *ret = v;
        return 0;
}

/* The capability set: exactly one of capabilities, or policies (or
 * policies_text) with principal; as `sandbox run` refuses the rest. Neither,
 * with a template: the template's set. */
static int load_caps(const cJSON *args, const ob_template *tpl, ob_capset **ret, ob_error *err)
{
        const cJSON *caps = cJSON_GetObjectItemCaseSensitive(args, "capabilities");
        bool policies =
            cJSON_GetObjectItemCaseSensitive(args, "policies") || ob_api_str(args, "policies_text");
        const char *principal = ob_api_str(args, "principal");
        _cleanup_free_ char *text = NULL;
        ob_policy_set *set = NULL;
        int r;

        if (!caps && !policies && tpl) /* the template's own set */
                return ob_capset_new(ret) < 0 || ob_capset_union(*ret, tpl->caps) < 0
                           ? ob_error_set_code(err, NULL, ENOMEM, "out of memory")
                           : 0;
        if (!caps == !policies)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "give capabilities, or policies with principal, or "
                                         "a template");
        if (caps && principal)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "principal goes with policies, not capabilities");
        if (policies && !principal)
                return ob_error_set_code(err, "invalid", EINVAL, "policies need a principal");
        if (caps) {
                if (!(text = cJSON_Print(caps)))
                        return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
                r = ob_capset_parse(text, strlen(text), ret, err);
                return ob_api_input_error(err, "capabilities", r);
        }
        r = ob_api_doc_text(args, "policies", &text, err);
        if (r < 0)
                return r;
        r = ob_api_input_error(err, "policies", ob_policy_parse(text, strlen(text), &set, err));
        if (r >= 0)
                r = ob_api_input_error(err, "policies",
                                       ob_policy_compile(set, principal, ret, err));
        ob_policy_set_free(set);
        return r;
}

/* The file name of a script run by profile: its extension is the one the
 * sandbox shows (/omnibase/script.py). */
static const char *script_name(const char *profile)
{
        if (!profile || streq(profile, "python-minimal"))
                return "script.py";
        return streq(profile, "shell") ? "script.sh" : "script";
}

/* Writes the script's text into a new private directory. */
static int write_script(const ob_api_ctx *ctx, const char *text, const char *profile, run_args *a,
                        ob_error *err)
{
        const char *state = ob_env_state_dir(ctx->state_dir);
        _cleanup_free_ char *parent = NULL;
        _cleanup_close_ int fd = -1;
        size_t len = strlen(text);
        int r;

        if (len > OB_SCRIPT_MAX_BYTES)
                return ob_error_set_code(err, "invalid", EFBIG, "script: larger than %d bytes",
                                         OB_SCRIPT_MAX_BYTES);
        if (asprintf(&parent, "%s/api-runs", state) < 0 ||
            asprintf(&a->dir, "%s/XXXXXX", parent) < 0)
                return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        if (ob_mkdir_p(parent, 0700) < 0 || !mkdtemp(a->dir)) {
                int e = errno;
                free(a->dir);
                a->dir = NULL; /* nothing made: nothing to remove */
                return ob_error_set_code(err, NULL, e, "%s: %s", parent, strerror(e));
        }
        if (asprintf(&a->script, "%s/%s", a->dir, script_name(profile)) < 0)
                return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        fd = open(a->script, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        r = fd < 0 ? -errno : ob_write_all(fd, text, len);
        if (r < 0)
                return ob_error_set_code(err, NULL, -r, "%s: %s", a->script, strerror(-r));
        return 0;
}

/* Who is not an admin runs only within an approved template: the set must
 * grant nothing the template's does not, and no limit above the template's
 * (the server runs as root: a set of one's own could read any host file). */
static int load_template(const ob_api_ctx *ctx, const cJSON *args, ob_template **ret, ob_error *err)
{
        const char *name = ob_api_str(args, "template");
        int r;

        if (!name) {
                if (ctx->caller.role == OB_API_ADMIN)
                        return 0;
                return ob_error_set_code(err, "forbidden", EPERM,
                                         "%s: only an admin may run without a template: name "
                                         "an approved template (template_list)",
                                         ctx->caller.name);
        }
        if (strchr(name, '/'))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "template: a template name, not a path");
        r = ob_template_load(name, ret, err);
        if (r >= 0)
                r = ob_template_require_approved(*ret, err);
        return r;
}

static int within_template(const ob_capset *caps, const ob_template *tpl, ob_error *err)
{
        ob_limits mine = ob_limits_effective(ob_capset_limits_const(caps));
        ob_limits its = ob_limits_effective(ob_capset_limits_const(tpl->caps));
        bool sub = false;

        if (ob_capset_is_subset(caps, tpl->caps, &sub) < 0)
                return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        if (!sub)
                return ob_error_set_code(err, "forbidden", EPERM,
                                         "the capabilities grant more than template %s does",
                                         tpl->name);
        for (size_t i = 0; i < OB_LIMIT_COUNT; i++) {
                const ob_limit_info *d = &ob_limit_table[i];
                if (ob_limit_looser(d, ob_limit_get(&mine, d), ob_limit_get(&its, d)))
                        return ob_error_set_code(err, "forbidden", EPERM,
                                                 "limit %s is above template %s's", d->key,
                                                 tpl->name);
        }
        return 0;
}

static int check_args(const cJSON *args, ob_error *err)
{
        const char *profile = ob_api_str(args, "profile");
        bool argv = cJSON_GetObjectItemCaseSensitive(args, "argv"),
             script = ob_api_str(args, "script");

        if (argv == script)
                return ob_error_set_code(err, "invalid", EINVAL, "give argv or script");
        if (argv && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(args, "argv")) == 0)
                return ob_error_set_code(err, "invalid", EINVAL, "argv: a command is needed");
        if (argv && cJSON_GetObjectItemCaseSensitive(args, "args"))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "args go with script; put a command's in argv");
        /* a name only: a path would read a profile off this host */
        if (profile && (!*profile || strchr(profile, '/') || profile[0] == '.'))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "profile: a profile name (python-minimal, shell, ...)");
        return 0;
}

/* The limits the arguments lower: an argument per limit of the table
 * (capabilities/limits.h), named by its capability-file key, in its unit
 * (cpus a number, stored in thousandths as --cpus does). */
static int arg_limits(const cJSON *args, ob_limits *ret, ob_error *err)
{
        char why[160];

        *ret = ob_limits_unset();
        for (size_t i = 0; i < OB_LIMIT_COUNT; i++) {
                const ob_limit_info *d = &ob_limit_table[i];
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, d->key);
                double x;
                int64_t n;
                if (!v)
                        continue;
                x = v->valuedouble;
                if (!(x > 0) || x > 1e12)
                        return ob_error_set_code(err, "invalid", ERANGE, "%s: a positive %s",
                                                 d->key, d->fractional ? "number" : "integer");
                n = d->fractional ? (int64_t)(x * 1000 + 0.5) : (int64_t)x;
                if (ob_limit_out_of_bounds(d, n, why, sizeof(why)))
                        return ob_error_set_code(err, "invalid", ERANGE, "%s", why);
                *ob_limit_slot(ret, d) = n;
        }
        return 0;
}

/* Keeps at most RUN_OUTPUT_CAP bytes of a captured stream. */
static void cap_output(char *buf, size_t *len, bool *truncated)
{
        if (buf && *len > RUN_OUTPUT_CAP) {
                *len = RUN_OUTPUT_CAP;
                buf[*len] = '\0';
                *truncated = true;
        }
}

static int result_json(ob_sandbox_result *res, cJSON **ret, ob_error *err)
{
        _cleanup_free_ char *text = NULL;
        cJSON *o;

        cap_output(res->stdout_buf, &res->stdout_len, &res->stdout_truncated);
        cap_output(res->stderr_buf, &res->stderr_len, &res->stderr_truncated);
        if (ob_sandbox_result_to_json(res, &text) < 0 || !(o = ob_api_parse_object(text)))
                return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        *ret = o;
        return 0;
}

int ob_api_op_sandbox_run(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        const char *profile = ob_api_str(args, "profile"), *script = ob_api_str(args, "script");
        ob_sandbox_result res = {0};
        ob_sandbox_options opts;
        run_args a = {0};
        ob_limits limits;
        ob_template *tpl = NULL;
        int r = check_args(args, err);

        if (r >= 0)
                r = arg_limits(args, &limits, err);
        if (r >= 0)
                r = strv_arg(args, "argv", &a.argv, err);
        if (r >= 0)
                r = strv_arg(args, "args", &a.script_args, err);
        if (r >= 0)
                r = load_template(ctx, args, &tpl, err);
        if (r >= 0)
                r = load_caps(args, tpl, &a.caps, err);
        if (r >= 0 && tpl)
                r = within_template(a.caps, tpl, err);
        if (r >= 0 && tpl && !profile)
                profile = tpl->profile;
        if (r >= 0 && script)
                r = write_script(ctx, script, profile, &a, err);
        if (r >= 0) {
                ob_sandbox_options_init(&opts);
                opts.caps = a.caps;
                opts.profile = profile;
                opts.script = a.script;
                opts.script_args = (const char *const *)a.script_args;
                opts.argv = (const char *const *)a.argv;
                opts.limits = limits;
                opts.state_dir = ctx->state_dir;
                opts.capture = true; /* as --json: into the result only */
                opts.warm = ob_api_bool(args, "warm", false);
                opts.owner = ctx->caller.name;
                r = ob_sandbox_run(&opts, &res, err);
                /* nothing ran: bad input (a missing profile, too many
                 * arguments) is the caller's; so is a limit raised above the
                 * set's (EPERM) */
                if (r < 0 && !err->code &&
                    (r == -EINVAL || r == -ERANGE || r == -E2BIG || r == -EFBIG || r == -ENOENT ||
                     r == -ENAMETOOLONG))
                        err->code = "invalid";
                else if (r == -EPERM && !err->code)
                        err->code = "forbidden";
        }
        if (r >= 0)
                r = result_json(&res, ret, err);
        ob_sandbox_result_done(&res);
        ob_template_free(tpl);
        run_args_done(&a);
        return r;
}
