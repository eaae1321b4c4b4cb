/* SPDX-License-Identifier: Apache-2.0 */
/* The environment layer's state (DESIGN §6): $OMNIBASE_STATE_DIR/omnibase.db,
 * SQLite in WAL mode with busy_timeout, every mutation in BEGIN IMMEDIATE,
 * the schema versioned with PRAGMA user_version. One connection per process.
 * docs/environments-store.md describes the tables. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <omnibase/environment.h>

#include "common/error.h"

/* Names: [a-z0-9][a-z0-9-]{0,62}; owners: [A-Za-z0-9][A-Za-z0-9._@-]{0,63}. */
#define OB_ENV_NAME_MAX   63
#define OB_ENV_OWNER_MAX  64
#define OB_ENV_MAX_FLAGS  64
#define OB_ENV_FLAG_MAX   63 /* a flag name: [a-z0-9][a-z0-9_.-]{0,62} */
#define OB_ENV_REASON_MAX 255
#define OB_K8S_MAX_GROUPS 8   /* per role in $OMNIBASE_CONFIG's "kubernetes" */
#define OB_K8S_GROUP_MAX  128 /* a group name: printable ASCII */

/* -EINVAL for an unknown word. */
int ob_env_state_from_string(const char *s, ob_env_state *ret);

/* Global settings: $OMNIBASE_CONFIG (default /etc/omnibase/config.json; a
 * missing default file is all defaults, a missing named file an error), a
 * JSON object whose keys are all optional; unknown keys are errors with
 * file:line:column. Durations are strings ("48h") or seconds (numbers). */
typedef struct ob_env_config {
        int64_t max_environments_per_owner; /* default 3; 0 = none allowed */
        int64_t max_memory_mb_per_owner;    /* default 0 = unlimited */
        int64_t default_ttl_s;              /* default 48h */
        int64_t max_ttl_without_approval_s; /* default 7d (total lifetime from created_at) */
        int64_t idle_stop_after_s;          /* default 24h; 0 = never */
        int64_t exec_spare_idle_s;          /* default 10m; 0 = no spare exec kept */
        /* "kubernetes": {"admin_groups": [...], "observer_groups": [...]}: the
         * groups the rendered Admin and Observer roles are bound to (none by
         * default). Inline, so that the struct stays a value. */
        char k8s_admin_groups[OB_K8S_MAX_GROUPS][OB_K8S_GROUP_MAX + 1];
        size_t n_k8s_admin_groups;
        char k8s_observer_groups[OB_K8S_MAX_GROUPS][OB_K8S_GROUP_MAX + 1];
        size_t n_k8s_observer_groups;
        /* "api": {"admins": [...], "observers": [...]}: the owner names that
         * get those roles from omnibased and `omnibase mcp` (api/api.h);
         * everyone else is an owner. */
        char api_admins[OB_K8S_MAX_GROUPS][OB_K8S_GROUP_MAX + 1];
        size_t n_api_admins;
        char api_observers[OB_K8S_MAX_GROUPS][OB_K8S_GROUP_MAX + 1];
        size_t n_api_observers;
} ob_env_config;

void ob_env_config_defaults(ob_env_config *c);
/* path NULL: $OMNIBASE_CONFIG, else the default. Errors name the file and
 * the position (err->line/column) with code "invalid". */
int ob_env_config_load(const char *path, ob_env_config *ret, ob_error *err);

/* "30s", "15m", "72h", "7d" (one positive integer and one unit, at most
 * 365d) → seconds; else -EINVAL with code "invalid" and a message that
 * names the text. */
int ob_duration_parse(const char *text, int64_t *ret_s, ob_error *err);
/* The largest unit that divides s exactly: "3d", "90m", "45s". buf >= 24. */
void ob_duration_format(int64_t s, char *buf, size_t len);

/* 0 or -EINVAL with code "invalid" and a message naming the bad value. */
int ob_env_name_check(const char *name, ob_error *err);
int ob_env_owner_check(const char *owner, ob_error *err);
int ob_env_flag_check(const char *flag, ob_error *err);

typedef struct ob_store ob_store;

/* Opens (making state_dir, 0700, and the database, 0600) and migrates.
 * state_dir NULL: $OMNIBASE_STATE_DIR or the runner's default. */
int ob_store_open(const char *state_dir, ob_store **ret, ob_error *err);
ob_store *ob_store_close(ob_store *s); /* accepts NULL; returns NULL */

/* Inserts r (state creating) after the quota check, in one BEGIN IMMEDIATE:
 *  - a live (not deleted/expired) environment with the same idempotency
 *    key and owner: nothing inserted, *ret_existed = true and r is
 *    replaced with the existing record (caller compares);
 *  - the owner holds max_environments_per_owner live environments (states
 *    creating, running, stopped, deleting, failed count; expired and
 *    deleted do not): -EDQUOT, code "quota_exceeded", message
 *    "owner alice has 3 of 3 environments";
 *  - max_memory_mb_per_owner > 0 and the sum of live memory_mb plus
 *    r->memory_mb exceeds it: -EDQUOT, code "quota_exceeded";
 *  - a live environment of the same name: -EEXIST, code "invalid" ("an
 *    environment named X exists (env-...)").
 * r->id is generated here when empty. */
int ob_store_create(ob_store *s, const ob_env_config *cfg, ob_env_record *r, bool *ret_existed,
                    ob_error *err);
/* By id or by live name; -ENOENT with code "not_found". */
int ob_store_get(ob_store *s, const char *id_or_name, ob_env_record *ret, ob_error *err);
/* owner NULL: every owner. all false: only live ones (not deleted).
 * Sorted by created_at then id. *ret an array of *ret_n records
 * (ob_env_records_free). */
int ob_store_list(ob_store *s, const char *owner, bool all, ob_env_record **ret, size_t *ret_n,
                  ob_error *err);

/* Compare-and-set: moves id from any state in `from` (a bitmask of
 * 1u << state; 0 = any) to `to` with reason (may be NULL). -ENOENT
 * (not_found) or -ESTALE when its state is not in `from` (code "invalid",
 * message "env-... is stopped"). */
int ob_store_transition(ob_store *s, const char *id, unsigned from, ob_env_state to,
                        const char *reason, ob_error *err);
int ob_store_set_expiry(ob_store *s, const char *id, int64_t expires_at, const char *approved_by,
                        ob_error *err);
int ob_store_set_flags(ob_store *s, const char *id, const char *const *flags, ob_error *err);
int ob_store_set_secret_names(ob_store *s, const char *id, const char *const *names, ob_error *err);
int ob_store_touch(ob_store *s, const char *id, int64_t now, ob_error *err);
int ob_store_set_supervisor(ob_store *s, const char *id, int64_t pid, ob_error *err);
/* Removes the row for good (used only to undo a failed create). */
int ob_store_remove(ob_store *s, const char *id, ob_error *err);
