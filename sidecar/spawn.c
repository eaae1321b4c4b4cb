/* SPDX-License-Identifier: Apache-2.0 */
/* Starting the workload: fork; the child (given a pty's slave: in a session
 * of its own, the slave its controlling terminal and 0, 1, 2) closes every fd above 2, drops to
 * the unprivileged uid/gid with no capabilities (libcap: every set, the
 * bounding set, ambient) and no_new_privs, waits until the parent has
 * seized it, loads the seccomp filter and execs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/macros.h"
#include "sidecar/sidecar.h"

#define SEIZE_OPTIONS                                                                              \
        (PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |  \
         PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD)

#ifdef OB_COVERAGE
void __gcov_reset(void);
void __gcov_dump(void);
/* A --coverage build only: the child starts with empty counters and writes
 * them before the filter (whose traps would report the .gcda opens), when
 * its uid can (the workload's uid 65534 cannot, and is skipped). */
static void coverage_reset(void)
{
        __gcov_reset();
}
static void coverage_dump(void)
{
        if (geteuid() == 0)
                __gcov_dump();
}
#else
static void coverage_reset(void)
{
}
static void coverage_dump(void)
{
}
#endif

/* close_range(2), or (gVisor 20221219 has no close_range) every fd listed
 * in /proc/self/fd: a blind loop up to RLIMIT_NOFILE costs a second there. */
static void close_fds_from(int first)
{
        DIR *d;
        struct dirent *de;
        int dfd;

        if (syscall(SYS_close_range, (unsigned)first, ~0u, 0) == 0)
                return;
        d = opendir("/proc/self/fd");
        if (!d) {
                for (int fd = first; fd < 65536; fd++)
                        close(fd);
                return;
        }
        dfd = dirfd(d);
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name);
                if (de->d_name[0] != '.' && fd >= first && fd != dfd)
                        close(fd);
        }
        closedir(d);
}

/* Every capability set, the bounding set and the ambient set empty. */
static int drop_privileges(uid_t uid, gid_t gid)
{
        cap_t empty;
        int r;

        for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
                if (cap_drop_bound(c) < 0 && errno != EINVAL)
                        return negative_errno();
        if (cap_reset_ambient() < 0 && errno != EINVAL)
                return negative_errno();
        if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return negative_errno();
        empty = cap_init();
        if (!empty)
                return -ENOMEM;
        r = cap_set_proc(empty) < 0 ? negative_errno() : 0;
        cap_free(empty);
        if (r < 0)
                return r;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return negative_errno();
        return 0;
}

/* argv[0] as execvp would find it, looked up before the filter so that the
 * search does not trap (and report) one execve per PATH entry. */
static const char *find_program(const char *name, char *buf, size_t size)
{
        const char *path = getenv("PATH");

        if (strchr(name, '/'))
                return name;
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        while (*path) {
                size_t n = strcspn(path, ":");
                if (n > 0 && (size_t)snprintf(buf, size, "%.*s/%s", (int)n, path, name) < size &&
                    access(buf, X_OK) == 0)
                        return buf;
                path += n + (path[n] == ':');
        }
        return name;
}

static _Noreturn void child(const ob_sidecar_config *cfg, void *filter, int go_fd)
{
        char buf[OB_SIDECAR_MAX_PATH + 1], c;
        const char *prog;
        sigset_t none;
        int r;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        r = drop_privileges(cfg->uid, cfg->gid);
        if (r < 0) {
                fprintf(stderr, "omnibase-sidecar: dropping privileges: %s\n", strerror(-r));
                _exit(125);
        }
        /* the parent writes one byte once it has seized us; EOF: it died */
        if (read(go_fd, &c, 1) != 1)
                _exit(125);
        close(go_fd);
        prog = find_program(cfg->argv[0], buf, sizeof(buf));
        /* a command that is not there (or not executable by the workload's
         * uid) is bad input, not a violation: nothing runs, exit 125 */
        if (access(prog, X_OK) < 0) {
                fprintf(stderr, "omnibase-sidecar: %s: %s\n", cfg->argv[0], strerror(errno));
                coverage_dump();
                _exit(125);
        }
        coverage_dump();
        r = ob_filter_load(filter);
        if (r < 0) {
                fprintf(stderr, "omnibase-sidecar: loading the seccomp filter: %s\n", strerror(-r));
                _exit(125);
        }
        /* the raw syscall, not execv(): a --coverage build wraps exec*() to
         * flush its counters first, and those opens would trap as denials */
        syscall(SYS_execve, prog, cfg->argv, environ);
        fprintf(stderr, "omnibase-sidecar: %s: %s\n", cfg->argv[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
}

/* A session of our own with the pty's slave as its controlling terminal
 * and our stdin, stdout and stderr (as root: before the drop). */
static int take_tty(int fd)
{
        if (setsid() < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
                return negative_errno();
        for (int i = 0; i < 3; i++)
                if (dup2(fd, i) < 0)
                        return negative_errno();
        if (fd > 2)
                close(fd);
        return 0;
}

pid_t ob_spawn_workload(const ob_sidecar_config *cfg, void *filter)
{
        int go[2];
        pid_t pid;

        if (pipe2(go, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(go[0]);
                close(go[1]);
                return r;
        }
        if (pid == 0) {
                coverage_reset();
                close(go[1]);
                if (cfg->tty_fd >= 0 && take_tty(cfg->tty_fd) < 0)
                        _exit(125);
                if (go[0] != 3) {
                        if (dup3(go[0], 3, O_CLOEXEC) < 0)
                                _exit(125);
                        close(go[0]);
                }
                close_fds_from(4);
                child(cfg, filter, 3);
        }
        close(go[0]);
        if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(uintptr_t)SEIZE_OPTIONS) < 0) {
                int r = negative_errno();
                close(go[1]);
                kill(pid, SIGKILL);
                waitpid(pid, NULL, __WALL);
                return r;
        }
        if (write(go[1], "x", 1) != 1) {
                int r = negative_errno();
                close(go[1]);
                return r;
        }
        close(go[1]);
        return pid;
}
