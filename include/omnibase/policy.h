/* SPDX-License-Identifier: Apache-2.0 */
/* Cedar JSON policies (a documented subset, docs/policy.md): parse, check,
 * evaluate with Cedar's semantics, and compile for one principal into a
 * capability set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <omnibase/capabilities.h>
#include <omnibase/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds on untrusted policy input. */
#define OB_POLICY_MAX_BYTES    (16u * 1024 * 1024)
#define OB_POLICY_MAX_POLICIES 100000

typedef struct ob_policy_set ob_policy_set;

/* Parses a Cedar JSON policy set ({"staticPolicies": {id: policy}}) or a
 * single policy object (its id is "policy0"). Syntax outside the subset is
 * refused with "unsupported in omnibase's Cedar subset" and its position. */
OB_EXPORT int ob_policy_parse(const char *text, size_t len, ob_policy_set **ret, ob_error *err);
/* ob_policy_parse() of a file. */
OB_EXPORT int ob_policy_load(const char *path, ob_policy_set **ret, ob_error *err);
/* Accepts NULL; returns NULL. */
OB_EXPORT ob_policy_set *ob_policy_set_free(ob_policy_set *set);

OB_EXPORT size_t ob_policy_set_size(const ob_policy_set *set);
OB_EXPORT const char *ob_policy_set_id(const ob_policy_set *set, size_t i);

/* Static validation (`policy check`): refuses, with the position, any policy
 * whose evaluation could error (and so be skipped) for some request. */
OB_EXPORT int ob_policy_check(const ob_policy_set *set, ob_error *err);

/* An authorization answer with Cedar's meaning: reasons are the ids of the
 * policies that determined it (satisfied forbids on a Deny by forbid,
 * satisfied permits on Allow, none on a default deny); errors are
 * "<id>: <message>" for each policy whose evaluation errored. */
typedef struct ob_policy_response {
        bool allow;
        char **reasons;
        size_t n_reasons;
        char **errors;
        size_t n_errors;
        char **error_ids; /* the policy id of each error (n_errors of them) */
} ob_policy_response;

/* Evaluates principal Component::"principal", action Action::"<KIND>",
 * resource File::"<target>" (FILE_*) or Endpoint::"<target>"
 * (NETWORK_CONNECT, target host:port), empty context. */
OB_EXPORT int ob_policy_is_authorized(const ob_policy_set *set, const char *principal,
                                      ob_cap_kind action, const char *target,
                                      ob_policy_response *ret);
/* Frees what a response holds; accepts a zeroed one. */
OB_EXPORT void ob_policy_response_done(ob_policy_response *resp);

/* Partially evaluates the set for one principal into grants and denials
 * that keep their policy ids. A policy that applies to the principal but
 * cannot be expressed as capability rules is an error, never dropped. */
OB_EXPORT int ob_policy_compile(const ob_policy_set *set, const char *principal, ob_capset **ret,
                                ob_error *err);

/* DIR/<uuid>.cedar.json after checking that uuid is a UUID. *ret malloc'd. */
OB_EXPORT int ob_policy_registry_path(const char *dir, const char *uuid, char **ret);

/* Where a capability set comes from: exactly one of the three, and a
 * principal with a policy file or a registry. */
typedef struct ob_capability_source {
        const char *capabilities_file;
        const char *policy_file;
        const char *registry; /* a directory of <uuid>.cedar.json */
        const char *principal;
} ob_capability_source;

/* Loads (and for a policy, compiles) the set; on error err's message is one
 * line that starts with the file and, where known, line:column. */
OB_EXPORT int ob_capset_from_source(const ob_capability_source *src, ob_capset **ret,
                                    ob_error *err);

#ifdef __cplusplus
}
#endif
