/* SPDX-License-Identifier: Apache-2.0 */
/* Cedar `like` matching, containment and overlap of patterns. */
#include <omnibase/capabilities.h>

#include "capabilities/pattern.h"
#include "common/macros.h"

/* Reads the token at *p and advances; returns CAP_TOK_STAR, a byte, or -2 at
 * the end of the pattern. */
static int next_token(const char **p)
{
        const char *s = *p;
        if (*s == '\0')
                return -2;
        if (*s == '*') {
                *p = s + 1;
                return CAP_TOK_STAR;
        }
        if (*s == '\\' && s[1] == '*') {
                *p = s + 2;
                return '*';
        }
        *p = s + 1;
        return (unsigned char)*s;
}

/* Tokenises pattern; ret->tok is malloc'd (cap_tokens_done frees it). */
int cap_pattern_tokens(const char *pattern, cap_tokens *ret)
{
        size_t n = 0, len = strlen(pattern);
        const char *p = pattern;
        int16_t *tok = malloc((len + 1) * sizeof(*tok));
        int t;

        if (!tok)
                return -ENOMEM;
        while ((t = next_token(&p)) != -2)
                tok[n++] = (int16_t)t;
        ret->tok = tok;
        ret->n = n;
        return 0;
}

/* Frees the tokens; accepts a zeroed struct. */
void cap_tokens_done(cap_tokens *t)
{
        free(t->tok);
        t->tok = NULL;
        t->n = 0;
}

/* Whether pattern holds an unescaped '*'. */
bool cap_pattern_has_wildcard(const char *pattern)
{
        return pattern[cap_pattern_wild_offset(pattern)] != '\0';
}

/* Byte offset of the first wildcard (strlen when none). */
size_t cap_pattern_wild_offset(const char *pattern)
{
        const char *p = pattern;
        for (;;) {
                const char *at = p;
                int t = next_token(&p);
                if (t == -2 || t == CAP_TOK_STAR)
                        return (size_t)(at - pattern);
        }
}

/* Byte offset just after the last wildcard (0 when none). */
size_t cap_pattern_suffix_offset(const char *pattern)
{
        const char *p = pattern;
        size_t after = 0;
        int t;
        while ((t = next_token(&p)) != -2)
                if (t == CAP_TOK_STAR)
                        after = (size_t)(p - pattern);
        return after;
}

/* Literal text of pattern[0..end) into out; returns its length. */
size_t cap_pattern_unescape(const char *pattern, size_t end, char *out)
{
        const char *p = pattern;
        size_t n = 0;
        while ((size_t)(p - pattern) < end) {
                int t = next_token(&p);
                if (t < 0)
                        break;
                out[n++] = (char)t;
        }
        out[n] = '\0';
        return n;
}

/* `like` match of pattern against subject[0..len). */
bool cap_pattern_match_n(const char *pattern, const char *subject, size_t len)
{
        const char *p = pattern, *star_p = NULL;
        size_t s = 0, star_s = 0;

        while (s < len) {
                const char *q = p;
                int t = next_token(&q);
                if (t == CAP_TOK_STAR) {
                        star_p = p = q;
                        star_s = s;
                        continue;
                }
                if (t >= 0 && t == (unsigned char)subject[s]) {
                        p = q;
                        s++;
                        continue;
                }
                if (!star_p)
                        return false;
                p = star_p;
                s = ++star_s;
        }
        while (*p == '*')
                p++;
        return *p == '\0';
}

/* Cedar `like` on NUL-terminated strings. */
bool ob_pattern_match(const char *pattern, const char *subject)
{
        if (!pattern || !subject)
                return false;
        return cap_pattern_match_n(pattern, subject, strlen(subject));
}

/* L(p) ⊆ L(q), exactly. */
bool cap_tokens_contained(const cap_tokens *p, const cap_tokens *q)
{
        /* q is the pattern, p's tokens the subject; p's wildcard is a symbol
         * that only a wildcard of q absorbs. Same greedy scheme as above. */
        size_t i = 0, j = 0, star_j = SIZE_MAX, star_i = 0;

        while (i < p->n) {
                if (j < q->n && q->tok[j] == CAP_TOK_STAR) {
                        star_j = ++j;
                        star_i = i;
                        continue;
                }
                if (j < q->n && p->tok[i] != CAP_TOK_STAR && q->tok[j] == p->tok[i]) {
                        i++;
                        j++;
                        continue;
                }
                if (star_j == SIZE_MAX)
                        return false;
                j = star_j;
                i = ++star_i;
        }
        while (j < q->n && q->tok[j] == CAP_TOK_STAR)
                j++;
        return j == q->n;
}

/* One cell of the overlap table; see cap_tokens_overlap(). */
static bool overlap_cell(const cap_tokens *p, const cap_tokens *q, size_t i, size_t j,
                         const uint8_t *prev, const uint8_t *cur)
{
        bool ps = i > 0 && p->tok[i - 1] == CAP_TOK_STAR;
        bool qs = j > 0 && q->tok[j - 1] == CAP_TOK_STAR;

        if (ps && prev[j]) /* p's star matches the empty run */
                return true;
        if (qs && cur[j - 1])
                return true;
        if (ps && j > 0 && !qs && cur[j - 1]) /* p's star absorbs q's char */
                return true;
        if (qs && i > 0 && !ps && prev[j]) /* q's star absorbs p's char */
                return true;
        return i > 0 && j > 0 && !ps && !qs && p->tok[i - 1] == q->tok[j - 1] && prev[j - 1];
}

/* L(p) ∩ L(q) ≠ ∅, exactly; 0 or -ENOMEM. */
int cap_tokens_overlap(const cap_tokens *p, const cap_tokens *q, bool *ret)
{
        /* R(i, j): p[0..i) and q[0..j) can produce one common string. Two
         * rows of the table suffice. */
        _cleanup_free_ uint8_t *prev = calloc(q->n + 1, 1);
        _cleanup_free_ uint8_t *cur = calloc(q->n + 1, 1);

        if (!prev || !cur)
                return -ENOMEM;
        for (size_t i = 0; i <= p->n; i++) {
                for (size_t j = 0; j <= q->n; j++)
                        cur[j] = (i == 0 && j == 0) || overlap_cell(p, q, i, j, prev, cur);
                memcpy(prev, cur, q->n + 1);
        }
        *ret = prev[q->n];
        return 0;
}
