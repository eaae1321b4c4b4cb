/* SPDX-License-Identifier: Apache-2.0 */
/* The environment store against real SQLite files under /var/tmp: modes,
 * migrations, quotas (and the quota race between processes), idempotency,
 * live names, compare-and-set transitions, lists, setters, --json. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "environments/store.h"
#include "runner/runner.h"
#include "test_util.h"

#define T0 1796641200 /* 2026-12-07T11:00:00Z */

static char tmpdir[] = "/var/tmp/ob-store-XXXXXX";

static char *sub(const char *name)
{
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

static ob_store *open_store(const char *name)
{
        _cleanup_free_ char *dir = sub(name);
        ob_store *s = NULL;
        ob_error err = {0};

        assert_int_equal(ob_store_open(dir, &s, &err), 0);
        assert_non_null(s);
        return s;
}

static ob_env_config config(int64_t max_envs, int64_t max_mb)
{
        ob_env_config c;

        ob_env_config_defaults(&c);
        c.max_environments_per_owner = max_envs;
        c.max_memory_mb_per_owner = max_mb;
        return c;
}

/* A record to create (borrowed strings: give it to create only once, or
 * copy the result). */
static ob_env_record draft(const char *name, const char *owner, int64_t mb)
{
        return (ob_env_record){
            .name = strdup(name),
            .owner = strdup(owner),
            .template_name = strdup("python-dev"),
            .created_at = T0,
            .expires_at = T0 + 48 * 3600,
            .memory_mb = mb,
        };
}

/* Creates name for owner; returns the result, *ret_id the id when made. */
static int create(ob_store *s, const ob_env_config *c, const char *name, const char *owner,
                  int64_t mb, char ret_id[OB_ENV_ID_LEN + 1], ob_error *err)
{
        ob_env_record r = draft(name, owner, mb);
        bool existed = true;
        int k = ob_store_create(s, c, &r, &existed, err);

        if (k == 0) {
                assert_false(existed);
                if (ret_id)
                        memcpy(ret_id, r.id, OB_ENV_ID_LEN + 1);
        }
        ob_env_record_done(&r);
        return k;
}

static size_t count_rows(ob_store *s, const char *owner, bool all)
{
        ob_env_record *v = NULL;
        size_t n = 99;
        ob_error err = {0};

        assert_int_equal(ob_store_list(s, owner, all, &v, &n, &err), 0);
        ob_env_records_free(v, n);
        return n;
}

/* Takes id to deleted through deleting. */
static void delete_env(ob_store *s, const char *id)
{
        ob_error err = {0};

        assert_int_equal(ob_store_transition(s, id, 0, OB_ENV_DELETING, NULL, &err), 0);
        assert_int_equal(ob_store_transition(s, id, 1u << OB_ENV_DELETING, OB_ENV_DELETED,
                                             "deleted by alice", &err),
                         0);
}

static void test_open_modes(void **state)
{
        _cleanup_free_ char *dir = sub("modes/state"), *db = sub("modes/state/omnibase.db");
        ob_store *s = NULL;
        sqlite3 *h = NULL;
        sqlite3_stmt *st = NULL;
        ob_error err = {0};
        struct stat sb;

        assert_int_equal(ob_store_open(dir, &s, &err), 0);
        assert_int_equal(stat(dir, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0700);
        assert_int_equal(stat(db, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0600);
        s = ob_store_close(s);
        assert_null(s);
        assert_null(ob_store_close(NULL));

        /* A database that was made 0644 is put back to 0600. */
        assert_int_equal(chmod(db, 0644), 0);
        assert_int_equal(ob_store_open(dir, &s, &err), 0);
        assert_int_equal(stat(db, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0600);
        s = ob_store_close(s);

        assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 1);
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(h);

        /* $OMNIBASE_STATE_DIR when state_dir is NULL. */
        _cleanup_free_ char *envdir = sub("modes/by-env"), *envdb = sub("modes/by-env/omnibase.db");
        assert_int_equal(setenv("OMNIBASE_STATE_DIR", envdir, 1), 0);
        assert_int_equal(ob_store_open(NULL, &s, &err), 0);
        assert_int_equal(unsetenv("OMNIBASE_STATE_DIR"), 0);
        assert_int_equal(access(envdb, F_OK), 0);
        s = ob_store_close(s);
}

static void test_migration_refused(void **state)
{
        _cleanup_free_ char *dir = sub("newer"), *db = sub("newer/omnibase.db");
        ob_store *s = NULL;
        sqlite3 *h = NULL;
        ob_error err = {0};

        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
        assert_int_equal(ob_store_open(dir, &s, &err), -EPROTO);
        assert_null(s);
        assert_non_null(strstr(err.message, "999"));
        assert_non_null(strstr(err.message, "newer"));

        /* A current database opens again without migrating twice. */
        ob_store_close(open_store("again"));
        s = open_store("again");
        assert_int_equal(count_rows(s, NULL, true), 0);
        ob_store_close(s);
}

static void test_create_get(void **state)
{
        ob_store *s = open_store("get");
        ob_env_config c = config(3, 0);
        ob_env_record r = draft("web", "alice", 512), g = {0};
        bool existed = true;
        ob_error err = {0};

        r.flags = calloc(3, sizeof(char *));
        r.flags[0] = strdup("new-ui");
        r.flags[1] = strdup("beta");
        r.seed = strdup("synthetic:v1");
        assert_int_equal(ob_store_create(s, &c, &r, &existed, &err), 0);
        assert_false(existed);
        assert_int_equal(strlen(r.id), OB_ENV_ID_LEN);
        assert_ptr_equal(strstr(r.id, "env-"), r.id);
        assert_int_equal(strspn(r.id + 4, "0123456789abcdef"), 12);
        assert_int_equal(r.state, OB_ENV_CREATING);

        assert_int_equal(ob_store_get(s, r.id, &g, &err), 0);
        assert_string_equal(g.id, r.id);
        assert_string_equal(g.name, "web");
        assert_string_equal(g.owner, "alice");
        assert_string_equal(g.template_name, "python-dev");
        assert_string_equal(g.seed, "synthetic:v1");
        assert_int_equal(g.state, OB_ENV_CREATING);
        assert_int_equal(g.created_at, T0);
        assert_int_equal(g.expires_at, T0 + 48 * 3600);
        assert_int_equal(g.last_activity_at, T0);
        assert_int_equal(g.memory_mb, 512);
        assert_string_equal(g.flags[0], "beta"); /* sorted */
        assert_string_equal(g.flags[1], "new-ui");
        assert_null(g.flags[2]);
        assert_null(g.secret_names);
        assert_null(g.reason);
        ob_env_record_done(&g);
        assert_int_equal(ob_store_get(s, "web", &g, &err), 0);
        assert_string_equal(g.id, r.id);
        ob_env_record_done(&g);

        err.code = NULL;
        assert_int_equal(ob_store_get(s, "nope", &g, &err), -ENOENT);
        assert_string_equal(err.code, "not_found");
        assert_int_equal(ob_store_get(s, "env-000000000000", &g, &err), -ENOENT);
        ob_env_record_done(&r);

        /* Bad input is refused before anything is written. */
        r = draft("Bad_Name", "alice", 0);
        assert_int_equal(ob_store_create(s, &c, &r, &existed, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        ob_env_record_done(&r);
        r = draft("env-0123456789ab", "alice", 0);
        assert_int_equal(ob_store_create(s, &c, &r, &existed, &err), -EINVAL);
        ob_env_record_done(&r);
        assert_int_equal(count_rows(s, NULL, true), 1);
        ob_store_close(s);
}

static void test_quota_count(void **state)
{
        ob_store *s = open_store("quota");
        ob_env_config c = config(3, 0), none = config(0, 0);
        char ids[3][OB_ENV_ID_LEN + 1];
        ob_error err = {0};

        assert_int_equal(create(s, &c, "a1", "alice", 0, ids[0], &err), 0);
        assert_int_equal(create(s, &c, "a2", "alice", 0, ids[1], &err), 0);
        assert_int_equal(create(s, &c, "a3", "alice", 0, ids[2], &err), 0);
        assert_int_equal(create(s, &c, "a4", "alice", 0, NULL, &err), -EDQUOT);
        assert_string_equal(err.code, "quota_exceeded");
        assert_string_equal(err.message, "owner alice has 3 of 3 environments");
        assert_int_equal(count_rows(s, "alice", true), 3);
        /* Another owner has their own quota. */
        assert_int_equal(create(s, &c, "b1", "bob", 0, NULL, &err), 0);
        /* Stopped and failed still count; expired and deleted do not. */
        assert_int_equal(ob_store_transition(s, ids[0], 0, OB_ENV_FAILED, "boom", &err), 0);
        assert_int_equal(create(s, &c, "a4", "alice", 0, NULL, &err), -EDQUOT);
        delete_env(s, ids[0]);
        assert_int_equal(create(s, &c, "a4", "alice", 0, NULL, &err), 0);
        assert_int_equal(create(s, &c, "a5", "alice", 0, NULL, &err), -EDQUOT);
        assert_int_equal(ob_store_transition(s, ids[1], 0, OB_ENV_RUNNING, NULL, &err), 0);
        assert_int_equal(ob_store_transition(s, ids[1], 0, OB_ENV_EXPIRED, "ttl", &err), 0);
        assert_int_equal(create(s, &c, "a5", "alice", 0, NULL, &err), 0);
        /* A quota of 0 allows none. */
        assert_int_equal(create(s, &none, "c1", "carol", 0, NULL, &err), -EDQUOT);
        assert_string_equal(err.message, "owner carol has 0 of 0 environments");
        ob_store_close(s);
}

static void test_quota_memory(void **state)
{
        ob_store *s = open_store("memory");
        ob_env_config c = config(10, 2048), unlimited = config(10, 0);
        char id[OB_ENV_ID_LEN + 1];
        ob_error err = {0};

        assert_int_equal(create(s, &c, "m1", "alice", 1024, id, &err), 0);
        assert_int_equal(create(s, &c, "m2", "alice", 1024, NULL, &err), 0);
        err.code = NULL;
        assert_int_equal(create(s, &c, "m3", "alice", 1, NULL, &err), -EDQUOT);
        assert_string_equal(err.code, "quota_exceeded");
        assert_non_null(strstr(err.message, "2048 MB"));
        assert_int_equal(create(s, &c, "m3", "bob", 2048, NULL, &err), 0);
        assert_int_equal(create(s, &c, "m4", "bob", 1, NULL, &err), -EDQUOT);
        delete_env(s, id);
        assert_int_equal(create(s, &c, "m4", "alice", 1024, NULL, &err), 0);
        assert_int_equal(create(s, &unlimited, "m5", "alice", 1 << 20, NULL, &err), 0);
        assert_int_equal(count_rows(s, "alice", false), 3);
        ob_store_close(s);
}

static void test_idempotency(void **state)
{
        ob_store *s = open_store("idem");
        ob_env_config c = config(3, 0);
        ob_env_record r = draft("i1", "alice", 0), again = draft("i1-other", "alice", 64);
        ob_env_record bob = draft("i1-bob", "bob", 0);
        bool existed = true;
        ob_error err = {0};

        r.idempotency_key = strdup("req-42");
        assert_int_equal(ob_store_create(s, &c, &r, &existed, &err), 0);
        assert_false(existed);
        again.idempotency_key = strdup("req-42");
        assert_int_equal(ob_store_create(s, &c, &again, &existed, &err), 0);
        assert_true(existed);
        assert_string_equal(again.id, r.id);
        assert_string_equal(again.name, "i1"); /* the existing record */
        assert_int_equal(again.memory_mb, 0);
        assert_string_equal(again.idempotency_key, "req-42");
        assert_int_equal(count_rows(s, NULL, true), 1);
        /* Keys are per owner. */
        bob.idempotency_key = strdup("req-42");
        assert_int_equal(ob_store_create(s, &c, &bob, &existed, &err), 0);
        assert_false(existed);
        assert_string_not_equal(bob.id, r.id);
        /* Once deleted, the key makes a new environment. */
        delete_env(s, r.id);
        ob_env_record_done(&again);
        again = draft("i1-new", "alice", 0);
        again.idempotency_key = strdup("req-42");
        assert_int_equal(ob_store_create(s, &c, &again, &existed, &err), 0);
        assert_false(existed);
        assert_string_not_equal(again.id, r.id);
        assert_int_equal(count_rows(s, NULL, true), 3);
        ob_env_record_done(&r);
        ob_env_record_done(&again);
        ob_env_record_done(&bob);
        ob_store_close(s);
}

static void test_names_live(void **state)
{
        ob_store *s = open_store("names");
        ob_env_config c = config(3, 0);
        char id1[OB_ENV_ID_LEN + 1], id2[OB_ENV_ID_LEN + 1];
        ob_env_record g = {0};
        ob_error err = {0};

        assert_int_equal(create(s, &c, "shared", "alice", 0, id1, &err), 0);
        err.code = NULL;
        assert_int_equal(create(s, &c, "shared", "bob", 0, NULL, &err), -EEXIST);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, "an environment named shared exists"));
        assert_non_null(strstr(err.message, id1));
        assert_int_equal(create(s, &c, "shared", "alice", 0, NULL, &err), -EEXIST);
        delete_env(s, id1);
        assert_int_equal(create(s, &c, "shared", "bob", 0, id2, &err), 0);
        assert_string_not_equal(id1, id2);
        /* The name now finds the live one; the old id still finds the old. */
        assert_int_equal(ob_store_get(s, "shared", &g, &err), 0);
        assert_string_equal(g.id, id2);
        ob_env_record_done(&g);
        assert_int_equal(ob_store_get(s, id1, &g, &err), 0);
        assert_int_equal(g.state, OB_ENV_DELETED);
        assert_string_equal(g.reason, "deleted by alice");
        ob_env_record_done(&g);
        ob_store_close(s);
}

static void test_transition(void **state)
{
        ob_store *s = open_store("cas");
        ob_env_config c = config(3, 0);
        char id[OB_ENV_ID_LEN + 1], longr[600];
        unsigned live = 1u << OB_ENV_RUNNING | 1u << OB_ENV_CREATING;
        ob_env_record g = {0};
        ob_error err = {0};

        assert_int_equal(create(s, &c, "t", "alice", 0, id, &err), 0);
        assert_int_equal(
            ob_store_transition(s, id, 1u << OB_ENV_CREATING, OB_ENV_RUNNING, NULL, &err), 0);
        assert_int_equal(ob_store_transition(s, id, live, OB_ENV_STOPPED, "idle", &err), 0);
        /* The compare fails: it is stopped now. */
        err.code = NULL;
        assert_int_equal(ob_store_transition(s, id, live, OB_ENV_EXPIRED, NULL, &err), -ESTALE);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, "is stopped"));
        assert_ptr_equal(strstr(err.message, id), err.message);
        assert_int_equal(ob_store_get(s, id, &g, &err), 0);
        assert_int_equal(g.state, OB_ENV_STOPPED);
        assert_string_equal(g.reason, "idle");
        ob_env_record_done(&g);
        /* A move the state machine does not have. */
        assert_int_equal(ob_store_transition(s, id, 0, OB_ENV_CREATING, NULL, &err), -EINVAL);
        /* Reasons are cut to OB_ENV_REASON_MAX bytes. */
        memset(longr, 'r', sizeof(longr) - 1), longr[sizeof(longr) - 1] = '\0';
        assert_int_equal(ob_store_transition(s, id, 0, OB_ENV_RUNNING, longr, &err), 0);
        assert_int_equal(ob_store_get(s, id, &g, &err), 0);
        assert_int_equal(strlen(g.reason), OB_ENV_REASON_MAX);
        ob_env_record_done(&g);
        delete_env(s, id);
        /* Nothing leaves deleted. */
        assert_int_equal(ob_store_transition(s, id, 0, OB_ENV_RUNNING, NULL, &err), -EINVAL);
        err.code = NULL;
        assert_int_equal(ob_store_transition(s, "env-ffffffffffff", 0, OB_ENV_RUNNING, NULL, &err),
                         -ENOENT);
        assert_string_equal(err.code, "not_found");
        ob_store_close(s);
}

static void test_list(void **state)
{
        static const struct {
                const char *name, *owner;
                int64_t at;
        } rows[] = {{"l3", "alice", T0 + 30}, {"l1", "alice", T0 + 10}, {"l2", "bob", T0 + 20}};
        ob_store *s = open_store("list");
        ob_env_config c = config(3, 0);
        ob_env_record *v = NULL;
        size_t n = 0;
        ob_error err = {0};
        bool existed;

        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                ob_env_record r = draft(rows[i].name, rows[i].owner, 0);
                r.created_at = rows[i].at;
                assert_int_equal(ob_store_create(s, &c, &r, &existed, &err), 0);
                if (streq(rows[i].name, "l3"))
                        delete_env(s, r.id);
                ob_env_record_done(&r);
        }
        assert_int_equal(ob_store_list(s, NULL, false, &v, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].name, "l1"); /* by created_at */
        assert_string_equal(v[1].name, "l2");
        ob_env_records_free(v, n);
        assert_int_equal(ob_store_list(s, NULL, true, &v, &n, &err), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[2].name, "l3");
        assert_int_equal(v[2].state, OB_ENV_DELETED);
        ob_env_records_free(v, n);
        assert_int_equal(ob_store_list(s, "alice", false, &v, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].name, "l1");
        ob_env_records_free(v, n);
        assert_int_equal(ob_store_list(s, "alice", true, &v, &n, &err), 0);
        assert_int_equal(n, 2);
        ob_env_records_free(v, n);
        assert_int_equal(ob_store_list(s, "nobody", true, &v, &n, &err), 0);
        assert_int_equal(n, 0);
        ob_env_records_free(v, n);
        ob_store_close(s);
}

static void test_setters(void **state)
{
        static const char *const flags[] = {"zeta", "alpha", "zeta", NULL};
        static const char *const bad_flags[] = {"ok", "Not-OK", NULL};
        static const char *const secrets[] = {"API_TOKEN", "DB_PASSWORD", NULL};
        static const char *const bad_secrets[] = {"PATH", NULL};
        ob_store *s = open_store("set");
        ob_env_config c = config(3, 0);
        char id[OB_ENV_ID_LEN + 1];
        ob_env_record g = {0};
        ob_error err = {0};

        assert_int_equal(create(s, &c, "s", "alice", 0, id, &err), 0);
        assert_int_equal(ob_store_set_expiry(s, id, T0 + 10 * 86400, "bob", &err), 0);
        assert_int_equal(ob_store_set_expiry(s, id, T0 + 11 * 86400, NULL, &err), 0);
        assert_int_equal(ob_store_set_flags(s, id, flags, &err), 0);
        assert_int_equal(ob_store_set_flags(s, id, bad_flags, &err), -EINVAL);
        assert_int_equal(ob_store_set_secret_names(s, id, secrets, &err), 0);
        assert_int_equal(ob_store_set_secret_names(s, id, bad_secrets, &err), -EINVAL);
        assert_int_equal(ob_store_touch(s, id, T0 + 500, &err), 0);
        assert_int_equal(ob_store_touch(s, id, T0 + 100, &err), 0); /* never backwards */
        assert_int_equal(ob_store_set_supervisor(s, id, 4242, &err), 0);
        assert_int_equal(ob_store_get(s, id, &g, &err), 0);
        assert_int_equal(g.expires_at, T0 + 11 * 86400);
        assert_string_equal(g.approved_by, "bob");
        assert_string_equal(g.flags[0], "alpha");
        assert_string_equal(g.flags[1], "zeta");
        assert_null(g.flags[2]);
        assert_string_equal(g.secret_names[0], "API_TOKEN");
        assert_string_equal(g.secret_names[1], "DB_PASSWORD");
        assert_null(g.secret_names[2]);
        assert_int_equal(g.last_activity_at, T0 + 500);
        assert_int_equal(g.supervisor_pid, 4242);
        ob_env_record_done(&g);
        /* Empty lists read back as NULL. */
        assert_int_equal(ob_store_set_flags(s, id, NULL, &err), 0);
        assert_int_equal(ob_store_get(s, id, &g, &err), 0);
        assert_null(g.flags);
        ob_env_record_done(&g);

        err.code = NULL;
        assert_int_equal(ob_store_touch(s, "env-ffffffffffff", T0, &err), -ENOENT);
        assert_string_equal(err.code, "not_found");
        assert_int_equal(ob_store_remove(s, id, &err), 0);
        assert_int_equal(ob_store_remove(s, id, &err), -ENOENT);
        assert_int_equal(count_rows(s, NULL, true), 0);
        ob_store_close(s);
}

static void test_record_json(void **state)
{
        static const char *const flags[] = {"new-ui", NULL};
        static const char *const secrets[] = {"API_TOKEN", NULL};
        ob_store *s = open_store("json");
        ob_env_config c = config(3, 0);
        char id[OB_ENV_ID_LEN + 1];
        ob_env_record g = {0};
        ob_error err = {0};
        char *text = NULL;
        cJSON *o;

        assert_int_equal(create(s, &c, "j", "alice", 768, id, &err), 0);
        assert_int_equal(ob_store_set_flags(s, id, flags, &err), 0);
        assert_int_equal(ob_store_set_secret_names(s, id, secrets, &err), 0);
        assert_int_equal(ob_store_transition(s, id, 0, OB_ENV_FAILED, "runsc died", &err), 0);
        assert_int_equal(ob_store_get(s, id, &g, &err), 0);
        assert_int_equal(ob_env_record_to_json(&g, &text), 0);
        assert_null(strchr(text, '\n'));
        o = cJSON_Parse(text);
        assert_non_null(o);
        assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, id);
        assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "j");
        assert_string_equal(cJSON_GetObjectItem(o, "owner")->valuestring, "alice");
        assert_string_equal(cJSON_GetObjectItem(o, "template")->valuestring, "python-dev");
        assert_string_equal(cJSON_GetObjectItem(o, "state")->valuestring, "failed");
        assert_string_equal(cJSON_GetObjectItem(o, "reason")->valuestring, "runsc died");
        assert_string_equal(cJSON_GetObjectItem(o, "created_at")->valuestring,
                            "2026-12-07T11:00:00Z");
        assert_string_equal(cJSON_GetObjectItem(o, "expires_at")->valuestring,
                            "2026-12-09T11:00:00Z");
        assert_string_equal(cJSON_GetObjectItem(o, "last_activity_at")->valuestring,
                            "2026-12-07T11:00:00Z");
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "seed")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "approved_by")));
        assert_string_equal(
            cJSON_GetArrayItem(cJSON_GetObjectItem(o, "feature_flags"), 0)->valuestring, "new-ui");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "feature_flags")), 1);
        assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "secrets"), 0)->valuestring,
                            "API_TOKEN");
        assert_int_equal(cJSON_GetObjectItem(o, "memory_mb")->valueint, 768);
        assert_int_equal(cJSON_GetObjectItem(o, "supervisor_pid")->valueint, 0);
        assert_int_equal(cJSON_GetArraySize(o), 15);
        assert_null(cJSON_GetObjectItem(o, "idempotency_key"));
        cJSON_Delete(o);
        free(text);
        ob_env_record_done(&g);
        ob_store_close(s);
}

/* A row changed behind the store's back is an error, not a crash. */
static void test_bad_row(void **state)
{
        _cleanup_free_ char *db = sub("bad/omnibase.db");
        ob_store *s = open_store("bad");
        ob_env_config c = config(3, 0);
        char id[OB_ENV_ID_LEN + 1];
        ob_env_record g = {0};
        ob_error err = {0};
        sqlite3 *h = NULL;

        assert_int_equal(create(s, &c, "b", "alice", 0, id, &err), 0);
        assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, "UPDATE environments SET flags = '{}'", NULL, NULL, NULL),
                         SQLITE_OK);
        /* STRICT and CHECK refuse what is not the schema. */
        assert_int_not_equal(
            sqlite3_exec(h, "UPDATE environments SET memory_mb = 'lots'", NULL, NULL, NULL),
            SQLITE_OK);
        assert_int_not_equal(
            sqlite3_exec(h, "UPDATE environments SET state = 'zombie'", NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(h);
        err.code = NULL;
        assert_int_equal(ob_store_get(s, id, &g, &err), -EIO);
        assert_string_equal(err.code, "internal");
        assert_non_null(strstr(err.message, id));
        ob_store_close(s);
}

#define RACERS 4 /* N + 1 for a quota of N = 3 */

/* A child: its own connection, then blocks on the barrier, then creates.
 * Exits 0 when created, 1 on quota_exceeded, 2 on anything else. */
static _Noreturn void racer(const char *dir, int barrier, int round, int i)
{
        ob_env_config c = config(RACERS - 1, 0);
        ob_store *s = NULL;
        ob_error err = {0};
        char name[32], b;
        ob_env_record r;
        bool existed;
        int k;

        if (ob_store_open(dir, &s, &err) < 0)
                _exit(2);
        while (read(barrier, &b, 1) < 0 && errno == EINTR)
                ;
        snprintf(name, sizeof(name), "race-%d-%d", round, i);
        r = draft(name, "racer", 0);
        k = ob_store_create(s, &c, &r, &existed, &err);
        ob_env_record_done(&r);
        ob_store_close(s);
        if (k == 0)
                _exit(0);
        if (k == -EDQUOT && err.code && streq(err.code, "quota_exceeded") &&
            streq(err.message, "owner racer has 3 of 3 environments"))
                _exit(1);
        _exit(2);
}

static void test_quota_race(void **state)
{
        for (int round = 0; round < 5; round++) {
                _cleanup_free_ char *name = NULL, *dir = NULL;
                int p[2], ok = 0, refused = 0, other = 0;
                pid_t pids[RACERS];
                ob_store *s;

                assert_true(asprintf(&name, "race-%d", round) > 0);
                dir = sub(name);
                ob_store_close(open_store(name)); /* made and migrated up front */
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                for (int i = 0; i < RACERS; i++) {
                        pids[i] = fork();
                        assert_true(pids[i] >= 0);
                        if (pids[i] == 0) {
                                close(p[1]);
                                racer(dir, p[0], round, i);
                        }
                }
                close(p[0]);
                usleep(100 * 1000); /* let them all open and block */
                close(p[1]);        /* the barrier falls */
                for (int i = 0; i < RACERS; i++) {
                        int st = 0;
                        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
                        assert_true(WIFEXITED(st));
                        ok += WEXITSTATUS(st) == 0;
                        refused += WEXITSTATUS(st) == 1;
                        other += WEXITSTATUS(st) > 1;
                }
                assert_int_equal(other, 0);
                assert_int_equal(ok, RACERS - 1);
                assert_int_equal(refused, 1);
                s = open_store(name);
                assert_int_equal(count_rows(s, NULL, true), RACERS - 1);
                ob_store_close(s);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_open_modes),   cmocka_unit_test(test_migration_refused),
            cmocka_unit_test(test_create_get),   cmocka_unit_test(test_quota_count),
            cmocka_unit_test(test_quota_memory), cmocka_unit_test(test_idempotency),
            cmocka_unit_test(test_names_live),   cmocka_unit_test(test_transition),
            cmocka_unit_test(test_list),         cmocka_unit_test(test_setters),
            cmocka_unit_test(test_record_json),  cmocka_unit_test(test_bad_row),
            cmocka_unit_test(test_quota_race),
        };
        int r;

        if (!mkdtemp(tmpdir))
                ob_test_skip("cannot make a directory under /var/tmp");
        r = cmocka_run_group_tests(tests, NULL, NULL);
        ob_rm_rf(tmpdir);
        return r;
}
