/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by template.c (parsing) and template_dir.c (finding, listing,
 * printing); internal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "environments/template.h"

#define TEMPLATE_MAX_BYTES (256 * 1024)

/* Frees a NULL-terminated vector of strings; accepts NULL. */
/* [a-z0-9][a-z0-9-]*, 1..max bytes. */
bool template_name_valid(const char *s, size_t max);
/* "48h" → seconds: one positive integer, one unit s|m|h|d, at most 365d (the
 * rules of ob_duration_parse in store.h); -EINVAL/-ERANGE with a message. */
int template_duration(const char *text, int64_t *ret_s, ob_error *err);
