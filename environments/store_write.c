/* SPDX-License-Identifier: Apache-2.0 */
/* The store's writes: create (quota, idempotency and name checks in the
 * insert's BEGIN IMMEDIATE), compare-and-set transitions, the setters.
 * docs/environments-store.md. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sys/random.h>
#include <time.h>

#include "environments/secrets.h"
#include "environments/store_internal.h"

#define TEXT_MAX 255

/* Optional free text (template, seed, idempotency key, approver): NULL, or
 * 1..255 bytes without control characters. */
static int text_check(const char *what, const char *v, bool required, ob_error *err)
{
        size_t len = v ? strlen(v) : 0;

        if (!v && !required)
                return 0;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
                        len = 0;
        if (len == 0 || len > TEXT_MAX)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "bad %s: want 1 to %d printable bytes", what, TEXT_MAX);
        return 0;
}

static int flags_check(char *const *flags, ob_error *err)
{
        size_t n = ob_strv_len(flags);

        if (n > OB_ENV_MAX_FLAGS)
                return ob_error_set_code(err, "invalid", E2BIG, "%zu feature flags, at most %d", n,
                                         OB_ENV_MAX_FLAGS);
        for (size_t i = 0; i < n; i++) {
                int r = ob_env_flag_check(flags[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int secret_names_check(char *const *names, ob_error *err)
{
        size_t n = ob_strv_len(names);

        if (n > OB_SECRET_MAX_NAMES)
                return ob_error_set_code(err, "invalid", E2BIG, "%zu secrets, at most %d", n,
                                         OB_SECRET_MAX_NAMES);
        for (size_t i = 0; i < n; i++) {
                int r = ob_secret_name_check(names[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A name that looks like an id would make "get by id or name" ambiguous. */
static bool looks_like_id(const char *name)
{
        if (strlen(name) != OB_ENV_ID_LEN || strncmp(name, "env-", 4) != 0)
                return false;
        return strspn(name + 4, "0123456789abcdef") == OB_ENV_ID_LEN - 4;
}

static int record_check(const ob_env_record *r, ob_error *err)
{
        int k = ob_env_name_check(r->name, err);

        k = k < 0 ? k : ob_env_owner_check(r->owner, err);
        k = k < 0 ? k : text_check("template", r->template_name, true, err);
        k = k < 0 ? k : text_check("seed", r->seed, false, err);
        k = k < 0 ? k : text_check("idempotency key", r->idempotency_key, false, err);
        k = k < 0 ? k : text_check("approved_by", r->approved_by, false, err);
        k = k < 0 ? k : flags_check(r->flags, err);
        k = k < 0 ? k : secret_names_check(r->secret_names, err);
        if (k < 0)
                return k;
        if (looks_like_id(r->name))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "bad environment name \"%s\": it looks like an id",
                                         r->name);
        if (r->memory_mb < 0 || r->created_at < 0 || r->expires_at < 0 || r->last_activity_at < 0 ||
            r->supervisor_pid < 0)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "negative memory, time or pid in the record");
        return 0;
}

/* "env-" + 12 lowercase hex digits from getrandom. */
static int new_id(char ret[OB_ENV_ID_LEN + 1])
{
        uint8_t rnd[6];

        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                return -EIO;
        snprintf(ret, OB_ENV_ID_LEN + 1, "env-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5]);
        return 0;
}

/* 1 and *ret when owner has a live environment with the key, else 0. */
static int find_idempotent(ob_store *s, const ob_env_record *r, ob_env_record *ret, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int k;

        if (!r->idempotency_key)
                return 0;
        k = ob_store_prepare(s,
                             "SELECT " COLUMNS " FROM environments WHERE owner = ?1"
                             " AND idempotency_key = ?2 AND " LIVE
                             " ORDER BY created_at, id LIMIT 1",
                             &st, err);
        if (k < 0)
                return k;
        if (ob_store_bind_text(st, 1, r->owner) < 0 ||
            ob_store_bind_text(st, 2, r->idempotency_key) < 0)
                return -ENOMEM;
        k = sqlite3_step(st);
        if (k == SQLITE_DONE)
                return 0;
        if (k != SQLITE_ROW)
                return ob_store_db_error(s, err, "select");
        k = ob_store_read_row(s, st, ret, err);
        return k < 0 ? k : 1;
}

static int check_quota(ob_store *s, const ob_env_config *cfg, const ob_env_record *r, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t count, memory;
        int k = ob_store_prepare(s,
                                 "SELECT count(*), coalesce(sum(memory_mb), 0) FROM environments"
                                 " WHERE owner = ?1 AND " LIVE,
                                 &st, err);

        if (k < 0)
                return k;
        if (ob_store_bind_text(st, 1, r->owner) < 0)
                return -ENOMEM;
        if (sqlite3_step(st) != SQLITE_ROW)
                return ob_store_db_error(s, err, "select");
        count = sqlite3_column_int64(st, 0);
        memory = sqlite3_column_int64(st, 1);
        if (count >= cfg->max_environments_per_owner)
                return ob_error_set_code(err, "quota_exceeded", EDQUOT,
                                         "owner %s has %" PRId64 " of %" PRId64 " environments",
                                         r->owner, count, cfg->max_environments_per_owner);
        if (cfg->max_memory_mb_per_owner > 0 &&
            memory + r->memory_mb > cfg->max_memory_mb_per_owner)
                return ob_error_set_code(err, "quota_exceeded", EDQUOT,
                                         "owner %s has %" PRId64 " MB of %" PRId64
                                         " MB of memory; %" PRId64 " MB more is over the quota",
                                         r->owner, memory, cfg->max_memory_mb_per_owner,
                                         r->memory_mb);
        return 0;
}

static int check_name(ob_store *s, const char *name, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int k =
            ob_store_prepare(s, "SELECT id FROM environments WHERE name = ?1 AND " LIVE, &st, err);

        if (k < 0)
                return k;
        if (ob_store_bind_text(st, 1, name) < 0)
                return -ENOMEM;
        k = sqlite3_step(st);
        if (k == SQLITE_ROW)
                return ob_error_set_code(err, "invalid", EEXIST,
                                         "an environment named %s exists (%s)", name,
                                         (const char *)sqlite3_column_text(st, 0));
        return k == SQLITE_DONE ? 0 : ob_store_db_error(s, err, "select");
}

static int insert_row(ob_store *s, const ob_env_record *r, const char *id, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *flags = NULL, *secrets = NULL;
        int k = ob_store_prepare(s,
                                 "INSERT INTO environments (" COLUMNS ") VALUES (?1, ?2, ?3, ?4,"
                                 " 'creating', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                                 &st, err);

        if (k < 0)
                return k;
        if (ob_strv_to_json((const char *const *)r->flags, ob_strv_len(r->flags), &flags) < 0 ||
            ob_strv_to_json((const char *const *)r->secret_names, ob_strv_len(r->secret_names),
                            &secrets) < 0)
                return -ENOMEM;
        if (ob_store_bind_text(st, 1, id) < 0 || ob_store_bind_text(st, 2, r->name) < 0 ||
            ob_store_bind_text(st, 3, r->owner) < 0 ||
            ob_store_bind_text(st, 4, r->template_name) < 0 ||
            ob_store_bind_text(st, 5, r->reason) < 0 || sqlite3_bind_int64(st, 6, r->created_at) ||
            sqlite3_bind_int64(st, 7, r->expires_at) ||
            sqlite3_bind_int64(st, 8, r->last_activity_at) ||
            ob_store_bind_text(st, 9, r->seed) < 0 || ob_store_bind_text(st, 10, flags) < 0 ||
            ob_store_bind_text(st, 11, secrets) < 0 || sqlite3_bind_int64(st, 12, r->memory_mb) ||
            ob_store_bind_text(st, 13, r->approved_by) < 0 ||
            ob_store_bind_text(st, 14, r->idempotency_key) < 0 ||
            sqlite3_bind_int64(st, 15, r->supervisor_pid))
                return -ENOMEM;
        return ob_store_exec_stmt(s, st, err);
}

/* Fills the times a caller left at 0 (created_at: now; last activity:
 * created_at; expires_at: created_at + the default TTL). */
static void fill_times(ob_env_record *r, const ob_env_config *cfg)
{
        if (r->created_at == 0)
                r->created_at = (int64_t)time(NULL);
        if (r->last_activity_at == 0)
                r->last_activity_at = r->created_at;
        if (r->expires_at == 0)
                r->expires_at = r->created_at + cfg->default_ttl_s;
}

int ob_store_create(ob_store *s, const ob_env_config *cfg, ob_env_record *r, bool *ret_existed,
                    ob_error *err)
{
        ob_env_record existing = {0};
        char id[OB_ENV_ID_LEN + 1];
        int k = record_check(r, err);

        if (k < 0)
                return k;
        if (r->id[0] && !looks_like_id(r->id))
                return ob_error_set_code(err, "invalid", EINVAL, "bad id \"%.40s\"", r->id);
        if (r->id[0])
                snprintf(id, sizeof(id), "%s", r->id);
        else if ((k = new_id(id)) < 0)
                return ob_error_set_code(err, "internal", k, "getrandom failed");
        fill_times(r, cfg);
        k = ob_store_tx_begin(s, err);
        if (k < 0)
                return k;
        k = find_idempotent(s, r, &existing, err);
        if (k == 0)
                k = check_quota(s, cfg, r, err);
        if (k == 0)
                k = check_name(s, r->name, err);
        if (k == 0)
                k = insert_row(s, r, id, err);
        k = ob_store_tx_end(s, k, err);
        if (k < 0) {
                ob_env_record_done(&existing);
                return k;
        }
        if (k == 1) {
                ob_env_record_done(r);
                *r = existing;
        } else {
                snprintf(r->id, sizeof(r->id), "%s", id);
                r->state = OB_ENV_CREATING;
        }
        *ret_existed = k == 1;
        return 0;
}

/* Which moves ob_store_transition allows (docs/environments-store.md): no
 * move leaves deleted, and none goes from a state that does not count
 * against the quota (expired, deleted) to one that does. */
static const unsigned allowed_to[] = {
    [OB_ENV_CREATING] =
        1u << OB_ENV_RUNNING | 1u << OB_ENV_STOPPED | 1u << OB_ENV_FAILED | 1u << OB_ENV_DELETING,
    [OB_ENV_RUNNING] =
        1u << OB_ENV_STOPPED | 1u << OB_ENV_EXPIRED | 1u << OB_ENV_FAILED | 1u << OB_ENV_DELETING,
    [OB_ENV_STOPPED] =
        1u << OB_ENV_RUNNING | 1u << OB_ENV_EXPIRED | 1u << OB_ENV_FAILED | 1u << OB_ENV_DELETING,
    [OB_ENV_EXPIRED] = 1u << OB_ENV_DELETING | 1u << OB_ENV_DELETED,
    [OB_ENV_DELETING] = 1u << OB_ENV_DELETED | 1u << OB_ENV_FAILED,
    [OB_ENV_DELETED] = 0,
    [OB_ENV_FAILED] = 1u << OB_ENV_DELETING | 1u << OB_ENV_DELETED,
};

static int current_state(ob_store *s, const char *id, ob_env_state *ret, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int k = ob_store_prepare(s, "SELECT state FROM environments WHERE id = ?1", &st, err);

        if (k < 0)
                return k;
        if (ob_store_bind_text(st, 1, id) < 0)
                return -ENOMEM;
        k = sqlite3_step(st);
        if (k == SQLITE_DONE)
                return ob_error_set_code(err, "not_found", ENOENT, "no environment %.40s", id);
        if (k != SQLITE_ROW)
                return ob_store_db_error(s, err, "select");
        if (ob_env_state_from_string((const char *)sqlite3_column_text(st, 0), ret) < 0)
                return ob_error_set_code(err, "internal", EIO, "%s: %s has an unknown state",
                                         s->path, id);
        return 0;
}

/* reason cut to OB_ENV_REASON_MAX bytes, at a UTF-8 character boundary. */
static int bind_reason(sqlite3_stmt *st, int i, const char *reason)
{
        size_t len;

        if (!reason)
                return sqlite3_bind_null(st, i) == SQLITE_OK ? 0 : -ENOMEM;
        len = strlen(reason);
        if (len > OB_ENV_REASON_MAX) {
                len = OB_ENV_REASON_MAX;
                while (len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80)
                        len--;
        }
        return sqlite3_bind_text(st, i, reason, (int)len, SQLITE_TRANSIENT) == SQLITE_OK ? 0
                                                                                         : -ENOMEM;
}

static int transition_locked(ob_store *s, const char *id, unsigned from, ob_env_state to,
                             const char *reason, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        ob_env_state cur;
        int k = current_state(s, id, &cur, err);

        if (k < 0)
                return k;
        if (from != 0 && !(from & (1u << cur)))
                return ob_error_set_code(err, "invalid", ESTALE, "%s is %s", id,
                                         ob_env_state_to_string(cur));
        if (!(allowed_to[cur] & (1u << to)))
                return ob_error_set_code(err, "invalid", EINVAL, "%s is %s; it cannot become %s",
                                         id, ob_env_state_to_string(cur),
                                         ob_env_state_to_string(to));
        k = ob_store_prepare(s, "UPDATE environments SET state = ?2, reason = ?3 WHERE id = ?1",
                             &st, err);
        if (k < 0)
                return k;
        if (ob_store_bind_text(st, 1, id) < 0 ||
            ob_store_bind_text(st, 2, ob_env_state_to_string(to)) < 0 ||
            bind_reason(st, 3, reason) < 0)
                return -ENOMEM;
        return ob_store_exec_stmt(s, st, err);
}

int ob_store_transition(ob_store *s, const char *id, unsigned from, ob_env_state to,
                        const char *reason, ob_error *err)
{
        int k;

        if (!id || !ob_env_state_to_string(to))
                return ob_error_set_code(err, "invalid", EINVAL, "bad id or state");
        k = ob_store_tx_begin(s, err);
        if (k < 0)
                return k;
        return ob_store_tx_end(s, transition_locked(s, id, from, to, reason, err), err);
}

/* Runs st (an UPDATE or DELETE of the row ?1 = id, bound by the caller) in
 * its own transaction: -ENOENT (not_found) when no row matched. */
static int write_one(ob_store *s, sqlite3_stmt *st, const char *id, ob_error *err)
{
        int k;

        if (ob_store_bind_text(st, 1, id) < 0)
                return -ENOMEM;
        k = ob_store_tx_begin(s, err);
        if (k < 0)
                return k;
        k = ob_store_exec_stmt(s, st, err);
        if (k >= 0 && sqlite3_changes(s->db) == 0)
                k = ob_error_set_code(err, "not_found", ENOENT, "no environment %.40s", id);
        return ob_store_tx_end(s, k, err);
}

int ob_store_set_expiry(ob_store *s, const char *id, int64_t expires_at, const char *approved_by,
                        ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int k = text_check("approved_by", approved_by, false, err);

        if (k >= 0)
                k = ob_store_prepare(s,
                                     "UPDATE environments SET expires_at = ?2,"
                                     " approved_by = coalesce(?3, approved_by) WHERE id = ?1",
                                     &st, err);
        if (k < 0)
                return k;
        if (sqlite3_bind_int64(st, 2, expires_at) || ob_store_bind_text(st, 3, approved_by) < 0)
                return -ENOMEM;
        return write_one(s, st, id, err);
}

/* Sets a JSON list column (flags or secret_names) from a NULL-terminated v. */
static int set_list(ob_store *s, const char *id, const char *sql, const char *const *v,
                    ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *json = NULL;
        int k = ob_store_prepare(s, sql, &st, err);

        if (k < 0)
                return k;
        if (ob_strv_to_json(v, ob_strv_len((char *const *)v), &json) < 0 ||
            ob_store_bind_text(st, 2, json) < 0)
                return -ENOMEM;
        return write_one(s, st, id, err);
}

int ob_store_set_flags(ob_store *s, const char *id, const char *const *flags, ob_error *err)
{
        int k = flags_check((char *const *)flags, err);

        if (k < 0)
                return k;
        return set_list(s, id, "UPDATE environments SET flags = ?2 WHERE id = ?1", flags, err);
}

int ob_store_set_secret_names(ob_store *s, const char *id, const char *const *names, ob_error *err)
{
        int k = secret_names_check((char *const *)names, err);

        if (k < 0)
                return k;
        return set_list(s, id, "UPDATE environments SET secret_names = ?2 WHERE id = ?1", names,
                        err);
}

/* last_activity_at never moves backwards. */
int ob_store_touch(ob_store *s, const char *id, int64_t now, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int k =
            ob_store_prepare(s,
                             "UPDATE environments SET last_activity_at = max(last_activity_at, ?2)"
                             " WHERE id = ?1",
                             &st, err);

        if (k < 0)
                return k;
        if (sqlite3_bind_int64(st, 2, now))
                return -ENOMEM;
        return write_one(s, st, id, err);
}

int ob_store_set_supervisor(ob_store *s, const char *id, int64_t pid, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int k;

        if (pid < 0 || pid > INT32_MAX)
                return ob_error_set_code(err, "invalid", EINVAL, "bad pid %" PRId64, pid);
        k = ob_store_prepare(s, "UPDATE environments SET supervisor_pid = ?2 WHERE id = ?1", &st,
                             err);
        if (k < 0)
                return k;
        if (sqlite3_bind_int64(st, 2, pid))
                return -ENOMEM;
        return write_one(s, st, id, err);
}

int ob_store_remove(ob_store *s, const char *id, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int k = ob_store_prepare(s, "DELETE FROM environments WHERE id = ?1", &st, err);

        if (k < 0)
                return k;
        return write_one(s, st, id, err);
}
