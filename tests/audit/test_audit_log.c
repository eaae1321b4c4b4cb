/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log writer on real files: chain, reopen, lock, concurrent
 * processes, torn tails, corrupt tails, rotation, bounds. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit-internal.h"
#include "common/error.h"
#include "events/event.h"

static char dir[64], path[128];

static int setup(void **state)
{
        strcpy(dir, "/tmp/ob-audit-test-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static cJSON *event(const char *type, long n)
{
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "type", type);
        cJSON_AddStringToObject(ev, "sandbox_id", "sb-1");
        cJSON_AddNumberToObject(ev, "n", (double)n);
        return ev;
}

static void append_n(ob_audit_log *log, long n, uint64_t first_expected)
{
        for (long i = 0; i < n; i++) {
                cJSON *ev = event("SandboxStart", i);
                uint64_t seq = 0;
                assert_int_equal(ob_audit_append(log, ev, &seq), 0);
                if (first_expected)
                        assert_int_equal(seq, first_expected + (uint64_t)i);
                cJSON_Delete(ev);
        }
}

static char *slurp(const char *p, size_t *len)
{
        char *buf = NULL;
        if (ob_read_file(p, 1u << 26, &buf, len) < 0)
                fail_msg("cannot read %s", p);
        return buf;
}

static size_t count_lines(const char *s)
{
        size_t n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static ob_audit_verify_result verify(const char *p, unsigned flags)
{
        ob_audit_verify_result res;
        assert_int_equal(ob_audit_verify(p, flags, &res), 0);
        return res;
}

static void test_append_reopen_chain(void **state)
{
        ob_audit_log *log = NULL;
        ob_audit_verify_result res;
        size_t len;
        char *text;

        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        append_n(log, 3, 1);
        log = ob_audit_close(log);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        append_n(log, 2, 4);
        ob_audit_close(log);
        res = verify(path, 0);
        assert_true(res.ok);
        assert_int_equal(res.n_events, 5);
        assert_int_equal(res.last_seq, 5);
        text = slurp(path, &len);
        assert_int_equal(count_lines(text), 5);
        assert_non_null(strstr(text, "\"prev_hash\":\"" OB_AUDIT_ZERO_HASH "\""));
        free(text);
}

static void test_empty_and_missing(void **state)
{
        ob_audit_verify_result res;
        ob_audit_log *log = NULL;

        assert_int_equal(ob_audit_verify(path, 0, &res), -ENOENT);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        ob_audit_close(log);
        res = verify(path, 0);
        assert_true(res.ok);
        assert_int_equal(res.n_events, 0);
}

static void test_concurrent_processes(void **state)
{
        ob_audit_verify_result res;
        size_t len;
        char *text;

        for (int c = 0; c < 4; c++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        ob_audit_log *log = NULL;
                        int ok = ob_audit_open(path, OB_AUDIT_NO_DBUS, &log) == 0;
                        for (int i = 0; ok && i < 100; i++) {
                                cJSON *ev = event("SandboxExit", i);
                                ok = ob_audit_append(log, ev, NULL) == 0;
                                cJSON_Delete(ev);
                        }
                        ob_audit_close(log);
                        _exit(ok ? 0 : 1);
                }
        }
        for (int c = 0; c < 4; c++) {
                int status;
                assert_true(wait(&status) > 0);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        res = verify(path, 0);
        assert_true(res.ok);
        assert_int_equal(res.n_events, 400);
        text = slurp(path, &len);
        assert_int_equal(count_lines(text), 400);
        free(text);
}

/* Whether process pid sleeps waiting for a file lock (flock(2)): its state
 * is S and its wait channel a locks_* function. */
static bool waits_for_lock(pid_t pid)
{
        char p[64], buf[256] = "";
        FILE *f;

        snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
        if (!(f = fopen(p, "re")))
                return false;
        if (!fgets(buf, sizeof(buf), f) || !strstr(buf, ") S ")) {
                fclose(f);
                return false;
        }
        fclose(f);
        snprintf(p, sizeof(p), "/proc/%d/wchan", (int)pid);
        if (!(f = fopen(p, "re")))
                return false;
        buf[0] = '\0';
        if (!fgets(buf, sizeof(buf), f))
                buf[0] = '\0';
        fclose(f);
        return strncmp(buf, "locks_", 6) == 0 || strstr(buf, "flock") != NULL;
}

/* Appends one line chained after the file's last, by hand (the caller holds
 * the writers' lock on another open file description). */
static void append_chained_by_hand(long n)
{
        ob_audit_record rec = {0};
        int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
        cJSON *ev = event("SandboxExit", n);
        char hash[OB_AUDIT_HASH_HEX + 1];
        struct stat st;
        off_t torn = 0;
        char *line = NULL;
        size_t len = 0;

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(ob_audit_read_tail(fd, st.st_size, &rec, &torn), 0);
        assert_int_equal(torn, 0);
        assert_int_equal(ob_audit_line_build(ev, rec.seq + 1, rec.hash, &line, &len, hash), 0);
        assert_int_equal(write(fd, line, len), (ssize_t)len);
        free(line);
        cJSON_Delete(ev);
        ob_audit_record_done(&rec);
        close(fd);
}

/* The parent holds the writers' lock; a child says it is about to append,
 * and is then seen asleep in flock with the file untouched. The parent adds
 * a line of its own and lets go: the child's append lands after it (seq 3),
 * chained on it, so it read the tail only once it had the lock. */
static void test_waits_for_writer_lock(void **state)
{
        ob_audit_log *log = NULL;
        int to_child[2], to_parent[2], status, lockfd;
        uint64_t child_seq = 0;
        ob_audit_verify_result res;
        struct stat before, now;
        bool blocked = false;
        char c;
        pid_t pid;

        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        append_n(log, 1, 1);
        ob_audit_close(log);
        assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
        assert_int_equal(pipe2(to_parent, O_CLOEXEC), 0);
        pid = fork();
        if (pid == 0) {
                ob_audit_log *clog = NULL;
                cJSON *ev = event("SandboxStart", 9);
                int ok = ob_audit_open(path, OB_AUDIT_NO_DBUS, &clog) == 0 &&
                         write(to_parent[1], "o", 1) == 1 && read(to_child[0], &c, 1) == 1 &&
                         write(to_parent[1], "a", 1) == 1 &&
                         ob_audit_append(clog, ev, &child_seq) == 0 &&
                         write(to_parent[1], &child_seq, sizeof(child_seq)) == sizeof(child_seq);
                cJSON_Delete(ev);
                ob_audit_close(clog);
                _exit(ok ? 0 : 1);
        }
        assert_true(pid > 0);
        assert_int_equal(read(to_parent[0], &c, 1), 1); /* the child has the log open */
        assert_int_equal(c, 'o');
        lockfd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(lockfd >= 0);
        assert_int_equal(flock(lockfd, LOCK_EX), 0);
        assert_int_equal(stat(path, &before), 0);
        assert_int_equal(write(to_child[1], "g", 1), 1);
        assert_int_equal(read(to_parent[0], &c, 1), 1); /* it calls the append now */
        assert_int_equal(c, 'a');
        for (int i = 0; i < 1000 && !blocked; i++) /* up to 10 s */
                if (!(blocked = waits_for_lock(pid)))
                        usleep(10 * 1000);
        assert_true(blocked);
        assert_int_equal(stat(path, &now), 0);
        assert_int_equal(now.st_size, before.st_size); /* nothing written while we hold it */
        append_chained_by_hand(2);
        assert_int_equal(flock(lockfd, LOCK_UN), 0);
        close(lockfd);
        assert_int_equal(read(to_parent[0], &child_seq, sizeof(child_seq)), sizeof(child_seq));
        assert_int_equal(child_seq, 3);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        res = verify(path, 0);
        assert_true(res.ok);
        assert_int_equal(res.last_seq, 3);
        for (int k = 0; k < 2; k++) {
                close(to_child[k]);
                close(to_parent[k]);
        }
}

static void append_raw(const char *bytes)
{
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
        close(fd);
}

static void test_torn_tail_repaired(void **state)
{
        ob_audit_log *log = NULL;
        ob_audit_verify_result res;
        size_t len;
        char *text;

        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        append_n(log, 3, 1);
        append_raw("{\"seq\":4,\"ti"); /* a crash in the middle of a write */
        res = verify(path, 0);
        assert_false(res.ok);
        assert_int_equal(res.bad_seq, 4);
        assert_int_equal(res.bad_line, 4);
        assert_non_null(strstr(res.reason, "torn"));
        append_n(log, 1, 5); /* seq 4 is the repair record */
        ob_audit_close(log);
        res = verify(path, 0);
        assert_true(res.ok);
        assert_int_equal(res.last_seq, 5);
        text = slurp(path, &len);
        assert_non_null(strstr(text, "{\"seq\":4,"));
        assert_non_null(strstr(text, "\"type\":\"AuditLogRepaired\""));
        assert_non_null(strstr(text, "\"dropped_bytes\":12"));
        free(text);
}

static void test_corrupt_tail_refused(void **state)
{
        ob_audit_log *log = NULL;
        struct stat before, after;
        size_t len;
        char *text;
        cJSON *ev = event("SandboxStart", 0);

        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        append_n(log, 2, 1);
        text = slurp(path, &len);
        /* The last hex digit of the last line's hash (the line ends "}\n). */
        text[len - 4] = text[len - 4] == '0' ? '1' : '0';
        assert_int_equal(truncate(path, 0), 0);
        append_raw(text);
        assert_int_equal(stat(path, &before), 0);
        assert_int_equal(ob_audit_append(log, ev, NULL), -EBADMSG);
        assert_int_equal(stat(path, &after), 0);
        assert_int_equal(before.st_size, after.st_size);
        cJSON_Delete(ev);
        free(text);
        ob_audit_close(log);
}

static void test_too_big_not_written(void **state)
{
        ob_audit_log *log = NULL;
        char *blob = malloc(OB_AUDIT_MAX_LINE + 1);
        cJSON *ev = event("SandboxStart", 0);
        struct stat st;

        memset(blob, 'x', OB_AUDIT_MAX_LINE);
        blob[OB_AUDIT_MAX_LINE] = '\0';
        cJSON_AddStringToObject(ev, "blob", blob);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        assert_int_equal(ob_audit_append(log, ev, NULL), -E2BIG);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, 0);
        append_n(log, 1, 1);
        cJSON_Delete(ev);
        free(blob);
        ob_audit_close(log);
}

/* A last line far longer than the first tail read (16 KiB): a new handle
 * must still find where it starts. A torn tail longer than any line is not
 * a crash remnant: the writer refuses. */
static void test_long_lines_at_the_tail(void **state)
{
        ob_audit_log *log = NULL;
        size_t big = 50 * 1024;
        char *blob = malloc(big + 1), *junk = malloc(OB_AUDIT_MAX_LINE + 101);
        cJSON *ev = event("SandboxStart", 0);

        memset(blob, 'b', big);
        blob[big] = '\0';
        cJSON_AddStringToObject(ev, "blob", blob);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        append_n(log, 1, 1);
        assert_int_equal(ob_audit_append(log, ev, NULL), 0);
        log = ob_audit_close(log);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        append_n(log, 1, 3);
        assert_int_equal(ob_audit_append(log, ev, NULL), 0);
        assert_true(verify(path, 0).ok);
        assert_int_equal(verify(path, 0).last_seq, 4);
        memset(junk, 'x', OB_AUDIT_MAX_LINE + 100);
        junk[OB_AUDIT_MAX_LINE + 100] = '\0';
        append_raw(junk);
        assert_int_equal(ob_audit_append(log, ev, NULL), -EBADMSG);
        assert_false(verify(path, 0).ok);
        ob_audit_close(log);
        cJSON_Delete(ev);
        free(blob);
        free(junk);
}

static void test_batch(void **state)
{
        ob_audit_log *log = NULL;
        cJSON *evs[10];
        uint64_t first = 0;

        for (int i = 0; i < 10; i++)
                evs[i] = event("SandboxStart", i);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        append_n(log, 2, 1);
        assert_int_equal(ob_audit_append_batch(log, (const cJSON *const *)evs, 10, &first), 0);
        assert_int_equal(first, 3);
        assert_int_equal(ob_audit_append_batch(log, (const cJSON *const *)evs, 0, &first), -EINVAL);
        assert_int_equal(verify(path, 0).last_seq, 12);
        for (int i = 0; i < 10; i++)
                cJSON_Delete(evs[i]);
        ob_audit_close(log);
}

static void test_rotation(void **state)
{
        ob_audit_log *a = NULL, *b = NULL;
        ob_audit_verify_result res;
        char p1[160], p2[160];
        uint64_t last = 0;

        snprintf(p1, sizeof(p1), "%s.1", path);
        snprintf(p2, sizeof(p2), "%s.2", path);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &a), 0);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &b), 0);
        assert_int_equal(ob_audit_rotate(b, &last), 0);
        assert_int_equal(last, 0); /* empty: nothing to rotate */
        append_n(a, 3, 1);
        assert_int_equal(ob_audit_rotate(b, &last), 0);
        assert_int_equal(last, 3);
        append_n(a, 2, 5); /* a held the old file: it must follow the path */
        assert_int_equal(ob_audit_rotate(b, &last), 0);
        assert_int_equal(last, 6);
        append_n(a, 1, 8);
        res = verify(path, 0);
        assert_true(res.ok);
        assert_int_equal(res.n_events, 2);
        assert_int_equal(res.last_seq, 8);
        assert_true(verify(p1, 0).ok);
        assert_int_equal(verify(p1, 0).last_seq, 6);
        assert_true(verify(p2, 0).ok);
        assert_int_equal(verify(p2, 0).last_seq, 3);
        assert_int_equal(unlink(p1), 0);
        res = verify(path, 0);
        assert_false(res.ok);
        assert_int_equal(res.bad_seq, 7);
        assert_non_null(strstr(res.reason, "predecessor"));
        assert_true(verify(path, OB_AUDIT_VERIFY_CONTINUE).ok);
        ob_audit_close(a);
        ob_audit_close(b);
}

static void to_log(const char *line, void *userdata)
{
        uint64_t seq = 0;
        assert_int_equal(ob_audit_append_json(userdata, line, strlen(line), &seq), 0);
}

/* The runner's path: the event model serialises, the log chains. */
static void test_append_json_from_event_model(void **state)
{
        ob_event_sink sink = {.next_seq = 42, .fn = to_log};
        ob_audit_log *log = NULL;
        ob_event *ev = NULL;
        size_t len;
        char *text;
        const char *bad = "{\"type\":\"X\"} trailing";

        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        sink.userdata = log;
        assert_int_equal(ob_event_new(OB_EVENT_SANDBOX_EXIT, "sb-9", NULL, &ev), 0);
        assert_int_equal(ob_event_add_int(ev, "exit_code", 3), 0);
        ev->time_us = 1795326000123456;
        assert_int_equal(ob_event_emit(&sink, ev), 0);
        ob_event_free(ev);
        assert_int_equal(ob_audit_append_json(log, bad, strlen(bad), NULL), -EINVAL);
        ob_audit_close(log);
        text = slurp(path, &len);
        /* The log's seq replaces the sink's 42; the event's time is kept. */
        assert_non_null(strstr(text, "{\"seq\":1,\"time\":\"2026-11-22T05:40:00.123456Z\","
                                     "\"type\":\"SandboxExit\",\"sandbox_id\":\"sb-9\","
                                     "\"principal\":null,\"exit_code\":3,\"prev_hash\""));
        assert_int_equal(count_lines(text), 1);
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_append_reopen_chain, setup, teardown),
            cmocka_unit_test_setup_teardown(test_empty_and_missing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_concurrent_processes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_waits_for_writer_lock, setup, teardown),
            cmocka_unit_test_setup_teardown(test_torn_tail_repaired, setup, teardown),
            cmocka_unit_test_setup_teardown(test_corrupt_tail_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_too_big_not_written, setup, teardown),
            cmocka_unit_test_setup_teardown(test_long_lines_at_the_tail, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
            cmocka_unit_test_setup_teardown(test_append_json_from_event_model, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
