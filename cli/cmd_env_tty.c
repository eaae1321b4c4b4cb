/* SPDX-License-Identifier: Apache-2.0 */
/* The local terminal of `env exec -t` and `env shell`: raw mode while the
 * session lasts (restored on every way out but SIGKILL), and SIGWINCH
 * turned into a readable fd for the relay (environments/ops.c), which
 * sends the new size into the sandbox's pseudo-terminal. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli/env_tty.h"
#include "common/macros.h"
#include "channel/ttyframe.h"

static const int restore_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};

static struct termios saved;
static volatile sig_atomic_t raw_on;
static int winch_pipe[2] = {-1, -1};
static struct sigaction old_actions[ARRAY_SIZE(restore_signals)], old_winch;
static bool began, at_exit_set;

static void restore_modes(void)
{
        if (raw_on) {
                (void)tcsetattr(0, TCSAFLUSH, &saved);
                raw_on = 0;
        }
}

/* The terminal back, then the signal's default action (async-signal-safe
 * calls only). */
static void on_fatal(int sig)
{
        int e = errno;

        restore_modes();
        signal(sig, SIG_DFL);
        raise(sig);
        errno = e;
}

static void on_winch(int sig)
{
        int e = errno;

        (void)sig;
        if (winch_pipe[1] >= 0)
                (void)write(winch_pipe[1], "w", 1);
        errno = e;
}

static void size_of(int fd, unsigned *ret_rows, unsigned *ret_cols)
{
        struct winsize ws;

        *ret_rows = 24;
        *ret_cols = 80;
        if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0 &&
            ws.ws_row <= OB_TTY_MAX_DIM && ws.ws_col <= OB_TTY_MAX_DIM) {
                *ret_rows = ws.ws_row;
                *ret_cols = ws.ws_col;
        }
}

int ob_cli_tty_begin(ob_env_exec_opts *o)
{
        struct sigaction sa = {.sa_handler = on_fatal};
        struct termios raw;

        if (began)
                return -EALREADY;
        if (pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return negative_errno();
        began = true;
        if (!at_exit_set)
                atexit(ob_cli_tty_end);
        at_exit_set = true;
        o->tty = true;
        size_of(o->fds[0], &o->rows, &o->cols);
        o->term = ob_tty_term_ok(getenv("TERM")) ? getenv("TERM") : "xterm";
        o->winch_fd = winch_pipe[0];
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ARRAY_SIZE(restore_signals); i++)
                sigaction(restore_signals[i], &sa, &old_actions[i]);
        sa = (struct sigaction){.sa_handler = on_winch, .sa_flags = SA_RESTART};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGWINCH, &sa, &old_winch);
        if (o->fds[0] != 0 || !isatty(0))
                return 0; /* not a terminal: no modes to set (a script, a test) */
        if (tcgetattr(0, &saved) < 0)
                return negative_errno();
        raw = saved;
        cfmakeraw(&raw);
        raw_on = 1; /* before: a signal in between restores what we saved */
        if (tcsetattr(0, TCSAFLUSH, &raw) < 0) {
                raw_on = 0;
                return negative_errno();
        }
        return 0;
}

void ob_cli_tty_end(void)
{
        if (!began)
                return;
        restore_modes();
        sigaction(SIGWINCH, &old_winch, NULL);
        for (size_t i = 0; i < ARRAY_SIZE(restore_signals); i++)
                sigaction(restore_signals[i], &old_actions[i], NULL);
        for (int i = 0; i < 2; i++)
                if (winch_pipe[i] >= 0) {
                        close(winch_pipe[i]);
                        winch_pipe[i] = -1;
                }
        began = false;
}
