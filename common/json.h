/* SPDX-License-Identifier: Apache-2.0 */
/* JSON documents with positions: cJSON builds the tree, a strict scanner run
 * first checks the text (UTF-8, depth, syntax, duplicate keys, integer range)
 * and records where every value (and every member's key) starts, so that any
 * later error can name line:column of the offending value. */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define OB_JSON_MAX_DEPTH 64

typedef struct ob_json_pos {
        const cJSON *node;
        uint32_t key_off; /* UINT32_MAX when the value is not an object member */
        uint32_t val_off;
} ob_json_pos;

typedef struct ob_json_doc {
        cJSON *root;
        const char *text; /* borrowed: must outlive the doc */
        size_t len;
        ob_json_pos *pos; /* sorted by node address */
        size_t n_pos;
} ob_json_doc;

/* Parses text[0..len) (len <= max_len, else -EFBIG) into *ret. On failure
 * returns -errno and fills *err with line:column and one line of text;
 * *ret is untouched then. */
int ob_json_parse(const char *text, size_t len, size_t max_len, ob_json_doc *ret, ob_error *err);

/* Frees the tree and the position index; accepts a zeroed doc. */
void ob_json_doc_done(ob_json_doc *doc);

/* Line and column (1-based, columns count characters) of a node's value, or
 * of its key when key is true and the node is an object member. 0:0 when the
 * node is unknown. */
void ob_json_position(const ob_json_doc *doc, const cJSON *node, bool key, unsigned *ret_line,
                      unsigned *ret_column);

/* ob_error_set() at the position of node (its key when key is true). */
int ob_json_error(ob_error *err, const ob_json_doc *doc, const cJSON *node, bool key, int errnum,
                  const char *fmt, ...) _printf_(6, 7);

/* Human name of a cJSON node's type ("string", "object", ...). */
const char *ob_json_type_name(const cJSON *node);

/* Line and column of byte offset off in text. */
void ob_text_position(const char *text, size_t off, unsigned *ret_line, unsigned *ret_column);

/* cJSON_Delete after overwriting every string and key of the tree with
 * zeros: for trees that held secrets (exec headers). NULL is fine. */
void ob_json_delete_wiped(cJSON *node);
