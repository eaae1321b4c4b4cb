/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the store: the records' string lists as JSON text (the
 * flags and secret_names columns). */
#pragma once

#include <stddef.h>

#include "environments/store.h"

/* Entries of a NULL-terminated list (0 for NULL). */
size_t ob_strv_len(char *const *v);
/* A JSON array of strings → a sorted NULL-terminated list (*ret NULL when
 * empty or text NULL); -EBADMSG when text is not such an array. */
int ob_strv_from_json(const char *text, char ***ret);
/* v[0..n) (may hold duplicates, any order) → a sorted, deduplicated JSON
 * array, *ret malloc'd. */
int ob_strv_to_json(const char *const *v, size_t n, char **ret);
