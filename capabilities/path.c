/* SPDX-License-Identifier: Apache-2.0 */
/* Lexical path canonicalisation of requests and of FILE_* rule patterns. */
#include <limits.h>
#include <stdint.h>

#include <omnibase/capabilities.h>

#include "capabilities/path.h"
#include "common/error.h"
#include "common/utf8.h"

/* Strict UTF-8 check of str[0..len) (common/utf8.c). */
bool cap_utf8_valid(const char *str, size_t len)
{
        return ob_utf8_valid(str, len);
}

/* Appends segment seg[0..n) to out (length *olen) after a '/', or pops the
 * last segment for "..". */
static void push_segment(char *out, size_t *olen, const char *seg, size_t n)
{
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
                while (*olen > 0 && out[*olen - 1] != '/')
                        (*olen)--;
                if (*olen > 0)
                        (*olen)--; /* the '/' before the popped segment */
                return;
        }
        out[(*olen)++] = '/';
        memcpy(out + *olen, seg, n);
        *olen += n;
}

/* Lexical canonical form of path into out (PATH_MAX + 1 bytes). */
int cap_path_canonicalize_buf(const char *path, char *out, size_t *ret_len)
{
        size_t len, olen = 0;

        len = strnlen(path, PATH_MAX);
        if (len >= PATH_MAX)
                return -ENAMETOOLONG;
        if (len == 0 || path[0] != '/' || !cap_utf8_valid(path, len))
                return -EINVAL;
        for (size_t i = 0; i < len;) {
                size_t j = i;
                while (j < len && path[j] != '/')
                        j++;
                if (j > i && !(j - i == 1 && path[i] == '.'))
                        push_segment(out, &olen, path + i, j - i);
                i = j + 1;
        }
        if (olen == 0)
                out[olen++] = '/';
        out[olen] = '\0';
        *ret_len = olen;
        return 0;
}

/* Lexical canonical form of an absolute path; see the header. */
int ob_path_canonicalize(const char *path, char **ret)
{
        char buf[PATH_MAX + 1];
        size_t len;
        int r;

        if (!path || !ret)
                return -EINVAL;
        r = cap_path_canonicalize_buf(path, buf, &len);
        if (r < 0)
                return r;
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* Canonical form of a FILE_* rule pattern; *ret malloc'd. */
int cap_path_pattern_canonicalize(const char *pattern, char **ret, ob_error *err)
{
        size_t len = strnlen(pattern, PATH_MAX), olen = 0;
        bool rooted;
        char *out;

        if (len >= PATH_MAX)
                return ob_error_set(err, 0, 0, ENAMETOOLONG, "path pattern longer than %d bytes",
                                    PATH_MAX - 1);
        if (!cap_utf8_valid(pattern, len))
                return ob_error_set(err, 0, 0, EINVAL, "path pattern is not valid UTF-8");
        if (len == 0 || (pattern[0] != '/' && pattern[0] != '*'))
                return ob_error_set(err, 0, 0, EINVAL,
                                    "path pattern \"%s\" must be absolute (start with '/' or '*')",
                                    pattern);
        rooted = pattern[0] == '/';
        out = malloc(len + 2);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len;) {
                size_t j = i;
                while (j < len && pattern[j] != '/')
                        j++;
                if (j - i == 2 && pattern[i] == '.' && pattern[i + 1] == '.') {
                        free(out);
                        return ob_error_set(err, 0, 0, EINVAL,
                                            "path pattern \"%s\" contains a \"..\" segment",
                                            pattern);
                }
                if (j > i && !(j - i == 1 && pattern[i] == '.')) {
                        if (rooted || olen > 0)
                                out[olen++] = '/';
                        memcpy(out + olen, pattern + i, j - i);
                        olen += j - i;
                }
                i = j + 1;
        }
        if (olen == 0)
                out[olen++] = '/';
        out[olen] = '\0';
        *ret = out;
        return 0;
}
