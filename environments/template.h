/* SPDX-License-Identifier: Apache-2.0 */
/* Environment templates (DESIGN §6): approved JSON files that say what an
 * environment is: profile, capability set (the capability-file format:
 * version, grants, denials, limits), TTLs, default seed and feature flags,
 * workspace size. Found as NAME.json in $OMNIBASE_TEMPLATE_DIR, else the
 * source tree's templates/, else the installed ones. Parsed strictly: an
 * unknown key or a wrong type is an error at file:line:column.
 * docs/environments-templates.md lists the keys. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include <omnibase/capabilities.h>

#include "common/error.h"

#define OB_TEMPLATE_NAME_MAX 63 /* [a-z0-9][a-z0-9-]{0,62}, equal to the file's base name */

typedef struct ob_template {
        char *name;
        char *file; /* where it was loaded from */
        char *description;
        bool approved;
        char *approved_by;         /* required when approved */
        char *data_classification; /* "synthetic", "internal", ... (free text, required) */
        char *profile;             /* a profile name ("python-minimal", "shell") */
        ob_capset *caps;           /* the "capabilities" object, its limits included */
        int64_t default_ttl_s;
        int64_t max_ttl_s;      /* the longest TTL a create may ask for */
        char *default_seed;     /* "synthetic:v1" or NULL */
        char **flags_available; /* NULL-terminated, sorted; a flag not listed is refused */
        char **flags_default;   /* NULL-terminated, sorted, a subset of available */
        int64_t workspace_mb;   /* size of /workspace, default 256, 8..65536 */
} ob_template;

/* Loads NAME (-ENOENT with code "template_not_found" when no directory has
 * it) or a path (contains '/': used by `template check`). Does NOT refuse an
 * unapproved template: ob_template_require_approved does. */
int ob_template_load(const char *name_or_path, ob_template **ret, ob_error *err);
/* The path of NAME.json in the first directory of the search path that has
 * it: -ENOENT with code "template_not_found", -EINVAL (code "invalid") for a
 * malformed name. *ret_path malloc'd. (Added: the CLI names the file in
 * errors.) */
int ob_template_find(const char *name, char **ret_path, ob_error *err);
/* Parses text; file names the source in messages and is the name's source. */
int ob_template_parse(const char *text, size_t len, const char *file, ob_template **ret,
                      ob_error *err);
ob_template *ob_template_free(ob_template *t);
/* -EPERM with code "template_not_approved" when !t->approved. */
int ob_template_require_approved(const ob_template *t, ob_error *err);
/* The names of every template found (first directory that has a name wins),
 * sorted; *ret NULL-terminated (free each and the array). */
int ob_template_list(char ***ret, ob_error *err);
/* The template as JSON (the same keys as the file; the capabilities object
 * as ob_capset_to_json prints it). *ret malloc'd. */
int ob_template_to_json(const ob_template *t, char **ret);
/* One entry of `template list --json`: {name, approved, profile,
 * description, file}. NULL when out of memory; the caller's. */
cJSON *ob_template_summary_json(const ob_template *t);
/* The directories searched, in order (for messages): "$OMNIBASE_TEMPLATE_DIR
 * or <source>/templates, <installed>". Static storage. */
const char *ob_template_search_path(void);
