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

/* Reads a whole regular file into a NUL-terminated buffer (*ret, caller frees).
 * Refuses files over max_len bytes with -EFBIG. */
int ob_read_file(const char *path, size_t max_len, char **ret, size_t *ret_len);
