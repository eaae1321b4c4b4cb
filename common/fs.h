/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: creates path and every missing parent with mode (what omnibase
 * creates is its own: 0700 for the state directory), leaves existing ones as
 * they are. Returns 0 or -errno. */
int ob_mkdir_p(const char *path, mode_t mode);

/* Decodes, in place, the \ooo escapes /proc/self/mountinfo uses for space,
 * tab, newline and backslash in paths. Returns s. */
char *ob_mountinfo_unescape(char *s);

/* Writes all len bytes of buf to fd (retrying short writes and EINTR).
 * Returns 0, or -errno (-EIO when write wrote nothing). */
int ob_write_all(int fd, const void *buf, size_t len);
