/* SPDX-License-Identifier: Apache-2.0 */
/* A PTY exec's input as the sidecar's relay reads it (sidecar/execio.c):
 * arbitrary bytes parsed frame by frame in a buffer of one frame; every
 * frame taken is in bounds and re-encodes to the bytes it came from, and
 * parsing stops at the first garbage. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel/ttyframe.h"

/* CHECK() vanishes under NDEBUG (Release); this does not */
#define CHECK(x)                                                                                   \
        do {                                                                                       \
                if (!(x))                                                                          \
                        abort();                                                                   \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t acc[OB_TTY_FRAME_HEAD + OB_TTY_FRAME_MAX];
        size_t acc_len = 0, off = 0;

        while (off < size) {
                /* fill as the relay does: at most what the buffer has room for */
                size_t take = size - off, room = sizeof(acc) - acc_len;
                int n;
                if (take > room)
                        take = room;
                if (take > 1 + (size_t)(data[off] % 97)) /* uneven chunks */
                        take = 1 + (size_t)(data[off] % 97);
                memcpy(acc + acc_len, data + off, take);
                acc_len += take;
                off += take;
                for (;;) {
                        ob_tty_frame f;
                        uint8_t again[OB_TTY_FRAME_HEAD + 4];
                        n = ob_tty_frame_parse(acc, acc_len, &f);
                        if (n <= 0)
                                break;
                        CHECK((size_t)n <= acc_len);
                        if (f.type == OB_TTY_DATA) {
                                CHECK(f.len >= 1 && f.len <= OB_TTY_FRAME_MAX);
                                CHECK(f.data == acc + OB_TTY_FRAME_HEAD);
                                CHECK((size_t)n == OB_TTY_FRAME_HEAD + f.len);
                        } else {
                                CHECK(f.type == OB_TTY_WINSIZE && n == 7);
                                CHECK(ob_tty_frame_winsize(again, f.rows, f.cols) == 0);
                                CHECK(memcmp(again, acc, 7) == 0);
                        }
                        memmove(acc, acc + n, acc_len - (size_t)n);
                        acc_len -= (size_t)n;
                }
                if (n < 0) {
                        CHECK(n == -EBADMSG);
                        return 0; /* garbage: the relay takes no more */
                }
                /* a partial frame never outgrows the buffer */
                CHECK(acc_len < sizeof(acc));
        }
        return 0;
}
