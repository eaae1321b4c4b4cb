/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log at its edges: every kind of corruption verify must name,
 * damaged rotated predecessors, rotation that cannot complete, a log path
 * that is a symlink or has no parent, a full filesystem, a log removed
 * under its writer, the seq ceiling, the default path. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit-internal.h"
#include "common/error.h"

static char dir[64], path[128];

static int setup(void **state)
{
        (void)state;
        strcpy(dir, "/tmp/ob-audit-edge-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
        return 0;
}

static int teardown(void **state)
{
        char cmd[192];
        (void)state;
        snprintf(cmd, sizeof(cmd), "umount -l '%s/small' 2>/dev/null; rm -rf '%s'", dir, dir);
        return system(cmd) == 0 ? 0 : -1;
}

static cJSON *event(const char *type, long n)
{
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "type", type);
        cJSON_AddStringToObject(ev, "sandbox_id", "sb-edge");
        cJSON_AddNumberToObject(ev, "n", (double)n);
        return ev;
}

static int append_one(ob_audit_log *log, long n, uint64_t *seq)
{
        cJSON *ev = event("SandboxStart", n);
        int r = ob_audit_append(log, ev, seq);
        cJSON_Delete(ev);
        return r;
}

/* Writes lines built by the library itself at chosen seqs and prev_hashes. */
static void write_lines(const char *p, const uint64_t *seqs, size_t n, bool chain_prev,
                        const char *torn_tail)
{
        char prev[OB_AUDIT_HASH_HEX + 1] = OB_AUDIT_ZERO_HASH;
        FILE *f = fopen(p, "w");

        assert_non_null(f);
        for (size_t i = 0; i < n; i++) {
                cJSON *ev = event("SandboxExit", (long)i);
                char *line = NULL, hash[OB_AUDIT_HASH_HEX + 1];
                size_t len = 0;
                assert_int_equal(ob_audit_line_build(ev, seqs[i], prev, &line, &len, hash), 0);
                assert_int_equal(fwrite(line, 1, len, f), len);
                if (chain_prev)
                        memcpy(prev, hash, sizeof(prev));
                free(line);
                cJSON_Delete(ev);
        }
        if (torn_tail)
                fputs(torn_tail, f);
        assert_int_equal(fclose(f), 0);
}

static ob_audit_verify_result verify(const char *p, unsigned flags)
{
        ob_audit_verify_result res;
        memset(&res, 0, sizeof(res));
        assert_int_equal(ob_audit_verify(p, flags, &res), 0);
        return res;
}

static void test_verify_names_each_corruption(void **state)
{
        static const uint64_t good[] = {1, 2, 3}, gap[] = {1, 3}, dup[] = {1, 2, 2};
        ob_audit_verify_result res;
        (void)state;

        write_lines(path, good, 3, true, NULL);
        res = verify(path, 0);
        assert_true(res.ok);
        assert_int_equal(res.n_events, 3);

        /* a line removed */
        write_lines(path, gap, 2, true, NULL);
        res = verify(path, 0);
        assert_false(res.ok);
        assert_int_equal(res.bad_seq, 2);
        assert_int_equal(res.bad_line, 2);
        assert_non_null(strstr(res.reason, "found seq 3 where 2 was due"));

        /* a line duplicated */
        write_lines(path, dup, 3, true, NULL);
        res = verify(path, 0);
        assert_false(res.ok);
        assert_int_equal(res.bad_line, 3);
        assert_non_null(strstr(res.reason, "found seq 2 where 3 was due"));

        /* a well-formed, self-consistent line that does not chain */
        write_lines(path, good, 3, false, NULL);
        res = verify(path, 0);
        assert_false(res.ok);
        assert_int_equal(res.bad_seq, 2);
        assert_non_null(strstr(res.reason, "prev_hash is not the hash of the line before"));

        /* not JSON: the column is given */
        write_lines(path, good, 2, true, "{\"seq\":3,]\n");
        res = verify(path, 0);
        assert_false(res.ok);
        assert_int_equal(res.bad_line, 3);
        assert_true(res.bad_column > 0);

        /* a torn last line */
        write_lines(path, good, 2, true, "{\"seq\":3");
        res = verify(path, 0);
        assert_false(res.ok);
        assert_int_equal(res.bad_line, 3);
}

static void test_verify_damaged_predecessor(void **state)
{
        static const uint64_t old[] = {1, 2}, cont[] = {3, 4};
        char p1[160];
        ob_audit_verify_result res;
        (void)state;

        snprintf(p1, sizeof(p1), "%s.1", path);
        write_lines(path, cont, 2, true, NULL);
        /* the predecessor ends in a torn line */
        write_lines(p1, old, 2, true, "{\"seq\":3");
        res = verify(path, 0);
        assert_false(res.ok);
        assert_non_null(strstr(res.reason, "is not intact"));
        /* the predecessor's last line is not a line of a log */
        write_lines(p1, old, 1, true, "not json at all\n");
        res = verify(path, 0);
        assert_false(res.ok);
        assert_non_null(strstr(res.reason, "is not intact"));
        /* an empty predecessor */
        write_lines(p1, old, 0, true, NULL);
        res = verify(path, 0);
        assert_false(res.ok);
        assert_non_null(strstr(res.reason, "is not intact"));
        /* trusted as it stands */
        assert_true(verify(path, OB_AUDIT_VERIFY_CONTINUE).ok);
}

static void test_verify_not_a_log(void **state)
{
        ob_audit_verify_result res;
        char missing[160];
        (void)state;

        assert_int_equal(ob_audit_verify(dir, 0, &res), -EINVAL);
        snprintf(missing, sizeof(missing), "%s/none.jsonl", dir);
        assert_int_equal(ob_audit_verify(missing, 0, &res), -ENOENT);
}

static void test_open_refuses_bad_paths(void **state)
{
        ob_audit_log *log = NULL;
        char link[160], nested[200], target[160];
        (void)state;

        /* a symlink planted at the log path is never followed */
        snprintf(target, sizeof(target), "%s/elsewhere", dir);
        snprintf(link, sizeof(link), "%s/link.jsonl", dir);
        assert_int_equal(symlink(target, link), 0);
        assert_int_equal(ob_audit_open(link, OB_AUDIT_NO_DBUS, &log), -ELOOP);
        assert_null(log);
        assert_int_equal(access(target, F_OK), -1);
        /* only the last directory is created, not a whole tree */
        snprintf(nested, sizeof(nested), "%s/a/b/audit.jsonl", dir);
        assert_int_equal(ob_audit_open(nested, OB_AUDIT_NO_DBUS, &log), -ENOENT);
        /* a parent that is a file */
        snprintf(nested, sizeof(nested), "%s/audit.jsonl/x", dir);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        log = ob_audit_close(log);
        assert_int_equal(ob_audit_open(nested, OB_AUDIT_NO_DBUS, &log), -ENOTDIR);
        assert_int_equal(ob_audit_rotate(NULL, NULL), -EINVAL);
}

static void test_default_path(void **state)
{
        ob_audit_log *log = NULL;
        char *p = NULL, sub[160];
        uint64_t seq = 0;
        (void)state;

        snprintf(sub, sizeof(sub), "%s/state", dir);
        assert_int_equal(setenv("OMNIBASE_STATE_DIR", sub, 1), 0);
        assert_int_equal(ob_audit_open(NULL, OB_AUDIT_NO_DBUS, &log), 0);
        assert_int_equal(append_one(log, 1, &seq), 0);
        assert_int_equal(seq, 1);
        log = ob_audit_close(log);
        snprintf(sub, sizeof(sub), "%s/state/audit.jsonl", dir);
        assert_true(verify(sub, 0).ok);
        assert_int_equal(unsetenv("OMNIBASE_STATE_DIR"), 0);
        assert_int_equal(ob_audit_default_path(&p), 0);
        assert_string_equal(p, OB_DEFAULT_STATE_DIR "/audit.jsonl");
        free(p);
}

static void test_removed_under_writer(void **state)
{
        ob_audit_log *log = NULL;
        uint64_t seq = 0;
        (void)state;

        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        assert_int_equal(append_one(log, 1, &seq), 0);
        assert_int_equal(append_one(log, 2, &seq), 0);
        assert_int_equal(seq, 2);
        /* someone removes the log: the writer must not keep writing into
         * the unlinked file, it starts a new one at the path */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(append_one(log, 3, &seq), 0);
        assert_int_equal(seq, 1);
        ob_audit_close(log);
        assert_true(verify(path, 0).ok);
        assert_int_equal(verify(path, 0).n_events, 1);
}

static void test_seq_ceiling(void **state)
{
        const uint64_t last[] = {OB_AUDIT_MAX_SEQ};
        ob_audit_log *log = NULL;
        uint64_t seq = 0;
        struct stat before, after;
        (void)state;

        write_lines(path, last, 1, true, NULL);
        assert_int_equal(stat(path, &before), 0);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        assert_int_equal(append_one(log, 1, &seq), -EOVERFLOW);
        ob_audit_close(log);
        assert_int_equal(stat(path, &after), 0);
        assert_int_equal(before.st_size, after.st_size);
}

static void test_rotation_blocked_and_torn(void **state)
{
        ob_audit_log *log = NULL;
        ob_audit_verify_result res;
        char tmp[160], p1[160];
        uint64_t last = 0, seq = 0;
        int fd;
        (void)state;

        snprintf(tmp, sizeof(tmp), "%s.rotating", path);
        snprintf(p1, sizeof(p1), "%s.1", path);
        assert_int_equal(ob_audit_open(path, OB_AUDIT_NO_DBUS, &log), 0);
        assert_int_equal(append_one(log, 1, &seq), 0);
        assert_int_equal(append_one(log, 2, &seq), 0);
        /* a writer died mid-line */
        fd = open(path, O_WRONLY | O_APPEND);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "{\"seq\":3,\"ty", 12), 12);
        close(fd);
        /* a stale temporary that cannot be cleared stops the rotation */
        assert_int_equal(mkdir(tmp, 0700), 0);
        assert_int_equal(ob_audit_rotate(log, &last), -EEXIST);
        /* the log stays whole and usable: the torn line was repaired first */
        res = verify(path, 0);
        assert_true(res.ok);
        assert_int_equal(res.last_seq, 3); /* AuditLogRepaired */
        assert_int_equal(rmdir(tmp), 0);
        assert_int_equal(unlink(p1), 0); /* the half-made rotation's link */
        assert_int_equal(ob_audit_rotate(log, &last), 0);
        assert_int_equal(last, 3);
        assert_int_equal(append_one(log, 3, &seq), 0);
        assert_int_equal(seq, 5);
        ob_audit_close(log);
        assert_true(verify(path, 0).ok);
        assert_true(verify(p1, 0).ok);
        assert_int_equal(verify(p1, 0).last_seq, 3);
}

/* A full filesystem: the append fails and leaves no partial line. */
static void test_full_filesystem(void **state)
{
        char mnt[160], p[200], fill[200], chunk[4096];
        ob_audit_log *log = NULL;
        uint64_t seq = 0;
        struct stat before, after;
        int fd, r = 0;
        (void)state;

        snprintf(mnt, sizeof(mnt), "%s/small", dir);
        assert_int_equal(mkdir(mnt, 0700), 0);
        if (mount("none", mnt, "tmpfs", 0, "size=64k") < 0)
                skip(); /* needs root */
        snprintf(p, sizeof(p), "%s/audit.jsonl", mnt);
        snprintf(fill, sizeof(fill), "%s/fill", mnt);
        assert_int_equal(ob_audit_open(p, OB_AUDIT_NO_DBUS, &log), 0);
        assert_int_equal(append_one(log, 1, &seq), 0);
        fd = open(fill, O_WRONLY | O_CREAT, 0600);
        assert_true(fd >= 0);
        memset(chunk, 'x', sizeof(chunk));
        while (write(fd, chunk, sizeof(chunk)) > 0)
                ;
        close(fd);
        assert_int_equal(stat(p, &before), 0);
        /* the log's own last page has room for a line or two: fill it */
        for (long i = 2; i < 1000 && (r = append_one(log, i, &seq)) == 0; i++)
                assert_int_equal(stat(p, &before), 0);
        assert_int_equal(r, -ENOSPC);
        assert_int_equal(stat(p, &after), 0);
        assert_int_equal(after.st_size, before.st_size);
        assert_true(verify(p, 0).ok);
        assert_int_equal(unlink(fill), 0);
        assert_int_equal(append_one(log, 9999, &seq), 0);
        assert_int_equal(seq, verify(p, 0).last_seq);
        ob_audit_close(log);
        assert_true(verify(p, 0).ok);
        assert_int_equal(umount(mnt), 0);
}

/* A "system bus" that accepts and then hangs up, or accepts and never
 * says a word: appends still succeed, the log is whole, and a silent bus
 * does not hold the writer (bounded wait; 10 s means it hung). */
typedef struct fake_bus {
        int listen_fd;
        bool silent;
        int conn;
} fake_bus;

static void *serve_bus(void *arg)
{
        fake_bus *b = arg;
        b->conn = accept(b->listen_fd, NULL, NULL);
        if (!b->silent && b->conn >= 0) {
                close(b->conn);
                b->conn = -1;
        }
        return NULL;
}

static void test_dbus_unreachable(void **state)
{
        for (int silent = 0; silent <= 1; silent++) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                fake_bus b = {.silent = silent, .conn = -1};
                char addr[200];
                ob_audit_log *log = NULL;
                pthread_t th;
                struct timespec t0, t1;
                uint64_t seq = 0;
                (void)state;

                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bus%d", dir, silent);
                b.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
                assert_int_equal(bind(b.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
                assert_int_equal(listen(b.listen_fd, 1), 0);
                assert_int_equal(pthread_create(&th, NULL, serve_bus, &b), 0);
                snprintf(addr, sizeof(addr), "unix:path=%s", sa.sun_path);
                assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, 1), 0);
                unlink(path);
                assert_int_equal(ob_audit_open(path, 0, &log), 0);
                clock_gettime(CLOCK_MONOTONIC, &t0);
                assert_int_equal(append_one(log, 1, &seq), 0);
                assert_int_equal(append_one(log, 2, &seq), 0);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                assert_int_equal(seq, 2);
                assert_true(t1.tv_sec - t0.tv_sec < 10);
                ob_audit_close(log);
                assert_int_equal(pthread_join(th, NULL), 0);
                if (b.conn >= 0)
                        close(b.conn);
                close(b.listen_fd);
                assert_true(verify(path, 0).ok);
                assert_int_equal(verify(path, 0).n_events, 2);
        }
        unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_verify_names_each_corruption, setup, teardown),
            cmocka_unit_test_setup_teardown(test_verify_damaged_predecessor, setup, teardown),
            cmocka_unit_test_setup_teardown(test_verify_not_a_log, setup, teardown),
            cmocka_unit_test_setup_teardown(test_open_refuses_bad_paths, setup, teardown),
            cmocka_unit_test_setup_teardown(test_default_path, setup, teardown),
            cmocka_unit_test_setup_teardown(test_removed_under_writer, setup, teardown),
            cmocka_unit_test_setup_teardown(test_seq_ceiling, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rotation_blocked_and_torn, setup, teardown),
            cmocka_unit_test_setup_teardown(test_full_filesystem, setup, teardown),
            cmocka_unit_test_setup_teardown(test_dbus_unreachable, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
