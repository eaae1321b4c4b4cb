/* SPDX-License-Identifier: Apache-2.0 */
/* Exec into a held run (an environment's sandbox): `runsc exec` of the
 * sidecar, which runs the command as the sandbox user under the same
 * seccomp filter and ptrace checks as a one-shot workload. The sidecar's
 * channel is a socketpair given to runsc exec as stdin: events come back on
 * it; the header (environment variables, secrets among them) and the
 * command's stdin go in on it, so nothing secret is in a host argv.
 *
 * A spare is such a runsc exec started before there is a command: its
 * sidecar loads, builds its filter and waits for the header, which then
 * carries the command and its directory too; its stdout and stderr are
 * pipes that a host relay copies to the caller's. That takes runsc exec's
 * start and the sidecar's off the path of a request (docs/environments.md
 * §Exec). */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "common/fs.h"
#include "common/json.h"
#include "runner/runner.h"

/* The capabilities the sidecar runs with (as in runner/spec.c's process). */
static const char *const sidecar_caps[] = {"CAP_SETUID",     "CAP_SETGID", "CAP_SETPCAP",
                                           "CAP_SYS_PTRACE", "CAP_KILL",   "CAP_DAC_READ_SEARCH"};

int ob_exec_header(const char *const *env, size_t n, const ob_exec_spec *spec, bool cmd,
                   bool no_stdin, char **ret, size_t *ret_len)
{
        cJSON *root = cJSON_CreateObject(), *vars = cJSON_AddObjectToObject(root, "env");
        const ob_exec_tty *tty = spec->tty;
        char *text;
        size_t len;
        int r = vars ? 0 : -ENOMEM;

        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *eq = strchr(env[i], '=');
                char name[129];
                if (!eq || eq == env[i] || (size_t)(eq - env[i]) >= sizeof(name)) {
                        r = -EINVAL;
                        break;
                }
                memcpy(name, env[i], (size_t)(eq - env[i]));
                name[eq - env[i]] = '\0';
                if (!cJSON_AddStringToObject(vars, name, eq + 1))
                        r = -ENOMEM;
        }
        if (r >= 0 && tty) {
                cJSON *t = cJSON_AddObjectToObject(root, "tty");
                if (!t || !cJSON_AddNumberToObject(t, "rows", tty->rows) ||
                    !cJSON_AddNumberToObject(t, "cols", tty->cols) ||
                    !cJSON_AddStringToObject(t, "term", tty->term ? tty->term : "xterm"))
                        r = -ENOMEM;
        }
        if (r >= 0 && cmd) {
                cJSON *a = cJSON_AddArrayToObject(root, "argv");
                for (size_t i = 0; a && spec->argv[i]; i++)
                        if (!cJSON_AddItemToArray(a, cJSON_CreateString(spec->argv[i])))
                                a = NULL;
                if (!a || !cJSON_AddStringToObject(root, "cwd", spec->cwd ? spec->cwd : "/"))
                        r = -ENOMEM;
        }
        if (r >= 0 && no_stdin && !tty && !cJSON_AddFalseToObject(root, "stdin"))
                r = -ENOMEM;
        text = r >= 0 ? cJSON_PrintUnformatted(root) : NULL;
        ob_json_delete_wiped(root); /* it holds the variables, secrets among them */
        if (r >= 0 && !text)
                r = -ENOMEM;
        if (r < 0)
                return r;
        len = strlen(text);
        *ret = malloc(len + 2);
        if (*ret) {
                memcpy(*ret, text, len);
                (*ret)[len] = '\n';
                (*ret)[len + 1] = '\0';
        }
        explicit_bzero(text, len); /* it may hold secrets */
        free(text);
        if (!*ret)
                return -ENOMEM;
        *ret_len = len + 1;
        return 0;
}

static int build_argv(const ob_run_exec_target_info *t, const ob_exec_spec *spec, const char ***ret)
{
        const char *const *head;
        size_t n_head = ob_sidecar_argv_head(&head), n_cmd = 0, n = 0;
        const char **argv;

        while (spec->argv && spec->argv[n_cmd])
                if (++n_cmd > OB_SANDBOX_MAX_ARGS)
                        return -E2BIG;
        argv = calloc(16 + 2 * ARRAY_SIZE(sidecar_caps) + n_head + n_cmd, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        argv[n++] = t->runsc;
        argv[n++] = "--root";
        argv[n++] = t->runsc_root;
        argv[n++] = "exec";
        argv[n++] = "-user";
        argv[n++] = "0:0";
        argv[n++] = "-cwd";
        argv[n++] = spec->cwd ? spec->cwd : "/";
        for (size_t i = 0; i < ARRAY_SIZE(sidecar_caps); i++) {
                argv[n++] = "-cap";
                argv[n++] = sidecar_caps[i];
        }
        argv[n++] = t->id;
        for (size_t i = 0; i + 1 < n_head; i++)
                argv[n++] = head[i];
        argv[n++] = "--exec-stdio";
        if (n_cmd > 0) /* else a spare's: the command comes in the header */
                argv[n++] = "--";
        for (size_t i = 0; i < n_cmd; i++)
                argv[n++] = spec->argv[i];
        argv[n] = NULL;
        *ret = argv;
        return 0;
}

int ob_run_exec_spawn(const ob_run_exec_target_info *t, const ob_exec_spec *spec, pid_t *ret_pid,
                      int *ret_chan, ob_error *err)
{
        _cleanup_free_ const char **argv = NULL;
        int sp[2], r;
        pid_t pid;

        if (spec->argv && !spec->argv[0]) /* NULL: a spare's, from its header */
                return ob_error_set(err, 0, 0, EINVAL, "exec: no command");
        if (spec->cwd && spec->cwd[0] != '/')
                return ob_error_set(err, 0, 0, EINVAL, "exec: --cwd %s is not absolute", spec->cwd);
        r = build_argv(t, spec, &argv);
        if (r == -E2BIG)
                return ob_error_set(err, 0, 0, E2BIG, "exec: more than %d arguments",
                                    OB_SANDBOX_MAX_ARGS);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "exec: %s", strerror(-r));
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return ob_error_set(err, 0, 0, errno, "exec: channel: %s", strerror(errno));
        r = ob_runsc_spawn(t->runsc, argv, sp[1], spec->stdout_fd, spec->stderr_fd, t->netns_fd,
                           &pid);
        close(sp[1]);
        if (r < 0) {
                close(sp[0]);
                return ob_error_set(err, 0, 0, -r, "exec: starting runsc: %s", strerror(-r));
        }
        *ret_pid = pid;
        *ret_chan = sp[0];
        return 0;
}

/* ---- a spare: runsc exec of a sidecar that waits for its command ---- */

#define SPARE_END_MS 2000

struct ob_exec_spare {
        pid_t pid; /* runsc exec */
        int pidfd, chan;
        pid_t relay;     /* its output relay, forked with it (output_relay_wait) */
        int relay_pidfd; /* and relay_ctl: the caller's two fds go there at the take */
        int relay_ctl;
};

ob_exec_spare *ob_exec_spare_free(ob_exec_spare *s)
{
        if (!s)
                return NULL;
        /* the end of its channel ends the sidecar inside (it waits for its
         * header), then runsc exec; only a stuck one is killed */
        closep(&s->chan);
        closep(&s->relay_ctl); /* an untaken relay ends at that */
        if (s->pid > 0) {
                struct pollfd f = {.fd = s->pidfd, .events = POLLIN};
                if (s->pidfd < 0 || poll(&f, 1, SPARE_END_MS) <= 0)
                        kill(s->pid, SIGKILL);
                (void)waitpid(s->pid, NULL, 0);
        }
        if (s->relay > 0) {
                struct pollfd f = {.fd = s->relay_pidfd, .events = POLLIN};
                if (s->relay_pidfd < 0 || poll(&f, 1, SPARE_END_MS) <= 0)
                        kill(s->relay, SIGKILL);
                (void)waitpid(s->relay, NULL, 0);
        }
        closep(&s->pidfd);
        closep(&s->relay_pidfd);
        free(s);
        return NULL;
}

static _Noreturn void output_relay(int fds[4]);

/* The relay as the spare is made: holding only its control socket and the
 * two pipes (none of the caller's other fds), it waits for the caller's
 * two destinations, then relays. Forked now, not at the take, so that it
 * holds nothing of a request (its variables are secrets). */
static _Noreturn void output_relay_wait(int ctl, int out, int err)
{
        int mine[3] = {ctl, out, err}, hi = 6, fds[4];
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } cm;
        char byte;
        struct iovec iov = {&byte, 1};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cm.buf,
                            .msg_controllen = sizeof(cm.buf)};
        struct cmsghdr *c;
        ssize_t n;

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (int i = 0; i < 3; i++)
                hi = mine[i] >= hi ? mine[i] + 1 : hi;
        for (int i = 0; i < 3; i++) /* out of the way first, then in place */
                if ((mine[i] = fcntl(mine[i], F_DUPFD, hi + i)) < 0)
                        _exit(1);
        for (int i = 0; i < 3; i++)
                if (dup2(mine[i], 3 + i) < 0)
                        _exit(1);
        (void)syscall(SYS_close_range, 6, ~0U, 0);
        do
                n = recvmsg(3, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        c = n == 1 ? CMSG_FIRSTHDR(&mh) : NULL;
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len != CMSG_LEN(2 * sizeof(int)))
                _exit(0); /* the spare went unused */
        fds[0] = 4;
        fds[1] = 5;
        memcpy(&fds[2], CMSG_DATA(c), 2 * sizeof(int));
        close(3);
        output_relay(fds);
}

int ob_exec_spare_start(const ob_run_exec_target_info *t, ob_exec_spare **ret, ob_error *err)
{
        ob_exec_spare *s = calloc(1, sizeof(*s));
        ob_exec_spec spec = {.argv = NULL};
        int out[2] = {-1, -1}, errp[2] = {-1, -1}, ctl[2] = {-1, -1}, r = 0;

        if (!s)
                return ob_error_set(err, 0, 0, ENOMEM, "exec: %s", strerror(ENOMEM));
        s->pidfd = s->chan = s->relay_pidfd = s->relay_ctl = -1;
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0)
                r = ob_error_set(err, 0, 0, errno, "exec: pipes: %s", strerror(errno));
        spec.stdout_fd = out[1];
        spec.stderr_fd = errp[1];
        if (r >= 0)
                r = ob_run_exec_spawn(t, &spec, &s->pid, &s->chan, err);
        closep(&out[1]);
        closep(&errp[1]);
        if (r >= 0 && (s->relay = fork()) < 0)
                r = ob_error_set(err, 0, 0, errno, "exec: output relay: %s", strerror(errno));
        if (r >= 0 && s->relay == 0)
                output_relay_wait(ctl[1], out[0], errp[0]);
        closep(&out[0]);
        closep(&errp[0]);
        closep(&ctl[1]);
        s->relay_ctl = TAKE_FD(ctl[0]);
        if (r >= 0 && (s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0)) < 0)
                r = ob_error_set(err, 0, 0, errno, "exec: pidfd_open: %s", strerror(errno));
        if (r >= 0 && (s->relay_pidfd = (int)syscall(SYS_pidfd_open, s->relay, 0)) < 0)
                r = ob_error_set(err, 0, 0, errno, "exec: pidfd_open: %s", strerror(errno));
        if (r < 0) {
                ob_exec_spare_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int ob_exec_spare_fd(const ob_exec_spare *s)
{
        return s->pidfd;
}

/* Writes all of buf to fd, waiting when the caller's file description is
 * non-blocking (its flags are shared with the caller's); false when the
 * destination is gone. */
static bool relay_write(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t w = write(fd, buf, len);
                if (w < 0 && errno == EAGAIN) {
                        struct pollfd f = {.fd = fd, .events = POLLOUT};
                        (void)poll(&f, 1, -1);
                        continue;
                }
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return false;
                buf += w;
                len -= (size_t)w;
        }
        return true;
}

/* A host child that copies a spare's stdout and stderr to the caller's
 * fds with blocking writes (a slow reader holds it, never the caller's
 * poll loop), draining without copying once a destination is gone, and
 * ends when both have ended: every byte reaches the caller before the
 * exec's result, however slowly it reads. It keeps no other fd of the
 * caller's. A fork of the caller (for an environment, the supervisor: not
 * dumpable, no core), it lives as long as the exec's output. */
static _Noreturn void output_relay(int fds[4])
{
        static char buf[65536];
        bool open_[2] = {true, true}, broken[2] = {false, false};
        int hi = 7;

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_IGN);
        for (int i = 0; i < 4; i++)
                hi = fds[i] >= hi ? fds[i] + 1 : hi;
        for (int i = 0; i < 4; i++)
                if (fds[i] >= 0 && (fds[i] = fcntl(fds[i], F_DUPFD, hi + i)) < 0)
                        _exit(1);
        for (int i = 0; i < 4; i++) {
                if (fds[i] < 0) /* no destination: nothing of the caller's there */
                        (void)close(3 + i);
                else if ((fds[i] = dup2(fds[i], 3 + i)) < 0)
                        _exit(1);
        }
        (void)syscall(SYS_close_range, 7, ~0U, 0);
        while (open_[0] || open_[1]) {
                struct pollfd f[2] = {{.fd = open_[0] ? 3 : -1, .events = POLLIN},
                                      {.fd = open_[1] ? 4 : -1, .events = POLLIN}};
                if (poll(f, 2, -1) < 0 && errno != EINTR)
                        _exit(1);
                for (int i = 0; i < 2; i++) {
                        ssize_t n;
                        if (!f[i].revents)
                                continue;
                        n = read(3 + i, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                open_[i] = false;
                                continue;
                        }
                        if (!broken[i] && (fds[2 + i] < 0 || !relay_write(5 + i, buf, (size_t)n)))
                                broken[i] = true;
                }
        }
        _exit(0);
}

/* Hands the spare's relay the caller's two destinations (/dev/null for a
 * missing one); the relay is the exec's from here. */
static int start_output_relay(ob_exec_spare *s, const ob_exec_spec *spec, pid_t *ret_pid,
                              int *ret_pidfd)
{
        _cleanup_close_ int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        int fds[2] = {spec->stdout_fd >= 0 ? spec->stdout_fd : null,
                      spec->stderr_fd >= 0 ? spec->stderr_fd : null};
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(fds))];
        } cm = {0};
        struct iovec iov = {(char *)"x", 1};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cm.buf,
                            .msg_controllen = sizeof(cm.buf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        ssize_t n;

        if (fds[0] < 0 || fds[1] < 0)
                return -EBADF;
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(c), fds, sizeof(fds));
        do
                n = sendmsg(s->relay_ctl, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                return n < 0 ? negative_errno() : -EIO;
        closep(&s->relay_ctl);
        *ret_pid = s->relay;
        *ret_pidfd = TAKE_FD(s->relay_pidfd);
        s->relay = 0;
        return 0;
}

/* ---- one exec, driven from the caller's poll loop ---- */

#define EXEC_STDIN_BUF (64 * 1024)

struct ob_exec {
        char *runsc, *runsc_root, *id;
        int netns_fd; /* borrowed from the run */
        pid_t pid;    /* runsc exec */
        int pidfd, chan, stdin_fd;
        pid_t relay_pid; /* a spare's output relay (output_relay), else 0 */
        int relay_pidfd;
        int wait_status;
        bool reaped, chan_eof, stdin_eof, shut_wr, started, exited, timed_out, bad;
        bool kill_pending, cancelled;
        int64_t workload_pid, deadline_ms, started_ms;
        char *out; /* header, then stdin bytes, waiting to go in */
        size_t out_len, out_off;
        ob_channel_reader reader;
        ob_channel_msg exit_msg;
        ob_exec_msg_fn on_msg;
        void *userdata;
        ob_sandbox_result res;
};

ob_exec *ob_exec_free(ob_exec *x)
{
        if (!x)
                return NULL;
        if (!x->reaped && x->pid > 0) {
                kill(x->pid, SIGKILL);
                (void)waitpid(x->pid, NULL, 0);
        }
        if (x->relay_pid > 0) {
                kill(x->relay_pid, SIGKILL);
                (void)waitpid(x->relay_pid, NULL, 0);
        }
        closep(&x->relay_pidfd);
        closep(&x->pidfd);
        closep(&x->chan);
        closep(&x->stdin_fd);
        if (x->out) {
                explicit_bzero(x->out, x->out_len);
                free(x->out);
        }
        ob_channel_reader_done(&x->reader);
        ob_channel_msg_done(&x->exit_msg);
        ob_sandbox_result_done(&x->res);
        free(x->runsc);
        free(x->runsc_root);
        free(x->id);
        free(x);
        return NULL;
}

int ob_exec_start(const ob_run_exec_target_info *t, const ob_exec_spec *spec,
                  const char *const *env, size_t n_env, const ob_exec_io *io, ob_exec **ret,
                  ob_error *err)
{
        ob_exec *x = calloc(1, sizeof(*x));
        ob_exec_spare *sp = io->spare; /* ours now, whatever happens */
        bool no_stdin;
        int r;

        if (!x) {
                ob_exec_spare_free(sp);
                return -ENOMEM;
        }
        x->pidfd = x->chan = x->relay_pidfd = -1;
        x->stdin_fd = io->stdin_fd;
        no_stdin = x->stdin_fd < 0 || (!spec->tty && ob_fd_is_dev_null(x->stdin_fd));
        x->netns_fd = t->netns_fd;
        x->on_msg = io->on_msg;
        x->userdata = io->userdata;
        x->runsc = strdup(t->runsc);
        x->runsc_root = strdup(t->runsc_root);
        x->id = strdup(t->id);
        if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
                r = ob_error_set(err, 0, 0, EINVAL, "exec: no command");
        else if (spec->cwd && spec->cwd[0] != '/')
                r = ob_error_set(err, 0, 0, EINVAL, "exec: --cwd %s is not absolute", spec->cwd);
        else if (!x->runsc || !x->runsc_root || !x->id)
                r = ob_error_set(err, 0, 0, ENOMEM, "exec: %s", strerror(ENOMEM));
        else if ((r = ob_exec_header(env, n_env, spec, sp != NULL, no_stdin, &x->out,
                                     &x->out_len)) < 0)
                r = ob_error_set(err, 0, 0, -r, "exec: the environment variables: %s",
                                 strerror(-r));
        if (r < 0) {
                x->stdin_fd = -1; /* the caller's still */
                ob_exec_free(x);
                ob_exec_spare_free(sp);
                return r;
        }
        if (sp) {
                /* the spare's: runsc exec and its sidecar are already up */
                r = start_output_relay(sp, spec, &x->relay_pid, &x->relay_pidfd);
                if (r < 0)
                        r = ob_error_set(err, 0, 0, -r, "exec: output relay: %s", strerror(-r));
                x->pid = sp->pid;
                sp->pid = 0;
                x->pidfd = TAKE_FD(sp->pidfd);
                x->chan = TAKE_FD(sp->chan);
                ob_exec_spare_free(sp);
        } else
                r = ob_run_exec_spawn(t, spec, &x->pid, &x->chan, err);
        if (r >= 0 && x->pidfd < 0 && (x->pidfd = (int)syscall(SYS_pidfd_open, x->pid, 0)) < 0)
                r = ob_error_set(err, 0, 0, errno, "exec: pidfd_open: %s", strerror(errno));
        if (r >= 0 && fcntl(x->chan, F_SETFL, O_NONBLOCK) < 0)
                r = ob_error_set(err, 0, 0, errno, "exec: %s", strerror(errno));
        if (r < 0) {
                x->stdin_fd = -1; /* the caller's still */
                ob_exec_free(x);
                return r;
        }
        if (no_stdin) {
                closep(&x->stdin_fd); /* /dev/null: nothing to read */
                x->stdin_eof = true;
        }
        x->started_ms = ob_mono_ms();
        x->deadline_ms = io->timeout_ms > 0 ? x->started_ms + io->timeout_ms : 0;
        *ret = x;
        return 0;
}

size_t ob_exec_pollfds(ob_exec *x, struct pollfd fds[OB_EXEC_POLLFDS], int *ret_timeout_ms)
{
        bool want_out = x->out_off < x->out_len || (x->stdin_eof && !x->shut_wr);

        for (size_t i = 0; i < OB_EXEC_POLLFDS; i++)
                fds[i] = (struct pollfd){.fd = -1};
        if (x->reaped && x->relay_pid <= 0)
                return 0;
        fds[0] = (struct pollfd){.fd = x->chan_eof ? -1 : x->chan, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = want_out && !x->shut_wr ? x->chan : -1, .events = POLLOUT};
        fds[2] = (struct pollfd){.fd = x->out_off >= x->out_len && !x->stdin_eof ? x->stdin_fd : -1,
                                 .events = POLLIN};
        fds[3] = (struct pollfd){.fd = x->pidfd, .events = POLLIN};
        fds[4] = (struct pollfd){.fd = x->relay_pid > 0 ? x->relay_pidfd : -1, .events = POLLIN};
        *ret_timeout_ms = -1;
        if (x->reaped) /* only the output relay is left: its end, however long */
                fds[0] = fds[1] = fds[2] = fds[3] = (struct pollfd){.fd = -1};
        else if (x->deadline_ms && !x->timed_out) {
                int64_t left = x->deadline_ms - ob_mono_ms();
                *ret_timeout_ms = left < 0 ? 0 : (int)(left > INT32_MAX ? INT32_MAX : left);
        }
        return OB_EXEC_POLLFDS;
}

static void kill_command(ob_exec *x);
static void time_out(ob_exec *x);

static void on_message(ob_exec *x, ob_channel_msg *m)
{
        if (m->type == OB_CHANNEL_SANDBOX_START) {
                x->started = true;
                x->workload_pid = m->pid;
                if (x->kill_pending) /* timed out or cancelled before it started */
                        kill_command(x);
        } else if (m->type == OB_CHANNEL_CAPABILITY_DENIED) {
                x->res.denials++;
                ob_result_add_violation(&x->res, m);
        } else if (m->type == OB_CHANNEL_SANDBOX_EXIT) {
                x->exited = true;
                ob_channel_msg_done(&x->exit_msg);
                x->exit_msg = *m;
                *m = (ob_channel_msg){0};
                if (x->on_msg)
                        x->on_msg(&x->exit_msg, x->userdata);
                return;
        }
        if (x->on_msg)
                x->on_msg(m, x->userdata);
}

static void read_channel(ob_exec *x)
{
        for (;;) {
                int n = ob_channel_reader_fill(&x->reader, x->chan);
                if (n == -EAGAIN || n == -EINTR)
                        break;
                if (n <= 0)
                        x->chan_eof = true;
                for (;;) {
                        _cleanup_free_ char *line = NULL;
                        ob_channel_msg m = {0};
                        size_t len;
                        int r = ob_channel_reader_next(&x->reader, &line, &len);
                        if (r == 0)
                                break;
                        if (r < 0 || ob_channel_decode(line, len, &m, NULL) < 0) {
                                x->bad = x->chan_eof = true; /* stop listening: fail closed */
                                time_out(x);
                                break;
                        }
                        on_message(x, &m);
                        ob_channel_msg_done(&m);
                }
                if (x->chan_eof)
                        break;
        }
}

static void write_channel(ob_exec *x)
{
        while (x->out_off < x->out_len) {
                ssize_t w = send(x->chan, x->out + x->out_off, x->out_len - x->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN)
                        return;
                if (w <= 0) { /* the sidecar is gone: what is left has no reader */
                        x->stdin_eof = true;
                        x->out_off = x->out_len;
                        break;
                }
                x->out_off += (size_t)w;
        }
        explicit_bzero(x->out, x->out_len);
        x->out_off = x->out_len = 0;
        if (x->stdin_eof && !x->shut_wr) {
                (void)shutdown(x->chan, SHUT_WR);
                x->shut_wr = true;
        }
}

static void read_stdin(ob_exec *x)
{
        char *buf = realloc(x->out, EXEC_STDIN_BUF);
        ssize_t n;

        if (!buf) {
                x->stdin_eof = true;
                return;
        }
        x->out = buf;
        n = read(x->stdin_fd, buf, EXEC_STDIN_BUF);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                x->stdin_eof = true;
                closep(&x->stdin_fd);
                return;
        }
        x->out_off = 0;
        x->out_len = (size_t)n;
}

/* The command (and with it, by the sidecar, every task of this exec) is
 * killed inside the sandbox: past its deadline, or when its caller left. */
static void kill_command(ob_exec *x)
{
        char pid[24];
        const char *args[] = {"--root", x->runsc_root, "kill", "--pid", pid, x->id, "KILL", NULL};

        if (x->reaped) /* over (its output relay may still be writing) */
                return;
        if (!x->started) {
                /* runsc exec's death would not end what it started inside:
                 * the kill waits for the command's pid (SandboxStart) */
                x->kill_pending = true;
                return;
        }
        x->kill_pending = false;
        snprintf(pid, sizeof(pid), "%" PRId64, x->workload_pid);
        if (ob_runsc_call(x->runsc, args, x->netns_fd, 5000) != 0)
                kill(x->pid, SIGKILL);
}

static void time_out(ob_exec *x)
{
        x->timed_out = true;
        kill_command(x);
}

bool ob_exec_step(ob_exec *x, const struct pollfd fds[OB_EXEC_POLLFDS])
{
        if (fds[0].revents)
                read_channel(x);
        if (fds[2].revents)
                read_stdin(x);
        if (fds[1].revents & (POLLERR | POLLHUP))
                x->stdin_eof = true, x->out_off = x->out_len;
        if (fds[1].revents || (fds[2].revents && x->out_len) || (x->stdin_eof && !x->shut_wr))
                write_channel(x);
        if (!x->reaped && x->deadline_ms && !x->timed_out && ob_mono_ms() >= x->deadline_ms)
                time_out(x);
        if (fds[3].revents && waitpid(x->pid, &x->wait_status, WNOHANG) == x->pid) {
                x->reaped = true;
                /* the sidecar is gone: its last lines are already in the socket */
                if (!x->chan_eof)
                        read_channel(x);
        }
        if (x->relay_pid > 0 && fds[4].revents &&
            waitpid(x->relay_pid, NULL, WNOHANG) == x->relay_pid) {
                /* every byte of the output is in the caller's fds */
                x->relay_pid = 0;
                closep(&x->relay_pidfd);
        }
        return !x->reaped || x->relay_pid > 0;
}

/* The result as `omnibase sandbox run` would give it: the command's exit
 * status, 124 past its timeout, 126 with any denial, 125 when it could not
 * be started or the channel broke, 129 (error, "interrupted by HUP") when it
 * was killed because its caller hung up. */
static void judge(ob_exec *x)
{
        ob_sandbox_result *res = &x->res;
        int ws = x->wait_status;

        res->usage.wall_ms = ob_mono_ms() - x->started_ms;
        res->usage.cpu_ms = res->usage.max_rss_kb = -1;
        snprintf(res->sandbox_id, sizeof(res->sandbox_id), "%s", x->id);
        if (x->bad) {
                res->status = OB_SANDBOX_ERROR;
                res->exit_code = 125;
                snprintf(res->message, sizeof(res->message), "the exec's channel broke");
        } else if (x->cancelled && !x->timed_out) {
                /* whatever the command's own end looked like, it was killed */
                res->status = OB_SANDBOX_ERROR;
                res->exit_code = 128 + SIGHUP;
                snprintf(res->message, sizeof(res->message),
                         "interrupted by HUP: the caller hung up and the command was killed");
        } else if (x->exited) {
                res->status = OB_SANDBOX_OK;
                res->exit_code = (int)x->exit_msg.exit_code;
                if (x->exit_msg.denials > res->denials)
                        res->denials = x->exit_msg.denials;
                if (!x->started && res->exit_code == 125) {
                        res->status = OB_SANDBOX_ERROR;
                        snprintf(res->message, sizeof(res->message),
                                 "the command could not be started");
                }
        } else if (x->timed_out) {
                res->status = OB_SANDBOX_TIMEOUT;
        } else {
                res->status = OB_SANDBOX_ERROR;
                res->exit_code = 125;
                snprintf(res->message, sizeof(res->message),
                         "runsc exec ended (status %d) before the command did",
                         WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
        }
        if (x->timed_out && res->status != OB_SANDBOX_ERROR) {
                res->status = OB_SANDBOX_TIMEOUT;
                res->exit_code = 124;
        }
        res->ended_by = res->status;
        if (res->denials > 0 && res->status != OB_SANDBOX_ERROR) {
                res->status = OB_SANDBOX_VIOLATION;
                res->exit_code = 126;
        }
}

void ob_exec_take_result(ob_exec *x, ob_sandbox_result *ret)
{
        judge(x);
        *ret = x->res;
        x->res = (ob_sandbox_result){0};
}

void ob_exec_kill(ob_exec *x)
{
        if (x->reaped && x->relay_pid > 0) {
                /* over, but its output was still going out: nobody reads it */
                kill(x->relay_pid, SIGKILL);
                (void)waitpid(x->relay_pid, NULL, 0);
                x->relay_pid = 0;
                closep(&x->relay_pidfd);
                return;
        }
        if (!x->reaped && !x->timed_out && !x->cancelled) {
                x->deadline_ms = 0;
                x->cancelled = true;
                kill_command(x);
        }
}
