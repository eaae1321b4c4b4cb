/* SPDX-License-Identifier: Apache-2.0 */
/* `omnibase sandbox run` and `omnibase gc`: argument parsing over
 * ob_sandbox_run() and ob_sandbox_gc(). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omnibase/policy.h>
#include <omnibase/sandbox.h>

#include "capabilities/limits.h"
#include "cli/commands.h"
#include "environments/env.h"
#include "common/macros.h"

typedef struct run_args {
        const char *caps_file, *policy_file, *principal, *registry, *profile, *events, *audit_log;
        const char *script;
        char **script_args, **command;
        ob_limits limits;
        bool json, dry_run, verbose, warm;
        FILE *events_out;
} run_args;

static const char run_usage[] =
    "usage: omnibase sandbox run SCRIPT [ARGS...] [OPTIONS] [-- SCRIPT-ARGS...]\n"
    "       omnibase sandbox run [OPTIONS] -- CMD [ARGS...]\n"
    "\n"
    "  --capabilities FILE      capability file (or:)\n"
    "  --policy FILE --principal UUID   compile a Cedar JSON policy set\n"
    "  --registry DIR --principal UUID  DIR/<uuid>.cedar.json\n"
    "  --profile NAME           python-minimal (scripts), python-data, shell (commands), or a "
    ".json path\n"
    "  --timeout S  --memory MB  --cpus N  --pids N  --tmpfs MB  --output KB  --write MB\n"
    "                           lower a limit of the capability set\n"
    "  --json                   print one result object; capture output\n"
    "  --dry-run                print the plan, run nothing\n"
    "  --events FILE|-          write SandboxStart/CapabilityDenied/SandboxExit/... as JSON\n"
    "                           lines (with -: on stdout, and without --json the\n"
    "                           workload's own stdout goes to stderr)\n"
    "  --audit-log FILE         the hash-chained audit log every event is appended to\n"
    "                           (default $OMNIBASE_STATE_DIR/audit.jsonl)\n"
    "  -v, --verbose            print each mount and why grant paths were (not) mounted\n"
    "  --warm                   take a pre-booted sandbox of `omnibase pool start` whose\n"
    "                           profile, capabilities and limits are exactly these; else\n"
    "                           run cold (-v says which)\n"
    "\n"
    "Exit: the workload's status; 124 timeout; 125 omnibase failed or bad input\n"
    "(nothing ran); 126 capability violation (whatever ended the run); 137 killed\n"
    "by a resource limit.\n";

/* A positive integer flag value; cpus accepts a decimal (milli-CPUs). */
/* A limit flag's value, in the table's unit and bounds (capabilities/limits.h). */
static int parse_limit(const ob_limit_info *d, const char *v, ob_limits *limits)
{
        char *end, why[160];
        int64_t n;

        errno = 0;
        if (d->fractional) {
                double x = strtod(v, &end);
                if (errno || end == v || *end || !(x > 0) || x > 1e9) {
                        ob_cli_error("%s: expected a positive number, got \"%s\"", d->flag, v);
                        return -EINVAL;
                }
                n = (int64_t)(x * 1000 + 0.5);
        } else {
                long long x = strtoll(v, &end, 10);
                if (errno || end == v || *end || x <= 0) {
                        ob_cli_error("%s: expected a positive integer, got \"%s\"", d->flag, v);
                        return -EINVAL;
                }
                n = x;
        }
        if (ob_limit_out_of_bounds(d, n, why, sizeof(why))) {
                ob_cli_error("%s: %s", d->flag, why);
                return -ERANGE;
        }
        *ob_limit_slot(limits, d) = n;
        return 0;
}

static int take_value(int argc, char **argv, int *i, const char *name, const char **ret)
{
        const char *a = argv[*i];
        size_t n = strlen(name);

        if (strncmp(a, name, n) == 0 && a[n] == '=') {
                *ret = a + n + 1;
                return 1;
        }
        if (strcmp(a, name) != 0)
                return 0;
        if (*i + 1 >= argc) {
                ob_cli_error("%s needs a value", name);
                return -EINVAL;
        }
        *ret = argv[++*i];
        return 1;
}

/* sandbox run's options: those with a value, the limit flags (the table
 * in capabilities/limits.h) and the switches. */
typedef struct option_def {
        const char *name;
        size_t off; /* in run_args */
} option_def;

static const option_def string_options[] = {
    {"--capabilities", offsetof(run_args, caps_file)},
    {"--policy", offsetof(run_args, policy_file)},
    {"--principal", offsetof(run_args, principal)},
    {"--registry", offsetof(run_args, registry)},
    {"--profile", offsetof(run_args, profile)},
    {"--events", offsetof(run_args, events)},
    {"--audit-log", offsetof(run_args, audit_log)},
};

static const option_def bool_options[] = {
    {"--json", offsetof(run_args, json)}, {"--dry-run", offsetof(run_args, dry_run)},
    {"-v", offsetof(run_args, verbose)},  {"--verbose", offsetof(run_args, verbose)},
    {"--warm", offsetof(run_args, warm)},
};

static int parse_option(int argc, char **argv, int *i, run_args *a)
{
        const char *v;
        int r;

        for (size_t k = 0; k < ARRAY_SIZE(string_options); k++) {
                r = take_value(argc, argv, i, string_options[k].name, &v);
                if (r != 0) {
                        if (r > 0)
                                *(const char **)((char *)a + string_options[k].off) = v;
                        return r < 0 ? r : 0;
                }
        }
        for (size_t k = 0; k < OB_LIMIT_COUNT; k++) {
                r = take_value(argc, argv, i, ob_limit_table[k].flag, &v);
                if (r != 0)
                        return r < 0 ? r : parse_limit(&ob_limit_table[k], v, &a->limits);
        }
        for (size_t k = 0; k < ARRAY_SIZE(bool_options); k++)
                if (strcmp(argv[*i], bool_options[k].name) == 0) {
                        *(bool *)((char *)a + bool_options[k].off) = true;
                        return 0;
                }
        ob_cli_error("sandbox run: unknown option \"%s\" (try --help)", argv[*i]);
        return -EINVAL;
}

/* Whether s names one of parse_option()'s options (with or without =value). */
static bool known_option(const char *s)
{
        size_t n = strcspn(s, "=");
        bool eq = s[n] == '=';

        for (size_t k = 0; k < ARRAY_SIZE(string_options); k++)
                if (strlen(string_options[k].name) == n && !strncmp(s, string_options[k].name, n))
                        return true;
        for (size_t k = 0; k < OB_LIMIT_COUNT; k++)
                if (strlen(ob_limit_table[k].flag) == n && !strncmp(s, ob_limit_table[k].flag, n))
                        return true;
        for (size_t k = 0; k < ARRAY_SIZE(bool_options) && !eq; k++)
                if (streq(s, bool_options[k].name))
                        return true;
        return false;
}

/* Where the capability set comes from: exactly one source, each with what it
 * needs; one line that says what is wrong otherwise. */
static int check_sources(const run_args *a)
{
        const char *msg = NULL;

        if (a->caps_file && (a->policy_file || a->registry))
                msg = a->policy_file ? "--capabilities and --policy exclude each other: give one"
                                     : "--capabilities and --registry exclude each other: give one";
        else if (a->policy_file && a->registry)
                msg = "--policy and --registry exclude each other: give one";
        else if (a->caps_file && a->principal)
                msg = "--principal goes with --policy or --registry, not --capabilities";
        else if ((a->policy_file || a->registry) && !a->principal)
                msg = a->policy_file ? "--policy FILE needs --principal UUID"
                                     : "--registry DIR needs --principal UUID";
        else if (!a->caps_file && !a->policy_file && !a->registry)
                msg = a->principal ? "--principal needs --policy FILE or --registry DIR"
                                   : "give --capabilities FILE, or --policy FILE or --registry "
                                     "DIR with --principal UUID";
        if (!msg)
                return 0;
        ob_cli_error("sandbox run: %s", msg);
        return -EINVAL;
}

/* 1 on --help, 0 when parsed, -EINVAL after printing one line. */
static int parse_run_args(int argc, char **argv, run_args *a)
{
        int n_pos = 0;

        a->script_args = calloc((size_t)argc + 1, sizeof(char *));
        if (!a->script_args) {
                ob_cli_error("out of memory");
                return -ENOMEM;
        }
        for (int i = 1; i < argc; i++) {
                const char *s = argv[i];
                if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)
                        return 1;
                if (strcmp(s, "--") == 0) {
                        if (a->script) { /* SCRIPT [OPTIONS] -- the script's arguments */
                                for (int k = i + 1; k < argc; k++)
                                        a->script_args[n_pos++ - 1] = argv[k];
                                break;
                        }
                        a->command = argv + i + 1;
                        break;
                }
                if (s[0] == '-' && s[1]) {
                        if (a->script && !known_option(s)) {
                                ob_cli_error("sandbox run: unknown option \"%s\"; to pass it to "
                                             "the script, put it after --: %s [OPTIONS] -- %s",
                                             s, a->script, s);
                                return -EINVAL;
                        }
                        if (parse_option(argc, argv, &i, a) < 0)
                                return -EINVAL;
                        continue;
                }
                if (n_pos++ == 0)
                        a->script = s;
                else /* later positionals are the script's arguments */
                        a->script_args[n_pos - 2] = argv[i];
        }
        if (!a->script == !a->command || (a->command && !a->command[0])) {
                ob_cli_error("sandbox run: give a SCRIPT or -- CMD ARGS... (try --help)");
                return -EINVAL;
        }
        return check_sources(a);
}

static int load_caps(const run_args *a, ob_capset **ret)
{
        const ob_capability_source src = {.capabilities_file = a->caps_file,
                                          .policy_file = a->policy_file,
                                          .registry = a->registry,
                                          .principal = a->principal};
        ob_error err = {0};
        int r = ob_capset_from_source(&src, ret, &err);

        if (r < 0)
                ob_cli_error("%s", err.message);
        return r;
}

static void print_line(const char *line, void *userdata)
{
        FILE *f = userdata;
        fprintf(f, "%s\n", line);
        fflush(f);
}

static void print_verbose(const char *line, void *userdata)
{
        fprintf(stderr, "omnibase: %s\n", line);
}

/* OMNIBASE_TIMING=1: the cost of each step of the run on stderr */
static void print_timing(const char *line, void *userdata)
{
        const char *ms = strrchr(line, ' ');

        fprintf(stderr, "omnibase: timing: %.*s: %s ms\n", (int)(ms - line), line, ms + 1);
}

static int open_events(run_args *a)
{
        int fd;

        if (!a->events)
                return 0;
        if (strcmp(a->events, "-") == 0) {
                a->events_out = stdout;
                return 0;
        }
        fd = open(a->events, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0 || !(a->events_out = fdopen(fd, "a"))) {
                ob_cli_error("%s: %s", a->events, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return -errno;
        }
        return 0;
}

/* The --json object when nothing ran: status error, exit 125. */
static void print_failure_json(const char *message)
{
        ob_sandbox_result res = {
            .status = OB_SANDBOX_ERROR, .ended_by = OB_SANDBOX_ERROR, .exit_code = OB_EXIT_FAILURE};
        char *json = NULL;

        snprintf(res.message, sizeof(res.message), "%.*s", (int)sizeof(res.message) - 1, message);
        if (ob_sandbox_result_to_json(&res, &json) >= 0)
                fputs(json, stdout);
        free(json);
}

/* One stderr line (DESIGN §4, with or without --json): "SandboxViolationError:"
 * with the first denials the sidecar reported (control characters in
 * targets shown as '?', so it stays one line), or the runner's message. */
static void print_violation(const ob_sandbox_result *res)
{
        fprintf(stderr, "SandboxViolationError: sandbox %s: ", res->sandbox_id);
        if (res->n_violations == 0)
                fprintf(stderr, "a capability was denied during the run%s%s",
                        res->message[0] ? ": " : "", res->message);
        else
                fprintf(stderr, "%lld capability denial%s", (long long)res->denials,
                        res->denials == 1 ? "" : "s");
        for (size_t i = 0; i < res->n_violations && i < 3; i++) {
                const ob_sandbox_violation *v = &res->violations[i];
                fprintf(stderr, "%s %s ", i ? ";" : ":", v->capability);
                for (const char *p = v->target; *p; p++)
                        fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
                fprintf(stderr, " (%s, %s)", v->syscall, v->policy_id);
        }
        if (res->n_violations > 3)
                fputs("; ...", stderr);
        /* what ended the run stays on the same line (violation takes precedence) */
        if (res->ended_by == OB_SANDBOX_TIMEOUT)
                fputs("; then killed: wall-clock timeout", stderr);
        else if (res->ended_by == OB_SANDBOX_LIMIT_EXCEEDED && res->limit)
                fprintf(stderr, "; %s: %s limit %" PRId64 " %s exceeded",
                        streq(res->limit, "pids") ? "and" : "then killed", res->limit,
                        res->limit_value, res->limit_unit ? res->limit_unit : "");
        fputc('\n', stderr);
}

static int report(const run_args *a, const ob_sandbox_result *res)
{
        char *json = NULL;

        if (a->dry_run) {
                fputs(res->plan_json, stdout);
                fputc('\n', stdout);
                return 0;
        }
        if (res->status == OB_SANDBOX_VIOLATION)
                print_violation(res);
        if (a->json) {
                if (ob_sandbox_result_to_json(res, &json) < 0) {
                        ob_cli_error("cannot format the result");
                        return OB_EXIT_FAILURE;
                }
                fputs(json, stdout);
                free(json);
        } else if (res->status == OB_SANDBOX_TIMEOUT) {
                ob_cli_error("sandbox %s: wall-clock timeout, killed", res->sandbox_id);
        } else if (res->status == OB_SANDBOX_LIMIT_EXCEEDED) {
                /* one line, so a limit kill (137) is told from a workload's own SIGKILL */
                fprintf(stderr,
                        "ResourceLimitExceeded: %s %" PRId64
                        " %s: sandbox %s: %s limit exceeded, %s\n",
                        res->limit, res->limit_value, res->limit_unit ? res->limit_unit : "",
                        res->sandbox_id, res->limit,
                        streq(res->limit, "pids") ? "a fork or thread failed (EAGAIN)" : "killed");
        } else if (res->status == OB_SANDBOX_ERROR) {
                ob_cli_error("sandbox %s: %s", res->sandbox_id, res->message);
        }
        return res->exit_code;
}

/* The library's options from the parsed command line. */
static void fill_options(const run_args *a, const ob_capset *caps, ob_sandbox_options *opts)
{
        ob_sandbox_options_init(opts);
        opts->caps = caps;
        opts->profile = a->profile;
        opts->script = a->script;
        opts->script_args = (const char *const *)a->script_args;
        opts->argv = (const char *const *)a->command;
        opts->limits = a->limits;
        opts->capture = a->json;
        opts->dry_run = a->dry_run;
        opts->handle_signals = true;
        opts->on_event = a->events_out ? print_line : NULL;
        opts->on_verbose = a->verbose || a->dry_run ? print_verbose : NULL;
        opts->userdata = a->events_out;
        opts->audit_log = a->audit_log;
        opts->warm = a->warm;
        if (getenv("OMNIBASE_TIMING") && streq(getenv("OMNIBASE_TIMING"), "1"))
                opts->on_timing = print_timing;
        /* `--events -` without --json: stdout is the event stream and nothing
         * else, so the workload cannot forge events on it (threat model F5) */
        if (a->events_out == stdout && !a->json)
                opts->stdout_fd = STDERR_FILENO;
}

/* omnibase sandbox run ...: returns the exit status (DESIGN §4). */
int ob_cmd_sandbox(int argc, char **argv)
{
        run_args a = {.limits = ob_limits_unset()};
        ob_sandbox_options opts;
        ob_sandbox_result res = {0};
        ob_capset *caps = NULL;
        ob_error err = {0};
        int r, code;

        if (argc < 2 || strcmp(argv[1], "run") != 0) {
                if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                        fputs(run_usage, stdout);
                        return 0;
                }
                ob_cli_error("sandbox: expected \"run\" (try 'omnibase sandbox --help')");
                return OB_EXIT_FAILURE;
        }
        r = parse_run_args(argc - 1, argv + 1, &a);
        if (r != 0) {
                if (r > 0)
                        fputs(run_usage, stdout);
                free(a.script_args);
                return r > 0 ? 0 : OB_EXIT_FAILURE;
        }
        if (load_caps(&a, &caps) < 0 || open_events(&a) < 0) {
                ob_capset_free(caps);
                free(a.script_args);
                return OB_EXIT_FAILURE;
        }
        /* `omnibase sandbox run x.py | head` must not kill the runner before it
         * cleans up: a closed reader ends the live copy, nothing else */
        signal(SIGPIPE, SIG_IGN);
        fill_options(&a, caps, &opts);
        fflush(stdout);
        r = ob_sandbox_run(&opts, &res, &err);
        if (r < 0) {
                ob_cli_error("%s", err.message);
                code = OB_EXIT_FAILURE;
                if (a.json && !a.dry_run) /* stdout stays one authoritative object */
                        print_failure_json(err.message);
        } else {
                code = report(&a, &res);
        }
        ob_sandbox_result_done(&res);
        if (a.events_out && a.events_out != stdout)
                fclose(a.events_out);
        ob_capset_free(caps);
        free(a.script_args);
        return code;
}

int ob_cmd_gc(int argc, char **argv)
{
        ob_error err = {0};
        unsigned removed = 0, ended = 0;

        if (argc > 1) {
                if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                        puts("usage: omnibase gc\n\nRemoves the runsc containers, cgroups and "
                             "state directories that runs whose runner was killed left behind.\n"
                             "Safe while other sandboxes run.");
                        return 0;
                }
                ob_cli_error("gc: unexpected argument \"%s\"", argv[1]);
                return OB_EXIT_FAILURE;
        }
        if (ob_sandbox_gc(NULL, NULL, &removed, &err) < 0) {
                ob_cli_error("%s", err.message);
                return OB_EXIT_FAILURE;
        }
        /* environments whose supervisor died: failed, their mounts gone
         * (a live environment is never touched: its supervisor holds it) */
        if (ob_env_sweep(NULL, &ended, &err) < 0) {
                ob_cli_error("%s", err.message);
                return OB_EXIT_FAILURE;
        }
        printf("gc: removed %u run%s", removed, removed == 1 ? "" : "s");
        if (ended > 0)
                printf(", ended %u environment%s", ended, ended == 1 ? "" : "s");
        putchar('\n');
        return 0;
}
