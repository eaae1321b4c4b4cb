/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces of omnibase-sidecar: the syscall table, reading a
 * tracee's memory, resolving its paths, the seccomp filter, starting the
 * workload and the ptrace supervision loop. docs/sidecar.md explains them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <omnibase/capabilities.h>

#define OB_SIDECAR_MAX_PATH       4096   /* PATH_MAX: longest path read from a tracee */
#define OB_SIDECAR_MAX_LINKS      40     /* symlinks followed per resolution (MAXSYMLINKS) */
#define OB_SIDECAR_MAX_EVENTS     100000 /* CapabilityDenied events sent per run; more are counted */
#define OB_SIDECAR_MAX_TASKS      65536  /* tracees tracked at once */
#define OB_SIDECAR_MAX_HOST_NAMES 16     /* names taken from /etc/hosts per address */
#define OB_SIDECAR_HOSTS          "/etc/hosts"
#define OB_SIDECAR_MAX_SCRATCH    4 /* --scratch directories */

/* Data attached to SECCOMP_RET_TRACE, reported by PTRACE_GETEVENTMSG. */
enum {
        OB_TRACE_DANGEROUS = 1, /* always denied with EPERM, reported with layer "seccomp" */
        OB_TRACE_PATH = 2,      /* path-bearing: resolved and checked */
        OB_TRACE_NET = 3,       /* address-bearing: sockaddr decoded and checked */
        OB_TRACE_FIXUP = 4,     /* allowed, with an argument gVisor refuses mended first */
        OB_TRACE_SIGNAL = 5,    /* kill and kin: allowed, their targets woken once sent */
        OB_TRACE_RECV = 6,      /* recvfrom/recvmsg asking for the sender (host network only) */
};

/* ---- the syscall table (syscalls.c) ---- */

/* How an argument path's last component is treated. */
typedef enum ob_follow {
        OB_FOLLOW,             /* followed (open without O_NOFOLLOW, execve, chmod...) */
        OB_NOFOLLOW,           /* never followed (unlink, rename, mkdir, lchown...) */
        OB_FOLLOW_UNLESS_AT,   /* followed unless AT_SYMLINK_NOFOLLOW in the flags argument */
        OB_NOFOLLOW_UNLESS_AT, /* not followed unless AT_SYMLINK_FOLLOW (linkat's old path) */
} ob_follow;

/* What a path argument needs. */
typedef enum ob_access {
        OB_ACCESS_NONE,
        OB_ACCESS_OPEN,    /* from the open flags: READ and/or WRITE */
        OB_ACCESS_OPENAT2, /* flags read from struct open_how */
        OB_ACCESS_WRITE,
        OB_ACCESS_EXEC,
} ob_access;

typedef struct ob_path_arg {
        int8_t dirfd;   /* argument index of the dirfd, -1 for AT_FDCWD */
        int8_t path;    /* argument index of the path, -1 when unused */
        int8_t flags;   /* argument index of the open or AT_* flags, -1 when none */
        uint8_t access; /* ob_access */
        uint8_t follow; /* ob_follow */
} ob_path_arg;

typedef struct ob_syscall_info {
        int nr;
        const char *name;
        int klass; /* OB_TRACE_* */
        ob_path_arg p[2];
} ob_syscall_info;

/* The entry for a syscall number, or NULL when the sidecar does not trap it. */
const ob_syscall_info *ob_syscall_lookup(long nr);
/* Every trapped syscall (for the filter and the docs); *ret_n entries. */
const ob_syscall_info *ob_syscall_table(size_t *ret_n);

/* ---- tracee memory (tracee.c) ---- */

/* Reads a NUL-terminated string of at most max-1 bytes at addr of tid
 * (/proc/<tid>/mem, else PTRACE_PEEKDATA). Returns its length, -ENAMETOOLONG when no NUL came
 * within max bytes, -EFAULT on an unreadable address. */
ssize_t ob_tracee_read_string(pid_t tid, uint64_t addr, char *buf, size_t max);
/* Reads len bytes at addr of tid. 0 or -EFAULT. */
int ob_tracee_read(pid_t tid, uint64_t addr, void *buf, size_t len);
/* Drops what is cached for tid (its mem fd): call at its exec and exit. */
void ob_tracee_forget(pid_t tid);
/* The filesystem uid and gid of thread tid (/proc/<tid>/status), the ids
 * the kernel checks its path lookups with; -errno when unreadable. */
int ob_tracee_fsids(pid_t tid, uid_t *ret_uid, gid_t *ret_gid);
/* The thread group id of tid (from /proc), or tid itself when unknown. */
pid_t ob_tracee_tgid(pid_t tid);

/* ---- paths (resolve.c) ---- */

/* Forgets every cached "this is not a symlink" answer; called before any
 * syscall that can put a symlink where there was none is let through. */
void ob_resolve_invalidate(void);
/* Resolves path as the kernel would for thread tid: relative paths against
 * its cwd (dirfd == AT_FDCWD) or against the directory open as dirfd, "."
 * and ".." collapsed, symlinks followed (the last one only when
 * follow_last), /proc/self and /proc/thread-self meaning tid's. Components
 * after a missing one or a non-directory are taken lexically. *ret is
 * malloc'd and absolute. -ENOENT for an empty path, -EBADF/-ENOTDIR for a
 * bad dirfd, -ELOOP, -ENAMETOOLONG: what the kernel will say. -EACCES when
 * the sidecar cannot know what the kernel will open (a component it could
 * not look at, a deleted cwd or dirfd): the caller denies and reports. */
int ob_resolve_path(pid_t tid, int dirfd, const char *path, bool follow_last, char **ret);
/* ob_resolve_path(), and *ret_fails: ENOENT or ENOTDIR when a component
 * before the last is missing or not a directory (the rest was taken as
 * written, the kernel will fail the call with that errno), else 0. */
int ob_resolve_path_fails(pid_t tid, int dirfd, const char *path, bool follow_last, char **ret,
                          int *ret_fails);
/* The path of what tid has open as fd (readlink of /proc/tid/fd/fd); *ret
 * malloc'd. Non-file objects ("pipe:[12]") are returned as they are; -EBADF
 * for no such fd, -EACCES when the name is not the file (deleted). */
int ob_resolve_fd(pid_t tid, int fd, char **ret);

/* ---- host names (hosts.c) ---- */

/* The names the hosts file at path gives the address (family AF_INET or
 * AF_INET6, addr in network order): *ret is an array of *ret_n malloc'd
 * names (at most OB_SIDECAR_MAX_HOST_NAMES); none when the file is absent. */
int ob_hosts_names(const char *path, int family, const void *addr, char ***ret, size_t *ret_n);
/* Frees what ob_hosts_names() returned. */
void ob_hosts_names_free(char **names, size_t n);

/* ---- scratch directories (scratch.c) ---- */

/* Declares dir (absolute, canonical) a scratch directory: -EINVAL when
 * relative or over OB_SIDECAR_MAX_SCRATCH. */
int ob_scratch_add(const char *dir);
/* Forgets every scratch directory. */
void ob_scratch_clear(void);
/* Whether a path no rule decided is the workload's own under a scratch
 * directory (see scratch.c); creates: the call makes path. */
bool ob_scratch_allows(const char *path, bool creates);
/* Whether a missing path (absolute, resolved) under a scratch directory is
 * the workload's own (see scratch.c); uid: the workload's fsuid. */
bool ob_scratch_owns_absent(const char *path, uid_t uid);

/* ---- the sandbox's own answers (own.c) ---- */

/* Whether the mount path (absolute, resolved) lies in is read-only. */
bool ob_mount_readonly(const char *path);
/* Whether path names a bytecode cache: a `__pycache__` directory (dir), or
 * a `*.pyc` / `*.pyc.<digits>` file in one. */
bool ob_bytecode_cache_name(const char *path, bool dir);
/* The errno gVisor gives a workload (uid, gid) making a name in dir when
 * dir is a directory on a read-only mount (EACCES or EROFS), else 0. */
int ob_readonly_answer(const char *dir, uid_t uid, gid_t gid);
/* Whether a missing path under /dev is in gVisor's own /dev (its nearest
 * existing directory is on /dev's filesystem). */
bool ob_dev_owns_absent(const char *path);

/* ---- the dynamic loader (loader.c) ---- */

/* Whether path (resolved, absolute) is a dynamic loader, which is never an
 * exec target (F11): by name (ld-*.so*, ld.so*, ld64.so*) or by the inode
 * of a known loader path. */
bool ob_loader_is(const char *path);
/* Whether the program tid has just exec'd (/proc/tid/exe: what the kernel
 * loaded, after any #! line) is a loader: 1 and *ret_path (malloc'd, its
 * path), 0 when not, -errno when it cannot be told. */
int ob_loader_execed(pid_t tid, char **ret_path);

/* ---- the filter (filter.c) ---- */

/* Builds the libseccomp filter (not loaded); *ret is a scmp_filter_ctx. */
int ob_filter_build(void **ret, bool hostnet);
/* Loads it into the calling thread (no_new_privs must be set). */
int ob_filter_load(void *ctx);
/* Frees it; accepts NULL. */
void ob_filter_free(void *ctx);

/* ---- checking one stop (check.c) ---- */

/* The verdict on one trapped syscall. */
typedef struct ob_verdict {
        bool allowed;
        int error;              /* errno to fail the syscall with when !allowed */
        const char *capability; /* "FILE_READ", ..., "SYSCALL" */
        char *target;           /* malloc'd */
        const char *policy_id;  /* borrowed from the capset, or "default-deny" */
        const char *layer;      /* "sidecar" or "seccomp" */
        bool spawn;             /* allowed, and makes a task: the pids limit applies */
} ob_verdict;

/* Decides syscall nr with args for thread tid against caps; *ret filled
 * (ret->target to be freed by the caller). */
int ob_check_syscall(const ob_capset *caps, pid_t tid, long nr, const uint64_t args[6],
                     ob_verdict *ret);

/* ---- the workload and the supervision loop (spawn.c, supervise.c) ---- */

typedef struct ob_sidecar_config {
        char **argv;
        uid_t uid;
        gid_t gid;
        int tty_fd; /* >= 0: a pty's slave, the workload's controlling terminal and 0, 1, 2 */
} ob_sidecar_config;

typedef struct ob_exec_stdio_info {
        int tty_fd;      /* the pty's slave (ours to close once the workload has it); -1: none */
        pid_t relay_pid; /* with a tty: the relay, which must outlive the workload to drain */
        char **argv;     /* the header's "argv" (a spare exec's command), else NULL; malloc'd */
        char *cwd;       /* the header's "cwd", else NULL; malloc'd */
} ob_exec_stdio_info;

/* The stdio of an exec into a running environment (execio.c): reads the
 * host's header line from chan (variables to add to the environment).
 * Without a tty it forks a relay that copies the rest of chan into a
 * pipe, which becomes fd 0. With one (the header's "tty") it opens a
 * pseudo-terminal of the size asked, sets TERM, and forks a relay between
 * the host's frames (ttyframe.h), the master and our stdout; *ret gives
 * the slave and the relay. Returns 0 or -errno (-EBADMSG: a bad header). */
int ob_exec_stdio(int chan, ob_exec_stdio_info *ret);
/* A pooled sandbox's PID 1 (wait.c): SandboxStart "(pool)" on chan, then
 * one request line {"argv": [...]}; *ret_argv the workload's argv
 * (NULL-terminated, malloc'd, kept for the life of the process). */
int ob_wait_request(int chan, char ***ret_argv);
/* A JSON array of 1..OB_SANDBOX_MAX_ARGS strings, the first not empty, as
 * a NULL-terminated malloc'd vector (wait.c); -EBADMSG otherwise. */
struct cJSON;
int ob_argv_from_json(const struct cJSON *a, char ***ret);

/* Forks the workload: drops privileges, waits to be seized, loads the
 * filter, execs. Returns the pid (already seized) or -errno. */
pid_t ob_spawn_workload(const ob_sidecar_config *cfg, void *filter);

/* A signal a tracee is sending (kill, tkill, tgkill, rt_sigqueueinfo,
 * rt_tgsigqueueinfo, pidfd_send_signal), from the call's seccomp stop to its
 * end: whom to wake once it is sent. */
typedef struct ob_signal_send {
        pid_t sender;
        pid_t tid;    /* one thread; 0: none */
        pid_t tgid;   /* every thread of a process; 0: none */
        bool all;     /* a process group, every process or a pidfd: every tracee */
        bool entered; /* its syscall-enter-stop was seen (gVisor stops there too) */
} ob_signal_send;

typedef struct ob_supervisor {
        const ob_capset *caps;
        int channel_fd; /* -1: events are only counted */
        pid_t main_pid;
        pid_t spare_pid; /* a child of ours not to kill when the workload ends (a tty
                          * relay): SIGTERM once its last task is gone */
        bool spare_told;
        pid_t *tasks;
        size_t n_tasks;
        int64_t denials, dropped;
        int64_t pids_refused; /* fork/clone refused at the pids limit (EAGAIN) */
        size_t tasks_max;     /* the workload's RLIMIT_NPROC (the run's pids - 1); 0: none */
        int main_status;      /* wait status of main_pid */
        bool main_done;
        bool main_execed;  /* the workload's exec happened (SandboxStart sent) */
        const char *argv0; /* for SandboxStart */
        /* signals being sent by a tracee (kill, tgkill, ...): the sender runs
         * to the call's end, then its targets are woken (supervise.c) */
        ob_signal_send *sends;
        size_t n_sends;
        bool recv_told; /* the line about recvfrom on TCP was written */
        /* tasks that may get a signal from the kernel while stopped (they armed
         * a timer, or made a child: SIGCHLD), whose resumes look at their
         * queue (supervise.c); every task when async_all (a terminal's
         * SIGINT, SIGWINCH) */
        pid_t *async;
        size_t n_async;
        bool async_all;
} ob_supervisor;

/* Runs the supervision loop until every tracee is gone; returns the exit
 * status to leave with (the workload's, 128+signal when killed), or 125
 * when the workload never got as far as its exec. SandboxStart is sent at
 * the main process's first exec. */
int ob_supervise(ob_supervisor *sup);
/* Frees what the supervisor holds. */
void ob_supervisor_done(ob_supervisor *sup);
