/* SPDX-License-Identifier: Apache-2.0 */
/* What `policy explain` and the policy_explain operation share: the
 * KIND:TARGET request and the answer as JSON (internal, not exported). */
#pragma once

#include <cjson/cJSON.h>

#include <omnibase/policy.h>

#include "common/error.h"

/* Splits "KIND:TARGET" (e.g. "FILE_READ:/data/x"): *ret_target points into
 * req. -EBADMSG ("request must be KIND:TARGET, ...") when there is no kind
 * before a ':', -EINVAL ("unknown capability kind ...") for a bad kind;
 * code "invalid" in both. */
int ob_policy_request_parse(const char *req, ob_cap_kind *ret_kind, const char **ret_target,
                            ob_error *err);
/* {"decision": "Allow"|"Deny", "reasons": [ids], "errors": [{"policy_id",
 * "message"}]}: what `policy explain --json` prints. NULL when out of
 * memory; the caller's (cJSON_Delete). */
cJSON *ob_policy_response_to_json(const ob_policy_response *resp);
