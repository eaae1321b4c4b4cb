/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces of the runner: profiles, the mount plan, the OCI
 * config, cgroups, the per-run state directory and the launch loop. */
#pragma once

#include <cjson/cJSON.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <omnibase/sandbox.h>

#include "common/error.h"
#include "events/event.h"
#include "channel/channel.h"

#define OB_RUN_ID_LEN       19 /* "ob-" + 16 hex digits */
#define OB_CGROUP_PARENT    "omnibase"
#define OB_CGROUP_ROOT      "/sys/fs/cgroup"
#define OB_SCRIPT_DIR       "/omnibase"
#define OB_SANDBOX_UID      65534
#define OB_WALK_MAX_ENTRIES 10000
#define OB_WALK_MAX_DEPTH   16
#define OB_SCRIPT_MAX_BYTES (16 * 1024 * 1024)

/* ---- profiles (profile.c) ---- */

typedef struct ob_symlink {
        char *path;   /* inside the sandbox */
        char *target; /* what the link says */
} ob_symlink;

typedef struct ob_profile {
        char *name;
        char *file; /* where it was loaded from */
        char *description;
        char **interpreter; /* NULL-terminated argv prefix for scripts */
        char **paths;       /* read-only system paths, mounted at the same place */
        size_t n_paths;
        ob_symlink *symlinks;
        size_t n_symlinks;
} ob_profile;

/* Loads a profile by name (NAME.json in $OMNIBASE_PROFILE_DIR, the source
 * tree's profiles/, the installed profiles/) or by path (contains '/'). */
int ob_profile_load(const char *name, ob_profile **ret, ob_error *err);
/* Parses profile text; file names the source in messages. */
int ob_profile_parse(const char *text, size_t len, const char *file, ob_profile **ret,
                     ob_error *err);
ob_profile *ob_profile_free(ob_profile *p);

/* ---- the mount plan (mounts.c) ---- */

typedef struct ob_mount {
        char *source;      /* host path (resolved) */
        char *destination; /* path inside the sandbox */
        bool writable;
        bool is_dir;
        bool noexec;      /* a grant mount no FILE_EXEC grant covers (threat model F2) */
        bool grant_write; /* a FILE_WRITE grant's host path: write_mb bounds it (write_bound.c) */
        char *why;        /* "profile", "script", "FILE_READ /data/x (policy p1)" */
} ob_mount;

typedef struct ob_mount_plan {
        ob_mount *v;
        size_t n;
        /* verbose messages: why grant paths were or were not mounted */
        ob_sandbox_line_fn log;
        void *userdata;
} ob_mount_plan;

void ob_mount_plan_done(ob_mount_plan *plan);
/* A line for the plan's log (-v: each mount and why), when it has one. */
void ob_mount_plan_log(ob_mount_plan *plan, const char *fmt, ...) _printf_(2, 3);
/* Adds one read-only or writable bind; merges with an existing one at the
 * same destination (writable wins). */
int ob_mount_plan_add(ob_mount_plan *plan, const char *source, const char *destination,
                      bool writable, bool is_dir, const char *why);
/* Adds the profile's system paths (missing ones are skipped and logged). */
int ob_mount_plan_add_profile(ob_mount_plan *plan, const ob_profile *profile);
/* Expands every FILE_READ/FILE_EXEC (ro) and FILE_WRITE (rw) grant of caps. */
int ob_mount_plan_add_grants(ob_mount_plan *plan, const ob_capset *caps);
/* Sorts by destination so that parents are mounted before children. */
void ob_mount_plan_sort(ob_mount_plan *plan);
/* The literal prefix of a Cedar `like` pattern (up to the first unescaped
 * '*', with "\*" unescaped); *ret_wild is true when there was a '*'. */
int ob_pattern_literal_prefix(const char *pattern, char **ret, bool *ret_wild);

/* Makes every mount point of the plan, the profile's symlinks and the links
 * to the shared directories the plan mounts (/etc/localtime, OpenSSL's
 * /usr/lib/ssl) inside rootfs, without following symlinks (rootfs.c). */
int ob_rootfs_prepare(const char *rootfs, const ob_mount_plan *mounts, const ob_profile *profile,
                      ob_error *err);
/* The "why" of the sandbox's own /etc files in the mount plan, and of the
 * public package data mounted with them. */
#define OB_MOUNT_WHY_ETC      "sandbox /etc"
#define OB_MOUNT_WHY_ZONEINFO "sandbox zoneinfo"
#define OB_MOUNT_WHY_CA       "sandbox ca-certificates"
#define OB_MOUNT_WHY_LIBCACHE "library cache"
/* Does the rootfs get a link (rootfs.c's links to the shared directories)
 * at, above or below dir? */
bool ob_rootfs_links_near(const char *dir);
/* Replaces each group of two or more read-only file binds of the profile
 * and the sidecar's libraries that share a directory (and nothing else is
 * mounted at, above or under) with one bind of a verified root-owned copy
 * in STATE/libcache (libcache.c, docs/runner.md §2); a cache that cannot be
 * used leaves the binds as they are (said through plan->log). -ENOMEM only. */
int ob_libcache_apply(ob_mount_plan *plan, const ob_profile *profile, const char *state_dir);
/* STATE/libcache, made (0700) when create and missing, as an fd (a
 * directory owned by root, writable by no one else, not a symlink) and
 * optionally its path; -errno (-EPERM, -ELOOP) when it is not that. */
int ob_libcache_open(const char *state_dir, bool create, char **ret_path);
/* gc: removes the cache entries no sandbox has bound (in any process's
 * mount namespace) and no run used in the last OB_LIBCACHE_KEEP_S (each use
 * sets the entry's mtime), the sidecar library lists (OB_SIDECAR_LIBS_PREFIX
 * files, one per sidecar binary, touched when read) no run read in that
 * time, and the temporary directories and files of builds whose process is
 * gone. A removed entry or list is made again by the next run that needs
 * it. Returns how many were removed. */
#define OB_LIBCACHE_KEEP_S     3600
#define OB_SIDECAR_LIBS_PREFIX "sidecar-libs-"
unsigned ob_libcache_gc(const char *state_dir);
/* Writes the sandbox's synthetic /etc files (passwd and group with root and
 * the sandbox user, hosts with localhost and hosts_extra, hostname,
 * nsswitch.conf: files, and dns in a network run) into run_path and adds
 * their read-only mounts to the plan, with /usr/share/zoneinfo and, in a
 * network run, the CA certificates (rootfs.c). A grant already mounting one
 * of them keeps its mount. */
int ob_rootfs_etc(const char *run_path, const char *hostname, const char *hosts_extra, bool network,
                  ob_mount_plan *mounts);
/* Replaces the per-file binds of those /etc files (in run_path/etc) with
 * one read-only noexec bind of the directory when nothing else is mounted
 * or linked at, above or under /etc; 1 when it did, 0 when not (rootfs.c). */
int ob_rootfs_etc_group(const char *run_path, ob_mount_plan *mounts, const ob_profile *profile);

/* ---- the OCI runtime config (spec.c) ---- */

/* Step timings (opts->on_timing): each mark reports the time since the
 * last one. A NULL fn makes marks free. */
typedef struct ob_timing {
        ob_sandbox_line_fn fn;
        void *userdata;
        int64_t last_us;
} ob_timing;
void ob_timing_start(ob_timing *t, ob_sandbox_line_fn fn, void *userdata);
void ob_timing_mark(ob_timing *t, const char *phase);

typedef struct ob_run_plan {
        char id[OB_RUN_ID_LEN + 1];
        ob_timing *timing; /* may be NULL */
        char **argv;       /* the process inside */
        ob_mount_plan mounts;
        ob_limits limits; /* effective */
        const ob_profile *profile;
        bool sidecar;        /* argv starts with omnibase-sidecar, which runs as root */
        size_t workload_arg; /* index in argv of the workload's argv[0] */
        bool hold;           /* an environment's PID 1: no workload (argv ends "--hold") */
        bool warm;           /* a pooled sandbox: the workload comes by request ("--wait") */
        bool network;        /* NETWORK_CONNECT grants: a netns of the runner's (runner/network.h);
                              * false: --network=none, the loopback is the sandbox's own */
} ob_run_plan;

/* Host pids backstop for a sandbox whose workload may have `pids` tasks
 * (the sentry, gofer and ptrace stubs are host tasks too). */
int64_t ob_host_pids_limit(int64_t pids);
/* Builds config.json for the plan; *ret is a new cJSON tree. */
int ob_spec_build(const ob_run_plan *plan, cJSON **ret);

/* ---- results (result.c) ---- */

/* A valid-UTF-8, NUL-free copy of buf (bad bytes become U+FFFD). */
int ob_utf8_sanitize(const char *buf, size_t len, char **ret);
/* Lists a CapabilityDenied message in res->violations (at most
 * OB_SANDBOX_MAX_VIOLATIONS; res->denials is the caller's to count). */
void ob_result_add_violation(ob_sandbox_result *res, const ob_channel_msg *m);
/* The --dry-run plan as pretty JSON; *ret malloc'd. */
int ob_plan_to_json(const ob_run_plan *plan, const ob_capset *caps, cJSON *config, char **ret);

/* ---- cgroups (cgroup.c) ---- */

typedef struct ob_cgroup_stats {
        int64_t oom_kills;     /* memory.oom_control oom_kill, -1 unknown */
        int64_t mem_failcnt;   /* memory.failcnt */
        int64_t mem_max_usage; /* bytes */
        int64_t cpu_usage_ns;  /* cpuacct.usage */
        int64_t pids_max_hits; /* pids.events max */
} ob_cgroup_stats;

/* Creates <controller>/omnibase/<id> for memory, pids, cpu, cpuacct and
 * writes the limits (runsc leaves pre-created cgroups as they are and
 * still moves the sandbox into them). */
int ob_cgroup_create(const char *id, const ob_limits *limits, ob_error *err);
/* Reads what the run used; fields it cannot read are -1. */
void ob_cgroup_read(const char *id, ob_cgroup_stats *ret);
/* Removes <every controller>/omnibase/<id> and, when no run is using it,
 * the omnibase parent. Idempotent; returns the first error. */
int ob_cgroup_remove(const char *id);
/* Removes the shared omnibase parent of every controller when no run holds
 * the cgroup lock and it is empty. */
void ob_cgroup_remove_parent(void);
/* Held shared by every run from cgroup creation to removal; taken
 * exclusively to remove the shared parent. Returns an fd or -errno. */
int ob_cgroup_lock(bool exclusive, bool nonblock);

/* ---- per-run state (state.c) ---- */

typedef struct ob_run_dir {
        char id[OB_RUN_ID_LEN + 1];
        char *path;       /* $STATE/runs/<id> */
        char *bundle;     /* path/bundle */
        char *rootfs;     /* path/bundle/rootfs */
        char *runsc_root; /* path/runsc */
        int lock_fd;
        int cgroup_lock_fd;
} ob_run_dir;

/* $OMNIBASE_STATE_DIR, else the built-in default. */
const char *ob_state_dir_default(void);
/* Makes runs/<id>/ (0700) with bundle/rootfs and runsc/, and holds its
 * lock for the life of the runner. */
int ob_run_dir_create(const char *state_dir, ob_run_dir *ret, ob_error *err);
/* The teardown record: what a run makes beyond its directory, one word a
 * line in runs/<id>/made, written *before* the thing is made (a runner
 * killed in between leaves a record of something absent: undoing it is a
 * no-op). ob_run_cleanup() undoes exactly what the record lists; a run with
 * no record (killed before its first, or made by an older runner) gets the
 * whole sweep. The live owner of a run is the process that holds its lock
 * (the runner, a pool daemon, an environment's supervisor): gc never takes
 * a run whose lock is held. */
typedef enum ob_run_made {
        OB_MADE_RUNSC = 1 << 0,   /* a container in runs/<id>/runsc */
        OB_MADE_NETWORK = 1 << 1, /* netns, veth + tc, cgroup-v2 dir + BPF (runner/network.c) */
        OB_MADE_CGROUPS = 1 << 2, /* the v1 cgroups and the shared parent */
        OB_MADE_WRITES = 1 << 3,  /* the write bound's image and overlays (write_bound.h) */
        OB_MADE_ALL = (1 << 4) - 1,
} ob_run_made;
int ob_run_record_made(const char *run_path, ob_run_made what);

/* Everything one run leaves: runsc container, cgroups, mounts, directory,
 * and its write bound's staged writes, committed (write_bound.h). Safe to
 * call more than once; used by the runner and by gc. Returns the commit's
 * result (-errno with err set: the writes are kept for the next gc). */
int ob_run_cleanup(const char *runsc, const char *run_path, const char *id, ob_error *err);
/* Frees the struct, releasing the locks (does not remove anything). */
void ob_run_dir_done(ob_run_dir *run);
/* Removes a directory tree without following symlinks or crossing mounts. */
int ob_rm_rf(const char *path);
/* Writes a NUL-terminated string to a new file (mode 0600). */
int ob_write_file(const char *path, const char *text);
/* Writes len bytes to a new file with exactly this mode. */
int ob_write_file_mode(const char *path, const void *data, size_t len, mode_t mode);

/* ---- runsc (launch.c) ---- */

/* Runs `runsc ARGS` to completion with output discarded, at most timeout_ms;
 * returns its exit status or -errno. netns_fd >= 0: in that network
 * namespace (a network run's control socket is an abstract Unix socket,
 * which only its own namespace sees). */
int ob_runsc_call(const char *runsc, const char *const *args, int netns_fd, int timeout_ms);
/* The same with runsc's stderr to stderr_fd (-1: /dev/null). */
int ob_runsc_call_err(const char *runsc, const char *const *args, int netns_fd, int timeout_ms,
                      int stderr_fd);

/* Forks runsc with argv (argv[0] included) and stdio in/out/err (-1:
 * /dev/null), in netns_fd's network namespace when >= 0, in a session of
 * its own, killed when we die. *ret the pid (the caller reaps). */
int ob_runsc_spawn(const char *runsc, const char *const *argv, int in, int out, int err,
                   int netns_fd, pid_t *ret);

typedef struct ob_launch {
        const char *runsc;
        const char *runsc_root;
        const char *bundle;
        const char *log_path;
        const char *panic_log; /* runsc --panic-log: where a sentry crash is written; NULL: none */
        const char *id;
        const char *verb;       /* runsc's verb: NULL is "run" */
        const char *image_path; /* "restore": the checkpoint's directory (--image-path) */
        int64_t timeout_ms;     /* 0: no deadline */
        size_t output_cap;      /* bytes, per stream */
        bool capture;
        bool hold_stderr; /* live stderr waits for ob_launch_release (the workload's exec) */
        int stdout_fd, stderr_fd;
        int sigfd;                               /* signalfd for SIGINT/SIGTERM/SIGHUP, or -1 */
        const struct ob_run_network_launch *net; /* NULL: --network=none (runner/network.h) */
        /* the sidecar's event channel, a socketpair: our end (nonblocking,
         * -1: none), the end runsc gets as stdin (closed by the caller after
         * the launch), and who gets each decoded message */
        int channel_fd;
        int channel_child_fd;
        void (*on_channel)(const ob_channel_msg *msg, void *userdata);
        /* after each poll round (may be NULL); false stops the sandbox at once
         * (the audit log failed: nothing may run unrecorded) */
        bool (*on_round)(void *userdata);
        void *channel_userdata;
} ob_launch;

typedef struct ob_launch_result {
        int wait_status; /* of `runsc run` */
        bool timed_out;
        bool output_exceeded;
        bool round_failed; /* on_round said stop */
        int signal;        /* SIGINT/SIGTERM/SIGHUP that stopped the run, 0 none */
        char *out, *err;   /* captured, NUL-terminated */
        size_t out_len, err_len;
        bool out_truncated, err_truncated;
        int64_t wall_ms;
        bool channel_bad;          /* a line broke the channel protocol: reading stopped */
        char channel_message[160]; /* why */
} ob_launch_result;

/* ---- exec into a held run (exec.c; docs/environments.md §Exec) ---- */

typedef struct ob_run ob_run;
/* What an exec into a started run needs (borrowed from the run); -ESRCH
 * until the sidecar said it is up. */
typedef struct ob_run_exec_target_info {
        const char *runsc, *runsc_root, *id;
        int netns_fd; /* -1: no network */
} ob_run_exec_target_info;
int ob_run_exec_target(const ob_run *run, ob_run_exec_target_info *ret);
/* Saves a started held run's sandbox, memory and all, into the directory
 * dir (`runsc checkpoint --image-path`): the sandbox ends there, so the
 * run's end follows (pump it, then ob_run_finish: status ok, "saved by
 * runsc checkpoint"). A new run told ob_run_restore_from(dir) boots from it.
 * No exec may be open (gVisor cannot restore one), and a run with network
 * grants cannot be saved (-EOPNOTSUPP, with nothing done). */
int ob_run_checkpoint(ob_run *run, const char *dir, ob_error *err);
/* A held run, planned and not yet created, boots from the checkpoint in dir
 * (`runsc restore --image-path`; made by ob_run_checkpoint of a sandbox with
 * the same mounts) instead of starting fresh; it is up when the restored
 * sidecar says so. */
int ob_run_restore_from(ob_run *run, const char *dir, ob_error *err);

/* A pseudo-terminal for an exec, opened by its sidecar inside the sandbox. */
typedef struct ob_exec_tty {
        unsigned rows, cols; /* its first size, 1..OB_TTY_MAX_DIM */
        const char *term;    /* TERM inside */
} ob_exec_tty;

typedef struct ob_exec_spec {
        const char *const *argv;  /* the command (NULL-terminated, at most OB_SANDBOX_MAX_ARGS) */
        const char *cwd;          /* inside the sandbox; NULL: "/" */
        int stdout_fd, stderr_fd; /* the command's, passed as they are; -1: /dev/null */
        const ob_exec_tty *tty;   /* NULL: none; else stdin is framed (channel/ttyframe.h) and
                                   * the terminal's output is on stdout_fd */
} ob_exec_spec;

/* `runsc exec` of a sidecar (uid 0, the sidecar's capabilities) that runs
 * spec->argv as the sandbox user under seccomp + ptrace, exactly as PID 1
 * runs a one-shot workload. *ret_chan is our end of its channel: first
 * write the header line (ob_exec_header) and any stdin, then
 * shutdown(SHUT_WR); read its events (SandboxStart, CapabilityDenied,
 * SandboxExit) with ob_channel_reader. *ret_pid is runsc exec's (reap it). */
int ob_run_exec_spawn(const ob_run_exec_target_info *t, const ob_exec_spec *spec, pid_t *ret_pid,
                      int *ret_chan, ob_error *err);
/* The header line: {"env": {NAME: value...}} (and "tty": {rows, cols,
 * term} when spec->tty is not NULL; with cmd, spec's "argv" and "cwd" for
 * a spare; with no_stdin and no tty, "stdin": false) and '\n', from
 * "NAME=value" strings. *ret malloc'd (wipe it: it may hold secrets). */
int ob_exec_header(const char *const *env, size_t n, const ob_exec_spec *spec, bool cmd,
                   bool no_stdin, char **ret, size_t *ret_len);

/* A spare: runsc exec of a sidecar started before its command is known
 * (spec->argv NULL for ob_run_exec_spawn), waiting for the header that
 * brings it; handed to ob_exec_start (io->spare), which then spends no
 * time on runsc exec or the sidecar's start. Its pidfd (ob_exec_spare_fd)
 * turns readable if it died unused; free it then. Freeing an unused one
 * ends its sidecar inside (the end of its channel) and runsc exec. */
typedef struct ob_exec_spare ob_exec_spare;
int ob_exec_spare_start(const ob_run_exec_target_info *t, ob_exec_spare **ret, ob_error *err);
int ob_exec_spare_fd(const ob_exec_spare *s);
ob_exec_spare *ob_exec_spare_free(ob_exec_spare *s); /* accepts NULL */

/* One exec from start to result, driven from the caller's poll loop like a
 * run: start → pollfds/step until step says false → take_result → free.
 * Its stdout/stderr go straight to spec's fds (through a relay with a
 * spare: step says false once the relay has written the last byte); stdin (io->stdin_fd, -1:
 * none) and the environment variables go in over the channel. */
#define OB_EXEC_POLLFDS 5
typedef void (*ob_exec_msg_fn)(const ob_channel_msg *msg, void *userdata);
typedef struct ob_exec_io {
        int stdin_fd;          /* read to its end and given to the command; the exec owns it
                                * (/dev/null counts as none: the sidecar makes no relay) */
        int64_t timeout_ms;    /* 0: none; past it the command is killed (124) */
        ob_exec_msg_fn on_msg; /* each message of the exec's sidecar (may be NULL) */
        void *userdata;
        ob_exec_spare *spare; /* NULL: a runsc exec of its own; else taken, even on failure */
} ob_exec_io;
typedef struct ob_exec ob_exec;
int ob_exec_start(const ob_run_exec_target_info *t, const ob_exec_spec *spec,
                  const char *const *env, size_t n_env, const ob_exec_io *io, ob_exec **ret,
                  ob_error *err);
size_t ob_exec_pollfds(ob_exec *x, struct pollfd fds[OB_EXEC_POLLFDS], int *ret_timeout_ms);
bool ob_exec_step(ob_exec *x, const struct pollfd fds[OB_EXEC_POLLFDS]); /* false: ended */
/* Kills the command (and every task of this exec) inside the sandbox: its
 * caller left. The result is then an error, exit code 129 ("interrupted by
 * HUP"), not a timeout. */
void ob_exec_kill(ob_exec *x);
/* After step said false: the result (status, exit_code, violations). */
void ob_exec_take_result(ob_exec *x, ob_sandbox_result *ret);
ob_exec *ob_exec_free(ob_exec *x); /* accepts NULL; kills runsc exec if still running */

/* ---- the audit log of a run (run_audit.c) ---- */

/* The byte budget of a run's CapabilityDenied events (runner/denials.c). */
#define OB_DENIAL_BUDGET_BYTES (1024 * 1024)
#define OB_DENIAL_GROUPS       32 /* summary groups; more go into one "*" group */
#define OB_DENIAL_PREFIX_MAX   72

typedef struct ob_denial_budget {
        int64_t bytes;      /* of the events sent in full */
        int64_t suppressed; /* denials past the budget, counted in groups */
        size_t n;
        struct {
                char capability[32];
                char prefix[OB_DENIAL_PREFIX_MAX];
                int64_t count;
        } groups[OB_DENIAL_GROUPS];
        int64_t other;
} ob_denial_budget;

/* true: send this denial in full; false: it was counted in a group. */
bool ob_denial_budget_take(ob_denial_budget *b, const ob_channel_msg *m);
/* One CapabilityDeniedSummary per group (nothing when nothing was over). */
void ob_denial_budget_emit(const ob_denial_budget *b, ob_event_sink *sink, const char *id,
                           const char *principal);

typedef struct ob_run_audit ob_run_audit;

/* Opens the audit log at path, or state_dir/audit.jsonl when path is NULL
 * (creating it). *ret is the caller's: ob_run_audit_close(). */
int ob_run_audit_open(const char *path, const char *state_dir, ob_run_audit **ret, ob_error *err);
/* Queues one serialised event line; accepts a NULL log (does nothing). */
void ob_run_audit_line(ob_run_audit *a, const char *line);
/* on_durable gets each line once it is in the log, in order. */
void ob_run_audit_subscribe(ob_run_audit *a, void (*on_durable)(const char *line, void *userdata),
                            void *userdata);
/* Appends the queue in one batch; returns the first error so far. */
int ob_run_audit_flush(ob_run_audit *a);
/* The first append error so far (-errno) or 0; *ret_path the log's path. */
int ob_run_audit_error(const ob_run_audit *a, const char **ret_path);
/* Flushes and closes; accepts NULL; returns NULL. */
ob_run_audit *ob_run_audit_close(ob_run_audit *a);
/* Writes run_path/audit (the log's path, the principal) for gc; NULL a: 0. */
int ob_run_audit_record(const ob_run_audit *a, const char *run_path, const char *principal,
                        char **ret_record);
/* gc's end of a run with a record: SandboxExit status "abandoned". */
int ob_run_audit_abandoned(const char *run_path, const char *id);

/* ---- the sidecar (sidecar.c) ---- */

#define OB_SIDECAR_BIN "/omnibase/sidecar/omnibase-sidecar"
#define OB_SIDECAR_RUN "/omnibase/run" /* the capability files, read-only */

/* $OMNIBASE_SIDECAR, the build tree's binary, or the installed one. */
const char *ob_sidecar_binary(void);
/* The sidecar's fixed argv head, ending in "--"; returns its length. */
size_t ob_sidecar_argv_head(const char *const **ret);
/* Puts the sidecar in front of plan->argv and mounts it (with the shared
 * objects it lists, kept in STATE/libcache unless dry) read-only. */
int ob_sidecar_plan(ob_run_plan *plan, const char *state_dir, bool dry, ob_error *err);
/* In run_path/sidecar (0700): the user's capability set and the profile's
 * (system paths, script, /tmp, devices), mounted read-only at OB_SIDECAR_RUN;
 * and the channel: ret_channel[0] is the runner's end (nonblocking),
 * ret_channel[1] runsc's stdin. Both close-on-exec, owned by the caller. */
/* What the workload needs from its own sandbox, as the sidecar's second
 * capability file (profile-caps.json): the plan's profile paths, the
 * sandbox's /tmp, /dev/shm, devices, ptys, probes, and its own loopback
 * when it has no network of ours (network false). Pure: the Kubernetes
 * renderer calls it on a plan too. *ret the caller's. */
int ob_sidecar_profile_caps(const ob_run_plan *plan, bool network, ob_capset **ret);
int ob_sidecar_prepare(ob_run_plan *plan, const ob_capset *caps, const char *run_path,
                       int ret_channel[2], ob_error *err);

/* Starts runsc and supervises it to the end (output, timeout, signals, the
 * sidecar's channel). Takes ownership of l->channel_fd and l->channel_child_fd. */
/* The launch as steps, so that one loop can supervise many runs:
 * start spawns runsc; pollfds fills the descriptors to poll (0: nothing
 * left, the run is over) and the timeout; step handles what poll returned
 * (false: over); finish reaps, reads the channel's rest and frees the
 * state. ob_run_wait() (sandbox.c) is that loop for one run. */
#define OB_LAUNCH_POLLFDS 6
typedef struct ob_launch_state ob_launch_state;
int ob_launch_start(const ob_launch *l, ob_launch_state **ret, ob_error *err);
size_t ob_launch_pollfds(ob_launch_state *s, struct pollfd fds[OB_LAUNCH_POLLFDS],
                         int *ret_timeout_ms);
bool ob_launch_step(ob_launch_state *s, const struct pollfd fds[OB_LAUNCH_POLLFDS]);
/* Tells the sandbox to die (runsc kill; the grace, then SIGKILL). */
void ob_launch_stop(ob_launch_state *s);
/* As the launch's own signalfd would: the run is stopped, and judged as
 * interrupted by sig (a pooled run's caller got it: runner/pool.c). */
void ob_launch_interrupt(ob_launch_state *s, int sig);
/* The workload exec'd: stderr held so far goes out, and from now on live. */
void ob_launch_release(ob_launch_state *s);
void ob_launch_finish(ob_launch_state *s, ob_launch_result *ret);
/* A pooled run's request arrived: its output goes to these fds (unless
 * capture) and the wall clock and the deadline start now. */
void ob_launch_warm_begin(ob_launch_state *s, bool capture, int stdout_fd, int stderr_fd,
                          int64_t timeout_ms);
/* A pooled run's sidecar sent SandboxExit (its exit status): the run ends
 * at the next step with that status, not at runsc's exit. */
void ob_launch_early_exit(ob_launch_state *s, int exit_code);
/* Writes to the sidecar over its channel (a pooled run's request line);
 * waits at most 2 s for room. */
int ob_launch_channel_write(ob_launch_state *s, const char *buf, size_t len);
void ob_launch_result_done(ob_launch_result *r);

/* ---- the run as a lifecycle (sandbox.c; docs/runner.md §4) ----
 * new: the plan (pure: limits merged, argv, mount plan, verbose lines; no
 * file, process or namespace is made) → create (audit log, run directory,
 * network, bundle, cgroups) → start (runsc, SandboxStart) → pollfds/step
 * from the caller's loop, or wait → finish (the result, SandboxExit, the
 * audit log) → destroy (everything the run made, on every path, from any
 * step). ob_sandbox_run() is these steps in order. */
typedef struct ob_run ob_run;
/* opts, and everything it points to, must outlive the run (it is kept by
 * pointer: callbacks and the caps are used until destroy). */
int ob_run_new(const ob_sandbox_options *opts, ob_run **ret, ob_error *err);
int ob_run_dry(ob_run *run, ob_error *err); /* the plan as the result's plan_json */
int ob_run_create(ob_run *run, ob_error *err);
int ob_run_start(ob_run *run, ob_error *err);
size_t ob_run_pollfds(ob_run *run, struct pollfd fds[OB_LAUNCH_POLLFDS], int *ret_timeout_ms);
bool ob_run_step(ob_run *run, const struct pollfd fds[OB_LAUNCH_POLLFDS]);
int ob_run_finish(ob_run *run, ob_error *err);
int ob_run_wait(ob_run *run, ob_error *err); /* the poll loop, then finish */
void ob_run_take_result(ob_run *run, ob_sandbox_result *ret);
const char *ob_run_id(const ob_run *run); /* NULL before create */

ob_run *ob_run_destroy(ob_run *run); /* accepts NULL; returns NULL */
/* Frees a finished run's handle and closes its fds but removes nothing (no
 * runsc call, no cgroup, network or directory removal): for a process that
 * forked a child to destroy the run, which keeps its own copies of the locks
 * meanwhile (runner/pool.c). A run not finished is destroyed instead. */
ob_run *ob_run_forget(ob_run *run);

/* ---- warm runs: a pooled sandbox (sandbox.c; the pool: runner/pool*.c) ----
 * ob_run_new_warm plans a run with no workload: create and start boot it
 * (every step of a cold run: mounts, cgroups, network, the sidecar as PID
 * 1 with "--wait") and ob_run_warm_ready says when its sidecar waits on its
 * channel. ob_run_warm_request hands it one workload; from there the run
 * goes on (step, finish, take_result, destroy) exactly as a cold one. */
#define OB_WARM_DIR "/omnibase/in" /* the inbox: the request's script */
typedef struct ob_warm_request {
        const char *const *argv; /* the workload's (a script's path: OB_WARM_DIR/script_name) */
        int script_fd;           /* the script, read to its end; -1: a command */
        const char *script_name; /* "script" or "script.EXT" */
        const char *audit_log;   /* NULL: the state directory's audit.jsonl */
        const char *owner;       /* "owner" of the run's events (opts.owner); may be NULL */
        bool capture;
        int stdout_fd, stderr_fd; /* live output (unless capture); borrowed */
} ob_warm_request;
int ob_run_new_warm(const ob_sandbox_options *opts, ob_run **ret, ob_error *err);
/* A warm request's side of the plan: the limits, the profile and the
 * workload's argv (workload_arg 0), checked as a cold run's; no mount plan
 * and no sidecar (the pooled run has them). Only for ob_pool_key and the
 * request's argv; destroy it. */
int ob_run_new_request(const ob_sandbox_options *opts, ob_run **ret, ob_error *err);
bool ob_run_warm_ready(const ob_run *run);
/* The caller of a warm run was interrupted by sig: stop the run as a cold
 * run's runner would (status error, 128 + sig). */
void ob_run_interrupt(ob_run *run, int sig);
int ob_run_warm_request(ob_run *run, const ob_warm_request *req, ob_error *err);
const ob_run_plan *ob_run_plan_get(const ob_run *run);
