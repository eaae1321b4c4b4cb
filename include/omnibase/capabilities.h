/* SPDX-License-Identifier: Apache-2.0 */
/* Capabilities: what a sandboxed run may do. A CapabilitySet holds grants,
 * denials and resource limits; a request (kind, target) is allowed when some
 * grant matches it and no denial does (default deny, denial wins). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <omnibase/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ob_cap_kind {
        OB_CAP_FILE_READ,
        OB_CAP_FILE_WRITE,
        OB_CAP_FILE_EXEC,
        OB_CAP_NETWORK_CONNECT,
        OB_CAP_KIND_MAX,
} ob_cap_kind;

/* "FILE_READ", ...; NULL for an out-of-range kind. */
OB_EXPORT const char *ob_cap_kind_to_string(ob_cap_kind kind);
/* 0 and *ret on a known name, -EINVAL otherwise. */
OB_EXPORT int ob_cap_kind_from_string(const char *name, ob_cap_kind *ret);

/* One rule. target is a pattern in Cedar `like` syntax: for FILE_* an
 * absolute, canonical path pattern; for NETWORK_CONNECT `host:port`,
 * `host:lo-hi`, `cidr:port[-port]` or `[v6addr]:port...`. */
typedef struct ob_capability {
        ob_cap_kind kind;
        char *target;
        char *policy_id; /* NULL when none was given */
} ob_capability;

#define OB_LIMIT_UNSET (-1)

/* Resource limits; each OB_LIMIT_UNSET when the set says nothing. */
typedef struct ob_limits {
        int64_t memory_mb;
        int64_t cpus_milli; /* 1000 = one CPU; "cpus": 1.5 in JSON is 1500 */
        int64_t pids;
        int64_t timeout_s;
        int64_t tmpfs_mb;
        int64_t output_kb;
        int64_t write_mb; /* bytes the run may add under its FILE_WRITE grants; 0: no bound */
} ob_limits;

/* Defaults when nothing is said (DESIGN §4): no files, no network, 1 CPU,
 * 256 MiB; and 64 pids, 30 s, 64 MiB tmpfs, 1024 KiB output. */
#define OB_DEFAULT_MEMORY_MB  256
#define OB_DEFAULT_CPUS_MILLI 1000
#define OB_DEFAULT_PIDS       64
#define OB_DEFAULT_TIMEOUT_S  30
#define OB_DEFAULT_TMPFS_MB   64
#define OB_DEFAULT_OUTPUT_KB  1024
#define OB_DEFAULT_WRITE_MB   0 /* FILE_WRITE grants write through, unbounded */

/* A limits struct with every field OB_LIMIT_UNSET. */
OB_EXPORT ob_limits ob_limits_unset(void);
/* Copy of l with every unset field replaced by its default. */
OB_EXPORT ob_limits ob_limits_effective(const ob_limits *l);

typedef struct ob_capset ob_capset;

/* The outcome of a check: allowed or not, and the deciding rule (the
 * matching denial, or the matching grant on allow); rule is NULL on a
 * default deny. rule points into the set and lives as long as it. */
typedef struct ob_decision {
        bool allowed;
        bool denied_by_rule; /* a denial matched (rule is that denial) */
        const ob_capability *rule;
} ob_decision;

/* A new empty set (no principal, no rules, limits unset). */
OB_EXPORT int ob_capset_new(ob_capset **ret);
/* Frees the set; accepts NULL; returns NULL. */
OB_EXPORT ob_capset *ob_capset_free(ob_capset *set);

/* Principal UUID (lower-case canonical form), or NULL. */
OB_EXPORT const char *ob_capset_principal(const ob_capset *set);
/* Sets the principal; -EINVAL unless uuid is a UUID (8-4-4-4-12 hex). */
OB_EXPORT int ob_capset_set_principal(ob_capset *set, const char *uuid);

/* Adds a grant (deny == false) or a denial. The target is validated and
 * normalised (paths canonicalised); on a bad one returns -EINVAL and fills
 * *err (which may be NULL) with a one-line reason. policy_id may be NULL. */
OB_EXPORT int ob_capset_add(ob_capset *set, bool deny, ob_cap_kind kind, const char *target,
                            const char *policy_id, ob_error *err);

/* Number of grants (deny == false) or denials, and the i-th of them. */
OB_EXPORT size_t ob_capset_count(const ob_capset *set, bool deny);
OB_EXPORT const ob_capability *ob_capset_get(const ob_capset *set, bool deny, size_t i);

/* The set's limits, to read or change in place. */
OB_EXPORT ob_limits *ob_capset_limits(ob_capset *set);
OB_EXPORT const ob_limits *ob_capset_limits_const(const ob_capset *set);

/* Decides a concrete request. For FILE_* target must be an absolute path; it
 * is canonicalised lexically first. For NETWORK_CONNECT it is `ip:port` or
 * `[ipv6]:port` (or `host:port`, matched against host patterns).
 * Returns 0 and *ret, or -EINVAL on a malformed target. */
OB_EXPORT int ob_capset_check(const ob_capset *set, ob_cap_kind kind, const char *target,
                              ob_decision *ret);

/* Parses a capability file (DESIGN §4). Unknown keys, unknown kinds, bad
 * types and bad targets are errors naming the key, with line:column. */
OB_EXPORT int ob_capset_parse(const char *text, size_t len, ob_capset **ret, ob_error *err);
/* ob_capset_parse() of a file; errors without a position for I/O failures. */
OB_EXPORT int ob_capset_load(const char *path, ob_capset **ret, ob_error *err);
/* Serialises to the capability file format (pretty, trailing newline);
 * *ret is malloc'd, caller frees. */
OB_EXPORT int ob_capset_to_json(const ob_capset *set, char **ret);

/* Adds every grant and denial of src to dst; dst's limits that are unset
 * take src's value. The principal of dst is kept. */
OB_EXPORT int ob_capset_union(ob_capset *dst, const ob_capset *src);

/* *ret = true only when every request a allows, b allows too (for every
 * kind and target). Conservative: false when it cannot prove it. */
OB_EXPORT int ob_capset_is_subset(const ob_capset *a, const ob_capset *b, bool *ret);

/* Cedar `like`: '*' matches any run of characters (including '/' and the
 * empty run), "\*" a literal star. */
OB_EXPORT bool ob_pattern_match(const char *pattern, const char *subject);

/* Lexical canonical form of an absolute path: "." and ".." collapsed,
 * repeated and trailing slashes removed. -EINVAL when relative, empty,
 * not valid UTF-8, -ENAMETOOLONG over PATH_MAX. *ret malloc'd. */
OB_EXPORT int ob_path_canonicalize(const char *path, char **ret);

#ifdef __cplusplus
}
#endif
