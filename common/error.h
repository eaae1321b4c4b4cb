/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <omnibase/error.h>

#include "common/macros.h"

/* Fills *err (which may be NULL) with a position and a formatted message and
 * returns -errnum, so that callers can write `return ob_error_set(...)`. */
int ob_error_set(ob_error *err, unsigned line, unsigned column, int errnum, const char *fmt, ...)
    _printf_(5, 6);
/* ob_error_set() without a position, with a typed error code (a string
 * literal, kept by pointer). */
int ob_error_set_code(ob_error *err, const char *code, int errnum, const char *fmt, ...)
    _printf_(4, 5);

/* The check every public options struct gets (its first field is
 * struct_size, set by TYPE_init()): 0 when got is this library's size, else
 * -EINVAL with code "invalid" and one line naming type and its _init. One
 * version so far; a later library accepts the older, shorter sizes here. */
int ob_error_struct_size(ob_error *err, const char *type, size_t got, size_t want);

/* Reads a whole regular file into a NUL-terminated buffer (*ret, caller frees).
 * Refuses files over max_len bytes with -EFBIG. */
int ob_read_file(const char *path, size_t max_len, char **ret, size_t *ret_len);
