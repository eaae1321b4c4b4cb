/* SPDX-License-Identifier: Apache-2.0 */
/* omnibase-sidecar: PID 1 inside the sandbox. Connects to the runner's event
 * channel, loads the capability set, starts the workload unprivileged under
 * seccomp + ptrace, reports denials, exits with the workload's status.
 *
 *   omnibase-sidecar --caps FILE [--caps FILE...] (--channel SOCKET | --channel-fd N)
 *                    [--uid N --gid N] [--scratch DIR...] [--exec-stdio] -- ARGV...
 *   omnibase-sidecar --caps FILE... --channel-fd N --hold
 *          (PID 1 of an environment: no workload of its own; reaps, and
 *           ends at SIGTERM; each command comes by `runsc exec` of a
 *           sidecar with --exec-stdio, docs/sidecar.md §Environments)
 *   omnibase-sidecar --caps FILE... --channel-fd N [...] --wait
 *          (PID 1 of a pooled sandbox: says it is ready, then takes the
 *           workload's argv as one request line on the channel and runs it
 *           as above; sidecar/wait.c, docs/runner.md §Warm pool)
 *   omnibase-sidecar --list-libs   (the shared objects it needs, for the
 *                                   runner to bind-mount into the sandbox)
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/error.h"
#include "channel/channel.h"
#include "sidecar/sidecar.h"

#define EXIT_SIDECAR_FAILED 125
#define MAX_CAPS_FILES      8

typedef struct options {
        const char *caps[MAX_CAPS_FILES];
        size_t n_caps;
        const char *channel;
        int channel_fd;  /* --channel-fd, -1 when not given */
        bool hold;       /* --hold: PID 1 of an environment */
        bool wait;       /* --wait: PID 1 of a pooled sandbox (argv from the channel) */
        bool exec_stdio; /* --exec-stdio: header + stdin over the channel */
        pid_t relay_pid; /* a tty exec's relay: spared until the output is drained */
        ob_sidecar_config cfg;
} options;

static volatile sig_atomic_t workload_pid;

static void forward_signal(int sig)
{
        if (workload_pid > 0)
                kill((pid_t)workload_pid, sig);
}

/* One line per loaded shared object: the real directory (symlinks such as
 * /lib -> usr/lib resolved) joined with the name the loader asked for, which
 * is the path the loader will look for inside the sandbox. */
static int print_lib(struct dl_phdr_info *info, size_t size, void *userdata)
{
        char dir[PATH_MAX], real[PATH_MAX], copy[PATH_MAX];

        (void)size;
        (void)userdata;
        if (!info->dlpi_name || info->dlpi_name[0] != '/' ||
            strlen(info->dlpi_name) >= sizeof(copy))
                return 0; /* the program itself, the vDSO */
        strcpy(copy, info->dlpi_name);
        if (!realpath(dirname(copy), dir))
                return 0;
        strcpy(copy, info->dlpi_name);
        printf("%s/%s", dir, basename(copy));
        if (realpath(info->dlpi_name, real))
                printf("\t%s", real);
        printf("\n");
        return 0;
}

static int usage(void)
{
        fprintf(
            stderr,
            "usage: omnibase-sidecar --caps FILE (--channel SOCKET | --channel-fd N) "
            "[--uid N --gid N] [--scratch DIR] [--exec-stdio] (-- ARGV... | --hold | --wait)\n");
        return EXIT_SIDECAR_FAILED;
}

static int parse_id(const char *s, unsigned *ret)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v >= 0xffffffffUL || s[0] == '-')
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
        int i;

        o->cfg.uid = 65534;
        o->cfg.gid = 65534;
        for (i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (streq(a, "--")) {
                        i++;
                        break;
                }
                if (streq(a, "--wait")) {
                        o->wait = true;
                        continue;
                }
                if (streq(a, "--hold") || streq(a, "--exec-stdio")) {
                        *(a[2] == 'h' ? &o->hold : &o->exec_stdio) = true;
                        continue;
                }
                if (!v)
                        return -EINVAL;
                if (streq(a, "--caps") && o->n_caps < MAX_CAPS_FILES)
                        o->caps[o->n_caps++] = v;
                else if (streq(a, "--channel"))
                        o->channel = v;
                else if (streq(a, "--scratch")) {
                        if (ob_scratch_add(v) < 0)
                                return -EINVAL;
                } else if (streq(a, "--channel-fd")) {
                        unsigned fd;
                        if (parse_id(v, &fd) < 0 || fd > 1024)
                                return -EINVAL;
                        o->channel_fd = (int)fd;
                } else if (streq(a, "--uid")) {
                        if (parse_id(v, &o->cfg.uid) < 0)
                                return -EINVAL;
                } else if (streq(a, "--gid")) {
                        if (parse_id(v, &o->cfg.gid) < 0)
                                return -EINVAL;
                } else
                        return -EINVAL;
                i++;
        }
        if (o->n_caps == 0 || !o->channel == (o->channel_fd < 0))
                return -EINVAL;
        if (o->hold || o->wait)
                return i >= argc && !o->exec_stdio && !(o->hold && o->wait) && o->channel_fd >= 0
                           ? 0
                           : -EINVAL;
        if (o->exec_stdio) /* the command here, or a spare's in the header */
                return o->channel_fd < 0 ? -EINVAL : (o->cfg.argv = i < argc ? argv + i : NULL, 0);
        if (i >= argc)
                return -EINVAL;
        o->cfg.argv = argv + i;
        return 0;
}

/* The channel handed over as an open socket (the runner gives runsc one
 * end of a socketpair as stdin: no host socket needs to be reachable).
 * It moves above 2 (close-on-exec) and /dev/null takes its place, so the
 * workload never holds it. Returns the new fd or -errno. With --hold,
 * which only writes its two events, a pipe or file will do: a pod's PID 1
 * (environments/render_k8s_pod.c) writes them to its stdout, the
 * container's log. */
static int adopt_channel_fd(int fd, bool hold)
{
        struct stat st;
        int nfd, null;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISSOCK(st.st_mode) &&
            !(hold && (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))))
                return -ENOTSOCK;
        nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (nfd < 0)
                return negative_errno();
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, fd) < 0) {
                int r = negative_errno();
                if (null >= 0)
                        close(null);
                close(nfd);
                return r;
        }
        if (null != fd)
                close(null);
        return nfd;
}

static int connect_channel(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        return fd;
}

/* The union of every --caps file (a target is allowed when some file
 * grants it and none denies it). */
static int load_caps(const options *o, ob_capset **ret)
{
        ob_capset *set = NULL;
        ob_error err = {0};
        int r = 0;

        for (size_t i = 0; r >= 0 && i < o->n_caps; i++) {
                ob_capset *one = NULL;
                r = ob_capset_load(o->caps[i], &one, &err);
                if (r < 0) {
                        if (err.line)
                                fprintf(stderr, "omnibase: %s:%u:%u: %s\n", o->caps[i], err.line,
                                        err.column, err.message);
                        else
                                fprintf(stderr, "omnibase: %s: %s\n", o->caps[i],
                                        err.message[0] ? err.message : strerror(-r));
                        break;
                }
                if (!set)
                        set = one;
                else {
                        r = ob_capset_union(set, one);
                        ob_capset_free(one);
                }
        }
        if (r < 0) {
                ob_capset_free(set);
                return r;
        }
        *ret = set;
        return 0;
}

static void setup_signals(void)
{
        struct sigaction sa = {.sa_handler = forward_signal};

        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
}

/* Whether the run has a network: the runner gives runsc --network=host
 * exactly when the user's capability set grants some NETWORK_CONNECT. The
 * sandbox's own loopback grants (`sandbox:loopback`, runner/sidecar.c) are
 * written only for a run with no network (gVisor's netstack): they do not
 * count. (A user's grant spelled with that policy id would only lose its
 * run the hostinet recvfrom workaround: the user's own sandbox.) */
static bool has_network_grant(const ob_capset *caps)
{
        for (size_t i = 0; i < ob_capset_count(caps, false); i++) {
                const ob_capability *g = ob_capset_get(caps, false, i);
                if (g->kind == OB_CAP_NETWORK_CONNECT &&
                    !(g->policy_id && streq(g->policy_id, "sandbox:loopback")))
                        return true;
        }
        return false;
}

/* The filter is built before a request or an exec's header is waited
 * for: a pooled sandbox and a spare exec have it ready. */
static int run(const options *o, ob_capset *caps, int channel_fd, void *filter)
{
        ob_supervisor sup = {.caps = caps, .channel_fd = channel_fd};
        ob_channel_msg ex = {.type = OB_CHANNEL_SANDBOX_EXIT};
        int status;

        (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        setup_signals();
        sup.main_pid = ob_spawn_workload(&o->cfg, filter);
        sup.spare_pid = o->relay_pid;
        sup.async_all = o->cfg.tty_fd >= 0; /* a terminal signals its foreground job */
        if (o->cfg.tty_fd >= 0)
                close(o->cfg.tty_fd); /* the workload's alone: its end is the master's EOF */
        if (sup.main_pid < 0) {
                fprintf(stderr, "omnibase: starting the workload: %s\n", strerror(-sup.main_pid));
                return EXIT_SIDECAR_FAILED;
        }
        workload_pid = sup.main_pid;
        sup.argv0 = o->cfg.argv[0];
        status = ob_supervise(&sup);
        ob_supervisor_done(&sup);
        if (status < 0) {
                fprintf(stderr, "omnibase: supervising the workload: %s\n", strerror(-status));
                return EXIT_SIDECAR_FAILED;
        }
        ex.exit_code = status;
        ex.signal = WIFSIGNALED(sup.main_status) ? WTERMSIG(sup.main_status) : 0;
        ex.denials = sup.denials;
        ex.dropped = sup.dropped;
        ex.pids_refused = sup.pids_refused;
        (void)ob_channel_send(channel_fd, &ex);
        return status;
}

/* PID 1 of an environment: says it is up, reaps whatever is reparented to
 * it, and ends (SandboxExit 0) at SIGTERM, SIGINT or SIGHUP. Anything the
 * host writes on a socket channel is answered with SandboxStart again: a
 * sandbox restored from a checkpoint (`runsc restore`, its PID 1 frozen
 * here) says so that it is up (runner/sandbox.c, docs/environments.md
 * §Memory snapshots). */
static int hold(int channel_fd)
{
        ob_channel_msg st = {.type = OB_CHANNEL_SANDBOX_START, .argv0 = (char *)"(environment)"};
        ob_channel_msg ex = {.type = OB_CHANNEL_SANDBOX_EXIT};
        struct signalfd_siginfo si;
        struct pollfd fds[2];
        struct stat s;
        sigset_t set;
        char buf[64];

        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN); /* a pod's log reader gone must not end PID 1 */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        fds[0] = (struct pollfd){.fd = signalfd(-1, &set, SFD_CLOEXEC), .events = POLLIN};
        /* a pod's pipe or log file is written only */
        fds[1] = (struct pollfd){
            .fd = fstat(channel_fd, &s) == 0 && S_ISSOCK(s.st_mode) ? channel_fd : -1,
            .events = POLLIN};
        st.pid = getpid();
        if (fds[0].fd < 0 || ob_channel_send(channel_fd, &st) < 0)
                return EXIT_SIDECAR_FAILED;
        for (;;) {
                if (poll(fds, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return EXIT_SIDECAR_FAILED;
                }
                if (fds[1].revents) {
                        ssize_t n = read(channel_fd, buf, sizeof(buf));
                        if (n > 0)
                                (void)ob_channel_send(channel_fd, &st);
                        else if (n == 0 || (errno != EINTR && errno != EAGAIN))
                                fds[1].fd = -1; /* the host end is gone: stop watching */
                }
                if (!fds[0].revents || read(fds[0].fd, &si, sizeof(si)) != sizeof(si))
                        continue;
                if (si.ssi_signo == SIGCHLD) {
                        while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
                                ;
                        continue;
                }
                break;
        }
        (void)ob_channel_send(channel_fd, &ex);
        return 0;
}

int main(int argc, char **argv)
{
        options o = {.channel_fd = -1, .cfg.tty_fd = -1};
        ob_exec_stdio_info io = {.tty_fd = -1};
        ob_capset *caps = NULL;
        void *filter = NULL;
        bool ok = false;
        int fd, r;

        if (argc == 2 && streq(argv[1], "--list-libs")) {
                dl_iterate_phdr(print_lib, NULL);
                return fflush(stdout) == 0 ? 0 : EXIT_SIDECAR_FAILED;
        }
        if (parse_args(argc, argv, &o) < 0)
                return usage();
        /* first the channel: the runner accepts one connection, then unlinks;
         * or it is already open */
        fd = o.channel ? connect_channel(o.channel) : adopt_channel_fd(o.channel_fd, o.hold);
        if (fd < 0) {
                if (o.channel)
                        fprintf(stderr, "omnibase: %s: connecting to the event channel: %s\n",
                                o.channel, strerror(-fd));
                else
                        fprintf(stderr, "omnibase: --channel-fd %d: %s\n", o.channel_fd,
                                strerror(-fd));
                return EXIT_SIDECAR_FAILED;
        }
        if (load_caps(&o, &caps) < 0) {
                close(fd);
                return EXIT_SIDECAR_FAILED;
        }
        if (!o.hold && (r = ob_filter_build(&filter, has_network_grant(caps))) < 0)
                fprintf(stderr, "omnibase: building the seccomp filter: %s\n", strerror(-r));
        else if (o.exec_stdio && (r = ob_exec_stdio(fd, &io)) < 0)
                fprintf(stderr, "omnibase: reading the exec's header: %s\n", strerror(-r));
        else if (o.exec_stdio && !o.cfg.argv == !io.argv)
                fprintf(stderr, "omnibase: the exec's command must come %s\n",
                        io.argv ? "in its header or on the command line, not both"
                                : "on the command line or in its header");
        else if (io.cwd && chdir(io.cwd) < 0)
                fprintf(stderr, "omnibase: the exec's directory %s: %s\n", io.cwd, strerror(errno));
        else if (o.wait && (r = ob_wait_request(fd, &o.cfg.argv)) < 0) {
                if (r != -EPIPE) /* EPIPE: the pool went away before a request */
                        fprintf(stderr, "omnibase: waiting for the pool's request: %s\n",
                                strerror(-r));
        } else {
                if (io.argv)
                        o.cfg.argv = io.argv;
                o.cfg.tty_fd = io.tty_fd;
                o.relay_pid = io.relay_pid;
                ok = true;
        }
        r = !ok ? EXIT_SIDECAR_FAILED : o.hold ? hold(fd) : run(&o, caps, fd, filter);
        ob_filter_free(filter);
        ob_strv_free(io.argv);
        free(io.cwd);
        ob_capset_free(caps);
        close(fd);
        return r;
}
