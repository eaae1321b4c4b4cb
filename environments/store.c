/* SPDX-License-Identifier: Apache-2.0 */
/* The environment records in SQLite: the connection (one per process, WAL,
 * busy_timeout), the STRICT schema and its user_version migrations, reads.
 * Writes are in store_write.c. docs/environments-store.md. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "environments/store_internal.h"
#include "runner/runner.h"

#define DB_NAME         "omnibase.db"
#define BUSY_TIMEOUT_MS 10000

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

/* The database's last error as an ob_error (code "internal") and -errno. */
int ob_store_db_error(ob_store *s, ob_error *err, const char *what)
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

int ob_store_prepare(ob_store *s, const char *sql, sqlite3_stmt **ret, ob_error *err)
{
        if (sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) != SQLITE_OK)
                return ob_store_db_error(s, err, "prepare");
        return 0;
}

/* Runs one statement that returns no rows. */
int ob_store_exec_stmt(ob_store *s, sqlite3_stmt *st, ob_error *err)
{
        int rc = sqlite3_step(st);

        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return ob_store_db_error(s, err, "step");
        return 0;
}

static int exec_sql(ob_store *s, const char *sql, ob_error *err)
{
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                return ob_store_db_error(s, err, sql);
        return 0;
}

int ob_store_tx_begin(ob_store *s, ob_error *err)
{
        return exec_sql(s, "BEGIN IMMEDIATE", err);
}

/* Commits when r >= 0, else rolls back; returns r or the commit's error. */
int ob_store_tx_end(ob_store *s, int r, ob_error *err)
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

int ob_store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
        if (!v)
                return sqlite3_bind_null(st, i) == SQLITE_OK ? 0 : -ENOMEM;
        return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -ENOMEM;
}

static int user_version(ob_store *s, int *ret, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = ob_store_prepare(s, "PRAGMA user_version", &st, err);

        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return ob_store_db_error(s, err, "user_version");
        *ret = sqlite3_column_int(st, 0);
        return 0;
}

static int migrate(ob_store *s, ob_error *err)
{
        int v = 0, r;

        r = ob_store_tx_begin(s, err);
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
        return ob_store_tx_end(s, r, err);
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
                return ob_store_db_error(s, err, "busy_timeout");
        r = ob_store_prepare(s, "PRAGMA journal_mode = WAL", &st, err);
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return ob_store_db_error(s, err, "journal_mode");
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
                return ob_store_db_error(s, err, "open");
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
int ob_store_read_row(ob_store *s, sqlite3_stmt *st, ob_env_record *ret, ob_error *err)
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
        if (k == -EBADMSG)
                k = ob_error_set_code(err, "internal", EIO, "%s: %s has a bad list", s->path, r.id);
        if (k < 0) {
                ob_env_record_done(&r);
                return k;
        }
        *ret = r;
        return 0;
}

int ob_store_get(ob_store *s, const char *id_or_name, ob_env_record *ret, ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = ob_store_prepare(s,
                                 "SELECT " COLUMNS
                                 " FROM environments WHERE id = ?1 OR (name = ?1 AND " LIVE
                                 ") ORDER BY id = ?1 DESC LIMIT 1",
                                 &st, err);

        if (r < 0)
                return r;
        if (!id_or_name)
                return ob_error_set_code(err, "not_found", ENOENT, "no environment given");
        if (ob_store_bind_text(st, 1, id_or_name) < 0)
                return -ENOMEM;
        r = sqlite3_step(st);
        if (r == SQLITE_DONE)
                return ob_error_set_code(err, "not_found", ENOENT, "no environment %.80s",
                                         id_or_name);
        if (r != SQLITE_ROW)
                return ob_store_db_error(s, err, "select");
        return ob_store_read_row(s, st, ret, err);
}

int ob_store_list(ob_store *s, const char *owner, bool all, ob_env_record **ret, size_t *ret_n,
                  ob_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        ob_env_record *v = NULL;
        size_t n = 0, cap = 0;
        int r =
            ob_store_prepare(s,
                             "SELECT " COLUMNS " FROM environments WHERE (?1 IS NULL OR owner = ?1)"
                             " AND (?2 OR state <> 'deleted') ORDER BY created_at, id",
                             &st, err);

        if (r < 0)
                return r;
        if (ob_store_bind_text(st, 1, owner) < 0 || sqlite3_bind_int(st, 2, all) != SQLITE_OK)
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
                r = ob_store_read_row(s, st, &v[n], err);
                if (r < 0) {
                        ob_env_records_free(v, n);
                        return r;
                }
                n++;
        }
        if (r != SQLITE_DONE) {
                ob_env_records_free(v, n);
                return ob_store_db_error(s, err, "select");
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
