/* SPDX-License-Identifier: Apache-2.0 */
/* ob_audit_follow() driven from its own callback: each tick (line NULL)
 * performs the next step of a script on the log (append, rotate several
 * times, write a torn or over-long line, truncate), and the lines the
 * follower hands over are checked to be exactly the events, in order. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit-internal.h"

static char dir[64], path[128];

typedef struct script {
        ob_audit_log *log;
        int step, ticks;
        uint64_t seqs[64];
        char types[64][32];
        size_t n;
        uint64_t stop_at; /* stop (return 7) once this seq is delivered */
} script;

static int setup(void **state)
{
        (void)state;
        strcpy(dir, "/tmp/ob-follow-lib-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void append(ob_audit_log *log, const char *type, const char *sandbox)
{
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "type", type);
        if (sandbox)
                cJSON_AddStringToObject(ev, "sandbox_id", sandbox);
        else
                cJSON_AddNullToObject(ev, "sandbox_id");
        assert_int_equal(ob_audit_append(log, ev, NULL), 0);
        cJSON_Delete(ev);
}

static void raw_write(const char *bytes, size_t len)
{
        int fd = open(path, O_WRONLY | O_APPEND);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bytes, len), (ssize_t)len);
        close(fd);
}

static int record(script *s, const char *line, size_t len)
{
        ob_audit_record rec = {0};

        assert_int_equal(strlen(line), len);
        assert_int_equal(ob_audit_line_decode(line, len, &rec, NULL), 0);
        assert_true(s->n < 64);
        s->seqs[s->n] = rec.seq;
        snprintf(s->types[s->n], sizeof(s->types[0]), "%s", rec.type);
        s->n++;
        ob_audit_record_done(&rec);
        return s->stop_at && s->seqs[s->n - 1] == s->stop_at ? 7 : 0;
}

/* Rotations while the follower sleeps, a torn tail that is truncated away,
 * an over-long garbage line: every event once, in order, nothing else. */
static int rotations_fn(const char *line, size_t len, void *userdata)
{
        script *s = userdata;

        if (line)
                return record(s, line, len);
        if (++s->ticks > 200)
                return -ETIMEDOUT;
        switch (s->step++) {
        case 0:
                append(s->log, "SandboxStart", "a"); /* 3 */
                break;
        case 1:
                /* three rotations before the follower looks again */
                append(s->log, "SandboxExit", "a");                 /* 4 */
                assert_int_equal(ob_audit_rotate(s->log, NULL), 0); /* 5 */
                append(s->log, "SandboxStart", "b");                /* 6 */
                assert_int_equal(ob_audit_rotate(s->log, NULL), 0); /* 7 */
                append(s->log, "SandboxStart", "c");                /* 8 */
                assert_int_equal(ob_audit_rotate(s->log, NULL), 0); /* 9 */
                append(s->log, "SandboxExit", "c");                 /* 10 */
                break;
        case 2:
                raw_write("{\"seq\":11,\"torn", 15); /* a writer died mid-line */
                break;
        case 3: {
                /* the torn line goes on past any line's bound */
                static char junk[OB_AUDIT_MAX_LINE + 100];
                memset(junk, 'j', sizeof(junk) - 1);
                junk[sizeof(junk) - 1] = '\n';
                raw_write(junk, sizeof(junk));
                break;
        }
        case 4:
                assert_int_equal(truncate(path, 0), 0); /* someone empties the log */
                break;
        case 5:
                append(s->log, "SandboxStart", "d"); /* 1 of the truncated file */
                s->stop_at = 1;
                break;
        default:
                break;
        }
        return 0;
}

static void test_rotations_torn_and_long_lines(void **state)
{
        script s = {0};
        static const uint64_t want[] = {3, 4, 5, 6, 7, 8, 9, 10, 1};
        (void)state;

        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &s.log), 0);
        append(s.log, "SandboxStart", "old"); /* before the follow: not seen */
        append(s.log, "SandboxExit", "old");
        assert_int_equal(ob_audit_follow(path, NULL, rotations_fn, &s), 7);
        ob_audit_close(s.log);
        assert_int_equal(s.n, sizeof(want) / sizeof(want[0]));
        for (size_t i = 0; i < s.n; i++)
                assert_int_equal(s.seqs[i], want[i]);
        assert_string_equal(s.types[2], "AuditLogRotated");
        assert_string_equal(s.types[4], "AuditLogRotated");
}

/* Issue 14 defect 3: the follower has read a torn tail (and holds it as a
 * partial line); the writer then truncates it and appends more than its
 * length (AuditLogRepaired and an event) before the follower reads again.
 * The follower must not glue its torn bytes onto the new data. */
static int repaired_fn(const char *line, size_t len, void *userdata)
{
        script *s = userdata;
        char torn[200];

        if (line)
                return record(s, line, len);
        if (++s->ticks > 200)
                return -ETIMEDOUT;
        switch (s->step++) {
        case 0:
                append(s->log, "SandboxStart", "a"); /* 2 */
                break;
        case 1:
                memset(torn, 'x', sizeof(torn));
                memcpy(torn, "{\"seq\":3,\"torn\":\"", 18);
                raw_write(torn, 150); /* a writer died mid-line; the follower reads it */
                break;
        case 2:
                append(s->log, "SandboxExit", "a"); /* repair (3), then the event (4) */
                s->stop_at = 4;
                break;
        default:
                break;
        }
        return 0;
}

static void test_torn_tail_repaired_between_reads(void **state)
{
        script s = {0};
        (void)state;

        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &s.log), 0);
        append(s.log, "SandboxStart", "old"); /* 1, before the follow */
        assert_int_equal(ob_audit_follow(path, NULL, repaired_fn, &s), 7);
        ob_audit_close(s.log);
        assert_int_equal(s.n, 3);
        assert_int_equal(s.seqs[0], 2);
        assert_int_equal(s.seqs[1], 3);
        assert_string_equal(s.types[1], "AuditLogRepaired");
        assert_int_equal(s.seqs[2], 4);
        assert_string_equal(s.types[2], "SandboxExit");
}

/* The log does not exist yet; filters on type, sandbox (null never
 * matches a sandbox filter) and seq. */
static int filtered_fn(const char *line, size_t len, void *userdata)
{
        script *s = userdata;

        if (line)
                return record(s, line, len);
        if (++s->ticks > 200)
                return -ETIMEDOUT;
        if (s->step++ == 1) {
                assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &s->log), 0);
                append(s->log, "SandboxStart", "x");  /* 1: seq too low */
                append(s->log, "SandboxStart", "y");  /* 2: other sandbox */
                append(s->log, "SandboxStart", NULL); /* 3: no sandbox */
                append(s->log, "SandboxExit", "x");   /* 4: other type */
                append(s->log, "SandboxStart", "x");  /* 5 */
                s->stop_at = 5;
        }
        return 0;
}

static void test_waits_for_the_log_and_filters(void **state)
{
        script s = {0};
        ob_audit_filter f = {.type = "SandboxStart", .sandbox_id = "x", .since_seq = 2};
        (void)state;

        assert_int_equal(ob_audit_follow(path, &f, filtered_fn, &s), 7);
        ob_audit_close(s.log);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.seqs[0], 5);
}

static int error_fn(const char *line, size_t len, void *userdata)
{
        (void)line, (void)len, (void)userdata;
        return -ECANCELED;
}

static void test_errors(void **state)
{
        char file_parent[160];
        (void)state;

        /* the caller's error ends the follow */
        assert_int_equal(ob_audit_follow(path, NULL, error_fn, NULL), -ECANCELED);
        /* a log path below a regular file can never appear */
        assert_int_equal(close(open(path, O_WRONLY | O_CREAT, 0600)), 0);
        snprintf(file_parent, sizeof(file_parent), "%s/x", path);
        assert_int_equal(ob_audit_follow(file_parent, NULL, error_fn, NULL), -ENOTDIR);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_torn_tail_repaired_between_reads, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rotations_torn_and_long_lines, setup, teardown),
            cmocka_unit_test_setup_teardown(test_waits_for_the_log_and_filters, setup, teardown),
            cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
