/* SPDX-License-Identifier: Apache-2.0 */
/* common/macros.h: closep closes and leaves -1, so a second close is a no-op. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/macros.h"

static void test_closep_resets(void **state)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        int copy = fd;
        closep(&fd);
        assert_int_equal(fd, -1);
        assert_int_equal(fcntl(copy, F_GETFD), -1); /* really closed */
        closep(&fd);                                /* a second call does nothing */
        assert_int_equal(fd, -1);
        (void)state;
}

static void test_closep_negative(void **state)
{
        int fd = -5;
        errno = EINTR;
        closep(&fd);
        assert_int_equal(fd, -1);
        assert_int_equal(errno, EINTR);
        (void)state;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_closep_resets),
            cmocka_unit_test(test_closep_negative),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
