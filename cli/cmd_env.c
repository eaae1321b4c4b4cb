/* SPDX-License-Identifier: Apache-2.0 */
/* omnibase env ...: long-lived environments (docs/environments.md), a thin
 * layer over environments/env.h. Errors are one line and exit 125; with
 * --json they are also {"error": {"code": ..., "message": ...}} on stdout. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <omnibase/audit.h>

#include "api/api.h"
#include "cli/commands.h"
#include "common/macros.h"
#include "cli/env_tty.h"
#include "environments/env.h"

#define MAX_LIST_ARGS 64

static const char env_usage[] =
    "usage: omnibase env create --owner OWNER --template NAME [--ttl DURATION]\n"
    "               [--seed NAME:VERSION] [--feature-flags a,b,...] [--secret NAME=@FILE]...\n"
    "               [--name NAME] [--idempotency-key K] [--approved-by WHO] [--json]\n"
    "       omnibase env list [--owner OWNER] [--all] [--json]\n"
    "       omnibase env show ID|NAME [--json]\n"
    "       omnibase env exec ID|NAME [--timeout S] [--cwd DIR] [--json] [-t] -- CMD [ARGS...]\n"
    "       omnibase env shell ID|NAME [--cwd DIR]\n"
    "       omnibase env extend ID|NAME --ttl DURATION [--approved-by WHO] [--json]\n"
    "       omnibase env flags ID|NAME [--set NAME=on|off]... [--json]\n"
    "       omnibase env logs ID|NAME [--follow]\n"
    "       omnibase env reset ID|NAME\n"
    "       omnibase env snapshot ID|NAME [--output FILE] [--memory] [--json]\n"
    "       omnibase env restore FILE [--owner OWNER] [--name NAME] [--json]\n"
    "       omnibase env stop|start|delete ID|NAME\n"
    "       omnibase env sweep\n"
    "       omnibase env render ID|NAME --backend kubernetes [--format yaml|json]\n"
    "       omnibase env render --template NAME --owner OWNER [--ttl D] [--seed S]\n"
    "               [--feature-flags a,b] --backend kubernetes [--format yaml|json]\n"
    "\n"
    "DURATION: 30s, 15m, 72h, 7d. Settings: $OMNIBASE_CONFIG (default\n"
    "/etc/omnibase/config.json); state: $OMNIBASE_STATE_DIR. env exec exits like\n"
    "sandbox run: the command's status, 124 timeout, 125 error, 126 violation.\n"
    "-t (--tty): a pseudo-terminal inside the sandbox, the local terminal raw and\n"
    "its size followed; env shell is env exec -t ID -- /bin/sh -l.\n"
    "See docs/environments.md.\n";

static bool json_out;

/* The one-line error (and the --json error object); returns 125. */
static int fail(const ob_error *err, int r)
{
        const char *msg = err->message[0] ? err->message : strerror(-r);

        ob_cli_error("%s", msg);
        if (json_out) {
                cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
                char *text;
                cJSON_AddStringToObject(e, "code", err->code ? err->code : "error");
                cJSON_AddStringToObject(e, "message", msg);
                text = cJSON_PrintUnformatted(root);
                if (text)
                        puts(text);
                free(text);
                cJSON_Delete(root);
        }
        return OB_EXIT_FAILURE;
}

static _printf_(1, 2) int usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("omnibase: env ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (try 'omnibase env --help')\n", stderr);
        return OB_EXIT_FAILURE;
}

static void print_time(const char *label, int64_t t)
{
        char buf[32];
        time_t tt = (time_t)t;
        struct tm tm;

        gmtime_r(&tt, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%-12s %s\n", label, buf);
}

static void print_strv(const char *label, char *const *v)
{
        printf("%-12s ", label);
        for (size_t i = 0; v && v[i]; i++)
                printf("%s%s", i ? "," : "", v[i]);
        printf("%s\n", v && v[0] ? "" : "-");
}

static int print_record(const ob_env_record *r)
{
        _cleanup_free_ char *json = NULL;

        if (json_out) {
                if (ob_env_record_to_json(r, &json) < 0)
                        return OB_EXIT_FAILURE;
                puts(json);
                return 0;
        }
        printf("%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n", "id", r->id, "name",
               r->name ? r->name : "-", "owner", r->owner, "template", r->template_name);
        if (r->reason)
                printf("%-12s %s (%s)\n", "state", ob_env_state_to_string(r->state), r->reason);
        else
                printf("%-12s %s\n", "state", ob_env_state_to_string(r->state));
        print_time("created", r->created_at);
        print_time("expires", r->expires_at);
        printf("%-12s %s\n", "seed", r->seed ? r->seed : "-");
        print_strv("flags", r->flags);
        print_strv("secrets", r->secret_names);
        printf("%-12s %" PRId64 " MiB\n", "memory", r->memory_mb);
        if (r->approved_by)
                printf("%-12s %s\n", "approved by", r->approved_by);
        return 0;
}

/* "a,b,c" into v (NULL-terminated, pointing into s, which it splits). */
static int split_commas(char *s, const char **v, size_t max)
{
        size_t n = 0;

        for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (n + 1 >= max)
                        return -E2BIG;
                v[n++] = t;
        }
        v[n] = NULL;
        return 0;
}

static int cmd_create(int argc, char **argv)
{
        static const struct option opts[] = {{"owner", required_argument, NULL, 'o'},
                                             {"template", required_argument, NULL, 't'},
                                             {"ttl", required_argument, NULL, 'T'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"feature-flags", required_argument, NULL, 'f'},
                                             {"secret", required_argument, NULL, 'S'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"idempotency-key", required_argument, NULL, 'k'},
                                             {"approved-by", required_argument, NULL, 'a'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        ob_env_create_opts o;
        const char *flags[OB_ENV_MAX_FLAGS + 1], *secrets[MAX_LIST_ARGS + 1];
        size_t n_secrets = 0;
        ob_env_record rec = {0};
        ob_error err = {0};
        bool existed = false;
        int c, r;

        ob_env_create_opts_init(&o);
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'o':
                        o.owner = optarg;
                        break;
                case 't':
                        o.template_name = optarg;
                        break;
                case 'T':
                        o.ttl = optarg;
                        break;
                case 's':
                        o.seed = optarg;
                        break;
                case 'n':
                        o.name = optarg;
                        break;
                case 'k':
                        o.idempotency_key = optarg;
                        break;
                case 'a':
                        o.approved_by = optarg;
                        break;
                case 'j':
                        json_out = true;
                        break;
                case 'f':
                        if (split_commas(optarg, flags, ARRAY_SIZE(flags)) < 0)
                                return usage_error("create: too many feature flags%s", "");
                        o.flags = flags;
                        break;
                case 'S':
                        if (n_secrets >= MAX_LIST_ARGS)
                                return usage_error("create: too many --secret%s", "");
                        secrets[n_secrets++] = optarg;
                        break;
                case 'h':
                        fputs(env_usage, stdout);
                        return 0;
                default:
                        return usage_error("create: bad option \"%s\"", argv[optind - 1]);
                }
        }
        secrets[n_secrets] = NULL;
        o.secrets = secrets;
        if (optind < argc)
                return usage_error("create: unexpected argument \"%s\"", argv[optind]);
        r = ob_env_create(NULL, &o, &rec, &existed, &err);
        if (r < 0)
                return fail(&err, r);
        if (json_out)
                r = print_record(&rec);
        else
                puts(rec.id);
        ob_env_record_done(&rec);
        return r;
}

static int cmd_list(int argc, char **argv)
{
        static const struct option opts[] = {{"owner", required_argument, NULL, 'o'},
                                             {"all", no_argument, NULL, 'a'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        const char *owner = NULL;
        bool all = false;
        ob_env_record *v = NULL;
        size_t n = 0;
        ob_error err = {0};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'o')
                        owner = optarg;
                else if (c == 'a')
                        all = true;
                else if (c == 'j')
                        json_out = true;
                else if (c == 'h')
                        return fputs(env_usage, stdout), 0;
                else
                        return usage_error("list: bad option \"%s\"", argv[optind - 1]);
        }
        if (optind < argc)
                return usage_error("list: unexpected argument \"%s\"", argv[optind]);
        r = ob_env_list(NULL, owner, all, &v, &n, &err);
        if (r < 0)
                return fail(&err, r);
        if (json_out)
                fputs("[", stdout);
        else
                printf("%-16s %-20s %-12s %-18s %-9s %s\n", "ID", "NAME", "OWNER", "TEMPLATE",
                       "STATE", "EXPIRES");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *json = NULL;
                char exp[32];
                time_t t = (time_t)v[i].expires_at;
                struct tm tm;
                if (json_out) {
                        if (ob_env_record_to_json(&v[i], &json) >= 0)
                                printf("%s%s", i ? "," : "", json);
                        continue;
                }
                gmtime_r(&t, &tm);
                strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
                printf("%-16s %-20s %-12s %-18s %-9s %s\n", v[i].id, v[i].name ? v[i].name : "-",
                       v[i].owner, v[i].template_name, ob_env_state_to_string(v[i].state), exp);
        }
        if (json_out)
                puts("]");
        ob_env_records_free(v, n);
        return 0;
}

/* ID|NAME and the --json / --help options every other verb shares. */
static int one_env(int argc, char **argv, const char **ret)
{
        static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {}};
        int c;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'j')
                        json_out = true;
                else if (c == 'h')
                        return fputs(env_usage, stdout), 1;
                else
                        return usage_error("%s: bad option \"%s\"", argv[0], argv[optind - 1]), -1;
        }
        if (argc - optind != 1)
                return usage_error("%s: expected one ID or NAME", argv[0]), -1;
        *ret = argv[optind];
        return 0;
}

static int cmd_show(int argc, char **argv)
{
        ob_env_record rec = {0};
        ob_error err = {0};
        const char *id;
        int r = one_env(argc, argv, &id);

        if (r != 0)
                return r < 0 ? OB_EXIT_FAILURE : 0;
        r = ob_env_get(NULL, id, &rec, &err);
        if (r < 0)
                return fail(&err, r);
        r = print_record(&rec);
        ob_env_record_done(&rec);
        return r;
}

/* env exec's options, before or after ID|NAME, up to "--" or the command:
 * the command's own options are never taken for ours. */
static int exec_options(int argc, char **argv, ob_env_exec_opts *o)
{
        static const struct option opts[] = {
            {"timeout", required_argument, NULL, 'T'}, {"cwd", required_argument, NULL, 'C'},
            {"json", no_argument, NULL, 'j'},          {"tty", no_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},          {}};
        char *end;
        int c;

        while ((c = getopt_long(argc, argv, "+ht", opts, NULL)) != -1) {
                if (c == 'T') {
                        double t = strtod(optarg, &end);
                        if (*end || end == optarg || !(t > 0) || t > 86400.0 * 365)
                                return usage_error("exec: --timeout %s: expected seconds > 0",
                                                   optarg);
                        o->timeout_ms = (int64_t)(t * 1000);
                } else if (c == 'C')
                        o->cwd = optarg;
                else if (c == 'j')
                        json_out = true;
                else if (c == 't')
                        o->tty = true;
                else if (c == 'h')
                        return fputs(env_usage, stdout), -1;
                else
                        return usage_error("exec: bad option \"%s\"", argv[optind - 1]);
        }
        return 0;
}

static int run_exec(const char *id, ob_env_exec_opts *o);

static int cmd_exec(int argc, char **argv)
{
        ob_env_exec_opts o;
        const char *id;
        int r;

        ob_env_exec_opts_init(&o);
        r = exec_options(argc, argv, &o);
        if (r != 0)
                return r < 0 ? 0 : r;
        if (optind >= argc || streq(argv[optind - 1], "--"))
                return usage_error("exec: expected ID|NAME -- CMD [ARGS...]%s", "");
        id = argv[optind++];
        r = exec_options(argc, argv, &o); /* the options after ID, up to "--" */
        if (r != 0)
                return r < 0 ? 0 : r;
        if (optind >= argc)
                return usage_error("exec: no command after %s (ID -- CMD [ARGS...])", id);
        if (o.tty && json_out)
                return usage_error("exec: -t and --json do not go together%s", "");
        o.argv = (const char *const *)argv + optind;
        return run_exec(id, &o);
}

/* The exec itself (env exec, env shell): its exit status. */
static int run_exec(const char *id, ob_env_exec_opts *o)
{
        _cleanup_free_ char *json = NULL;
        _cleanup_close_ int out = -1, errf = -1;
        ob_error err = {0};
        int r, code = OB_EXIT_FAILURE;

        if (json_out) { /* the output goes into the result object */
                out = memfd_create("stdout", MFD_CLOEXEC);
                errf = memfd_create("stderr", MFD_CLOEXEC);
                if (out < 0 || errf < 0)
                        return ob_cli_error("exec: memfd: %s", strerror(errno)), OB_EXIT_FAILURE;
                o->fds[1] = out;
                o->fds[2] = errf;
        }
        if (o->tty && (r = ob_cli_tty_begin(o)) < 0) {
                ob_cli_tty_end();
                return ob_cli_error("exec: the terminal: %s", strerror(-r)), OB_EXIT_FAILURE;
        }
        r = ob_env_exec(NULL, id, o, &json, &code, &err);
        ob_cli_tty_end(); /* the terminal as it was, before any message */
        if (r < 0)
                return fail(&err, r);
        if (json_out) {
                cJSON *obj = cJSON_Parse(json);
                char *text;
                if (!obj)
                        return OB_EXIT_FAILURE;
                ob_api_add_output(obj, "stdout", out);
                ob_api_add_output(obj, "stderr", errf);
                text = cJSON_PrintUnformatted(obj);
                puts(text ? text : "{}");
                free(text);
                cJSON_Delete(obj);
        } else if (code == OB_EXIT_VIOLATION || code == OB_EXIT_FAILURE) {
                cJSON *obj = cJSON_Parse(json);
                const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
                const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
                const cJSON *viol = cJSON_GetObjectItemCaseSensitive(obj, "violations");
                if (cJSON_IsString(st) && streq(st->valuestring, "violation")) {
                        const cJSON *v;
                        fputs("SandboxViolationError:", stderr);
                        cJSON_ArrayForEach (v, viol) {
                                const cJSON *cap =
                                    cJSON_GetObjectItemCaseSensitive(v, "capability");
                                const cJSON *tg = cJSON_GetObjectItemCaseSensitive(v, "target");
                                if (cJSON_IsString(cap) && cJSON_IsString(tg))
                                        fprintf(stderr, " %s %s;", cap->valuestring,
                                                tg->valuestring);
                        }
                        fprintf(stderr, " (environment %s)\n", id);
                } else if (cJSON_IsString(msg) && msg->valuestring[0])
                        ob_cli_error("%s", msg->valuestring);
                cJSON_Delete(obj);
        }
        return code;
}

/* env shell ID|NAME [--cwd DIR]: env exec -t ID -- /bin/sh -l (every
 * template's profile has /bin/sh as its interpreter). */
static int cmd_shell(int argc, char **argv)
{
        static const char *const shell[] = {"/bin/sh", "-l", NULL};
        static const struct option opts[] = {
            {"cwd", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'}, {}};
        ob_env_exec_opts o;
        int c;

        ob_env_exec_opts_init(&o);
        o.argv = shell;
        o.tty = true;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'C')
                        o.cwd = optarg;
                else if (c == 'h')
                        return fputs(env_usage, stdout), 0;
                else
                        return usage_error("shell: bad option \"%s\"", argv[optind - 1]);
        }
        if (argc - optind != 1)
                return usage_error("shell: expected one ID|NAME%s", "");
        return run_exec(argv[optind], &o);
}

static int cmd_extend(int argc, char **argv)
{
        static const struct option opts[] = {{"ttl", required_argument, NULL, 'T'},
                                             {"approved-by", required_argument, NULL, 'a'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        const char *ttl = NULL, *approver = NULL;
        ob_env_record rec = {0};
        ob_error err = {0};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'T')
                        ttl = optarg;
                else if (c == 'a')
                        approver = optarg;
                else if (c == 'j')
                        json_out = true;
                else if (c == 'h')
                        return fputs(env_usage, stdout), 0;
                else
                        return usage_error("extend: bad option \"%s\"", argv[optind - 1]);
        }
        if (argc - optind != 1 || !ttl)
                return usage_error("extend: expected ID|NAME --ttl DURATION%s", "");
        r = ob_env_extend(NULL, argv[optind], ttl, approver, &rec, &err);
        if (r < 0)
                return fail(&err, r);
        r = print_record(&rec);
        ob_env_record_done(&rec);
        return r;
}

static int cmd_flags(int argc, char **argv)
{
        static const struct option opts[] = {{"set", required_argument, NULL, 's'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        const char *set[MAX_LIST_ARGS + 1];
        size_t n = 0;
        ob_env_record rec = {0};
        ob_error err = {0};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 's' && n < MAX_LIST_ARGS)
                        set[n++] = optarg;
                else if (c == 'j')
                        json_out = true;
                else if (c == 'h')
                        return fputs(env_usage, stdout), 0;
                else
                        return usage_error("flags: bad option \"%s\"", argv[optind - 1]);
        }
        set[n] = NULL;
        if (argc - optind != 1)
                return usage_error("flags: expected one ID or NAME%s", "");
        r = ob_env_flags(NULL, argv[optind], set, &rec, &err);
        if (r < 0)
                return fail(&err, r);
        if (json_out)
                r = print_record(&rec);
        else
                print_strv("flags", rec.flags);
        ob_env_record_done(&rec);
        return r;
}

static int cmd_simple(int argc, char **argv)
{
        ob_error err = {0};
        const char *id;
        int r = one_env(argc, argv, &id);

        if (r != 0)
                return r < 0 ? OB_EXIT_FAILURE : 0;
        r = streq(argv[0], "stop")    ? ob_env_stop(NULL, id, &err)
            : streq(argv[0], "start") ? ob_env_start(NULL, id, &err)
            : streq(argv[0], "reset") ? ob_env_reset(NULL, id, &err)
                                      : ob_env_delete(NULL, id, &err);
        if (r < 0)
                return fail(&err, r);
        if (json_out)
                printf("{\"ok\":true,\"op\":\"%s\"}\n", argv[0]);
        return 0;
}

static int cmd_snapshot(int argc, char **argv)
{
        static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                             {"memory", no_argument, NULL, 'm'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        const char *out = NULL;
        bool memory = false;
        _cleanup_free_ char *path = NULL;
        char hash[65];
        ob_error err = {0};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'o')
                        out = optarg;
                else if (c == 'm')
                        memory = true;
                else if (c == 'j')
                        json_out = true;
                else if (c == 'h')
                        return fputs(env_usage, stdout), 0;
                else
                        return usage_error("snapshot: bad option \"%s\"", argv[optind - 1]);
        }
        if (argc - optind != 1)
                return usage_error("snapshot: expected one ID or NAME%s", "");
        r = ob_env_snapshot_memory(NULL, argv[optind], out, memory, &path, hash, &err);
        if (r < 0)
                return fail(&err, r);
        if (json_out)
                printf("{\"path\":\"%s\",\"tree_hash\":\"%s\",\"memory\":%s}\n", path, hash,
                       memory ? "true" : "false");
        else
                printf("%s\n", path);
        return 0;
}

static int cmd_restore(int argc, char **argv)
{
        static const struct option opts[] = {{"owner", required_argument, NULL, 'o'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        const char *owner = NULL, *name = NULL;
        ob_env_record rec = {0};
        ob_error err = {0};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'o')
                        owner = optarg;
                else if (c == 'n')
                        name = optarg;
                else if (c == 'j')
                        json_out = true;
                else if (c == 'h')
                        return fputs(env_usage, stdout), 0;
                else
                        return usage_error("restore: bad option \"%s\"", argv[optind - 1]);
        }
        if (argc - optind != 1)
                return usage_error("restore: expected one snapshot FILE%s", "");
        r = ob_env_restore(NULL, argv[optind], owner, name, &rec, &err);
        if (r < 0)
                return fail(&err, r);
        if (json_out)
                r = print_record(&rec);
        else
                puts(rec.id);
        ob_env_record_done(&rec);
        return r;
}

static bool follow_on;

/* Each event line of the environment; stops once caught up unless following. */
static int print_event(const char *line, size_t len, void *userdata)
{
        (void)userdata;
        if (!line)
                return follow_on ? 0 : 1;
        fwrite(line, 1, len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        return 0;
}

static int cmd_logs(int argc, char **argv)
{
        static const struct option opts[] = {
            {"follow", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {}};
        _cleanup_free_ char *path = NULL;
        ob_env_record rec = {0};
        ob_error err = {0};
        int c, r;

        while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
                if (c == 'f')
                        follow_on = true;
                else if (c == 'h')
                        return fputs(env_usage, stdout), 0;
                else
                        return usage_error("logs: bad option \"%s\"", argv[optind - 1]);
        }
        if (argc - optind != 1)
                return usage_error("logs: expected one ID or NAME%s", "");
        r = ob_env_logs_touch(NULL, argv[optind], &rec, &err);
        if (r < 0)
                return fail(&err, r);
        if (asprintf(&path, "%s/audit.jsonl", ob_env_state_dir(NULL)) < 0)
                path = NULL;
        ob_audit_filter f = {.sandbox_id = rec.id, .since_seq = 1};
        r = path ? ob_audit_follow(path, &f, print_event, NULL) : -ENOMEM;
        ob_env_record_done(&rec);
        if (r < 0) {
                ob_cli_error("logs: %s: %s", path ? path : "audit log", strerror(-r));
                return OB_EXIT_FAILURE;
        }
        return 0;
}

static int cmd_sweep(int argc, char **argv)
{
        ob_error err = {0};
        unsigned n = 0;
        int r;

        if (argc > 1)
                return streq(argv[1], "--help") ? (fputs(env_usage, stdout), 0)
                                                : usage_error("sweep: unexpected \"%s\"", argv[1]);
        r = ob_env_sweep(NULL, &n, &err);
        if (r < 0)
                return fail(&err, r);
        printf("sweep: ended %u environment%s\n", n, n == 1 ? "" : "s");
        return 0;
}

int ob_cmd_env(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(int argc, char **argv);
        } verbs[] = {
            {"create", cmd_create},       {"list", cmd_list},    {"show", cmd_show},
            {"exec", cmd_exec},           {"shell", cmd_shell},  {"extend", cmd_extend},
            {"flags", cmd_flags},         {"stop", cmd_simple},  {"start", cmd_simple},
            {"delete", cmd_simple},       {"reset", cmd_simple}, {"snapshot", cmd_snapshot},
            {"restore", cmd_restore},     {"logs", cmd_logs},    {"sweep", cmd_sweep},
            {"render", ob_cmd_env_render}};

        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                fputs(env_usage, argc < 2 ? stderr : stdout);
                return argc < 2 ? OB_EXIT_FAILURE : 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (streq(argv[1], verbs[i].name)) {
                        optind = 1;
                        return verbs[i].run(argc - 1, argv + 1);
                }
        ob_cli_error("env: unknown verb \"%s\" (try 'omnibase env --help')", argv[1]);
        return OB_EXIT_FAILURE;
}
