/* SPDX-License-Identifier: Apache-2.0 */
/* Cedar `like` patterns, internal helpers: '*' is a wildcard (any run of
 * characters, '/' included), "\*" a literal star; every other character,
 * a lone backslash included, stands for itself. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A pattern as tokens: 0..255 are literal bytes, CAP_TOK_STAR the wildcard. */
#define CAP_TOK_STAR (-1)

typedef struct cap_tokens {
        int16_t *tok;
        size_t n;
} cap_tokens;

/* Tokenises pattern into *ret (ret->tok malloc'd). 0 or -ENOMEM. */
int cap_pattern_tokens(const char *pattern, cap_tokens *ret);
void cap_tokens_done(cap_tokens *t);

/* True when the pattern holds at least one (unescaped) wildcard. */
bool cap_pattern_has_wildcard(const char *pattern);

/* Byte offset in pattern of its first wildcard (strlen when none). */
size_t cap_pattern_wild_offset(const char *pattern);

/* Byte offset in pattern just after its last wildcard (0 when none): the
 * literal suffix starts there. */
size_t cap_pattern_suffix_offset(const char *pattern);

/* Writes the literal meaning of pattern[0..end) (escapes removed) to out,
 * which must hold end + 1 bytes; returns the length written. */
size_t cap_pattern_unescape(const char *pattern, size_t end, char *out);

/* Matches a pattern against subject[0..len) (subject need not be
 * NUL-terminated). Greedy with one backtrack point: O(len * |pattern|). */
bool cap_pattern_match_n(const char *pattern, const char *subject, size_t len);

/* L(p) ⊆ L(q): every string p matches, q matches too. Exact over all
 * strings (a wildcard of p can only be absorbed by a wildcard of q). */
bool cap_tokens_contained(const cap_tokens *p, const cap_tokens *q);

/* L(p) ∩ L(q) ≠ ∅: some string matches both. Exact; O(|p| * |q|). */
int cap_tokens_overlap(const cap_tokens *p, const cap_tokens *q, bool *ret);
