/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

size_t ob_utf8_seq(const unsigned char *s, size_t avail)
{
        uint32_t cp;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (avail < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return n;
}

static size_t seq(const unsigned char *s, size_t avail, bool nul_bad)
{
        return nul_bad && s[0] == 0 ? 0 : ob_utf8_seq(s, avail);
}

bool ob_utf8_valid(const char *s, size_t len)
{
        return ob_utf8_invalid_bytes(s, len, false) == 0;
}

size_t ob_utf8_invalid_bytes(const char *s, size_t len, bool nul_bad)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t bad = 0;

        for (size_t i = 0; i < len;) {
                size_t n = seq(u + i, len - i, nul_bad);
                bad += n == 0;
                i += n ? n : 1;
        }
        return bad;
}

char *ob_utf8_sanitize_dup(const char *s, size_t len, bool nul_bad, size_t *ret_len)
{
        const unsigned char *u = (const unsigned char *)s;
        char *out = malloc(len + 2 * ob_utf8_invalid_bytes(s, len, nul_bad) + 1);
        size_t o = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len;) {
                size_t n = seq(u + i, len - i, nul_bad);
                if (n == 0) {
                        memcpy(out + o, "\xef\xbf\xbd", 3);
                        o += 3, i++;
                        continue;
                }
                memcpy(out + o, s + i, n);
                o += n, i += n;
        }
        out[o] = '\0';
        if (ret_len)
                *ret_len = o;
        return out;
}
