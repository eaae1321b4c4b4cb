/* SPDX-License-Identifier: Apache-2.0 */
/* The runner's lifecycle handle (runner/runner.h ob_run_*) with real runsc:
 * two runs supervised from one poll loop, and destroy from every step
 * leaving nothing behind (run directory, cgroups, runsc processes) with
 * every started run ended in the audit log. Skips (77) without root or
 * runsc. */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
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

static char *P(const char *rel)
{
        static char bufs[8][512];
        static int i;
        char *b = bufs[i++ % 8];
        snprintf(b, 512, "%s/%s", tmp, rel);
        return b;
}

static int setup(void **state)
{
        (void)state;
        strcpy(tmp, "/var/tmp/ob-life-XXXXXX");
        assert_non_null(mkdtemp(tmp));
        assert_int_equal(ob_capset_new(&caps), 0);
        ob_capset_limits(caps)->timeout_s = 60;
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        caps = ob_capset_free(caps);
        return ob_rm_rf(tmp);
}

static void options(ob_sandbox_options *o, const char *const *argv)
{
        ob_sandbox_options_init(o);
        o->caps = caps;
        o->argv = argv;
        o->capture = true;
        o->state_dir = P("state");
        o->audit_log = P("audit.jsonl");
}

/* Entries of the state's runs/ directory (0 when it is empty or absent). */
static int runs_left(void)
{
        DIR *d = opendir(P("state/runs"));
        struct dirent *e;
        int n = 0;

        while (d && (e = readdir(d)))
                n += e->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

static bool cgroup_exists(const char *id)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/omnibase/%s", id);
        return access(path, F_OK) == 0;
}

/* How many lines of the audit log hold both needles. */
static int audit_count(const char *a, const char *b)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int n = 0;

        if (ob_read_file(P("audit.jsonl"), 1 << 24, &text, &len) < 0)
                return 0;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
                n += strstr(line, a) && strstr(line, b);
        return n;
}

static void test_two_runs_one_loop(void **state)
{
        const char *one[] = {"/bin/sh", "-c", "echo one", NULL};
        const char *two[] = {"/bin/sh", "-c", "echo two; exit 3", NULL};
        ob_sandbox_options o[2];
        ob_run *run[2] = {NULL, NULL};
        ob_sandbox_result res[2] = {{0}, {0}};
        ob_error err = {0};
        bool live[2] = {true, true};

        (void)state;
        options(&o[0], one);
        options(&o[1], two);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(ob_run_new(&o[i], &run[i], &err), 0);
                assert_null(ob_run_id(run[i])); /* the plan made nothing */
                assert_int_equal(runs_left(), i);
                assert_int_equal(ob_run_create(run[i], &err), 0);
                assert_non_null(ob_run_id(run[i]));
        }
        /* both are running before either is waited for: they overlap */
        for (int i = 0; i < 2; i++)
                assert_int_equal(ob_run_start(run[i], &err), 0);
        while (live[0] || live[1]) {
                struct pollfd fds[2 * OB_LAUNCH_POLLFDS];
                int t[2] = {-1, -1}, timeout = 1000;

                for (int i = 0; i < 2; i++) {
                        size_t n = live[i]
                                       ? ob_run_pollfds(run[i], &fds[i * OB_LAUNCH_POLLFDS], &t[i])
                                       : 0;
                        if (n == 0) {
                                live[i] = false;
                                for (size_t k = 0; k < OB_LAUNCH_POLLFDS; k++)
                                        fds[i * OB_LAUNCH_POLLFDS + k] = (struct pollfd){.fd = -1};
                        } else if (t[i] < timeout) {
                                timeout = t[i];
                        }
                }
                if (!live[0] && !live[1])
                        break;
                assert_true(poll(fds, 2 * OB_LAUNCH_POLLFDS, timeout) >= 0);
                for (int i = 0; i < 2; i++)
                        if (live[i] && !ob_run_step(run[i], &fds[i * OB_LAUNCH_POLLFDS]))
                                live[i] = false;
        }
        for (int i = 0; i < 2; i++) {
                assert_int_equal(ob_run_finish(run[i], &err), 0);
                ob_run_take_result(run[i], &res[i]);
                run[i] = ob_run_destroy(run[i]);
        }
        assert_string_equal(res[0].stdout_buf, "one\n");
        assert_int_equal(res[0].status, OB_SANDBOX_OK);
        assert_int_equal(res[0].exit_code, 0);
        assert_string_equal(res[1].stdout_buf, "two\n");
        assert_int_equal(res[1].exit_code, 3);
        assert_string_not_equal(res[0].sandbox_id, res[1].sandbox_id);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(audit_count("\"SandboxStart\"", res[i].sandbox_id), 1);
                assert_int_equal(audit_count("\"SandboxExit\"", res[i].sandbox_id), 1);
                assert_false(cgroup_exists(res[i].sandbox_id));
                ob_sandbox_result_done(&res[i]);
        }
        assert_int_equal(runs_left(), 0);
}

static void test_destroy_from_every_step(void **state)
{
        const char *sleeper[] = {"/bin/sh", "-c", "echo up; exec sleep 600", NULL};
        ob_sandbox_options o;
        ob_run *run = NULL;
        ob_error err = {0};
        char id[OB_RUN_ID_LEN + 1];

        (void)state;
        options(&o, sleeper);
        /* planned only */
        assert_int_equal(ob_run_new(&o, &run, &err), 0);
        run = ob_run_destroy(run);
        assert_int_equal(access(P("state"), F_OK), -1);
        assert_int_equal(access(P("audit.jsonl"), F_OK), -1);
        /* created, never started: no SandboxStart, nothing left */
        assert_int_equal(ob_run_new(&o, &run, &err), 0);
        assert_int_equal(ob_run_create(run, &err), 0);
        snprintf(id, sizeof(id), "%s", ob_run_id(run));
        assert_true(cgroup_exists(id));
        assert_int_equal(runs_left(), 1);
        run = ob_run_destroy(run);
        assert_false(cgroup_exists(id));
        assert_int_equal(runs_left(), 0);
        assert_int_equal(audit_count("\"SandboxStart\"", id), 0);
        /* started, then destroyed mid-run: stopped, and ended in the log */
        assert_int_equal(ob_run_new(&o, &run, &err), 0);
        assert_int_equal(ob_run_create(run, &err), 0);
        snprintf(id, sizeof(id), "%s", ob_run_id(run));
        assert_int_equal(ob_run_start(run, &err), 0);
        assert_int_equal(ob_run_start(run, &err), -EINVAL); /* once */
        run = ob_run_destroy(run);
        assert_false(cgroup_exists(id));
        assert_int_equal(runs_left(), 0);
        assert_int_equal(audit_count("\"SandboxStart\"", id), 1);
        assert_int_equal(audit_count("\"SandboxExit\"", id), 1);
        assert_int_equal(audit_count("\"ended_by\":\"error\"", id), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_two_runs_one_loop, setup, teardown),
            cmocka_unit_test_setup_teardown(test_destroy_from_every_step, setup, teardown),
        };

        if (geteuid() != 0)
                ob_test_skip("the lifecycle test starts runsc sandboxes: run as root");
        if (system("command -v runsc >/dev/null 2>&1") != 0)
                ob_test_skip("runsc is not installed");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
