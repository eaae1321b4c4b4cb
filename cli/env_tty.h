/* SPDX-License-Identifier: Apache-2.0 */
/* The local terminal of `env exec -t` and `env shell` (cmd_env_tty.c). */
#pragma once

#include "environments/env.h"

/* Readies the caller's side of a PTY exec: o->tty set, o->rows/cols the
 * size of the terminal on stdin (80x24 when stdin is not one), o->term
 * $TERM (or xterm), o->winch_fd readable at each SIGWINCH; and when stdin
 * is a terminal, puts it in raw mode, restored by ob_cli_tty_end and on
 * every exit: a normal one (atexit), SIGTERM, SIGHUP, SIGINT, SIGQUIT.
 * Returns 0 or -errno. */
int ob_cli_tty_begin(ob_env_exec_opts *o);
/* The terminal's modes back as they were, the handlers and fds gone.
 * Idempotent. */
void ob_cli_tty_end(void);
