/* SPDX-License-Identifier: Apache-2.0 */
/* The warm pool through the public C API (include/omnibase/sandbox.h) with
 * real runsc: ob_pool_start, ob_sandbox_run with opts.warm (a pooled
 * sandbox when the key matches, cold otherwise: result.warm says which),
 * ob_pool_status, ob_pool_stop leaving no run behind. Skips (77) without
 * root or runsc. */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
#include "runner/runner.h"
#include "test_util.h"

static char tmp[64], state[128], script[128];
static ob_capset *caps;

static int setup(void **st)
{
        FILE *f;

        (void)st;
        strcpy(tmp, "/var/tmp/ob-pool-api-XXXXXX");
        assert_non_null(mkdtemp(tmp));
        snprintf(state, sizeof(state), "%s/state", tmp);
        snprintf(script, sizeof(script), "%s/hello.py", tmp);
        assert_non_null(f = fopen(script, "w"));
        fputs("print('hello from a pooled sandbox')\n", f);
        fclose(f);
        assert_int_equal(ob_capset_new(&caps), 0);
        ob_capset_limits(caps)->timeout_s = 60;
        return 0;
}

static int teardown(void **st)
{
        ob_error err = {0};

        (void)st;
        (void)ob_pool_stop(state, &err);
        caps = ob_capset_free(caps);
        return ob_rm_rf(tmp);
}

static int runs_left(void)
{
        char path[256];
        DIR *d;
        struct dirent *e;
        int n = 0;

        snprintf(path, sizeof(path), "%s/runs", state);
        d = opendir(path);
        while (d && (e = readdir(d)))
                n += e->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

/* Waits (at most 90 s) until the pool reports `"ready":N`. */
static void wait_ready(int n)
{
        char want[32];
        ob_error err = {0};

        snprintf(want, sizeof(want), "\"ready\":%d,", n);
        for (int i = 0; i < 90 * 50; i++) {
                char *json = NULL;
                assert_int_equal(ob_pool_status(state, &json, &err), 0);
                bool ok = strstr(json, want) != NULL;
                free(json);
                if (ok)
                        return;
                nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
        }
        fail_msg("the pool never had %d ready sandboxes", n);
}

static void run(bool lower_timeout, ob_sandbox_result *res)
{
        ob_sandbox_options o;
        ob_error err = {0};

        ob_sandbox_options_init(&o);
        o.caps = caps;
        o.script = script;
        o.capture = true;
        o.state_dir = state;
        o.warm = true;
        if (lower_timeout)
                o.limits.timeout_s = 30; /* another key: cold */
        assert_int_equal(ob_sandbox_run(&o, res, &err), 0);
}

static void test_pool_api(void **st)
{
        ob_pool_options po;
        ob_sandbox_result warm = {0}, cold = {0};
        ob_error err = {0};
        char *json = NULL;
        int pid = 0;

        ob_pool_options_init(&po);
        po.caps = caps;
        po.size = 1;
        po.state_dir = state;

        (void)st;
        assert_int_equal(ob_pool_status(state, &json, &err), -ENOENT);
        po.struct_size = 0; /* not set up by ob_pool_options_init */
        assert_int_equal(ob_pool_start(&po, &pid, &err), -EINVAL);
        assert_non_null(strstr(err.message, "ob_pool_options: struct_size 0"));
        po.struct_size = sizeof(po);
        assert_int_equal(ob_pool_start(&po, &pid, &err), 0);
        assert_true(pid > 0);
        assert_int_equal(ob_pool_start(&po, NULL, &err), -EEXIST);
        wait_ready(1);

        run(false, &warm);
        assert_true(warm.warm);
        assert_int_equal(warm.status, OB_SANDBOX_OK);
        assert_int_equal(warm.exit_code, 0);
        assert_string_equal(warm.stdout_buf, "hello from a pooled sandbox\n");
        assert_memory_equal(warm.sandbox_id, "ob-", 3);

        run(true, &cold);
        assert_false(cold.warm);
        assert_int_equal(cold.status, OB_SANDBOX_OK);
        assert_string_equal(cold.stdout_buf, warm.stdout_buf);
        ob_sandbox_result_done(&warm);
        ob_sandbox_result_done(&cold);

        wait_ready(1); /* refilled */
        assert_int_equal(ob_pool_stop(state, &err), 0);
        assert_int_equal(runs_left(), 0);
        assert_int_equal(ob_pool_status(state, &json, &err), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_pool_api, setup, teardown),
        };

        if (geteuid() != 0)
                ob_test_skip("the pool test starts runsc sandboxes: run as root");
        if (system("command -v runsc >/dev/null 2>&1") != 0)
                ob_test_skip("runsc is not installed");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
