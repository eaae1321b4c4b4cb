/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
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

/* Whether fd is open on /dev/null (the character device 1:3). */
bool ob_fd_is_dev_null(int fd);

/* Calls fn(dirfd, name, userdata) on every entry of directory dirfd but "."
 * and ".."; stops at the first negative return, which it returns. 0, or
 * -errno when the directory cannot be read. */
int ob_dir_each(int dirfd, int (*fn)(int dirfd, const char *name, void *userdata), void *userdata);

/* Removes name under dirfd, a whole tree for a directory, never following a
 * symbolic link; a tree deeper than max_depth is -ELOOP. 0 when it is gone
 * (or was not there), else -errno. */
int ob_remove_at(int dirfd, const char *name, unsigned max_depth);
