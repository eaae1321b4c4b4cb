/* SPDX-License-Identifier: Apache-2.0 */
/* common/error.c: ob_error_set and ob_read_file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"

static void test_error_set(void **state)
{
        ob_error err = {0};
        assert_int_equal(ob_error_set(&err, 3, 7, ENOENT, "no %s", "file"), -ENOENT);
        assert_int_equal(err.line, 3);
        assert_int_equal(err.column, 7);
        assert_string_equal(err.message, "no file");
        assert_int_equal(ob_error_set(&err, 0, 0, -EPERM, "x"), -EPERM);
        assert_int_equal(ob_error_set(&err, 0, 0, 0, "x"), -EINVAL);
        assert_int_equal(ob_error_set(NULL, 1, 1, E2BIG, "x"), -E2BIG);
        {
                char big[1000];
                memset(big, 'a', sizeof(big) - 1);
                big[sizeof(big) - 1] = '\0';
                ob_error_set(&err, 0, 0, EINVAL, "%s", big); /* truncated, terminated */
                assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
        }
}

static void test_read_file(void **state)
{
        char path[] = "/tmp/ob-error-XXXXXX", *buf = NULL;
        size_t len = 0;
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "hello", 5), 5);
        close(fd);
        assert_int_equal(ob_read_file(path, 100, &buf, &len), 0);
        assert_int_equal(len, 5);
        assert_string_equal(buf, "hello");
        free(buf);
        buf = NULL;
        assert_int_equal(ob_read_file(path, 5, &buf, NULL), 0); /* exactly the limit */
        free(buf);
        buf = NULL;
        assert_int_equal(ob_read_file(path, 4, &buf, &len), -EFBIG);
        assert_null(buf);
        unlink(path);
        assert_int_equal(ob_read_file(path, 100, &buf, &len), -ENOENT);
        assert_int_equal(ob_read_file("/", 100, &buf, &len), -EISDIR);
        assert_null(buf);
}

static void test_read_unsized(void **state)
{
        /* /proc files report size 0: the buffer grows as it reads */
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(ob_read_file("/proc/self/status", 1 << 20, &buf, &len), 0);
        assert_true(len > 100);
        assert_non_null(strstr(buf, "Pid:"));
        free(buf);
        buf = NULL;
        assert_int_equal(ob_read_file("/proc/self/status", 50, &buf, &len), -EFBIG);
        assert_null(buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_error_set),
            cmocka_unit_test(test_read_file),
            cmocka_unit_test(test_read_unsized),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
