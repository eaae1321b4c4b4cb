/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the store (store.c reads, store_write.c writes, record.c the
 * records): the connection, SQL helpers and the string lists kept as JSON
 * text in the flags and secret_names columns. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>

#include "common/macros.h"
#include "environments/store.h"

struct ob_store {
        sqlite3 *db;
        char *path;
};

#define LIVE "state NOT IN ('deleted','expired')"
#define COLUMNS                                                                                    \
        "id, name, owner, template, state, reason, created_at, expires_at, last_activity_at, "     \
        "seed, flags, secret_names, memory_mb, approved_by, idempotency_key, supervisor_pid"

static inline void ob_store_finalizep(sqlite3_stmt **st)
{
        sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(ob_store_finalizep)

/* The database's last error as an ob_error (code "internal") and -errno. */
int ob_store_db_error(ob_store *s, ob_error *err, const char *what);
int ob_store_prepare(ob_store *s, const char *sql, sqlite3_stmt **ret, ob_error *err);
/* Steps a statement that returns no rows (or ignores them). */
int ob_store_exec_stmt(ob_store *s, sqlite3_stmt *st, ob_error *err);
int ob_store_tx_begin(ob_store *s, ob_error *err);
/* Commits when r >= 0, else rolls back; returns r or the commit's error. */
int ob_store_tx_end(ob_store *s, int r, ob_error *err);
/* Binds v, or NULL; -ENOMEM on failure. */
int ob_store_bind_text(sqlite3_stmt *st, int i, const char *v);
/* The current row (selected as COLUMNS) into *ret. */
int ob_store_read_row(ob_store *s, sqlite3_stmt *st, ob_env_record *ret, ob_error *err);

/* Entries of a NULL-terminated list (0 for NULL). */
size_t ob_strv_len(char *const *v);
/* A JSON array of strings → a sorted NULL-terminated list (*ret NULL when
 * empty or text NULL); -EBADMSG when text is not such an array. */
int ob_strv_from_json(const char *text, char ***ret);
/* v[0..n) (may hold duplicates, any order) → a sorted, deduplicated JSON
 * array, *ret malloc'd. */
int ob_strv_to_json(const char *const *v, size_t n, char **ret);
