/* SPDX-License-Identifier: Apache-2.0 */
/* The one strict UTF-8 decoder (RFC 3629: no overlongs, no surrogates,
 * nothing past U+10FFFF), for every JSON text, path and output we check. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the valid sequence at s[0..avail), avail > 0; 0 when it
 * is not valid. A NUL is a valid one-byte sequence. */
size_t ob_utf8_seq(const unsigned char *s, size_t avail);
/* Whether s[0..len) is valid UTF-8. */
bool ob_utf8_valid(const char *s, size_t len);
/* How many bytes of s[0..len) are invalid (each would become U+FFFD);
 * with nul_bad, NULs count as invalid too. */
size_t ob_utf8_invalid_bytes(const char *s, size_t len, bool nul_bad);
/* A NUL-terminated copy of s[0..len) with each invalid byte (and with
 * nul_bad each NUL) replaced by U+FFFD; *ret_len (may be NULL) its length.
 * NULL when out of memory. */
char *ob_utf8_sanitize_dup(const char *s, size_t len, bool nul_bad, size_t *ret_len);
