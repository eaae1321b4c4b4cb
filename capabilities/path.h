/* SPDX-License-Identifier: Apache-2.0 */
/* Path canonicalisation for FILE_* targets (internal). */
#pragma once

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>

#include <omnibase/error.h>

/* Canonical form of a FILE_* rule pattern: starts with '/' (or with a
 * wildcard), empty and "." segments dropped, a ".." segment refused (it
 * cannot be collapsed soundly around a wildcard). The wildcards stay. On
 * a bad pattern -EINVAL/-ENAMETOOLONG and a reason in *err. */
int cap_path_pattern_canonicalize(const char *pattern, char **ret, ob_error *err);

/* ob_path_canonicalize() into out (PATH_MAX + 1 bytes), no allocation;
 * *ret_len is the length of the result. */
int cap_path_canonicalize_buf(const char *path, char *out, size_t *ret_len);

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool cap_utf8_valid(const char *s, size_t len);
