/* SPDX-License-Identifier: Apache-2.0 */
/* The event channel as the runner reads it: arbitrary bytes from the
 * sandbox are split into lines by the bounded reader and each line goes
 * through the strict decoder; whatever decodes must encode again and decode
 * to the same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel/channel.h"

/* CHECK() vanishes under NDEBUG (Release); this does not */
#define CHECK(x)                                                                                   \
        do {                                                                                       \
                if (!(x))                                                                          \
                        abort();                                                                   \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *line, size_t len)
{
        ob_channel_msg m = {0}, again = {0};
        char *enc = NULL;
        size_t enc_len = 0;

        if (ob_channel_decode(line, len, &m, NULL) < 0)
                return;
        /* a decoded message is valid UTF-8 already: the encoder keeps it */
        if (ob_channel_encode(&m, &enc, &enc_len) == 0) {
                CHECK(enc_len > 0 && enc[enc_len - 1] == '\n');
                CHECK(ob_channel_decode(enc, enc_len - 1, &again, NULL) == 0);
                CHECK(again.type == m.type && again.pid == m.pid &&
                      again.exit_code == m.exit_code && again.denials == m.denials);
                if (m.target)
                        CHECK(strcmp(again.target, m.target) == 0);
                free(enc);
                ob_channel_msg_done(&again);
        } else
                CHECK(m.type == OB_CHANNEL_TYPE_MAX); /* never: decoded means encodable */
        ob_channel_msg_done(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ob_channel_reader r = {0};
        size_t off = 0;

        /* feed in uneven chunks, draining lines as the runner does */
        while (off < size) {
                size_t n = 1 + (data[off] % 97);
                char *line = NULL;
                size_t len = 0;
                int k;
                if (n > size - off)
                        n = size - off;
                if (ob_channel_reader_feed(&r, data + off, n) < 0)
                        break;
                off += n;
                while ((k = ob_channel_reader_next(&r, &line, &len)) > 0) {
                        check_line(line, len);
                        free(line);
                }
                if (k < 0)
                        break;
        }
        /* and the whole input as one line */
        check_line((const char *)data, size);
        ob_channel_reader_done(&r);
        return 0;
}
