/* SPDX-License-Identifier: Apache-2.0 */
/* The framing of a PTY exec's input (channel/ttyframe.h): round trips,
 * partial frames, every kind of garbage, and every split of a stream. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "channel/ttyframe.h"

static void data_roundtrip(void **state)
{
        uint8_t buf[OB_TTY_FRAME_HEAD + OB_TTY_FRAME_MAX];
        ob_tty_frame f;

        (void)state;
        ob_tty_frame_head(buf, OB_TTY_DATA, 5);
        memcpy(buf + OB_TTY_FRAME_HEAD, "hello", 5);
        assert_int_equal(ob_tty_frame_parse(buf, 8, &f), 8);
        assert_int_equal(f.type, OB_TTY_DATA);
        assert_int_equal(f.len, 5);
        assert_memory_equal(f.data, "hello", 5);
        /* the largest payload */
        memset(buf + OB_TTY_FRAME_HEAD, 'x', OB_TTY_FRAME_MAX);
        ob_tty_frame_head(buf, OB_TTY_DATA, OB_TTY_FRAME_MAX);
        assert_int_equal(ob_tty_frame_parse(buf, sizeof(buf), &f), (int)sizeof(buf));
        assert_int_equal(f.len, OB_TTY_FRAME_MAX);
}

static void winsize_roundtrip(void **state)
{
        uint8_t buf[OB_TTY_FRAME_HEAD + 4];
        ob_tty_frame f;

        (void)state;
        assert_int_equal(ob_tty_frame_winsize(buf, 50, 132), 0);
        assert_int_equal(ob_tty_frame_parse(buf, sizeof(buf), &f), 7);
        assert_int_equal(f.type, OB_TTY_WINSIZE);
        assert_int_equal(f.rows, 50);
        assert_int_equal(f.cols, 132);
        assert_int_equal(ob_tty_frame_winsize(buf, 0, 80), -EINVAL);
        assert_int_equal(ob_tty_frame_winsize(buf, 24, OB_TTY_MAX_DIM + 1), -EINVAL);
}

static void partial_frames(void **state)
{
        uint8_t buf[OB_TTY_FRAME_HEAD + 4];
        ob_tty_frame f;

        (void)state;
        assert_int_equal(ob_tty_frame_winsize(buf, 24, 80), 0);
        for (size_t n = 0; n < sizeof(buf); n++)
                assert_int_equal(ob_tty_frame_parse(buf, n, &f), 0);
}

static void garbage(void **state)
{
        static const uint8_t bad[][7] = {
            {'Z', 0, 1, 'a'},              /* unknown type */
            {'{', '"', 'e', 'n', 'v'},     /* a second header line */
            {'d', 0, 0},                   /* empty data */
            {'d', 0x10, 0x01},             /* data past OB_TTY_FRAME_MAX */
            {'d', 0xff, 0xff},             /* the largest length */
            {'w', 0, 3, 0, 24, 0},         /* a window size of 3 bytes */
            {'w', 0, 4, 0, 0, 0, 80},      /* 0 rows */
            {'w', 0, 4, 0, 24, 0xff, 0xff} /* too many columns */
        };
        ob_tty_frame f;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(ob_tty_frame_parse(bad[i], sizeof(bad[i]), &f), -EBADMSG);
        /* the type byte alone is enough to refuse */
        assert_int_equal(ob_tty_frame_parse((const uint8_t *)"\n", 1, &f), -EBADMSG);
}

/* A stream of frames parses to the same frames whatever the split. */
static void every_split(void **state)
{
        uint8_t stream[64];
        size_t len = 0;

        (void)state;
        ob_tty_frame_head(stream, OB_TTY_DATA, 3);
        memcpy(stream + 3, "ls\n", 3);
        len = 6;
        assert_int_equal(ob_tty_frame_winsize(stream + len, 30, 90), 0);
        len += 7;
        ob_tty_frame_head(stream + len, OB_TTY_DATA, 1);
        stream[len + 3] = 'q';
        len += 4;
        for (size_t split = 0; split <= len; split++) {
                uint8_t acc[64];
                size_t acc_len = 0, fed = 0, frames = 0, rounds = 0;
                ob_tty_frame f;
                while (fed < len || acc_len > 0) {
                        size_t take = rounds++ == 0 ? split : len - fed;
                        memcpy(acc + acc_len, stream + fed, take);
                        acc_len += take;
                        fed += take;
                        int n;
                        while ((n = ob_tty_frame_parse(acc, acc_len, &f)) > 0) {
                                frames++;
                                if (frames == 2)
                                        assert_true(f.rows == 30 && f.cols == 90);
                                memmove(acc, acc + n, acc_len - (size_t)n);
                                acc_len -= (size_t)n;
                        }
                        assert_int_equal(n, 0);
                        if (rounds > 1 && acc_len > 0)
                                fail(); /* all fed, something left unparsed */
                }
                assert_int_equal(frames, 3);
        }
}

static void term_names(void **state)
{
        char longest[OB_TTY_TERM_MAX + 2];

        (void)state;
        assert_true(ob_tty_term_ok("xterm-256color"));
        assert_true(ob_tty_term_ok("screen.xterm+x_1"));
        assert_false(ob_tty_term_ok(NULL));
        assert_false(ob_tty_term_ok(""));
        assert_false(ob_tty_term_ok("xterm;rm -rf"));
        assert_false(ob_tty_term_ok("../../etc"));
        assert_false(ob_tty_term_ok("x\nterm"));
        memset(longest, 'x', sizeof(longest) - 1);
        longest[OB_TTY_TERM_MAX] = '\0';
        assert_true(ob_tty_term_ok(longest));
        longest[OB_TTY_TERM_MAX] = 'x';
        longest[OB_TTY_TERM_MAX + 1] = '\0';
        assert_false(ob_tty_term_ok(longest));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(data_roundtrip), cmocka_unit_test(winsize_roundtrip),
            cmocka_unit_test(partial_frames), cmocka_unit_test(garbage),
            cmocka_unit_test(every_split),    cmocka_unit_test(term_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
