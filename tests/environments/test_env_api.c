/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/* The environment API's options structs (include/omnibase/environment.h):
 * one not set up by its _init function, or of another size, is refused
 * with one line and nothing is made. (A whole session through the public
 * API with real runsc: examples/env_session.c, env_session_example.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <omnibase/environment.h>

static void test_struct_size_is_checked(void **state)
{
        char dir[] = "/tmp/ob-env-api-XXXXXX", sub[64];
        const char *argv[] = {"/bin/true", NULL};
        ob_env_create_opts co;
        ob_env_exec_opts eo;
        ob_env_record rec = {0};
        ob_error err = {0};
        char *json = NULL;
        int code = -1;
        struct stat st;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(sub, sizeof(sub), "%s/state", dir);
        ob_env_create_opts_init(&co);
        assert_int_equal(co.struct_size, sizeof(co));
        co.owner = "alice";
        co.template_name = "python-agent";
        co.struct_size = 0;
        assert_int_equal(ob_env_create(sub, &co, &rec, NULL, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, "ob_env_create_opts: struct_size 0"));
        assert_int_equal(stat(sub, &st), -1); /* nothing made */

        ob_env_exec_opts_init(&eo);
        assert_int_equal(eo.struct_size, sizeof(eo));
        assert_int_equal(eo.fds[1], 1);
        assert_int_equal(eo.winch_fd, -1);
        eo.argv = argv;
        eo.struct_size = sizeof(eo) + 8;
        assert_int_equal(ob_env_exec(sub, "env-000000000000", &eo, &json, &code, &err), -EINVAL);
        assert_non_null(strstr(err.message, "ob_env_exec_opts: struct_size"));
        assert_null(json);
        assert_int_equal(stat(sub, &st), -1);
        assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_struct_size_is_checked)};
        return cmocka_run_group_tests(tests, NULL, NULL);
}
