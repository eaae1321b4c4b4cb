/* SPDX-License-Identifier: Apache-2.0 */
/* The capability set's insides, shared by capset.c, capfile.c and
 * algebra.c (internal). */
#pragma once

#include <omnibase/capabilities.h>

#include "capabilities/endpoint.h"
#include "capabilities/index.h"
#include "common/json.h"
#include "common/macros.h"

#define CAP_POLICY_ID_MAX 256

#define CAP_BY_SUFFIX (UINT32_MAX - 1)

typedef struct cap_rule_info {
        uint32_t rest_off; /* prefix rules: offset of the first wildcard in the pattern;
                            * UINT32_MAX: a literal rule; CAP_BY_SUFFIX: a suffix rule */
        cap_endpoint ep;   /* NETWORK_CONNECT rules only */
} cap_rule_info;

typedef struct cap_side {
        ob_capability **rules; /* each allocated alone: pointers stay valid */
        cap_rule_info *info;
        size_t n, cap;
        cap_index ix[OB_CAP_KIND_MAX];
} cap_side;

struct ob_capset {
        char *principal;
        ob_limits limits;
        cap_side side[2]; /* [0] grants, [1] denials */
};

/* Indexes rule number idx of side, which is stored already (check.c). */
int cap_index_rule(cap_side *side, ob_cap_kind kind, uint32_t idx);

/* Normalises a rule target of kind (paths canonicalised, endpoints in
 * canonical text); *ret malloc'd. -EINVAL with a reason in *err. */
int cap_normalize_target(ob_cap_kind kind, const char *target, char **ret, ob_error *err);

/* Parses a capability-file object (version, principal, grants, denials,
 * limits) that is a node of an already parsed doc, so that errors carry
 * positions in that doc's text (capfile.c; templates use it). *ret is a new
 * set, untouched on failure. */
int ob_capset_parse_node(const ob_json_doc *doc, const cJSON *obj, ob_capset **ret, ob_error *err);
