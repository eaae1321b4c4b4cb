/* SPDX-License-Identifier: Apache-2.0 */
/* Starting runsc and supervising it: one process, no threads; poll() over the
 * output pipes, a pidfd for the child and a signalfd for SIGINT/SIGTERM/
 * SIGHUP; the wall-clock deadline is poll's timeout. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <assert.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "runner/network.h"
#include "runner/runner.h"

#define KILL_GRACE_MS 5000

static int pidfd_open_(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* In the child: stdio, a clean signal state, no inherited fds, then exec. */
static _Noreturn void exec_child(const char *runsc, const char *const *argv, int in, int out,
                                 int err, const ob_run_network_launch *net)
{
        sigset_t none;
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        signal(s, SIG_DFL);
        (void)setsid();
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (devnull < 0 || dup2(in >= 0 ? in : devnull, 0) < 0 ||
            dup2(out >= 0 ? out : devnull, 1) < 0 || dup2(err >= 0 ? err : devnull, 2) < 0)
                _exit(127);
        /* the run's network namespace and cgroup-v2 directory (BPF egress) */
        if (net && (setns(net->netns_fd, CLONE_NEWNET) < 0 ||
                    (net->cgroup_procs_fd >= 0 && write(net->cgroup_procs_fd, "0", 1) != 1)))
                _exit(127);
        (void)syscall(SYS_close_range, 3, ~0U, 0);
        execvp(runsc, (char *const *)argv);
        _exit(127);
}

static int spawn(const char *runsc, const char *const *argv, int in, int out, int err,
                 const ob_run_network_launch *net, pid_t *ret)
{
        pid_t pid = fork();

        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                exec_child(runsc, argv, in, out, err, net);
        *ret = pid;
        return 0;
}

int ob_runsc_spawn(const char *runsc, const char *const *argv, int in, int out, int err,
                   int netns_fd, pid_t *ret)
{
        const ob_run_network_launch in_netns = {.netns_fd = netns_fd, .cgroup_procs_fd = -1};

        return spawn(runsc, argv, in, out, err, netns_fd >= 0 ? &in_netns : NULL, ret);
}

int ob_runsc_call(const char *runsc, const char *const *args, int netns_fd, int timeout_ms)
{
        return ob_runsc_call_err(runsc, args, netns_fd, timeout_ms, -1);
}

int ob_runsc_call_err(const char *runsc, const char *const *args, int netns_fd, int timeout_ms,
                      int stderr_fd)
{
        const ob_run_network_launch in_netns = {.netns_fd = netns_fd, .cgroup_procs_fd = -1};
        const char *argv[16];
        size_t n = 0;
        pid_t pid;
        int64_t end = ob_mono_ms() + timeout_ms;
        int status, r, pidfd;

        argv[n++] = runsc;
        for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        r = spawn(runsc, argv, -1, -1, stderr_fd, netns_fd >= 0 ? &in_netns : NULL, &pid);
        if (r < 0)
                return r;
        pidfd = pidfd_open_(pid); /* its end wakes us; without one, 5 ms polls */
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                int64_t left = end - ob_mono_ms();
                if (w == pid) {
                        closep(&pidfd);
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                }
                if (w < 0 && errno != EINTR) {
                        closep(&pidfd);
                        return negative_errno();
                }
                if (left < 0) {
                        kill(pid, SIGKILL);
                        (void)waitpid(pid, &status, 0);
                        closep(&pidfd);
                        return -ETIMEDOUT;
                }
                if (pidfd >= 0)
                        (void)poll(&(struct pollfd){.fd = pidfd, .events = POLLIN}, 1,
                                   (int)(left < INT32_MAX ? left : INT32_MAX));
                else
                        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
        }
}

typedef struct stream {
        int fd;      /* read end; -1 at EOF */
        int pass_fd; /* live copy, -1 when capturing only */
        char *buf;
        size_t len, cap;
        bool truncated;
        bool held;     /* the live copy waits (ob_launch_release) */
        size_t passed; /* bytes of buf already copied to pass_fd */
} stream;

/* Copies buf[passed, len) to pass_fd; a reader that went away stops it. */
static void pass_on(stream *s)
{
        while (s->pass_fd >= 0 && !s->held && s->passed < s->len) {
                ssize_t w = write(s->pass_fd, s->buf + s->passed, s->len - s->passed);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) { /* the reader went away: keep capturing */
                        s->pass_fd = -1;
                        break;
                }
                s->passed += (size_t)w;
        }
}

/* Room for need bytes (at most max): the buffer grows as output arrives,
 * doubling from 4 KiB, instead of output_cap bytes per stream up front. */
static bool grow(stream *s, size_t need, size_t max)
{
        size_t cap = s->cap ? s->cap : 4096;
        char *nb;

        if (need <= s->cap)
                return true;
        while (cap < need)
                cap *= 2;
        if (cap > max)
                cap = max;
        nb = realloc(s->buf, cap);
        if (!nb)
                return false;
        s->buf = nb;
        s->cap = cap;
        return true;
}

/* Reads what is there; returns true when the cap was passed. */
static bool drain(stream *s, size_t cap)
{
        char chunk[65536];
        ssize_t n = read(s->fd, chunk, sizeof(chunk));

        if (n <= 0) {
                if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                        close(s->fd);
                        s->fd = -1;
                }
                return false;
        }
        size_t keep = s->len < cap ? cap - s->len : 0;
        if ((size_t)n < keep)
                keep = (size_t)n;
        if (keep && !grow(s, s->len + keep + 1, cap + 1)) {
                keep = 0; /* out of memory: the rest is dropped, as past the cap */
                s->truncated = true;
        }
        if (keep) {
                memcpy(s->buf + s->len, chunk, keep);
                s->len += keep;
                s->buf[s->len] = '\0';
                pass_on(s);
        }
        if ((size_t)n > keep && !s->truncated) {
                s->truncated = true;
                return true;
        }
        return false;
}

struct ob_launch_state {
        ob_launch l; /* a copy: the caller's struct may go */
        pid_t pid;
        int pidfd, sigfd;
        int chan_fd; /* the sidecar's channel (our end of runsc's stdin), -1 when done */
        ob_channel_reader reader;
        stream s[2];
        bool exited, kill_sent;
        int64_t t0, deadline; /* deadline 0: none */
        int64_t kill_at;      /* when the sandbox was told to die, for the grace */
        int status;
        bool early;       /* a pooled run's sidecar said SandboxExit: the result is known */
        int early_status; /* ... as runsc's wait status would say it */
        ob_launch_result res;
};

typedef ob_launch_state supervisor;

static void stop_sandbox(supervisor *sv)
{
        const char *args[] = {"--root", sv->l.runsc_root, "kill", "--all", sv->l.id, "KILL", NULL};
        if (sv->kill_sent)
                return;
        sv->kill_sent = true;
        sv->kill_at = ob_mono_ms();
        /* no container yet, or runsc stuck: kill `runsc run` itself, but
         * never a pid already reaped (it may belong to someone else now) */
        if (ob_runsc_call(sv->l.runsc, args, sv->l.net ? sv->l.net->netns_fd : -1, 5000) != 0 &&
            !sv->exited)
                kill(sv->pid, SIGKILL);
}

void ob_launch_stop(ob_launch_state *sv)
{
        stop_sandbox(sv);
}

void ob_launch_interrupt(ob_launch_state *sv, int sig)
{
        if (!sv->res.signal && !sv->exited) {
                sv->res.signal = sig;
                stop_sandbox(sv);
        }
}

void ob_launch_release(ob_launch_state *sv)
{
        sv->s[1].held = false;
        pass_on(&sv->s[1]);
}

void ob_launch_warm_begin(ob_launch_state *sv, bool capture, int stdout_fd, int stderr_fd,
                          int64_t timeout_ms)
{
        sv->l.capture = capture;
        sv->s[0].pass_fd = capture ? -1 : stdout_fd;
        sv->s[1].pass_fd = capture ? -1 : stderr_fd;
        sv->t0 = ob_mono_ms();
        sv->deadline = timeout_ms > 0 ? sv->t0 + timeout_ms : 0;
}

void ob_launch_early_exit(ob_launch_state *sv, int exit_code)
{
        sv->early = true;
        sv->early_status = (exit_code & 0xff) << 8;
}

static void close_fd(int *fd);
static void channel_close(supervisor *sv);

/* The workload and the sidecar are done: what they wrote is in the pipes
 * already (gVisor writes a host fd synchronously), so take it and end the
 * run now rather than after the sentry's teardown; runsc is killed and
 * reaped by finish, the sandbox removed by the run's cleanup. */
static void early_end(supervisor *sv)
{
        for (int i = 0; i < 2; i++) {
                for (int k = 0; k < 4096 && sv->s[i].fd >= 0; k++) {
                        struct pollfd f = {.fd = sv->s[i].fd, .events = POLLIN};
                        if (poll(&f, 1, 0) <= 0)
                                break;
                        if (drain(&sv->s[i], sv->l.output_cap))
                                sv->res.output_exceeded = true;
                }
                close_fd(&sv->s[i].fd);
        }
        channel_close(sv);
}

int ob_launch_channel_write(ob_launch_state *sv, const char *buf, size_t len)
{
        int64_t end = ob_mono_ms() + 2000;

        while (len > 0) {
                ssize_t w = sv->chan_fd >= 0 ? write(sv->chan_fd, buf, len) : -1;
                if (sv->chan_fd < 0)
                        return -EPIPE;
                if (w > 0) {
                        buf += w;
                        len -= (size_t)w;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return negative_errno();
                if (ob_mono_ms() > end)
                        return -ETIMEDOUT;
                (void)poll(&(struct pollfd){.fd = sv->chan_fd, .events = POLLOUT}, 1, 100);
        }
        return 0;
}

/* poll's timeout: to the deadline or the end of the kill grace; without
 * either, at most a second (waitpid is also checked each round, for a
 * kernel without pidfds), never 0 in a loop. */
static int poll_timeout(const supervisor *sv)
{
        int64_t now = ob_mono_ms(), t;

        if (sv->kill_sent)
                t = sv->kill_at + KILL_GRACE_MS - now;
        else if (sv->deadline > 0)
                t = sv->deadline - now;
        else
                t = 1000;
        return t < 0 ? 0 : (int)(t > 1000 ? 1000 : t);
}

static void close_fd(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void channel_close(supervisor *sv)
{
        close_fd(&sv->chan_fd);
        ob_channel_reader_done(&sv->reader);
}

/* Refuses the rest of the channel after a line that breaks the protocol. */
static void channel_fail(supervisor *sv, const char *why)
{
        if (!sv->res.channel_bad)
                snprintf(sv->res.channel_message, sizeof(sv->res.channel_message), "%.150s", why);
        sv->res.channel_bad = true;
        channel_close(sv);
}

/* What the sidecar sent: whole lines only (bounded), each decoded strictly. */
static int channel_step(supervisor *sv)
{
        char *line = NULL;
        size_t len = 0;
        int r, k;

        r = ob_channel_reader_fill(&sv->reader, sv->chan_fd);
        if (r == -EAGAIN || r == -EINTR)
                return r;
        while ((k = ob_channel_reader_next(&sv->reader, &line, &len)) > 0) {
                ob_channel_msg msg = {0};
                ob_error e = {0};
                int d = ob_channel_decode(line, len, &msg, &e);
                free(line);
                if (d < 0) {
                        channel_fail(sv, e.message);
                        return d;
                }
                if (sv->l.on_channel)
                        sv->l.on_channel(&msg, sv->l.channel_userdata);
                ob_channel_msg_done(&msg);
        }
        if (k < 0)
                channel_fail(sv, k == -EBADMSG ? "torn last line" : "line too long");
        else if (r <= 0)
                channel_close(sv); /* end of stream (the sandbox is gone) or an error */
        return k < 0 ? k : r;
}

enum { PFD_OUT, PFD_ERR, PFD_PID, PFD_SIG, PFD_NET, PFD_CHAN };

size_t ob_launch_pollfds(ob_launch_state *sv, struct pollfd fds[OB_LAUNCH_POLLFDS],
                         int *ret_timeout_ms)
{
        if ((sv->exited || (sv->early && !sv->kill_sent)) && sv->s[0].fd < 0 && sv->s[1].fd < 0 &&
            sv->chan_fd < 0)
                return 0;
        fds[PFD_OUT] = (struct pollfd){.fd = sv->s[0].fd, .events = POLLIN};
        fds[PFD_ERR] = (struct pollfd){.fd = sv->s[1].fd, .events = POLLIN};
        fds[PFD_PID] = (struct pollfd){.fd = sv->exited ? -1 : sv->pidfd, .events = POLLIN};
        fds[PFD_SIG] = (struct pollfd){.fd = sv->sigfd, .events = POLLIN};
        fds[PFD_NET] = (struct pollfd){.fd = sv->l.net ? sv->l.net->poll_fd : -1, .events = POLLIN};
        fds[PFD_CHAN] = (struct pollfd){.fd = sv->chan_fd, .events = POLLIN};
        *ret_timeout_ms = poll_timeout(sv);
        return OB_LAUNCH_POLLFDS;
}

bool ob_launch_step(ob_launch_state *sv, const struct pollfd fds[OB_LAUNCH_POLLFDS])
{
        ob_launch_result *res = &sv->res;

        if (fds[PFD_CHAN].revents && sv->chan_fd >= 0)
                channel_step(sv);
        if (fds[PFD_NET].revents && sv->l.net)
                sv->l.net->drain(sv->l.net->data); /* BPF denials -> events */
        for (int i = 0; i < 2; i++)
                if (fds[i].revents && sv->s[i].fd >= 0 && drain(&sv->s[i], sv->l.output_cap)) {
                        res->output_exceeded = true;
                        stop_sandbox(sv);
                }
        if (fds[PFD_SIG].revents && sv->sigfd >= 0) {
                struct signalfd_siginfo si;
                if (read(sv->sigfd, &si, sizeof(si)) == sizeof(si) && !res->signal) {
                        res->signal = (int)si.ssi_signo;
                        stop_sandbox(sv);
                }
        }
        if (!sv->exited && waitpid(sv->pid, &sv->status, WNOHANG) == sv->pid)
                sv->exited = true;
        if (!sv->kill_sent && sv->deadline > 0 && ob_mono_ms() >= sv->deadline) {
                res->timed_out = true;
                stop_sandbox(sv);
        }
        if (sv->l.on_round && !sv->l.on_round(sv->l.channel_userdata) && !res->round_failed) {
                res->round_failed = true;
                stop_sandbox(sv);
        }
        if (sv->early && !sv->exited && !sv->kill_sent)
                early_end(sv);
        if (sv->kill_sent && ob_mono_ms() > sv->kill_at + KILL_GRACE_MS) {
                if (!sv->exited) {
                        kill(sv->pid, SIGKILL);
                        (void)waitpid(sv->pid, &sv->status, 0);
                        sv->exited = true;
                }
                /* grandchildren may hold the pipes: stop reading */
                close_fd(&sv->chan_fd);
                for (int i = 0; i < 2; i++)
                        close_fd(&sv->s[i].fd);
        }
        return !((sv->exited || (sv->early && !sv->kill_sent)) && sv->s[0].fd < 0 &&
                 sv->s[1].fd < 0 && sv->chan_fd < 0);
}

static int start(supervisor *sv, ob_error *err)
{
        const ob_launch *l = &sv->l;
        int out[2] = {-1, -1}, errp[2] = {-1, -1}, r;
        const char *net = l->net ? "--network=host" : "--network=none";
        /* the sidecar's channel is runsc's stdin: no --host-uds, no host socket reachable */
        const char *argv[20];
        size_t n = 0;

        argv[n++] = l->runsc;
        argv[n++] = "--root";
        argv[n++] = l->runsc_root;
        argv[n++] = net;
        argv[n++] = "--platform=ptrace";
        if (l->panic_log) { /* a sentry crash, said in the verdict (runner/sandbox.c) */
                argv[n++] = "--panic-log";
                argv[n++] = l->panic_log;
        }
        argv[n++] = "--log";
        argv[n++] = l->log_path;
        argv[n++] = l->verb;
        if (l->image_path) { /* runsc restore: the checkpoint to boot from */
                argv[n++] = "--image-path";
                argv[n++] = l->image_path;
        }
        argv[n++] = "--bundle";
        argv[n++] = l->bundle;
        argv[n++] = l->id;
        argv[n] = NULL;
        assert(n < ARRAY_SIZE(argv));
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                r = negative_errno();
                closep(&out[0]);
                closep(&out[1]);
                return ob_error_set(err, 0, 0, r, "pipe: %s", strerror(-r));
        }
        for (int i = 0; i < 2; i++) {
                stream *s = &sv->s[i];
                s->fd = i == 0 ? out[0] : errp[0];
                s->pass_fd = l->capture ? -1 : (i == 0 ? l->stdout_fd : l->stderr_fd);
                /* before the workload's exec only the sidecar and runsc write
                 * there: their errors become the run's one-line message */
                s->held = l->hold_stderr && i == 1;
        }
        r = spawn(l->runsc, argv, l->channel_child_fd, out[1], errp[1], l->net, &sv->pid);
        close(out[1]);
        close(errp[1]);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "cannot start %s: %s", l->runsc, strerror(-r));
        sv->pidfd = pidfd_open_(sv->pid);
        return 0;
}

static void state_free(supervisor *sv)
{
        for (int i = 0; i < 2; i++) {
                closep(&sv->s[i].fd);
                free(sv->s[i].buf);
        }
        closep(&sv->pidfd);
        channel_close(sv);
        free(sv);
}

int ob_launch_start(const ob_launch *l, ob_launch_state **ret, ob_error *err)
{
        supervisor *sv = calloc(1, sizeof(*sv));
        int r;

        if (!sv) {
                if (l->channel_child_fd >= 0)
                        close(l->channel_child_fd);
                return -ENOMEM;
        }
        *sv = (supervisor){.l = *l,
                           .pid = -1,
                           .pidfd = -1,
                           .sigfd = l->sigfd,
                           .chan_fd = l->channel_fd,
                           .s = {{.fd = -1}, {.fd = -1}},
                           .t0 = ob_mono_ms()};
        if (!sv->l.verb)
                sv->l.verb = "run";
        sv->deadline = l->timeout_ms > 0 ? sv->t0 + l->timeout_ms : 0;
        r = start(sv, err);
        if (l->channel_child_fd >= 0)
                close(l->channel_child_fd); /* runsc has it: EOF when the sandbox is gone */
        sv->l.channel_child_fd = -1;
        if (r < 0) {
                state_free(sv);
                return r;
        }
        *ret = sv;
        return 0;
}

void ob_launch_finish(ob_launch_state *sv, ob_launch_result *ret)
{
        ob_launch_result res;

        if (!sv->exited) {
                kill(sv->pid, SIGKILL);
                (void)waitpid(sv->pid, &sv->status, 0);
                if (sv->early && !sv->kill_sent)
                        sv->status = sv->early_status;
        }
        for (int i = 0; i < 2; i++)
                closep(&sv->s[i].fd);
        closep(&sv->pidfd);
        /* what the sidecar sent before the sandbox went (bounded: 64 MiB) */
        for (int i = 0; i < 4096 && sv->chan_fd >= 0; i++)
                if (channel_step(sv) == -EAGAIN)
                        break;
        res = sv->res;
        res.wait_status = sv->status;
        for (int i = 0; i < 2; i++)
                if (!sv->s[i].buf) /* nothing came: an empty string all the same */
                        sv->s[i].buf = calloc(1, 1);
        res.out = TAKE_PTR(sv->s[0].buf);
        res.out_len = sv->s[0].len;
        res.out_truncated = sv->s[0].truncated;
        res.err = TAKE_PTR(sv->s[1].buf);
        res.err_len = sv->s[1].len;
        res.err_truncated = sv->s[1].truncated;
        res.wall_ms = ob_mono_ms() - sv->t0;
        state_free(sv);
        *ret = res;
}

void ob_launch_result_done(ob_launch_result *r)
{
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
}
