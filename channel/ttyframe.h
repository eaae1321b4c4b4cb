/* SPDX-License-Identifier: Apache-2.0 */
/* The host → sidecar stream of a PTY exec (docs/environments.md §PTY).
 * After the header line, a tty exec's input is a sequence of frames, each
 * a type byte, a 2-byte big-endian payload length and the payload:
 *   'd' len 1..OB_TTY_FRAME_MAX   bytes typed at the terminal
 *   'w' len 4                     a window size: rows, cols (2 bytes each,
 *                                 big-endian, 1..OB_TTY_MAX_DIM)
 * Anything else is garbage: the sidecar stops taking input (as at EOF).
 * An exec without a tty keeps the raw stream of before, byte for byte. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OB_TTY_FRAME_MAX  4096 /* payload bytes of one data frame */
#define OB_TTY_FRAME_HEAD 3
#define OB_TTY_MAX_DIM    10000 /* rows or columns */
#define OB_TTY_TERM_MAX   64    /* bytes of TERM */
#define OB_TTY_DATA       'd'
#define OB_TTY_WINSIZE    'w'

typedef struct ob_tty_frame {
        char type;           /* OB_TTY_DATA or OB_TTY_WINSIZE */
        const uint8_t *data; /* OB_TTY_DATA: points into the parsed buffer */
        size_t len;
        unsigned rows, cols; /* OB_TTY_WINSIZE */
} ob_tty_frame;

/* Parses the frame at the start of buf: the bytes it takes (> 0), 0 when
 * buf holds only part of one, -EBADMSG for garbage. */
int ob_tty_frame_parse(const uint8_t *buf, size_t len, ob_tty_frame *ret);
/* Writes the 3-byte head of a frame of type and payload length len. */
void ob_tty_frame_head(uint8_t head[OB_TTY_FRAME_HEAD], char type, size_t len);
/* A whole window-size frame (7 bytes) into buf; -EINVAL for a size out of
 * bounds. */
int ob_tty_frame_winsize(uint8_t buf[OB_TTY_FRAME_HEAD + 4], unsigned rows, unsigned cols);
/* A TERM value the sidecar accepts: 1..OB_TTY_TERM_MAX of [A-Za-z0-9._+-]. */
bool ob_tty_term_ok(const char *term);
