/* SPDX-License-Identifier: Apache-2.0 */
/* ob_sandbox_run(): plan, prepare, launch, judge, clean up. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capabilities/limits.h"
#include "events/event.h"
#include "runner/network.h"
#include "runner/pool.h"
#include "runner/runner.h"
#include "runner/write_bound.h"
#include "sidecar/sidecar.h"

/* runsc checkpoint of an idle environment takes ~0.2 s here (DESIGN §5);
 * the bound grows with what it may have to save */
#define CHECKPOINT_TIMEOUT_MS 60000
#define CHECKPOINT_MS_PER_MB  30

void ob_sandbox_options_init(ob_sandbox_options *opts)
{
        *opts = (ob_sandbox_options){.struct_size = sizeof(*opts),
                                     .stdout_fd = 1,
                                     .stderr_fd = 2,
                                     .limits = ob_limits_unset()};
}

/* Overrides only lower what the capability set says (or set what it does
 * not say); the result is checked against sane bounds. */
static int merge_limits(const ob_limits *caps, const ob_limits *over, ob_limits *ret, ob_error *err)
{
        ob_limits merged = *caps;
        char why[160];

        for (size_t i = 0; i < OB_LIMIT_COUNT; i++) {
                const ob_limit_info *d = &ob_limit_table[i];
                int64_t c = ob_limit_get(caps, d), o = ob_limit_get(over, d);
                if (o == OB_LIMIT_UNSET)
                        continue;
                if (c != OB_LIMIT_UNSET && ob_limit_looser(d, o, c))
                        return ob_error_set(err, 0, 0, EPERM,
                                            "limit %s: %lld is above the capability set's %lld "
                                            "(overrides may only lower a limit)",
                                            d->key, (long long)o, (long long)c);
                *ob_limit_slot(&merged, d) = o;
        }
        merged = ob_limits_effective(&merged);
        for (size_t i = 0; i < OB_LIMIT_COUNT; i++)
                if (ob_limit_out_of_bounds(&ob_limit_table[i],
                                           ob_limit_get(&merged, &ob_limit_table[i]), why,
                                           sizeof(why)))
                        return ob_error_set(err, 0, 0, ERANGE, "limit %s", why);
        *ret = merged;
        return 0;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
        char **nv;
        if (*n >= OB_SANDBOX_MAX_ARGS)
                return -E2BIG;
        nv = realloc(*v, (*n + 2) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[*n] = strdup(s);
        nv[*n + 1] = NULL;
        if (!nv[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* "/omnibase/script" plus the script's extension when it is a short word. */
static void script_destination(const char *script, char *buf, size_t size)
{
        const char *base = strrchr(script, '/') ? strrchr(script, '/') + 1 : script;
        const char *dot = strrchr(base, '.');
        bool ok = dot && dot != base && strlen(dot) <= 8;

        for (const char *c = dot ? dot + 1 : ""; ok && *c; c++)
                ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9');
        snprintf(buf, size, "%s/script%s", OB_SCRIPT_DIR, ok ? dot : "");
}

/* A SCRIPT that is an ELF binary would be fed to the interpreter (a
 * SyntaxError from python): refused up front instead. */
static bool is_elf(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        char magic[4];

        return fd >= 0 && read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
               memcmp(magic, "\177ELF", 4) == 0;
}

static int build_argv(const ob_sandbox_options *opts, ob_run_plan *plan, ob_error *err)
{
        size_t n = 0;
        int r = 0;

        if (opts->script) {
                char real[PATH_MAX], dest[64];
                struct stat st;
                if (!realpath(opts->script, real) || stat(real, &st) < 0)
                        return ob_error_set(err, 0, 0, errno, "%s: %s", opts->script,
                                            strerror(errno));
                if (!S_ISREG(st.st_mode))
                        return ob_error_set(err, 0, 0, EINVAL, "%s: not a regular file",
                                            opts->script);
                if (st.st_size > OB_SCRIPT_MAX_BYTES)
                        return ob_error_set(err, 0, 0, EFBIG, "%s: larger than %d bytes",
                                            opts->script, OB_SCRIPT_MAX_BYTES);
                if (is_elf(real))
                        return ob_error_set(err, 0, 0, EINVAL,
                                            "%s: an ELF binary, not a script: run it with -- %s",
                                            opts->script, opts->script);
                script_destination(real, dest, sizeof(dest));
                for (size_t i = 0; r >= 0 && plan->profile->interpreter[i]; i++)
                        r = strv_push(&plan->argv, &n, plan->profile->interpreter[i]);
                if (r >= 0)
                        r = strv_push(&plan->argv, &n, dest);
                for (size_t i = 0; r >= 0 && opts->script_args && opts->script_args[i]; i++)
                        r = strv_push(&plan->argv, &n, opts->script_args[i]);
                if (r >= 0)
                        r = ob_mount_plan_add(&plan->mounts, real, dest, false, false, "script");
        } else {
                for (size_t i = 0; r >= 0 && opts->argv[i]; i++)
                        r = strv_push(&plan->argv, &n, opts->argv[i]);
        }
        if (r == -E2BIG)
                return ob_error_set(err, 0, 0, E2BIG, "more than %d arguments",
                                    OB_SANDBOX_MAX_ARGS);
        return r;
}

/* The caller's extra binds (an environment's /workspace and flags file). */
static int add_binds(const ob_sandbox_options *opts, ob_run_plan *plan, ob_error *err)
{
        for (size_t i = 0; i < opts->n_binds; i++) {
                const ob_sandbox_bind *b = &opts->binds[i];
                char real[PATH_MAX];
                struct stat st;
                int r;
                if (!b->source || !b->destination || b->destination[0] != '/')
                        return ob_error_set(err, 0, 0, EINVAL, "bind %zu: bad paths", i);
                if (!realpath(b->source, real) || stat(real, &st) < 0)
                        return ob_error_set(err, 0, 0, errno, "%s: %s", b->source, strerror(errno));
                r = ob_mount_plan_add(&plan->mounts, real, b->destination, b->writable,
                                      S_ISDIR(st.st_mode), "environment");
                if (r < 0)
                        return r;
        }
        return 0;
}

static void plan_done(ob_run_plan *plan, ob_profile *profile)
{
        ob_strv_free(plan->argv);
        plan->argv = NULL;
        ob_mount_plan_done(&plan->mounts);
        ob_profile_free(profile);
}

static int make_plan(const ob_sandbox_options *opts, bool warm, ob_run_plan *plan,
                     ob_profile **ret_profile, ob_error *err)
{
        const char *pname = opts->profile  ? opts->profile
                            : opts->script ? "python-minimal"
                                           : "shell";
        ob_profile *profile = NULL;
        int r;

        if (!opts->caps ||
            (opts->hold || warm ? opts->script || opts->argv
                                : (!opts->script == !opts->argv) || (opts->argv && !opts->argv[0])))
                return ob_error_set(err, 0, 0, EINVAL,
                                    opts->hold || warm
                                        ? "a held or pooled sandbox takes no script or command"
                                        : "a capability set and either a script or a "
                                          "command are needed");
        r = merge_limits(ob_capset_limits_const(opts->caps), &opts->limits, &plan->limits, err);
        if (r < 0)
                return r;
        r = ob_profile_load(pname, &profile, err);
        if (r < 0)
                return r;
        ob_timing_mark(plan->timing, "plan: profile");
        plan->profile = profile;
        plan->mounts.log = opts->on_verbose;
        plan->mounts.userdata = opts->userdata;
        plan->hold = opts->hold;
        plan->warm = warm;
        r = opts->hold || warm ? 0 : build_argv(opts, plan, err);
        if (r >= 0)
                r = ob_mount_plan_add_profile(&plan->mounts, profile);
        if (r >= 0)
                r = ob_mount_plan_add_grants(&plan->mounts, opts->caps);
        r = r < 0 ? r : add_binds(opts, plan, err);
        ob_timing_mark(plan->timing, "plan: mounts (profile paths, grants)");
        if (r >= 0)
                r = ob_sidecar_plan(plan,
                                    opts->state_dir ? opts->state_dir : ob_state_dir_default(),
                                    opts->dry_run, err);
        ob_timing_mark(plan->timing, "plan: sidecar --list-libs");
        if (r == -E2BIG)
                r = ob_error_set(err, 0, 0, E2BIG, "more than %d mounts: narrow the grants",
                                 OB_SANDBOX_MAX_MOUNTS);
        else if (r < 0 && !err->message[0])
                r = ob_error_set(err, 0, 0, r, "planning the mounts: %s", strerror(-r));
        ob_mount_plan_sort(&plan->mounts);
        *ret_profile = profile;
        return r;
}

static void verbose_mounts(const ob_sandbox_options *opts, const ob_mount_plan *m)
{
        char line[PATH_MAX * 2 + 256];

        for (size_t i = 0; opts->on_verbose && i < m->n; i++) {
                snprintf(line, sizeof(line), "mount %s %s <- %s (%s)",
                         m->v[i].writable ? "rw" : "ro", m->v[i].destination, m->v[i].source,
                         m->v[i].why);
                opts->on_verbose(line, opts->userdata);
        }
}

/* -v: the effective limits and, with the sidecar, its seccomp filter's size
 * (the table in sidecar/syscalls.c, docs/sidecar.md). */
static void verbose_limits_and_filter(const ob_sandbox_options *opts, const ob_run_plan *plan)
{
        const ob_limits *l = &plan->limits;
        size_t n = 0, by_class[4] = {0};
        const ob_syscall_info *t;
        char line[512];

        if (!opts->on_verbose)
                return;
        snprintf(line, sizeof(line),
                 "limits: memory %" PRId64 " MiB, cpus %" PRId64 ".%03" PRId64 ", pids %" PRId64
                 ", timeout %" PRId64 " s, tmpfs %" PRId64 " MiB, output %" PRId64
                 " KiB, writes %" PRId64 " MiB%s",
                 l->memory_mb, l->cpus_milli / 1000, l->cpus_milli % 1000, l->pids, l->timeout_s,
                 l->tmpfs_mb, l->output_kb, l->write_mb, l->write_mb ? "" : " (no bound)");
        opts->on_verbose(line, opts->userdata);
        if (!plan->sidecar)
                return;
        t = ob_syscall_table(&n);
        for (size_t i = 0; i < n; i++)
                if (t[i].klass > 0 && t[i].klass < (int)ARRAY_SIZE(by_class))
                        by_class[t[i].klass]++;
        snprintf(line, sizeof(line),
                 "sidecar: seccomp filter with %zu rules: %zu dangerous (EPERM + event), %zu "
                 "path-bearing and %zu address-bearing (traced and checked); the workload runs "
                 "as uid/gid 65534 with no capabilities",
                 n, by_class[OB_TRACE_DANGEROUS], by_class[OB_TRACE_PATH], by_class[OB_TRACE_NET]);
        opts->on_verbose(line, opts->userdata);
}

typedef struct run_ctx {
        const ob_sandbox_options *opts;
        ob_run_plan *plan;
        ob_event_sink sink;
        const char *principal;
        const char *runsc;
        int sigfd;
        ob_run_network *net; /* NETWORK_CONNECT grants: runner/network.h */
        ob_sandbox_result *res;
        int64_t sidecar_denials;   /* from its SandboxExit: includes the ones not sent */
        int64_t pids_refused;      /* from its SandboxExit: forks refused at the pids limit */
        bool started;              /* the sidecar's SandboxStart: the workload exec'd */
        bool checkpointed;         /* ob_run_checkpoint saved it: that is how it ended */
        int chan[2];               /* the sidecar's channel: ours, runsc's stdin */
        ob_run_audit *audit;       /* every event also goes to the audit log */
        char *audit_record;        /* run dir's "audit": gc ends the run with it */
        bool audit_stopped;        /* the audit log failed mid-run: the sandbox was killed */
        ob_denial_budget *denials; /* bytes of CapabilityDenied events: runner/denials.c */
        ob_run_network_launch net_launch; /* what the launch polls of the network */
        bool destroyed;                   /* ob_run_destroy() stopped it before it ended */
        ob_launch_state *launch;          /* while runsc runs: for ob_launch_release */
        bool warm_ready;                  /* a pooled run's sidecar waits for its request */
        bool warm_taken;                  /* ... and has had it (used once, never again) */
        char *warm_owner;                 /* the request's owner (sink.owner points here) */
        const char *panic_log;            /* runsc --panic-log in the run directory */
        char commit_failed[512];          /* the write bound's commit failed: why */
} run_ctx;

/* The sink of every event of the run: the audit log, then (durable_line)
 * the caller's callback, once the line is in the log. */
static void sink_line(const char *line, void *userdata)
{
        run_ctx *c = userdata;

        if (c->audit)
                ob_run_audit_line(c->audit, line);
        else if (c->opts->on_event)
                c->opts->on_event(line, c->opts->userdata);
}

static void durable_line(const char *line, void *userdata)
{
        run_ctx *c = userdata;

        if (c->opts->on_event)
                c->opts->on_event(line, c->opts->userdata);
}

/* false when the audit log failed: the launch loop stops the sandbox. */
static bool on_round(void *userdata)
{
        run_ctx *c = userdata;

        if (ob_run_audit_flush(c->audit) >= 0)
                return true;
        c->audit_stopped = true;
        return false;
}

/* The audit log must hold every event of the run: a run whose events could
 * not be appended is an error, whatever the workload did. */
static void audit_conclude(run_ctx *c, ob_sandbox_result *res)
{
        const char *path = NULL;
        int r = ob_run_audit_flush(c->audit);

        if (r >= 0) {
                /* the run's end is durable: gc must not write another */
                if (c->audit_record)
                        (void)unlink(c->audit_record);
                return;
        }
        (void)ob_run_audit_error(c->audit, &path);
        res->status = OB_SANDBOX_ERROR;
        res->exit_code = 125;
        snprintf(res->message, sizeof(res->message), "%saudit log %s: %s",
                 c->audit_stopped ? "the workload was stopped because the audit log failed: " : "",
                 path ? path : "?", strerror(-r));
}

static void emit(run_ctx *c, ob_event_type type, ob_event *ev)
{
        (void)type;
        if (ev)
                (void)ob_event_emit(&c->sink, ev);
}

static void emit_start(run_ctx *c)
{
        _cleanup_event_ ob_event *ev = NULL;
        const ob_limits *l = &c->plan->limits;

        if (ob_event_new(OB_EVENT_SANDBOX_START, c->plan->id, c->principal, &ev) < 0)
                return;
        ob_event_add_string(ev, "profile", c->plan->profile->name);
        ob_event_add_string(ev, "command", c->plan->argv[c->plan->workload_arg]);
        ob_event_add_int(ev, "mounts", (int64_t)c->plan->mounts.n);
        ob_event_add_int(ev, "memory_mb", l->memory_mb);
        ob_event_add_int(ev, "cpus_milli", l->cpus_milli);
        ob_event_add_int(ev, "pids", l->pids);
        ob_event_add_int(ev, "timeout_s", l->timeout_s);
        if (c->plan->warm)
                ob_event_add_bool(ev, "warm", true);
        emit(c, OB_EVENT_SANDBOX_START, ev);
}

static void emit_end(run_ctx *c, const ob_sandbox_result *res)
{
        _cleanup_event_ ob_event *lim = NULL, *ex = NULL;

        ob_denial_budget_emit(c->denials, &c->sink, c->plan->id, c->principal);

        if (res->ended_by == OB_SANDBOX_LIMIT_EXCEEDED &&
            ob_event_new(OB_EVENT_RESOURCE_LIMIT_EXCEEDED, c->plan->id, c->principal, &lim) >= 0) {
                ob_event_add_string(lim, "limit", res->limit);
                ob_event_add_int(lim, "value", res->limit_value);
                ob_event_add_string(lim, "unit", res->limit_unit);
                emit(c, OB_EVENT_RESOURCE_LIMIT_EXCEEDED, lim);
        }
        if (ob_event_new(OB_EVENT_SANDBOX_EXIT, c->plan->id, c->principal, &ex) < 0)
                return;
        ob_event_add_string(ex, "status", ob_sandbox_status_to_string(res->status));
        ob_event_add_string(ex, "ended_by", ob_sandbox_ended_by_to_string(res->ended_by));
        ob_event_add_int(ex, "exit_code", res->exit_code);
        ob_event_add_int(ex, "denials", res->denials);
        ob_event_add_int(ex, "wall_ms", res->usage.wall_ms);
        ob_event_add_int(ex, "cpu_ms", res->usage.cpu_ms);
        ob_event_add_int(ex, "max_rss_kb", res->usage.max_rss_kb);
        emit(c, OB_EVENT_SANDBOX_EXIT, ex);
}

static void emit_denied(run_ctx *c, const ob_channel_msg *m)
{
        _cleanup_event_ ob_event *ev = NULL;

        if (ob_event_new(OB_EVENT_CAPABILITY_DENIED, c->plan->id, c->principal, &ev) < 0)
                return;
        ob_event_add_string(ev, "capability", m->capability);
        ob_event_add_string(ev, "target", m->target);
        ob_event_add_string(ev, "syscall", m->syscall);
        ob_event_add_string(ev, "policy_id", m->policy_id);
        ob_event_add_string(ev, "layer", m->layer);
        ob_event_add_int(ev, "pid", m->pid);
        emit(c, OB_EVENT_CAPABILITY_DENIED, ev);
}

/* A decoded message from the sidecar's channel (launch.c checked it). */
static void on_channel(const ob_channel_msg *m, void *userdata)
{
        run_ctx *c = userdata;

        if (m->type == OB_CHANNEL_SANDBOX_START && c->plan->warm && !c->warm_taken) {
                c->warm_ready = true; /* booted, waiting for its request: not a start */
                return;
        }
        if (m->type == OB_CHANNEL_SANDBOX_START) {
                ob_timing_mark(c->plan->timing, "sandbox: runsc start to workload exec");
                c->started = true;
                if (c->launch) /* what the workload writes goes out live */
                        ob_launch_release(c->launch);
        }
        if (m->type == OB_CHANNEL_SANDBOX_EXIT) {
                ob_timing_mark(c->plan->timing, "sandbox: workload exec to exit");
                c->sidecar_denials = m->denials;
                c->pids_refused = m->pids_refused;
                if (c->plan->warm && c->launch) /* no wait for the sentry's teardown */
                        ob_launch_early_exit(c->launch, (int)m->exit_code);
        }
        if (m->type != OB_CHANNEL_CAPABILITY_DENIED)
                return;
        c->res->denials++;
        if (ob_denial_budget_take(c->denials, m))
                emit_denied(c, m);
        ob_result_add_violation(c->res, m);
}

/* runsc's own error from its log when it failed before the workload ran
 * ("running container: creating container: ..."); empty otherwise. */
static void runsc_start_failure(const char *log, char *buf, size_t size)
{
        _cleanup_fclose_ FILE *f = fopen(log, "re");
        char line[2048];

        buf[0] = '\0';
        while (f && fgets(line, sizeof(line), f)) {
                char *m = strstr(line, "running container: ");
                if (!m || !(strstr(m, "creating container") || strstr(m, "starting container") ||
                            strstr(m, "starting sandbox") || strstr(m, "creating sandbox")))
                        continue;
                m[strcspn(m, "\"\n")] = '\0';
                snprintf(buf, size, "%s", m);
                return;
        }
}

/* The last line runsc wrote to fd (its error: a JSON log line, then the
 * message itself), the message part; empty when there is none. */
static void runsc_said(int fd, char *buf, size_t size)
{
        char text[4096], *line, *end;
        ssize_t n = fd >= 0 ? pread(fd, text, sizeof(text) - 1, 0) : -1;

        buf[0] = '\0';
        if (n <= 0)
                return;
        text[n] = '\0';
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
                text[--n] = '\0';
        line = strrchr(text, '\n') ? strrchr(text, '\n') + 1 : text;
        end = strrchr(line, '}'); /* {"msg":...,"level":"error",...}message */
        if (end && end[1])
                line = end + 1;
        n = (ssize_t)strlen(line);
        if ((size_t)n >= size)
                n = (ssize_t)size - 1;
        memcpy(buf, line, (size_t)n);
        buf[n] = '\0';
}

/* Whether gVisor's sentry crashed (runsc --panic-log holds a Go panic or a
 * fatal runtime error): the sandbox died under the workload, which then
 * "exits" with runsc's status (2) and no word of its own. buf gets the
 * message: the panic's first line and the syscall handler it was in. */
static bool sentry_crashed(const char *path, char *buf, size_t size)
{
        _cleanup_fclose_ FILE *f = path ? fopen(path, "re") : NULL;
        char line[512], first[200] = "", where[160] = "";

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                const char *h = strstr(line, "/syscalls/linux.");
                line[strcspn(line, "\n")] = '\0';
                if (!first[0] &&
                    (strncmp(line, "panic: ", 7) == 0 || strncmp(line, "fatal error: ", 13) == 0))
                        snprintf(first, sizeof(first), "%.160s", line);
                if (first[0] && !where[0] && h) {
                        h += strlen("/syscalls/linux.");
                        snprintf(where, sizeof(where), " in the sentry's %.*s",
                                 (int)strcspn(h, "("), h);
                }
        }
        if (!first[0])
                return false;
        snprintf(buf, size,
                 "gVisor's sentry crashed (%s%s): the sandbox died under the workload "
                 "(docs/compatibility.md)",
                 first, where);
        return true;
}

static void judge(run_ctx *c, const ob_launch_result *lr, const ob_cgroup_stats *st,
                  ob_sandbox_result *res)
{
        int ws = lr->wait_status;

        res->usage.wall_ms = lr->wall_ms;
        res->usage.cpu_ms = st->cpu_usage_ns >= 0 ? st->cpu_usage_ns / 1000000 : -1;
        res->usage.max_rss_kb = st->mem_max_usage >= 0 ? st->mem_max_usage / 1024 : -1;
        res->exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        if (c->checkpointed && !lr->signal) {
                res->status = OB_SANDBOX_OK;
                res->exit_code = 0;
                snprintf(res->message, sizeof(res->message), "saved by runsc checkpoint");
        } else if (c->destroyed) {
                res->status = OB_SANDBOX_ERROR;
                res->exit_code = 125;
                snprintf(res->message, sizeof(res->message),
                         "the run was destroyed before it ended");
        } else if (lr->signal) {
                res->status = OB_SANDBOX_ERROR;
                res->exit_code = 128 + lr->signal;
                snprintf(res->message, sizeof(res->message), "interrupted by %s",
                         sigabbrev_np(lr->signal) ? sigabbrev_np(lr->signal) : "a signal");
        } else if (lr->timed_out) {
                res->status = OB_SANDBOX_TIMEOUT;
                res->exit_code = 124;
        } else if (lr->output_exceeded) {
                res->status = OB_SANDBOX_LIMIT_EXCEEDED;
                res->limit = "output";
                res->limit_value = c->plan->limits.output_kb;
                res->limit_unit = "KiB";
                res->exit_code = 137;
        } else if (st->oom_kills > 0) {
                res->status = OB_SANDBOX_LIMIT_EXCEEDED;
                res->limit = "memory";
                res->limit_value = c->plan->limits.memory_mb;
                res->limit_unit = "MiB";
                res->exit_code = 137;
        } else if (c->pids_refused > 0 || st->pids_max_hits > 0) {
                /* not killed: its forks or threads failed with EAGAIN; the
                 * exit code stays the workload's own */
                res->status = OB_SANDBOX_LIMIT_EXCEEDED;
                res->limit = "pids";
                res->limit_value = c->plan->limits.pids;
                res->limit_unit = "tasks";
        } else if (c->plan->sidecar && !c->started && res->exit_code == 125) {
                /* the sidecar ran but the workload did not: bad command */
                res->status = OB_SANDBOX_ERROR;
                snprintf(res->message, sizeof(res->message),
                         "the workload could not be started: %.200s",
                         lr->err && lr->err[0] ? lr->err : "see the sandbox's stderr");
                res->message[strcspn(res->message, "\n")] = '\0';
        } else if (c->plan->sidecar && !c->started && !lr->channel_bad) {
                /* runsc failed before the sidecar said the workload ran */
                snprintf(res->message, sizeof(res->message),
                         "runsc exited with status %d before the workload started%s%.200s",
                         res->exit_code, lr->err && lr->err[0] ? ": " : "", lr->err ? lr->err : "");
                res->message[strcspn(res->message, "\n")] = '\0';
                res->status = OB_SANDBOX_ERROR;
                res->exit_code = 125;
        } else if (lr->channel_bad) {
                res->status = OB_SANDBOX_ERROR;
                res->exit_code = 125;
                snprintf(res->message, sizeof(res->message), "sidecar channel: %s",
                         lr->channel_message);
        } else {
                res->status = OB_SANDBOX_OK;
        }
        /* only where the workload's own status would stand: a sentry that dies
         * at a limit (the host pids backstop: "error initializing first
         * thread") or at the deadline's kill keeps that verdict */
        if (res->status == OB_SANDBOX_OK &&
            sentry_crashed(c->panic_log, res->message, sizeof(res->message))) {
                res->status = OB_SANDBOX_ERROR; /* not the workload's status: runsc's */
                res->exit_code = 125;
        }
        if (c->sidecar_denials > res->denials)
                res->denials = c->sidecar_denials;
        /* Precedence (docs/runner.md): errors (125, interrupted) > violation
         * (126) > timeout (124) > limit (137) > the workload's own code. A
         * workload cannot hide its denials by sleeping to the deadline or
         * by exhausting a limit: ended_by keeps what ended it. */
        res->ended_by = res->status;
        if (res->denials > 0 && res->status != OB_SANDBOX_ERROR) {
                res->status = OB_SANDBOX_VIOLATION;
                res->exit_code = 126;
        }
        if (c->commit_failed[0]) { /* the workload's writes did not all land */
                res->status = OB_SANDBOX_ERROR;
                res->exit_code = 125;
                snprintf(res->message, sizeof(res->message), "%.250s", c->commit_failed);
        }
}

/* runsc must be an executable file (a path, or a name found in $PATH):
 * otherwise the run fails before anything is made. */
static int find_runsc(const char *runsc, ob_error *err)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *dirs = NULL;
        char *save = NULL;

        if (strchr(runsc, '/')) {
                int e = access(runsc, X_OK) == 0 ? 0 : errno;

                if (!e)
                        return 0;
                return ob_error_set(err, 0, 0, e, "runsc %s: %s (set OMNIBASE_RUNSC)", runsc,
                                    strerror(e));
        }
        dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
        if (!dirs)
                return -ENOMEM;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *f = NULL;

                if (asprintf(&f, "%s/%s", d, runsc) < 0)
                        return -ENOMEM;
                if (access(f, X_OK) == 0)
                        return 0;
        }
        return ob_error_set(err, 0, 0, -ENOENT,
                            "%s: not found in $PATH (install runsc, or set OMNIBASE_RUNSC)", runsc);
}

/* The script is copied into the run's tmpfs, mode 0444: a snapshot (the
 * host file may change while the sandbox starts) that the sandbox user can
 * read even when the host file is private to its owner. */
static int snapshot_script(run_ctx *c, const ob_run_dir *run, ob_error *err)
{
        for (size_t i = 0; i < c->plan->mounts.n; i++) {
                ob_mount *m = &c->plan->mounts.v[i];
                _cleanup_free_ char *text = NULL, *copy = NULL;
                size_t len;
                int r;

                if (!streq(m->why, "script"))
                        continue;
                r = ob_read_file(m->source, OB_SCRIPT_MAX_BYTES, &text, &len);
                if (r < 0)
                        return ob_error_set(err, 0, 0, r, "%s: %s", m->source, strerror(-r));
                if (asprintf(&copy, "%s/script", run->path) < 0)
                        return -ENOMEM;
                r = ob_write_file_mode(copy, text, len, 0444);
                if (r < 0)
                        return ob_error_set(err, 0, 0, r, "%s: %s", copy, strerror(-r));
                free(m->source);
                m->source = TAKE_PTR(copy);
        }
        return 0;
}

static int write_bundle(run_ctx *c, const ob_run_dir *run, ob_error *err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        cJSON *config = NULL;
        int r;

        r = snapshot_script(c, run, err);
        if (r < 0)
                return r;
        ob_timing_mark(c->plan->timing, "create: script snapshot");
        /* after the sidecar's capability files: they name the files */
        r = ob_libcache_apply(&c->plan->mounts, c->plan->profile,
                              c->opts->state_dir ? c->opts->state_dir : ob_state_dir_default());
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "library cache: %s", strerror(-r));
        ob_timing_mark(c->plan->timing, "create: library cache");
        r = ob_rootfs_etc_group(run->path, &c->plan->mounts, c->plan->profile);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "the sandbox's /etc: %s", strerror(-r));
        if (r > 0 && c->opts->on_verbose)
                c->opts->on_verbose("sandbox /etc: one bind of the run's etc directory",
                                    c->opts->userdata);
        r = ob_rootfs_prepare(run->rootfs, &c->plan->mounts, c->plan->profile, err);
        if (r < 0)
                return r;
        ob_timing_mark(c->plan->timing, "create: rootfs mount points");
        r = ob_spec_build(c->plan, &config);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "cannot build config.json");
        if (c->net)
                ob_run_network_adjust_spec(config);
        text = cJSON_Print(config);
        cJSON_Delete(config);
        if (!text || asprintf(&path, "%s/config.json", run->bundle) < 0)
                return -ENOMEM;
        r = ob_write_file(path, text);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "%s: %s", path, strerror(-r));
        ob_timing_mark(c->plan->timing, "create: config.json");
        return 0;
}

/* The sidecar's files and channel. With network grants it gets the set
 * the kernel enforces (names resolved at setup, as addresses), so that the
 * sidecar and the BPF layer decide alike (docs/network.md). */
static int prepare_sidecar(run_ctx *c, const ob_run_dir *run, ob_error *err)
{
        ob_capset *enforced = NULL;
        int r = 0;

        if (c->net)
                r = ob_run_network_enforced_caps(c->net, c->opts->caps, &enforced);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "network capabilities for the sidecar: %s",
                                    strerror(-r));
        r = ob_sidecar_prepare(c->plan, enforced ? enforced : c->opts->caps, run->path, c->chan,
                               err);
        ob_capset_free(enforced);
        return r;
}

/* A pooled run's inbox: an empty directory of its own, mounted read-only
 * at OB_WARM_DIR, into which the request's script is written before the
 * sidecar is told to run it (the script's snapshot, as a cold run's). */
static int prepare_inbox(run_ctx *c, const ob_run_dir *run, ob_error *err)
{
        _cleanup_free_ char *dir = NULL;

        if (asprintf(&dir, "%s/in", run->path) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0)
                return ob_error_set(err, 0, 0, errno, "%s: %s", dir, strerror(errno));
        return ob_mount_plan_add(&c->plan->mounts, dir, OB_WARM_DIR, false, true, "script inbox");
}

/* Everything before launch: cgroup lock, network, bundle, cgroups. */
static int prepare(run_ctx *c, ob_run_dir *run, ob_error *err)
{
        int r = ob_run_audit_record(c->audit, run->path, c->principal, &c->audit_record);

        if (r < 0)
                return ob_error_set(err, 0, 0, r, "%s/audit: %s", run->path, strerror(-r));
        ob_timing_mark(c->plan->timing, "create: audit record");
        run->cgroup_lock_fd = ob_cgroup_lock(false, false);
        if (run->cgroup_lock_fd < 0)
                return ob_error_set(err, 0, 0, run->cgroup_lock_fd, "cgroup lock: %s",
                                    strerror(-run->cgroup_lock_fd));
        c->plan->network = ob_run_network_wanted(c->opts->caps);
        if (c->plan->network)
                r = ob_run_record_made(run->path, OB_MADE_NETWORK);
        if (r >= 0 && c->plan->network)
                r = ob_run_network_setup(run->id, run->path, c->opts->caps, c->principal, &c->sink,
                                         &c->plan->mounts, c->opts->on_verbose, c->opts->userdata,
                                         &c->net, err);
        else /* a network run writes them with its host name */
                r = ob_rootfs_etc(run->path, run->id, NULL, false, &c->plan->mounts);
        if (r < 0 && !err->message[0])
                ob_error_set(err, 0, 0, r, "the sandbox's /etc: %s", strerror(-r));
        if (r >= 0 && c->plan->warm)
                r = prepare_inbox(c, run, err);
        if (r >= 0)
                ob_mount_plan_sort(&c->plan->mounts);
        if (r >= 0 && c->plan->limits.write_mb > 0)
                r = ob_run_record_made(run->path, OB_MADE_WRITES);
        if (r >= 0)
                r = ob_write_bound_setup(run->path, run->id, c->plan->limits.write_mb,
                                         &c->plan->mounts, err);
        ob_timing_mark(c->plan->timing, "create: cgroup lock, network or /etc files");
        if (r >= 0 && c->plan->sidecar)
                r = prepare_sidecar(c, run, err);
        ob_timing_mark(c->plan->timing, "create: sidecar capability files");
        if (r >= 0)
                r = write_bundle(c, run, err);
        if (r >= 0)
                r = ob_run_record_made(run->path, OB_MADE_CGROUPS);
        if (r >= 0)
                r = ob_cgroup_create(run->id, &c->plan->limits, err);
        ob_timing_mark(c->plan->timing, "create: cgroups");
        return r;
}

/* The result of a run that happened: status, output, events. */
static void conclude(run_ctx *c, ob_launch_result *lr, const ob_cgroup_stats *st,
                     ob_sandbox_result *res)
{
        judge(c, lr, st, res);
        if (ob_run_network_drain(c->net) > 0 && res->status == OB_SANDBOX_OK) {
                res->status = OB_SANDBOX_VIOLATION; /* a BPF denial */
                res->exit_code = 126;
                snprintf(res->message, sizeof(res->message), "%s",
                         ob_run_network_first_denial(c->net));
        }
        res->stdout_buf = TAKE_PTR(lr->out);
        res->stdout_len = lr->out_len;
        res->stdout_truncated = lr->out_truncated;
        res->stderr_buf = TAKE_PTR(lr->err);
        res->stderr_len = lr->err_len;
        res->stderr_truncated = lr->err_truncated;
        emit_end(c, res);
}

static int dry_run(run_ctx *c, ob_sandbox_result *res, ob_error *err)
{
        cJSON *config = NULL;
        int r;

        memcpy(c->plan->id, "ob-0000000000000000", OB_RUN_ID_LEN + 1);
        memcpy(res->sandbox_id, c->plan->id, OB_RUN_ID_LEN + 1);
        r = ob_spec_build(c->plan, &config);
        if (r >= 0)
                r = ob_plan_to_json(c->plan, c->opts->caps, config, &res->plan_json);
        cJSON_Delete(config);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "cannot build the plan");
        res->status = OB_SANDBOX_OK;
        return 0;
}

/* ---- the lifecycle (docs/runner.md §4): plan → create → start → wait → destroy ---- */

typedef enum run_step { STEP_PLANNED, STEP_CREATED, STEP_STARTED, STEP_DONE } run_step;

struct ob_run {
        run_ctx c;
        run_step step;
        ob_run_plan plan;
        ob_profile *profile;
        ob_denial_budget budget;
        ob_sandbox_result res;
        bool res_taken;
        ob_run_dir dir;
        bool dir_made;
        char *log;     /* runsc's log in the run directory */
        char *panic;   /* runsc's --panic-log: a sentry crash */
        char *restore; /* ob_run_restore_from: the checkpoint to boot from */
        ob_launch_state *launch;
        sigset_t old_mask;
        bool signals_blocked;
        bool forget; /* ob_run_forget: free the handle, remove nothing */
        ob_timing timing;
};

static int block_signals(sigset_t *old)
{
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, old) < 0)
                return negative_errno();
        return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Reads a signal that arrived before launch; 0 when none. */
static int pending_signal(int sigfd)
{
        struct signalfd_siginfo si;
        if (sigfd >= 0 && read(sigfd, &si, sizeof(si)) == sizeof(si))
                return (int)si.ssi_signo;
        return 0;
}

static int run_new(const ob_sandbox_options *opts, bool warm, ob_run **ret, ob_error *err)
{
        ob_run *run = NULL;
        run_ctx *c;
        int r;

        r = ob_error_struct_size(err, "ob_sandbox_options", opts->struct_size, sizeof(*opts));
        if (r < 0)
                return r;
        run = calloc(1, sizeof(*run));
        if (!run)
                return -ENOMEM;
        c = &run->c;
        *c = (run_ctx){.opts = opts,
                       .plan = &run->plan,
                       .sigfd = -1,
                       .res = &run->res,
                       .chan = {-1, -1},
                       .denials = &run->budget};
        run->dir = (ob_run_dir){.lock_fd = -1, .cgroup_lock_fd = -1};
        ob_timing_start(&run->timing, opts->on_timing, opts->userdata);
        run->plan.timing = &run->timing;
        r = make_plan(opts, warm, &run->plan, &run->profile, err);
        if (r < 0) {
                ob_run_destroy(run);
                return r;
        }
        verbose_mounts(opts, &run->plan.mounts);
        verbose_limits_and_filter(opts, &run->plan);
        c->principal = ob_capset_principal(opts->caps);
        c->runsc = opts->runsc ? opts->runsc
                   : getenv("OMNIBASE_RUNSC") && getenv("OMNIBASE_RUNSC")[0]
                       ? getenv("OMNIBASE_RUNSC")
                       : "runsc";
        c->sink = (ob_event_sink){.fn = sink_line, .userdata = c, .owner = opts->owner};
        *ret = run;
        return 0;
}

int ob_run_new(const ob_sandbox_options *opts, ob_run **ret, ob_error *err)
{
        return run_new(opts, false, ret, err);
}

int ob_run_new_warm(const ob_sandbox_options *opts, ob_run **ret, ob_error *err)
{
        return run_new(opts, true, ret, err);
}

int ob_run_new_request(const ob_sandbox_options *opts, ob_run **ret, ob_error *err)
{
        ob_run *run = calloc(1, sizeof(*run));
        int r;

        if (!run)
                return -ENOMEM;
        run->c = (run_ctx){.opts = opts, .plan = &run->plan, .sigfd = -1, .chan = {-1, -1}};
        run->dir = (ob_run_dir){.lock_fd = -1, .cgroup_lock_fd = -1};
        if (!opts->caps || !opts->script == !opts->argv || (opts->argv && !opts->argv[0]))
                r = ob_error_set(err, 0, 0, EINVAL,
                                 "a capability set and either a script or a command are needed");
        else
                r = merge_limits(ob_capset_limits_const(opts->caps), &opts->limits,
                                 &run->plan.limits, err);
        if (r >= 0)
                r = ob_profile_load(opts->profile  ? opts->profile
                                    : opts->script ? "python-minimal"
                                                   : "shell",
                                    &run->profile, err);
        run->plan.profile = run->profile;
        if (r >= 0)
                r = build_argv(opts, &run->plan, err);
        if (r < 0) {
                ob_run_destroy(run);
                return r;
        }
        *ret = run;
        return 0;
}

int ob_run_dry(ob_run *run, ob_error *err)
{
        return dry_run(&run->c, &run->res, err);
}

int ob_run_create(ob_run *run, ob_error *err)
{
        run_ctx *c = &run->c;
        const ob_sandbox_options *opts = c->opts;
        const char *state = opts->state_dir ? opts->state_dir : ob_state_dir_default();
        int r;

        if (run->step != STEP_PLANNED)
                return ob_error_set(err, 0, 0, EINVAL, "the run was already created");
        r = find_runsc(c->runsc, err);
        /* a pooled run has no events until its request, which names the log */
        if (r >= 0 && !run->plan.warm)
                r = ob_run_audit_open(opts->audit_log, state, &c->audit, err);
        if (r < 0)
                return r;
        ob_timing_mark(c->plan->timing, "create: audit log open");
        if (c->audit)
                ob_run_audit_subscribe(c->audit, durable_line, c);
        if (opts->handle_signals) {
                c->sigfd = block_signals(&run->old_mask);
                if (c->sigfd < 0)
                        return ob_error_set(err, 0, 0, c->sigfd, "signalfd: %s",
                                            strerror(-c->sigfd));
                run->signals_blocked = true;
        }
        r = ob_run_dir_create(state, &run->dir, err);
        if (r < 0)
                return r;
        ob_timing_mark(c->plan->timing, "create: run directory (tmpfs, lock)");
        run->dir_made = true;
        memcpy(run->plan.id, run->dir.id, sizeof(run->dir.id));
        memcpy(run->res.sandbox_id, run->dir.id, sizeof(run->dir.id));
        r = prepare(c, &run->dir, err);
        if (r >= 0 && asprintf(&run->log, "%s/runsc.log", run->dir.path) < 0)
                r = -ENOMEM;
        if (r >= 0 && asprintf(&run->panic, "%s/sentry-panic.log", run->dir.path) < 0)
                r = -ENOMEM;
        c->panic_log = run->panic;
        if (r >= 0)
                run->step = STEP_CREATED;
        return r;
}

int ob_run_start(ob_run *run, ob_error *err)
{
        run_ctx *c = &run->c;
        ob_run_network_launch nl;
        ob_launch l;
        int r;

        if (run->step != STEP_CREATED)
                return ob_error_set(err, 0, 0, EINVAL, "the run is not created, or was started");
        if (pending_signal(c->sigfd) > 0)
                return ob_error_set(err, 0, 0, EINTR, "interrupted before the sandbox started");
        if (run->restore) {
                /* the restored PID 1 (sidecar/main.c hold) answers this with
                 * SandboxStart once it runs again: that is the run's start */
                static const char ping[] = "{\"type\":\"Resume\"}\n";
                if (write(c->chan[0], ping, sizeof(ping) - 1) != sizeof(ping) - 1)
                        return ob_error_set(err, 0, 0, errno, "the sidecar's channel: %s",
                                            strerror(errno));
        }
        l = (ob_launch){.runsc = c->runsc,
                        .runsc_root = run->dir.runsc_root,
                        .bundle = run->dir.bundle,
                        .log_path = run->log,
                        .panic_log = run->panic,
                        .id = run->dir.id,
                        .timeout_ms = c->plan->hold || c->plan->warm
                                          ? 0 /* a pooled run's starts at its request */
                                          : c->plan->limits.timeout_s * 1000,
                        .output_cap = (size_t)c->plan->limits.output_kb * 1024,
                        .capture = c->opts->capture,
                        .hold_stderr = c->plan->sidecar,
                        .stdout_fd = c->opts->stdout_fd,
                        .stderr_fd = c->opts->stderr_fd,
                        .sigfd = c->sigfd,
                        .net = ob_run_network_launch_info(c->net, &nl) ? &nl : NULL,
                        .channel_fd = TAKE_FD(c->chan[0]),
                        .channel_child_fd = TAKE_FD(c->chan[1]),
                        .on_channel = on_channel,
                        .on_round = on_round,
                        .channel_userdata = c};
        if (run->restore) {
                l.verb = "restore";
                l.image_path = run->restore;
        }
        if (l.net) /* the launch keeps a pointer: it must outlive this call */
                c->net_launch = nl, l.net = &c->net_launch;
        if (!c->plan->warm)
                emit_start(c);
        ob_timing_mark(c->plan->timing, "start: SandboxStart event");
        r = ob_run_record_made(run->dir.path, OB_MADE_RUNSC);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "%s/made: %s", run->dir.path, strerror(-r));
        r = ob_launch_start(&l, &run->launch, err);
        ob_timing_mark(c->plan->timing, "start: fork runsc");
        if (r >= 0)
                run->step = STEP_STARTED;
        c->launch = run->launch;
        return r;
}

size_t ob_run_pollfds(ob_run *run, struct pollfd fds[OB_LAUNCH_POLLFDS], int *ret_timeout_ms)
{
        return run->step == STEP_STARTED ? ob_launch_pollfds(run->launch, fds, ret_timeout_ms) : 0;
}

bool ob_run_step(ob_run *run, const struct pollfd fds[OB_LAUNCH_POLLFDS])
{
        return run->step == STEP_STARTED && ob_launch_step(run->launch, fds);
}

/* The end of a started run: reap, then the result, its events and the
 * audit log's record of them (0), or -errno with err when runsc failed. */
int ob_run_finish(ob_run *run, ob_error *err)
{
        run_ctx *c = &run->c;
        ob_launch_result lr = {0};
        ob_cgroup_stats st;
        ob_error commit_err = {0};
        char fail[512];
        int r = 0;

        if (run->step != STEP_STARTED)
                return ob_error_set(err, 0, 0, EINVAL, "the run was not started");
        ob_launch_finish(TAKE_PTR(run->launch), &lr);
        ob_timing_mark(c->plan->timing, "sandbox: workload exit to runsc exit");
        c->launch = NULL;
        run->step = STEP_DONE;
        ob_cgroup_read(run->dir.id, &st);
        runsc_start_failure(run->log, fail, sizeof(fail));
        if (fail[0] && !lr.signal && !lr.timed_out)
                r = ob_error_set(err, 0, 0, EIO, "runsc: %s", fail);
        /* the sandbox is gone: its staged writes land on the host now */
        if (ob_write_bound_commit(run->dir.path, run->dir.id, &commit_err) < 0)
                snprintf(c->commit_failed, sizeof(c->commit_failed), "%s",
                         commit_err.message[0] ? commit_err.message : "write bound: commit failed");
        if (r >= 0) {
                conclude(c, &lr, &st, &run->res);
                audit_conclude(c, &run->res);
        }
        ob_launch_result_done(&lr);
        ob_timing_mark(c->plan->timing, "finish: cgroup stats, result, audit log sync");
        return r;
}

int ob_run_wait(ob_run *run, ob_error *err)
{
        struct pollfd fds[OB_LAUNCH_POLLFDS];
        int timeout_ms;

        while (ob_run_pollfds(run, fds, &timeout_ms) > 0) {
                if (poll(fds, OB_LAUNCH_POLLFDS, timeout_ms) < 0) {
                        if (errno != EINTR)
                                break;
                        for (size_t i = 0; i < OB_LAUNCH_POLLFDS; i++)
                                fds[i].revents = 0;
                }
                if (!ob_run_step(run, fds))
                        break;
        }
        return ob_run_finish(run, err);
}

int ob_run_exec_target(const ob_run *run, ob_run_exec_target_info *ret)
{
        if (run->step != STEP_STARTED || !run->c.started)
                return -ESRCH;
        *ret = (ob_run_exec_target_info){.runsc = run->c.runsc,
                                         .runsc_root = run->dir.runsc_root,
                                         .id = run->dir.id,
                                         .netns_fd = run->c.net ? run->c.net_launch.netns_fd : -1};
        return 0;
}

int ob_run_restore_from(ob_run *run, const char *dir, ob_error *err)
{
        if (run->step != STEP_PLANNED || !run->plan.hold)
                return ob_error_set(err, 0, 0, EINVAL,
                                    "only a held run not yet created boots from a checkpoint");
        free(run->restore);
        run->restore = strdup(dir);
        return run->restore ? 0 : -ENOMEM;
}

int ob_run_checkpoint(ob_run *run, const char *dir, ob_error *err)
{
        run_ctx *c = &run->c;
        const char *args[] = {"--root", run->dir.runsc_root, "--log",
                              run->log, "checkpoint",        "--image-path",
                              dir,      run->dir.id,         NULL};
        _cleanup_close_ int errfd = -1;
        char fail[512];
        int r;

        if (run->step != STEP_STARTED || !c->started)
                return ob_error_set(err, 0, 0, ESRCH, "the sandbox is not running");
        if (c->net) /* gVisor cannot save a sandbox on the host's network (DESIGN §5) */
                return ob_error_set(err, 0, 0, EOPNOTSUPP,
                                    "a sandbox with network grants cannot be checkpointed "
                                    "(runsc --network=host)");
        errfd = memfd_create("runsc-checkpoint", MFD_CLOEXEC);
        c->checkpointed = true;
        r = ob_runsc_call_err(
            c->runsc, args, -1,
            CHECKPOINT_TIMEOUT_MS + (int)(c->plan->limits.memory_mb * CHECKPOINT_MS_PER_MB), errfd);
        if (r == 0)
                return 0;
        c->checkpointed = false;
        runsc_said(errfd, fail, sizeof(fail));
        return ob_error_set(err, 0, 0, r < 0 ? -r : EIO, "runsc checkpoint: %s",
                            fail[0] ? fail
                            : r < 0 ? strerror(-r)
                                    : "failed (runsc.log has why)");
}

bool ob_run_warm_ready(const ob_run *run)
{
        return run->step == STEP_STARTED && run->c.warm_ready && !run->c.warm_taken;
}

void ob_run_interrupt(ob_run *run, int sig)
{
        if (run->step == STEP_STARTED && run->launch)
                ob_launch_interrupt(run->launch, sig);
}

const ob_run_plan *ob_run_plan_get(const ob_run *run)
{
        return &run->plan;
}

/* "script" or "script.EXT" (EXT 1..7 letters or digits): the only names
 * a request may give its script in the inbox. */
static bool warm_script_name_ok(const char *name)
{
        const char *ext = name + 6;

        if (strncmp(name, "script", 6) != 0 ||
            (*ext && (*ext != '.' || strlen(ext) > 8 || !ext[1])))
                return false;
        for (ext += *ext ? 1 : 0; *ext; ext++)
                if (!((*ext >= 'a' && *ext <= 'z') || (*ext >= 'A' && *ext <= 'Z') ||
                      (*ext >= '0' && *ext <= '9')))
                        return false;
        return true;
}

/* The script, read from the request's fd (at most OB_SCRIPT_MAX_BYTES), as
 * inbox/NAME mode 0444. */
static int warm_script(ob_run *run, const ob_warm_request *req, ob_error *err)
{
        _cleanup_free_ char *text = malloc(OB_SCRIPT_MAX_BYTES + 1), *path = NULL;
        size_t len = 0;

        if (!text || asprintf(&path, "%s/in/%s", run->dir.path, req->script_name) < 0)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(req->script_fd, text + len, OB_SCRIPT_MAX_BYTES + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return ob_error_set(err, 0, 0, errno, "reading the script: %s",
                                            strerror(errno));
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > OB_SCRIPT_MAX_BYTES)
                        return ob_error_set(err, 0, 0, EFBIG, "the script is larger than %d bytes",
                                            OB_SCRIPT_MAX_BYTES);
        }
        int r = ob_write_file_mode(path, text, len, 0444);
        return r < 0 ? ob_error_set(err, 0, 0, r, "%s: %s", path, strerror(-r)) : 0;
}

/* plan->argv becomes the sidecar's head ("--" in place of "--wait") and
 * the request's argv, as a cold run's would be. */
static int warm_argv(ob_run_plan *plan, const char *const *argv)
{
        size_t head = plan->workload_arg, n = 0;
        char **v;

        while (argv[n])
                n++;
        if (n == 0 || n > OB_SANDBOX_MAX_ARGS)
                return -E2BIG;
        v = calloc(head + 1 + n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < head; i++)
                v[i] = TAKE_PTR(plan->argv[i]);
        v[head] = strdup("--");
        for (size_t i = 0; i < n; i++)
                v[head + 1 + i] = strdup(argv[i]);
        free(plan->argv[head]); /* "--wait", the old vector's last */
        free(plan->argv);
        plan->argv = v;
        plan->workload_arg = head + 1;
        for (size_t i = 0; i < head + 1 + n; i++)
                if (!v[i])
                        return -ENOMEM;
        return 0;
}

static int warm_send(run_ctx *c)
{
        _cleanup_free_ char *line = NULL;
        cJSON *root = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(root, "argv");
        size_t len;

        for (size_t i = c->plan->workload_arg; a && c->plan->argv[i]; i++)
                if (!cJSON_AddItemToArray(a, cJSON_CreateString(c->plan->argv[i])))
                        a = NULL;
        line = a ? cJSON_PrintUnformatted(root) : NULL;
        cJSON_Delete(root);
        if (!line)
                return -ENOMEM;
        len = strlen(line);
        line[len] = '\n'; /* over the NUL: the line is written by length */
        return ob_launch_channel_write(c->launch, line, len + 1);
}

int ob_run_warm_request(ob_run *run, const ob_warm_request *req, ob_error *err)
{
        run_ctx *c = &run->c;
        const char *state = c->opts->state_dir ? c->opts->state_dir : ob_state_dir_default();
        int r;

        if (!ob_run_warm_ready(run))
                return ob_error_set(err, 0, 0, EBUSY, "the pooled sandbox is not ready");
        if (req->script_fd >= 0 && (!req->script_name || !warm_script_name_ok(req->script_name)))
                return ob_error_set(err, 0, 0, EINVAL, "bad script name");
        c->warm_taken = true; /* whatever happens now, never again */
        if (req->owner && !(c->warm_owner = strdup(req->owner)))
                return -ENOMEM;
        c->sink.owner = c->warm_owner;
        r = ob_run_audit_open(req->audit_log, state, &c->audit, err);
        if (r < 0)
                return r;
        ob_run_audit_subscribe(c->audit, durable_line, c);
        r = ob_run_audit_record(c->audit, run->dir.path, c->principal, &c->audit_record);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "%s/audit: %s", run->dir.path, strerror(-r));
        if (req->script_fd >= 0 && (r = warm_script(run, req, err)) < 0)
                return r;
        r = warm_argv(c->plan, req->argv);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "the request's argv: %s", strerror(-r));
        ob_launch_warm_begin(run->launch, req->capture, req->stdout_fd, req->stderr_fd,
                             c->plan->limits.timeout_s * 1000);
        emit_start(c);
        r = warm_send(c);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "handing the request to the sandbox: %s",
                                    strerror(-r));
        return 0;
}

const char *ob_run_id(const ob_run *run)
{
        return run->dir_made ? run->dir.id : NULL;
}

void ob_run_take_result(ob_run *run, ob_sandbox_result *ret)
{
        *ret = run->res;
        run->res = (ob_sandbox_result){0};
        run->res_taken = true;
}

ob_run *ob_run_destroy(ob_run *run)
{
        run_ctx *c;

        if (!run)
                return NULL;
        c = &run->c;
        if (run->launch) { /* started, never finished: stop it, and end it in the log */
                c->destroyed = true;
                ob_launch_stop(run->launch);
                (void)ob_run_finish(run, NULL);
        }
        c->net = ob_run_network_free(c->net);
        closep(&c->chan[0]);
        closep(&c->chan[1]);
        if (run->dir_made) {
                closep(&run->dir.cgroup_lock_fd); /* before cleanup: it may lock exclusively */
                if (!run->forget)
                        /* a failed commit was reported by finish; gc tries again */
                        (void)ob_run_cleanup(c->runsc, run->dir.path, run->dir.id, &(ob_error){0});
                ob_run_dir_done(&run->dir);
                ob_timing_mark(c->plan->timing, "destroy: cgroups, unmount, remove");
        }
        if (run->signals_blocked) {
                while (pending_signal(c->sigfd) > 0) /* handled: do not let them fire now */
                        ;
                close(c->sigfd);
                sigprocmask(SIG_SETMASK, &run->old_mask, NULL);
        }
        c->audit = ob_run_audit_close(c->audit);
        free(c->audit_record);
        free(c->warm_owner);
        free(run->log);
        free(run->panic);
        free(run->restore);
        plan_done(&run->plan, run->profile);
        ob_sandbox_result_done(&run->res);
        free(run);
        return NULL;
}

ob_run *ob_run_forget(ob_run *run)
{
        if (!run)
                return NULL;
        if (run->launch) /* not finished: only destroy may stop it */
                return ob_run_destroy(run);
        run->forget = true;
        return ob_run_destroy(run);
}

int ob_sandbox_run(const ob_sandbox_options *opts, ob_sandbox_result *ret_result, ob_error *err)
{
        ob_error local = {0};
        ob_error *e = err ? err : &local;
        ob_run *run = NULL;
        int r;

        *e = (ob_error){0};
        if (opts->warm && !opts->dry_run) { /* a pooled sandbox, else on to a cold run */
                r = ob_pool_try_run(opts, ret_result, e);
                if (r != 0)
                        return r > 0 ? 0 : r;
        }
        r = ob_run_new(opts, &run, e);
        if (r >= 0 && opts->dry_run)
                r = ob_run_dry(run, e);
        else if (r >= 0) {
                r = ob_run_create(run, e);
                if (r >= 0)
                        r = ob_run_start(run, e);
                if (r >= 0)
                        r = ob_run_wait(run, e);
        }
        if (r >= 0)
                ob_run_take_result(run, ret_result);
        run = ob_run_destroy(run);
        if (r < 0 && !e->message[0])
                ob_error_set(e, 0, 0, r, "%s", strerror(-r));
        return r;
}
