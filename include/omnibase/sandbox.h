/* SPDX-License-Identifier: Apache-2.0 */
/* The sandbox runner: runs a script or a command under gVisor (runsc) with a
 * capability set. The rootfs view holds only the profile's system paths, the
 * script and what the FILE_* grants match; memory, CPU, pids, wall time and
 * output are limited. docs/runner.md describes the plan in full. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <omnibase/capabilities.h>
#include <omnibase/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds on what one run handles. */
#define OB_SANDBOX_MAX_ARGS      256
#define OB_SANDBOX_MAX_MOUNTS    512
#define OB_SANDBOX_MAX_OUTPUT_KB (64 * 1024)

typedef enum ob_sandbox_status {
        OB_SANDBOX_OK,             /* the workload ran and exited (any exit code) */
        OB_SANDBOX_VIOLATION,      /* a capability was denied during the run */
        OB_SANDBOX_TIMEOUT,        /* wall-clock timeout: killed, exit 124 */
        OB_SANDBOX_LIMIT_EXCEEDED, /* memory or output limit: killed, exit 137 */
        OB_SANDBOX_ERROR,          /* omnibase failed after the sandbox started */
} ob_sandbox_status;

/* "ok", "violation", "timeout", "limit_exceeded", "error". */
OB_EXPORT const char *ob_sandbox_status_to_string(ob_sandbox_status status);
/* ended_by as a word: "exit" (the workload exited by itself), "timeout",
 * "limit_exceeded" or "error". */
OB_EXPORT const char *ob_sandbox_ended_by_to_string(ob_sandbox_status ended_by);

/* Receives one line (no newline) at a time: a JSON event, or a verbose
 * message about the plan. The pointer is valid during the call only. */
typedef void (*ob_sandbox_line_fn)(const char *line, void *userdata);

/* What to run and how. Initialise with ob_sandbox_options_init(), which sets
 * struct_size: the library refuses a struct of another size (fields are only
 * ever added at the end; a later library takes an older, shorter one). */
typedef struct ob_sandbox_options {
        size_t struct_size;      /* sizeof(ob_sandbox_options) of the caller's header */
        const ob_capset *caps;   /* required: grants, denials, limits, principal */
        const char *profile;     /* profile name or path to a .json; NULL: "python-minimal"
                                    for a script, "shell" for a command */
        const char *script;      /* host path of a script, run by the profile's interpreter */
        const char *const *argv; /* or a command (NULL-terminated) when script is NULL */
        const char *const *script_args; /* extra arguments after the script (may be NULL) */
        ob_limits limits;               /* overrides: only downward from caps' limits */
        const char *state_dir;          /* NULL: $OMNIBASE_STATE_DIR or the built-in default */
        const char *runsc;              /* runsc binary; NULL: $OMNIBASE_RUNSC or "runsc" on PATH */
        bool capture;                   /* true: capture stdout/stderr into the result only;
                                           false: also pass them live to stdout_fd/stderr_fd
                                           (ignore SIGPIPE if those may be pipes) */
        int stdout_fd, stderr_fd;       /* pass-through targets (default 1 and 2) */
        bool dry_run;                   /* plan only: fill result->plan_json, run nothing */
        bool handle_signals;            /* block SIGINT/SIGTERM/SIGHUP during the run and
                                           stop the sandbox when one arrives */
        ob_sandbox_line_fn on_event;    /* SandboxStart, SandboxExit, ... as JSON lines */
        const char *audit_log;          /* every event is appended here too; NULL:
                                           state_dir/audit.jsonl (docs/events.md) */
        ob_sandbox_line_fn on_verbose;  /* each mount and why each grant path was (not) mounted */
        void *userdata;
        /* An environment's sandbox (docs/environments.md): no script or
         * command; PID 1 is the sidecar holding the sandbox open until it
         * is stopped, with no wall-clock deadline; commands come later by
         * exec (runner/exec.c). */
        bool hold;
        const struct ob_sandbox_bind *binds; /* extra bind mounts (n_binds of them) */
        size_t n_binds;
        /* Take a pre-booted sandbox from the pool of state_dir (ob_pool_start)
         * when its profile, capability set and limits equal this run's
         * exactly; otherwise run cold (on_verbose says why). result->warm
         * says which it was. */
        bool warm;
        /* Who started the run (the server's caller: api/ops_run.c), recorded
         * as "owner" on every event of the run so that the audit log says
         * it and an owner can read its own runs' events; NULL: not said. */
        const char *owner;
        /* The cost of each step of the run (docs/performance.md, "Cold
         * start steps"): "PHASE MS" lines, each the time since the one
         * before, from ob_sandbox_run()'s start to its end; NULL: none. */
        ob_sandbox_line_fn on_timing;
} ob_sandbox_options;

/* A host file or directory mounted into the sandbox beside the grants (an
 * environment's /workspace, its flags file). */
typedef struct ob_sandbox_bind {
        const char *source;      /* host path */
        const char *destination; /* absolute path inside */
        bool writable;
} ob_sandbox_bind;

typedef struct ob_sandbox_usage {
        int64_t max_rss_kb; /* peak memory of the sandbox's cgroup, KiB */
        int64_t cpu_ms;     /* CPU time of the sandbox's cgroup */
        int64_t wall_ms;    /* wall time from launch to exit */
} ob_sandbox_usage;

/* At most this many violations are listed in a result (all are counted). */
#define OB_SANDBOX_MAX_VIOLATIONS 256

/* A capability denied during the run, as the sidecar reported it. */
typedef struct ob_sandbox_violation {
        char *capability; /* FILE_READ, ..., NETWORK_CONNECT, or SYSCALL */
        char *target;     /* canonical path, ip:port, or the syscall's name */
        char *syscall;
        char *policy_id; /* the deciding rule's id, or "default-deny" */
        char *layer;     /* "sidecar" or "seccomp" */
        int64_t pid;     /* inside the sandbox */
} ob_sandbox_violation;

typedef struct ob_sandbox_result {
        ob_sandbox_status status;
        int exit_code;    /* what `omnibase sandbox run` exits with */
        char *stdout_buf; /* captured output (NUL-terminated, at most output_kb) */
        size_t stdout_len;
        char *stderr_buf;
        size_t stderr_len;
        bool stdout_truncated;
        bool stderr_truncated;
        const char *limit;      /* on OB_SANDBOX_LIMIT_EXCEEDED: "memory" or "output" */
        int64_t limit_value;    /* the limit that was hit, in limit_unit */
        const char *limit_unit; /* "MiB" or "KiB" */
        ob_sandbox_usage usage;
        char sandbox_id[40];
        char *plan_json;   /* on dry_run: the plan (capabilities, mounts, limits, config) */
        char message[256]; /* on OB_SANDBOX_ERROR: what went wrong */
        ob_sandbox_violation *violations; /* the first OB_SANDBOX_MAX_VIOLATIONS */
        size_t n_violations;
        int64_t denials; /* all of them (status violation when > 0) */
        /* What ended the run: OB_SANDBOX_OK (the workload exited), TIMEOUT,
         * LIMIT_EXCEEDED or ERROR. Equal to status except on a violation,
         * which takes precedence over a timeout or a limit kill. */
        ob_sandbox_status ended_by;
        bool warm; /* the run took a pooled sandbox (options.warm) */
} ob_sandbox_result;

/* Defaults: no caps, no profile, capture off, fds 1 and 2, limits unset. */
OB_EXPORT void ob_sandbox_options_init(ob_sandbox_options *opts);

/* Runs the sandbox to completion and cleans up everything it made (state
 * directory, runsc container, cgroups), on every path. Returns 0 with
 * *ret_result filled when the sandbox ran (or the plan was made, on
 * dry_run); -errno with *err filled when nothing ran (bad input, missing
 * script, upward limit override, runsc failed to start...). Free the result
 * with ob_sandbox_result_done(). */
OB_EXPORT int ob_sandbox_run(const ob_sandbox_options *opts, ob_sandbox_result *ret_result,
                             ob_error *err);

/* Frees what a result holds; accepts a zeroed result. */
OB_EXPORT void ob_sandbox_result_done(ob_sandbox_result *result);

/* The --json result object (one line, trailing newline); *ret malloc'd. */
OB_EXPORT int ob_sandbox_result_to_json(const ob_sandbox_result *result, char **ret);

/* Removes what runs whose runner died left behind under state_dir (NULL:
 * the default): stops their runsc containers and removes their cgroups and
 * directories. Runs whose runner is alive are left alone, so this is safe
 * while other sandboxes run. *ret_removed (may be NULL) counts runs removed. */
OB_EXPORT int ob_sandbox_gc(const char *state_dir, const char *runsc, unsigned *ret_removed,
                            ob_error *err);

/* ---- the warm pool (docs/runner.md §10) ----
 * A daemon of its own keeps `size` sandboxes booted for one (profile,
 * capability set, limits); each is used by one warm run, then destroyed
 * and replaced. It listens on STATE_DIR/pool/pool.sock (0600, root only). */
#define OB_POOL_MAX_SIZE 16

/* Initialise with ob_pool_options_init() (struct_size, as for a run). */
typedef struct ob_pool_options {
        size_t struct_size;    /* sizeof(ob_pool_options) of the caller's header */
        const ob_capset *caps; /* required */
        const char *profile;   /* NULL: "python-minimal" */
        size_t size;           /* 1..OB_POOL_MAX_SIZE; 0: 2 */
        ob_limits limits;      /* overrides, only downward, as for a run */
        const char *state_dir; /* NULL: $OMNIBASE_STATE_DIR or the default */
        const char *runsc;     /* NULL: $OMNIBASE_RUNSC or "runsc" */
} ob_pool_options;

/* Starts the pool daemon (detached; it outlives the caller) and returns once
 * its first sandbox is booted: *ret_pid (may be NULL) its pid. -EEXIST when
 * one runs; -EIO with err when it could not boot one (it is gone then). */
/* Zero fields, limits unset, struct_size set. */
OB_EXPORT void ob_pool_options_init(ob_pool_options *opts);
OB_EXPORT int ob_pool_start(const ob_pool_options *opts, int *ret_pid, ob_error *err);
/* The pool's state as one JSON object (malloc'd): pid, size, ready,
 * booting, busy, destroying, taken, cold_refusals, booted, boot_failures,
 * profile, key_sha256. -ENOENT: no pool. */
OB_EXPORT int ob_pool_status(const char *state_dir, char **ret_json, ob_error *err);
/* Stops the daemon and returns once it and every sandbox it held are gone. */
OB_EXPORT int ob_pool_stop(const char *state_dir, ob_error *err);

#ifdef __cplusplus
}
#endif
