/* SPDX-License-Identifier: Apache-2.0 */
/* The handlers of ops_tools.c's table that live in other files, and what
 * they share (internal). */
#pragma once

#include "api/api.h"

/* ops_run.c */
int ob_api_op_sandbox_run(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err);
/* ops_events.c */
int ob_api_op_events_query(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err);
int ob_api_op_events_verify(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err);

/* The JSON text of a document argument: the object argument `name`
 * printed (positions then refer to that print), or the string argument
 * `name`_text as given; exactly one of the two (else code "invalid").
 * *ret malloc'd. */
int ob_api_doc_text(const cJSON *args, const char *name, char **ret, ob_error *err);
/* Marks an input error: code "invalid" unless err has a code, and
 * "what:LINE:COLUMN: " before the message when it has a position. -r
 * (for `return ob_api_input_error(...)`) when r < 0. */
int ob_api_input_error(ob_error *err, const char *what, int r);
/* The object that text parses to; NULL when out of memory or not an
 * object (the library's own JSON is always one). */
cJSON *ob_api_parse_object(const char *text);
