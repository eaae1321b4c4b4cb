/* SPDX-License-Identifier: Apache-2.0 */
/* Exec into a held run (runner/exec.c) with real runsc: a sandbox whose
 * PID 1 is the sidecar in --hold mode, and commands run in it one after
 * another by `runsc exec` of a sidecar: stdout, stderr, stdin, variables
 * sent over the channel, exit codes, a denial in a child (126), a timeout
 * (124) after which the sandbox still serves, a missing command (125), a
 * directory, and nothing left once the run is destroyed; each of them
 * twice, cold and through a spare (runner/exec.c), and a spare nobody
 * took ends. Skips (77) without root or runsc. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
#include "runner/runner.h"
#include "test_util.h"

static char tmp[64];
static ob_capset *caps;
static ob_run *run;
static bool warm; /* the "warm" group: every exec takes a spare started just before */

static char *P(const char *rel)
{
        static char bufs[8][512];
        static int i;
        char *b = bufs[i++ % 8];
        snprintf(b, 512, "%s/%s", tmp, rel);
        return b;
}

/* Pumps the run until its sidecar said it is up. */
static void wait_started(void)
{
        ob_run_exec_target_info t;

        while (ob_run_exec_target(run, &t) < 0) {
                struct pollfd fds[OB_LAUNCH_POLLFDS];
                int timeout;
                assert_true(ob_run_pollfds(run, fds, &timeout) > 0);
                (void)poll(fds, OB_LAUNCH_POLLFDS, timeout);
                assert_true(ob_run_step(run, fds));
        }
}

static int setup(void **state)
{
        static ob_sandbox_options o; /* the run keeps pointers into it */
        ob_error err = {0};

        (void)state;
        if (geteuid() != 0)
                ob_test_skip("needs root (runsc, cgroups)");
        strcpy(tmp, "/var/tmp/ob-exec-XXXXXX");
        assert_non_null(mkdtemp(tmp));
        assert_int_equal(ob_capset_new(&caps), 0);
        ob_capset_limits(caps)->timeout_s = 1; /* a held run has no wall deadline */
        ob_sandbox_options_init(&o);
        o.caps = caps;
        o.hold = true;
        o.capture = true;
        o.state_dir = P("state");
        o.audit_log = P("audit.jsonl");
        if (ob_run_new(&o, &run, &err) < 0 || ob_run_create(run, &err) < 0 ||
            ob_run_start(run, &err) < 0) {
                if (strstr(err.message, "runsc"))
                        ob_test_skip(err.message);
                fail_msg("%s", err.message);
        }
        wait_started();
        return 0;
}

static int teardown(void **state)
{
        char cg[PATH_MAX];
        DIR *d;
        struct dirent *e;
        int n = 0;

        (void)state;
        snprintf(cg, sizeof(cg), "/sys/fs/cgroup/memory/omnibase/%s", ob_run_id(run));
        run = ob_run_destroy(run);
        assert_int_not_equal(access(cg, F_OK), 0);
        d = opendir(P("state/runs"));
        while (d && (e = readdir(d)))
                n += e->d_name[0] != '.';
        if (d)
                closedir(d);
        assert_int_equal(n, 0);
        caps = ob_capset_free(caps);
        return ob_rm_rf(tmp);
}

typedef struct captured {
        char out[8192], err[8192];
        ob_sandbox_result res;
} captured;

static void drain(int fd, char *buf, size_t size)
{
        size_t len = 0;
        ssize_t n;

        while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
                len += (size_t)n;
        buf[len] = '\0';
        close(fd);
}

/* Runs argv in the held sandbox from one poll loop with the run's own fds,
 * stdin_text (may be NULL) as its stdin. */
static void exec_in_dir(const char *const *argv, const char *cwd, const char *stdin_text,
                        const char *const *env, size_t n_env, int64_t timeout_ms, captured *ret)
{
        ob_run_exec_target_info t;
        int out[2], errp[2], in[2] = {-1, -1};
        ob_exec *x = NULL;
        ob_error err = {0};
        bool live = true;

        memset(ret, 0, sizeof(*ret));
        assert_int_equal(ob_run_exec_target(run, &t), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
        if (stdin_text) {
                assert_int_equal(pipe2(in, O_CLOEXEC), 0);
                assert_int_equal(write(in[1], stdin_text, strlen(stdin_text)),
                                 (ssize_t)strlen(stdin_text));
                close(in[1]);
        }
        ob_exec_spec spec = {.argv = argv, .cwd = cwd, .stdout_fd = out[1], .stderr_fd = errp[1]};
        ob_exec_io io = {.stdin_fd = in[0], .timeout_ms = timeout_ms};
        if (warm && ob_exec_spare_start(&t, &io.spare, &err) < 0)
                fail_msg("%s", err.message);
        if (ob_exec_start(&t, &spec, env, n_env, &io, &x, &err) < 0)
                fail_msg("%s", err.message);
        close(out[1]);
        close(errp[1]);
        while (live) {
                struct pollfd fds[OB_LAUNCH_POLLFDS + OB_EXEC_POLLFDS];
                int t1, t2;
                size_t nr = ob_run_pollfds(run, fds, &t1);
                assert_true(nr > 0); /* the held sandbox stays up */
                (void)ob_exec_pollfds(x, fds + OB_LAUNCH_POLLFDS, &t2);
                (void)poll(fds, OB_LAUNCH_POLLFDS + OB_EXEC_POLLFDS,
                           t2 >= 0 && (t1 < 0 || t2 < t1) ? t2 : t1);
                assert_true(ob_run_step(run, fds));
                live = ob_exec_step(x, fds + OB_LAUNCH_POLLFDS);
        }
        ob_exec_take_result(x, &ret->res);
        x = ob_exec_free(x);
        drain(out[0], ret->out, sizeof(ret->out));
        drain(errp[0], ret->err, sizeof(ret->err));
}

static void exec_in(const char *const *argv, const char *stdin_text, const char *const *env,
                    size_t n_env, int64_t timeout_ms, captured *ret)
{
        exec_in_dir(argv, NULL, stdin_text, env, n_env, timeout_ms, ret);
}

static void test_output_stdin_env_and_exit_code(void **state)
{
        const char *argv[] = {"/bin/sh", "-c",
                              "echo out; echo err >&2; read x; echo got=$x; "
                              "echo v=$OB_TEST_VAR; echo uid=$(id -u); exit 3",
                              NULL};
        const char *env[] = {"OB_TEST_VAR=s3cr3t value"};
        captured c;

        (void)state;
        exec_in(argv, "hello\n", env, 1, 0, &c);
        assert_string_equal(c.out, "out\ngot=hello\nv=s3cr3t value\nuid=65534\n");
        assert_string_equal(c.err, "err\n");
        assert_int_equal(c.res.status, OB_SANDBOX_OK);
        assert_int_equal(c.res.exit_code, 3);
        assert_int_equal(c.res.denials, 0);
        ob_sandbox_result_done(&c.res);
}

static void test_denial_in_a_child_is_126(void **state)
{
        const char *argv[] = {"/bin/sh", "-c", "(cat /etc/shadow); echo after", NULL};
        captured c;

        (void)state;
        exec_in(argv, NULL, NULL, 0, 0, &c);
        assert_string_equal(c.out, "after\n");
        assert_int_equal(c.res.status, OB_SANDBOX_VIOLATION);
        assert_int_equal(c.res.exit_code, 126);
        assert_true(c.res.n_violations >= 1);
        assert_string_equal(c.res.violations[0].target, "/etc/shadow");
        assert_string_equal(c.res.violations[0].capability, "FILE_READ");
        ob_sandbox_result_done(&c.res);
}

static void test_timeout_kills_the_command_and_the_sandbox_serves_on(void **state)
{
        const char *sleeper[] = {"/bin/sh", "-c", "echo started; sleep 30; echo never", NULL};
        const char *after[] = {"/bin/echo", "still here", NULL};
        captured c;

        (void)state;
        exec_in(sleeper, NULL, NULL, 0, 1000, &c);
        assert_string_equal(c.out, "started\n");
        assert_int_equal(c.res.status, OB_SANDBOX_TIMEOUT);
        assert_int_equal(c.res.exit_code, 124);
        ob_sandbox_result_done(&c.res);
        exec_in(after, NULL, NULL, 0, 0, &c);
        assert_string_equal(c.out, "still here\n");
        assert_int_equal(c.res.exit_code, 0);
        ob_sandbox_result_done(&c.res);
}

static void test_missing_command_is_125(void **state)
{
        const char *argv[] = {"/bin/no-such-command", NULL};
        captured c;

        (void)state;
        exec_in(argv, NULL, NULL, 0, 0, &c);
        assert_int_equal(c.res.status, OB_SANDBOX_ERROR);
        assert_int_equal(c.res.exit_code, 125);
        assert_non_null(strstr(c.err, "no-such-command"));
        ob_sandbox_result_done(&c.res);
}

static void test_directory_and_no_stdin(void **state)
{
        const char *argv[] = {"/bin/sh", "-c", "pwd; cat; echo end", NULL};
        const char *bad[] = {"/bin/true", NULL};
        captured c;

        (void)state;
        /* no stdin at all: the command reads /dev/null (nothing), not a hang */
        exec_in_dir(argv, "/tmp", NULL, NULL, 0, 0, &c);
        assert_string_equal(c.out, "/tmp\nend\n");
        assert_int_equal(c.res.exit_code, 0);
        ob_sandbox_result_done(&c.res);
        exec_in_dir(bad, "/no/such/dir", NULL, NULL, 0, 0, &c);
        assert_int_equal(c.res.status, OB_SANDBOX_ERROR);
        assert_int_equal(c.res.exit_code, 125);
        assert_non_null(strstr(c.err, "/no/such/dir"));
        ob_sandbox_result_done(&c.res);
}

/* How many sidecars the sandbox runs, counted from inside (this exec's
 * own included). */
static int sidecars_inside(void)
{
        const char *argv[] = {"/bin/sh", "-c",
                              "n=0; for f in /proc/[0-9]*/cmdline; do "
                              "case \"$(tr '\\0' ' ' <$f 2>/dev/null)\" in "
                              "*omnibase-sidecar*) n=$((n+1));; esac; done; echo $n",
                              NULL};
        captured c;
        bool was = warm;

        warm = false;
        exec_in(argv, NULL, NULL, 0, 0, &c);
        warm = was;
        assert_int_equal(c.res.exit_code, 0);
        ob_sandbox_result_done(&c.res);
        return atoi(c.out);
}

/* A spare nobody took: its sidecar inside and its runsc exec end when it
 * is freed, and nothing of it is left. */
static void test_an_unused_spare_ends(void **state)
{
        ob_run_exec_target_info t;
        ob_exec_spare *sp = NULL;
        ob_error err = {0};
        int base = sidecars_inside(), n = base, tries = 0;

        (void)state;
        assert_int_equal(ob_run_exec_target(run, &t), 0);
        if (ob_exec_spare_start(&t, &sp, &err) < 0)
                fail_msg("%s", err.message);
        while (n == base && tries++ < 100) /* each count is an exec: no sleep needed */
                n = sidecars_inside();
        assert_int_equal(n, base + 1);
        sp = ob_exec_spare_free(sp);
        assert_int_equal(sidecars_inside(), base);
}

static int setup_warm(void **state)
{
        warm = true;
        return setup(state);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_output_stdin_env_and_exit_code),
            cmocka_unit_test(test_denial_in_a_child_is_126),
            cmocka_unit_test(test_timeout_kills_the_command_and_the_sandbox_serves_on),
            cmocka_unit_test(test_missing_command_is_125),
            cmocka_unit_test(test_directory_and_no_stdin),
        };
        const struct CMUnitTest spare_only[] = {
            cmocka_unit_test(test_an_unused_spare_ends),
        };
        int r = cmocka_run_group_tests_name("cold", tests, setup, teardown);
        r += cmocka_run_group_tests_name("warm", tests, setup_warm, teardown);
        return r + cmocka_run_group_tests_name("spare", spare_only, setup, teardown);
}
