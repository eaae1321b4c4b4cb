/* SPDX-License-Identifier: Apache-2.0 */
/* The environment records in SQLite: one connection, WAL, busy_timeout,
 * STRICT tables, bound parameters only, every mutation in BEGIN IMMEDIATE,
 * migrations by PRAGMA user_version. docs/environments-store.md. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fs.h"
#include "environments/secrets.h"
#include "environments/store.h"
#include "environments/record.h"
#include "runner/runner.h"

#define DB_NAME         "omnibase.db"
#define BUSY_TIMEOUT_MS 10000

struct ob_store {
        sqlite3 *db;
        char *path;
};

/* Each step takes the schema from version i to i + 1 and sets user_version
 * itself (a literal: PRAGMA takes no parameters). */
static const char *const migrations[] = {
    "CREATE TABLE environments ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " owner TEXT NOT NULL,"
    " template TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('creating','running','stopped','expired',"
    "  'deleting','deleted','failed')),"
    " reason TEXT,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " last_activity_at INTEGER NOT NULL,"
    " seed TEXT,"
    " flags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(flags)),"
    " secret_names TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(secret_names)),"
    " memory_mb INTEGER NOT NULL DEFAULT 0 CHECK (memory_mb >= 0),"
    " approved_by TEXT,"
    " idempotency_key TEXT,"
    " supervisor_pid INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE UNIQUE INDEX environments_live_name ON environments(name)"
    " WHERE state NOT IN ('deleted','expired');"
    "CREATE INDEX environments_owner ON environments(owner, state);"
    "CREATE INDEX environments_idempotency ON environments(owner, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "PRAGMA user_version = 1;",
};
#define SCHEMA_VERSION ((int)ARRAY_SIZE(migrations))

#define LIVE "state NOT IN ('deleted','expired')"
#define COLUMNS                                                                                    \
        "id, name, owner, template, state, reason, created_at, expires_at, last_activity_at, "     \
        "seed, flags, secret_names, memory_mb, approved_by, idempotency_key, supervisor_pid"

static void finalizep(sqlite3_stmt **st)
{
        sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

/* The database's last error as an ob_error (code "internal") and -errno. */
static int db_error(ob_store *s, ob_error *err, const char *what)
{
        int rc = sqlite3_extended_errcode(s->db), e = EIO;

        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
                e = EBUSY;
        else if ((rc & 0xff) == SQLITE_CONSTRAINT)
                e = EEXIST;
        else if ((rc & 0xff) == SQLITE_NOMEM)
                e = ENOMEM;
        else if ((rc & 0xff) == SQLITE_FULL)
                e = ENOSPC;
        else if ((rc & 0xff) == SQLITE_READONLY)
                e = EROFS;
        return ob_error_set_code(err, "internal", e, "%s: %s: %s", s->path, what,
                                 sqlite3_errmsg(s->db));
}

static int prepare(ob_store *s, const char *sql, sqlite3_stmt **ret, ob_error *err)
{
        if (sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) != SQLITE_OK)
                return db_error(s, err, "prepare");
        return 0;
}

/* Runs one statement that returns no rows. */
static int exec_stmt(ob_store *s, sqlite3_stmt *st, ob_error *err)
{
        int rc = sqlite3_step(st);

        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return db_error(s, err, "step");
        return 0;
}

static int exec_sql(ob_store *s, const char *sql, ob_error *err)
{
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                return db_error(s, err, sql);
        return 0;
}

static int tx_begin(ob_store *s, ob_error *err)
{
        return exec_sql(s, "BEGIN IMMEDIATE", err);
}

/* Commits when r >= 0, else rolls back; returns r or the commit's error. */
static int tx_end(ob_store *s, int r, ob_error *err)
{
        if (r >= 0) {
                int c = exec_sql(s, "COMMIT", err);
                if (c >= 0)
                        return r;
                r = c;
        }
        if (!sqlite3_get_autocommit(s->db))
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
        if (!v)
                return sqlite3_bind_null(st, i) == SQLITE_OK ? 0 : -ENOMEM;
        return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -ENOMEM;
}

static int user_version(ob_store *s, int *ret, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "PRAGMA user_version", &st, err);

        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return db_error(s, err, "user_version");
        *ret = sqlite3_column_int(st, 0);
        return 0;
}

static int migrate(ob_store *s, ob_error *err)
{
        int v = 0, r;

        r = tx_begin(s, err);
        if (r < 0)
                return r;
        r = user_version(s, &v, err);
        if (r >= 0 && (v < 0 || v > SCHEMA_VERSION))
                r = ob_error_set_code(err, "invalid", EPROTO,
                                      "%s: schema version %d is newer than this omnibase knows "
                                      "(%d); refusing to use it",
                                      s->path, v, SCHEMA_VERSION);
        for (; r >= 0 && v < SCHEMA_VERSION; v++)
                r = exec_sql(s, migrations[v], err);
        return tx_end(s, r, err);
}

/* Makes the file 0600 before SQLite opens it, and keeps it so. */
static int db_file_prepare(const char *path, ob_error *err)
{
        _cleanup_close_ int fd =
            open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return ob_error_set_code(err, "internal", negative_errno(), "%s: %s", path,
                                         strerror(errno));
        if (!S_ISREG(st.st_mode))
                return ob_error_set_code(err, "internal", EPERM, "%s: not a regular file", path);
        if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
                return ob_error_set_code(err, "internal", negative_errno(), "%s: chmod: %s", path,
                                         strerror(errno));
        return 0;
}

static int db_configure(ob_store *s, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        const unsigned char *mode;
        int r;

        sqlite3_extended_result_codes(s->db, 1);
        if (sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK)
                return db_error(s, err, "busy_timeout");
        r = prepare(s, "PRAGMA journal_mode = WAL", &st, err);
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return db_error(s, err, "journal_mode");
        mode = sqlite3_column_text(st, 0);
        if (!mode || strcmp((const char *)mode, "wal") != 0)
                return ob_error_set_code(err, "internal", EIO, "%s: cannot switch to WAL mode",
                                         s->path);
        return exec_sql(s, "PRAGMA foreign_keys = ON", err);
}

static void store_closep(ob_store **s)
{
        *s = ob_store_close(*s);
}

int ob_store_open(const char *state_dir, ob_store **ret, ob_error *err)
{
        _cleanup_(store_closep) ob_store *s = NULL;
        int r;

        if (!state_dir)
                state_dir = ob_state_dir_default();
        r = ob_mkdir_p(state_dir, 0700);
        if (r < 0)
                return ob_error_set_code(err, "internal", r, "%s: %s", state_dir, strerror(-r));
        s = calloc(1, sizeof(*s));
        if (!s || asprintf(&s->path, "%s/%s", state_dir, DB_NAME) < 0) {
                if (s)
                        s->path = NULL;
                return -ENOMEM;
        }
        r = db_file_prepare(s->path, err);
        if (r < 0)
                return r;
        if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
            SQLITE_OK) {
                if (!s->db)
                        return -ENOMEM;
                return db_error(s, err, "open");
        }
        r = db_configure(s, err);
        if (r >= 0)
                r = migrate(s, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

ob_store *ob_store_close(ob_store *s)
{
        if (!s)
                return NULL;
        sqlite3_close_v2(s->db);
        free(s->path);
        free(s);
        return NULL;
}

/* --- records ----------------------------------------------------------- */

static int dup_col(sqlite3_stmt *st, int i, char **ret)
{
        const unsigned char *t = sqlite3_column_text(st, i);

        *ret = NULL;
        if (!t)
                return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : -ENOMEM;
        *ret = strdup((const char *)t);
        return *ret ? 0 : -ENOMEM;
}

/* One row of COLUMNS into *ret (zeroed first; freed on failure). */
static int read_row(ob_store *s, sqlite3_stmt *st, ob_env_record *ret, ob_error *err)
{
        ob_env_record r = {0};
        const unsigned char *id = sqlite3_column_text(st, 0);
        int k = 0;

        snprintf(r.id, sizeof(r.id), "%s", id ? (const char *)id : "");
        k = k < 0 ? k : dup_col(st, 1, &r.name);
        k = k < 0 ? k : dup_col(st, 2, &r.owner);
        k = k < 0 ? k : dup_col(st, 3, &r.template_name);
        if (k >= 0 &&
            ob_env_state_from_string((const char *)sqlite3_column_text(st, 4), &r.state) < 0)
                k = ob_error_set_code(err, "internal", EIO, "%s: %s has an unknown state", s->path,
                                      r.id);
        k = k < 0 ? k : dup_col(st, 5, &r.reason);
        r.created_at = sqlite3_column_int64(st, 6);
        r.expires_at = sqlite3_column_int64(st, 7);
        r.last_activity_at = sqlite3_column_int64(st, 8);
        k = k < 0 ? k : dup_col(st, 9, &r.seed);
        k = k < 0 ? k : ob_strv_from_json((const char *)sqlite3_column_text(st, 10), &r.flags);
        k = k < 0 ? k
                  : ob_strv_from_json((const char *)sqlite3_column_text(st, 11), &r.secret_names);
        r.memory_mb = sqlite3_column_int64(st, 12);
        k = k < 0 ? k : dup_col(st, 13, &r.approved_by);
        k = k < 0 ? k : dup_col(st, 14, &r.idempotency_key);
        r.supervisor_pid = sqlite3_column_int64(st, 15);
        if (k < 0) {
                ob_env_record_done(&r);
                if (k == -EBADMSG)
                        return ob_error_set_code(err, "internal", EIO, "%s: %s has bad JSON",
                                                 s->path, r.id);
                return k;
        }
        *ret = r;
        return 0;
}

int ob_store_get(ob_store *s, const char *id_or_name, ob_env_record *ret, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s,
                        "SELECT " COLUMNS " FROM environments WHERE id = ?1 OR (name = ?1 AND " LIVE
                        ") ORDER BY id = ?1 DESC LIMIT 1",
                        &st, err);

        if (r < 0)
                return r;
        if (!id_or_name)
                return ob_error_set_code(err, "not_found", ENOENT, "no environment given");
        if (bind_text(st, 1, id_or_name) < 0)
                return -ENOMEM;
        r = sqlite3_step(st);
        if (r == SQLITE_DONE)
                return ob_error_set_code(err, "not_found", ENOENT, "no environment %.80s",
                                         id_or_name);
        if (r != SQLITE_ROW)
                return db_error(s, err, "select");
        return read_row(s, st, ret, err);
}

int ob_store_list(ob_store *s, const char *owner, bool all, ob_env_record **ret, size_t *ret_n,
                  ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        ob_env_record *v = NULL;
        size_t n = 0, cap = 0;
        int r = prepare(s,
                        "SELECT " COLUMNS " FROM environments WHERE (?1 IS NULL OR owner = ?1)"
                        " AND (?2 OR state <> 'deleted') ORDER BY created_at, id",
                        &st, err);

        if (r < 0)
                return r;
        if (bind_text(st, 1, owner) < 0 || sqlite3_bind_int(st, 2, all) != SQLITE_OK)
                return -ENOMEM;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        ob_env_record *nv = reallocarray(v, cap ? cap * 2 : 8, sizeof(*v));
                        if (!nv) {
                                ob_env_records_free(v, n);
                                return -ENOMEM;
                        }
                        v = nv;
                        cap = cap ? cap * 2 : 8;
                }
                r = read_row(s, st, &v[n], err);
                if (r < 0) {
                        ob_env_records_free(v, n);
                        return r;
                }
                n++;
        }
        if (r != SQLITE_DONE) {
                ob_env_records_free(v, n);
                return db_error(s, err, "select");
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* --- writes ------------------------------------------------------------ */

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
        k = prepare(s,
                    "SELECT " COLUMNS " FROM environments WHERE owner = ?1"
                    " AND idempotency_key = ?2 AND " LIVE " ORDER BY created_at, id LIMIT 1",
                    &st, err);
        if (k < 0)
                return k;
        if (bind_text(st, 1, r->owner) < 0 || bind_text(st, 2, r->idempotency_key) < 0)
                return -ENOMEM;
        k = sqlite3_step(st);
        if (k == SQLITE_DONE)
                return 0;
        if (k != SQLITE_ROW)
                return db_error(s, err, "select");
        k = read_row(s, st, ret, err);
        return k < 0 ? k : 1;
}

static int check_quota(ob_store *s, const ob_env_config *cfg, const ob_env_record *r, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t count, memory;
        int k = prepare(s,
                        "SELECT count(*), coalesce(sum(memory_mb), 0) FROM environments"
                        " WHERE owner = ?1 AND " LIVE,
                        &st, err);

        if (k < 0)
                return k;
        if (bind_text(st, 1, r->owner) < 0)
                return -ENOMEM;
        if (sqlite3_step(st) != SQLITE_ROW)
                return db_error(s, err, "select");
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
        int k = prepare(s, "SELECT id FROM environments WHERE name = ?1 AND " LIVE, &st, err);

        if (k < 0)
                return k;
        if (bind_text(st, 1, name) < 0)
                return -ENOMEM;
        k = sqlite3_step(st);
        if (k == SQLITE_ROW)
                return ob_error_set_code(err, "invalid", EEXIST,
                                         "an environment named %s exists (%s)", name,
                                         (const char *)sqlite3_column_text(st, 0));
        return k == SQLITE_DONE ? 0 : db_error(s, err, "select");
}

static int insert_row(ob_store *s, const ob_env_record *r, const char *id, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *flags = NULL, *secrets = NULL;
        int k = prepare(s,
                        "INSERT INTO environments (" COLUMNS ") VALUES (?1, ?2, ?3, ?4,"
                        " 'creating', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                        &st, err);

        if (k < 0)
                return k;
        if (ob_strv_to_json((const char *const *)r->flags, ob_strv_len(r->flags), &flags) < 0 ||
            ob_strv_to_json((const char *const *)r->secret_names, ob_strv_len(r->secret_names),
                            &secrets) < 0)
                return -ENOMEM;
        if (bind_text(st, 1, id) < 0 || bind_text(st, 2, r->name) < 0 ||
            bind_text(st, 3, r->owner) < 0 || bind_text(st, 4, r->template_name) < 0 ||
            bind_text(st, 5, r->reason) < 0 || sqlite3_bind_int64(st, 6, r->created_at) ||
            sqlite3_bind_int64(st, 7, r->expires_at) ||
            sqlite3_bind_int64(st, 8, r->last_activity_at) || bind_text(st, 9, r->seed) < 0 ||
            bind_text(st, 10, flags) < 0 || bind_text(st, 11, secrets) < 0 ||
            sqlite3_bind_int64(st, 12, r->memory_mb) || bind_text(st, 13, r->approved_by) < 0 ||
            bind_text(st, 14, r->idempotency_key) < 0 ||
            sqlite3_bind_int64(st, 15, r->supervisor_pid))
                return -ENOMEM;
        return exec_stmt(s, st, err);
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
        k = tx_begin(s, err);
        if (k < 0)
                return k;
        k = find_idempotent(s, r, &existing, err);
        if (k == 0)
                k = check_quota(s, cfg, r, err);
        if (k == 0)
                k = check_name(s, r->name, err);
        if (k == 0)
                k = insert_row(s, r, id, err);
        k = tx_end(s, k, err);
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
        int k = prepare(s, "SELECT state FROM environments WHERE id = ?1", &st, err);

        if (k < 0)
                return k;
        if (bind_text(st, 1, id) < 0)
                return -ENOMEM;
        k = sqlite3_step(st);
        if (k == SQLITE_DONE)
                return ob_error_set_code(err, "not_found", ENOENT, "no environment %.40s", id);
        if (k != SQLITE_ROW)
                return db_error(s, err, "select");
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
        k = prepare(s, "UPDATE environments SET state = ?2, reason = ?3 WHERE id = ?1", &st, err);
        if (k < 0)
                return k;
        if (bind_text(st, 1, id) < 0 || bind_text(st, 2, ob_env_state_to_string(to)) < 0 ||
            bind_reason(st, 3, reason) < 0)
                return -ENOMEM;
        return exec_stmt(s, st, err);
}

int ob_store_transition(ob_store *s, const char *id, unsigned from, ob_env_state to,
                        const char *reason, ob_error *err)
{
        int k;

        if (!id || !ob_env_state_to_string(to))
                return ob_error_set_code(err, "invalid", EINVAL, "bad id or state");
        k = tx_begin(s, err);
        if (k < 0)
                return k;
        return tx_end(s, transition_locked(s, id, from, to, reason, err), err);
}

/* Runs st (an UPDATE or DELETE of the row ?1 = id, bound by the caller) in
 * its own transaction: -ENOENT (not_found) when no row matched. */
static int write_one(ob_store *s, sqlite3_stmt *st, const char *id, ob_error *err)
{
        int k;

        if (bind_text(st, 1, id) < 0)
                return -ENOMEM;
        k = tx_begin(s, err);
        if (k < 0)
                return k;
        k = exec_stmt(s, st, err);
        if (k >= 0 && sqlite3_changes(s->db) == 0)
                k = ob_error_set_code(err, "not_found", ENOENT, "no environment %.40s", id);
        return tx_end(s, k, err);
}

int ob_store_set_expiry(ob_store *s, const char *id, int64_t expires_at, const char *approved_by,
                        ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int k = text_check("approved_by", approved_by, false, err);

        if (k >= 0)
                k = prepare(s,
                            "UPDATE environments SET expires_at = ?2,"
                            " approved_by = coalesce(?3, approved_by) WHERE id = ?1",
                            &st, err);
        if (k < 0)
                return k;
        if (sqlite3_bind_int64(st, 2, expires_at) || bind_text(st, 3, approved_by) < 0)
                return -ENOMEM;
        return write_one(s, st, id, err);
}

/* Sets a JSON list column (flags or secret_names) from a NULL-terminated v. */
static int set_list(ob_store *s, const char *id, const char *sql, const char *const *v,
                    ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *json = NULL;
        int k = prepare(s, sql, &st, err);

        if (k < 0)
                return k;
        if (ob_strv_to_json(v, ob_strv_len((char *const *)v), &json) < 0 ||
            bind_text(st, 2, json) < 0)
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
        int k = prepare(s,
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
        k = prepare(s, "UPDATE environments SET supervisor_pid = ?2 WHERE id = ?1", &st, err);
        if (k < 0)
                return k;
        if (sqlite3_bind_int64(st, 2, pid))
                return -ENOMEM;
        return write_one(s, st, id, err);
}

int ob_store_remove(ob_store *s, const char *id, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int k = prepare(s, "DELETE FROM environments WHERE id = ?1", &st, err);

        if (k < 0)
                return k;
        return write_one(s, st, id, err);
}
