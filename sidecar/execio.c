/* SPDX-License-Identifier: Apache-2.0 */
/* The stdio of a command exec'd into a running environment (docs/sidecar.md
 * §Environments). `runsc exec` hands this sidecar one socket as fd 0: the
 * event channel towards the host, and from the host, first one header line
 * (a JSON object: the variables to add to the workload's environment, the
 * environment's secrets among them, so they never appear in a host
 * process's argv or environ), then the workload's stdin as raw bytes until
 * the host shuts its side down. A small relay child copies those bytes into
 * a pipe that becomes the workload's fd 0, so the workload never holds the
 * channel. A header with "stdin": false (the host has none for it) leaves
 * fd 0 on /dev/null and forks no relay: a fork in the sentry is not free.
 * A spare's header brings its command ("argv") and directory ("cwd") too
 * (runner/exec.c).
 *
 * With "tty" in the header (env exec -t, env shell) the workload gets a
 * pseudo-terminal opened here, inside the sandbox: the slave is its
 * controlling terminal and its stdin, stdout and stderr; the relay copies
 * the host's frames (ttyframe.h: typed bytes, window sizes) into the
 * master and the master's output to our stdout, which runsc exec gave us
 * from the host. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/json.h"
#include "common/macros.h"
#include "sidecar/sidecar.h"
#include "channel/ttyframe.h"

#define HEADER_MAX  (1024 * 1024)
#define HEADER_VARS 256
#define RELAY_BUF   65536
#define TTY_DRAIN_S 5

static bool env_name_ok(const char *s)
{
        if (!s[0] || strlen(s) > 128 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                      (*s >= '0' && *s <= '9') || *s == '_'))
                        return false;
        return true;
}

static bool dim_ok(const cJSON *v)
{
        return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= OB_TTY_MAX_DIM &&
               v->valuedouble == (double)v->valueint;
}

/* {"tty": {"rows": R, "cols": C, "term": "xterm"}}: the size and TERM of
 * the pseudo-terminal to open; TERM set in our environment. */
static int parse_tty(const cJSON *tty, struct winsize *ret)
{
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(tty, "rows");
        const cJSON *cols = cJSON_GetObjectItemCaseSensitive(tty, "cols");
        const cJSON *term = cJSON_GetObjectItemCaseSensitive(tty, "term");

        if (!cJSON_IsObject(tty) || !dim_ok(rows) || !dim_ok(cols) || !cJSON_IsString(term) ||
            !ob_tty_term_ok(term->valuestring))
                return -EBADMSG;
        *ret = (struct winsize){.ws_row = (unsigned short)rows->valueint,
                                .ws_col = (unsigned short)cols->valueint};
        return setenv("TERM", term->valuestring, 1) < 0 ? negative_errno() : 1;
}

/* Sets each member of {"env": {NAME: "value", ...}} in our environment,
 * which the workload inherits; a spare exec's "argv" (its command) and
 * "cwd" (an absolute directory) go to *info. Returns 1 when the header
 * asks for a tty (its size in *ret_ws), else 0. */
static int apply_header(const char *line, struct winsize *ret_ws, ob_exec_stdio_info *info,
                        bool *ret_no_stdin)
{
        cJSON *root = cJSON_Parse(line), *env, *v, *tty, *argv, *cwd, *in;
        int n = 0, r = 0;

        if (!root || !cJSON_IsObject(root)) {
                ob_json_delete_wiped(root);
                return -EBADMSG;
        }
        tty = cJSON_GetObjectItemCaseSensitive(root, "tty");
        env = cJSON_GetObjectItemCaseSensitive(root, "env");
        argv = cJSON_GetObjectItemCaseSensitive(root, "argv");
        cwd = cJSON_GetObjectItemCaseSensitive(root, "cwd");
        in = cJSON_GetObjectItemCaseSensitive(root, "stdin");
        *ret_no_stdin = cJSON_IsFalse(in);
        if ((env && !cJSON_IsObject(env)) || (in && !cJSON_IsFalse(in)) ||
            (cwd && (!cJSON_IsString(cwd) || cwd->valuestring[0] != '/')))
                r = -EBADMSG;
        if (r >= 0 && argv)
                r = ob_argv_from_json(argv, &info->argv);
        if (r >= 0 && cwd && !(info->cwd = strdup(cwd->valuestring)))
                r = -ENOMEM;
        if (r < 0)
                env = NULL;
        cJSON_ArrayForEach (v, env) {
                if (++n > HEADER_VARS || !cJSON_IsString(v) || !env_name_ok(v->string)) {
                        r = -EBADMSG;
                        break;
                }
                if (setenv(v->string, v->valuestring, 1) < 0) {
                        r = negative_errno();
                        break;
                }
        }
        if (r >= 0 && tty)
                r = parse_tty(tty, ret_ws);
        /* the values (secrets) are not kept beyond the environment block */
        ob_json_delete_wiped(root);
        return r;
}

/* Reads the header line; bytes read past it (the start of stdin) go to
 * *ret_rest (malloc'd, *ret_rest_len bytes). */
static int read_header(int chan, char **ret_line, char **ret_rest, size_t *ret_rest_len)
{
        _cleanup_free_ char *buf = malloc(HEADER_MAX + 1);
        size_t len = 0;
        char *nl = NULL;

        if (!buf)
                return -ENOMEM;
        while (!nl) {
                ssize_t n;
                if (len >= HEADER_MAX)
                        return -E2BIG;
                n = read(chan, buf + len, HEADER_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return -EPIPE;
                nl = memchr(buf + len, '\n', (size_t)n);
                len += (size_t)n;
        }
        *nl = '\0';
        *ret_rest_len = len - (size_t)(nl + 1 - buf);
        *ret_rest = malloc(*ret_rest_len + 1);
        if (!*ret_rest)
                return -ENOMEM;
        memcpy(*ret_rest, nl + 1, *ret_rest_len);
        *ret_line = TAKE_PTR(buf);
        return 0;
}

__attribute__((noreturn)) static void relay(int chan, int out, const char *rest, size_t rest_len)
{
        static char buf[RELAY_BUF];

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        signal(SIGPIPE, SIG_IGN);
        if (ob_write_all(out, rest, rest_len) < 0)
                _exit(0);
        for (;;) {
                ssize_t n = read(chan, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || ob_write_all(out, buf, (size_t)n) < 0)
                        _exit(0);
        }
}

/* ---- tty ---- */

static volatile sig_atomic_t tty_ending; /* the sidecar's SIGTERM came */

typedef struct tty_relay {
        int chan, master;
        bool input;   /* still taking the host's frames */
        uint8_t *acc; /* frames read, not yet applied */
        size_t acc_len, acc_cap;
        size_t out_off;  /* a data frame being written to the master: */
        size_t out_len;  /*   its payload at acc + OB_TTY_FRAME_HEAD + out_off */
        size_t consumed; /*   and its whole size, dropped from acc once written */
        bool out_broken; /* our stdout is gone: output is drained, not copied */
} tty_relay;

/* Applies the frames in acc up to the next data frame (which is left to
 * write) or the end of what is complete. Garbage ends the input. */
static void tty_parse(tty_relay *t)
{
        while (t->out_len == 0 && t->acc_len > 0) {
                ob_tty_frame f;
                int n = ob_tty_frame_parse(t->acc, t->acc_len, &f);
                if (n == 0)
                        return;
                if (n < 0) {
                        fprintf(stderr, "omnibase: the exec's terminal input is not framed; "
                                        "input ends\n");
                        t->input = false;
                        t->acc_len = 0;
                        (void)write(t->master, "\x04", 1); /* as at the end of input */
                        return;
                }
                if (f.type == OB_TTY_WINSIZE) {
                        struct winsize ws = {.ws_row = (unsigned short)f.rows,
                                             .ws_col = (unsigned short)f.cols};
                        (void)ioctl(t->master, TIOCSWINSZ, &ws); /* the kernel sends SIGWINCH */
                        memmove(t->acc, t->acc + n, t->acc_len - (size_t)n);
                        t->acc_len -= (size_t)n;
                        continue;
                }
                t->out_off = 0;
                t->out_len = f.len;
                t->consumed = (size_t)n;
        }
}

static void tty_write_master(tty_relay *t)
{
        ssize_t w =
            write(t->master, t->acc + OB_TTY_FRAME_HEAD + t->out_off, t->out_len - t->out_off);

        if (w < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (w < 0)
                _exit(0); /* the terminal is gone */
        t->out_off += (size_t)w;
        if (t->out_off < t->out_len)
                return;
        memmove(t->acc, t->acc + t->consumed, t->acc_len - t->consumed);
        t->acc_len -= t->consumed;
        t->out_len = t->out_off = t->consumed = 0;
        tty_parse(t);
}

static void tty_read_chan(tty_relay *t)
{
        ssize_t n = read(t->chan, t->acc + t->acc_len, t->acc_cap - t->acc_len);

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                /* the host's end of input is the terminal's: ^D (VEOF; gVisor's
                 * line discipline, 20221219, does not act on it: a command
                 * reading the terminal to its end waits for --timeout or a
                 * kill) */
                t->input = false;
                if (t->acc_len == 0)
                        (void)write(t->master, "\x04", 1);
                return;
        }
        t->acc_len += (size_t)n;
        tty_parse(t);
}

/* Copies the master's output to our stdout; ends (the relay with it) when
 * every holder of the slave is gone: EIO, or end of file. */
static void tty_read_master(tty_relay *t)
{
        static char buf[RELAY_BUF];
        ssize_t n = read(t->master, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
                return;
        if (n < 0 && errno == EAGAIN) {
                if (tty_ending)
                        _exit(0); /* drained */
                return;
        }
        if (n <= 0)
                _exit(0);
        if (!t->out_broken && ob_write_all(1, buf, (size_t)n) < 0)
                t->out_broken = true; /* keep draining: the workload must not block */
}

static void on_tty_end(int sig)
{
        (void)sig;
        tty_ending = 1;
}

/* The workload's last task is gone (the sidecar's SIGTERM): what the
 * master still holds goes out, within TTY_DRAIN_S (a host that does not
 * read cannot hold the exec), and the relay ends. gVisor's master gives
 * no EIO when the slave's last holder closes it, so this, not EOF, is how
 * the relay learns the end. */
__attribute__((noreturn)) static void tty_drain(tty_relay *t)
{
        alarm(TTY_DRAIN_S); /* SIGALRM's default action ends us */
        for (;;)
                tty_read_master(t); /* _exit at EAGAIN, EIO or EOF */
}

__attribute__((noreturn)) static void relay_tty(tty_relay *t)
{
        struct sigaction sa = {.sa_handler = on_tty_end};
        sigset_t block, during;

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigprocmask(SIG_BLOCK, &block, &during);
        sigdelset(&during, SIGTERM);
        (void)fcntl(t->master, F_SETFL, O_NONBLOCK);
        tty_parse(t);
        for (;;) {
                struct pollfd f[2] = {
                    {.fd = t->input && t->out_len == 0 && t->acc_len < t->acc_cap ? t->chan : -1,
                     .events = POLLIN},
                    {.fd = t->master, .events = POLLIN | (t->out_len ? POLLOUT : 0)}};
                if (tty_ending)
                        tty_drain(t);
                /* SIGTERM only while waiting: ppoll, not a race with poll */
                if (ppoll(f, 2, NULL, &during) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(0);
                }
                if (f[1].revents & POLLIN)
                        tty_read_master(t);
                else if (f[1].revents & (POLLHUP | POLLERR | POLLNVAL))
                        _exit(0);
                if ((f[1].revents & POLLOUT) && t->out_len)
                        tty_write_master(t);
                if (f[0].revents)
                        tty_read_chan(t);
        }
}

/* A pseudo-terminal of size ws: *ret_master and *ret_slave (both
 * close-on-exec; the slave not yet anyone's controlling terminal). */
static int open_pty(const struct winsize *ws, int *ret_master, int *ret_slave)
{
        char name[64];
        int m, s, r;

        m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0)
                return negative_errno();
        if (unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0 ||
            (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
                r = negative_errno();
                close(m);
                return r;
        }
        if (ioctl(m, TIOCSWINSZ, ws) < 0) {
                r = negative_errno();
                close(m);
                close(s);
                return r;
        }
        *ret_master = m;
        *ret_slave = s;
        return 0;
}

static int start_tty(int chan, const struct winsize *ws, char *rest, size_t rest_len,
                     ob_exec_stdio_info *ret)
{
        tty_relay t = {.chan = chan, .input = true};
        sigset_t term, old;
        int master, slave, r;
        pid_t pid;

        t.acc_cap = rest_len + OB_TTY_FRAME_HEAD + OB_TTY_FRAME_MAX;
        t.acc = malloc(t.acc_cap);
        if (!t.acc)
                return -ENOMEM;
        memcpy(t.acc, rest, rest_len);
        t.acc_len = rest_len;
        r = open_pty(ws, &master, &slave);
        if (r < 0) {
                free(t.acc);
                return r;
        }
        t.master = master;
        /* the relay is born with SIGTERM blocked: one sent before it has its
         * handler (a workload that ends at once) waits for it, never kills it */
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigprocmask(SIG_BLOCK, &term, &old);
        pid = fork();
        if (pid == 0) {
                close(slave);
                relay_tty(&t);
        }
        r = pid < 0 ? negative_errno() : 0;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                close(master);
                close(slave);
                free(t.acc);
                return r;
        }
        close(master);
        free(t.acc);
        ret->tty_fd = slave;
        ret->relay_pid = pid;
        return 0;
}

/* ---- the entry ---- */

int ob_exec_stdio(int chan, ob_exec_stdio_info *ret)
{
        _cleanup_free_ char *line = NULL, *rest = NULL;
        struct winsize ws = {0};
        size_t rest_len = 0;
        bool no_stdin = false;
        int p[2], r;
        pid_t pid;

        *ret = (ob_exec_stdio_info){.tty_fd = -1};
        r = read_header(chan, &line, &rest, &rest_len);
        if (r < 0)
                return r;
        r = apply_header(line, &ws, ret, &no_stdin);
        explicit_bzero(line, strlen(line));
        if (r < 0)
                return r;
        if (r == 1)
                return start_tty(chan, &ws, rest, rest_len, ret);
        if (no_stdin) /* fd 0 stays /dev/null: no relay to fork */
                return rest_len == 0 ? 0 : -EBADMSG;
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                r = negative_errno();
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[0]);
                relay(chan, p[1], rest, rest_len);
        }
        close(p[1]);
        /* the workload's stdin: dup2 clears close-on-exec on fd 0 */
        r = dup2(p[0], 0) < 0 ? negative_errno() : 0;
        close(p[0]);
        return r;
}
