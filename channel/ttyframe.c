/* SPDX-License-Identifier: Apache-2.0 */
/* The framing of a PTY exec's input (ttyframe.h). */
#include <errno.h>
#include <string.h>

#include "channel/ttyframe.h"

static unsigned be16(const uint8_t *p)
{
        return (unsigned)p[0] << 8 | p[1];
}

static void put_be16(uint8_t *p, unsigned v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

int ob_tty_frame_parse(const uint8_t *buf, size_t len, ob_tty_frame *ret)
{
        size_t n;

        if (len < 1)
                return 0;
        if (buf[0] != OB_TTY_DATA && buf[0] != OB_TTY_WINSIZE)
                return -EBADMSG;
        if (len < OB_TTY_FRAME_HEAD)
                return 0;
        n = be16(buf + 1);
        if (buf[0] == OB_TTY_DATA ? n < 1 || n > OB_TTY_FRAME_MAX : n != 4)
                return -EBADMSG;
        if (len < OB_TTY_FRAME_HEAD + n)
                return 0;
        *ret = (ob_tty_frame){.type = (char)buf[0]};
        if (buf[0] == OB_TTY_DATA) {
                ret->data = buf + OB_TTY_FRAME_HEAD;
                ret->len = n;
        } else {
                ret->rows = be16(buf + 3);
                ret->cols = be16(buf + 5);
                if (ret->rows < 1 || ret->rows > OB_TTY_MAX_DIM || ret->cols < 1 ||
                    ret->cols > OB_TTY_MAX_DIM)
                        return -EBADMSG;
        }
        return (int)(OB_TTY_FRAME_HEAD + n);
}

void ob_tty_frame_head(uint8_t head[OB_TTY_FRAME_HEAD], char type, size_t len)
{
        head[0] = (uint8_t)type;
        put_be16(head + 1, (unsigned)len);
}

int ob_tty_frame_winsize(uint8_t buf[OB_TTY_FRAME_HEAD + 4], unsigned rows, unsigned cols)
{
        if (rows < 1 || rows > OB_TTY_MAX_DIM || cols < 1 || cols > OB_TTY_MAX_DIM)
                return -EINVAL;
        ob_tty_frame_head(buf, OB_TTY_WINSIZE, 4);
        put_be16(buf + 3, rows);
        put_be16(buf + 5, cols);
        return 0;
}

bool ob_tty_term_ok(const char *s)
{
        if (!s || !s[0] || strlen(s) > OB_TTY_TERM_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.' || *s == '+'))
                        return false;
        return true;
}
