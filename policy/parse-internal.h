/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by parse.c (expressions) and parse-policy.c (policies and sets). */
#pragma once

#include "common/json.h"
#include "policy/policy-internal.h"

#define UNSUPPORTED "unsupported in omnibase's Cedar subset: "

typedef struct pctx {
        const ob_json_doc *doc;
        ob_policy_set *set; /* the arena everything is allocated from */
        ob_error *err;
        /* A cursor for positions: nodes are visited mostly in document
         * order, so line:column advance from the last one (linear overall;
         * ob_json_position scans from the start each time). */
        size_t cur_off;
        size_t last_pos; /* index in doc->pos of the last node looked up */
        unsigned cur_line, cur_col;
} pctx;

void pol_pos_of(pctx *c, const cJSON *n, unsigned *line, unsigned *col);
int pol_want_string(pctx *c, const cJSON *n, const char *what, char **ret);
/* Cedar entity type names: Ident ("::" Ident)*, no reserved word. */
bool pol_is_type_name(const char *s);
/* {"type": T, "id": I} or {"__entity": {...}} into *ret (owned). */
int pol_parse_entity(pctx *c, const cJSON *n, pol_entity *ret);
/* The members of an operator's object: exactly keys (NULL-terminated), all
 * required but optional; out[k] is NULL for an absent optional one. */
int pol_get_members(pctx *c, const cJSON *n, const char *op, const char *const *keys,
                    const char *optional, const cJSON **out);
/* An expression (an object with one key naming its kind) into *ret. */
int pol_parse_expr(pctx *c, const cJSON *n, pol_expr **ret);
