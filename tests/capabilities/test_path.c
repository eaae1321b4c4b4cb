/* SPDX-License-Identifier: Apache-2.0 */
/* Path canonicalisation of requests and of FILE_* rule patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/capabilities.h>

#include "capabilities/path.h"

static void canon_is(const char *in, const char *want)
{
        char *out = NULL;
        assert_int_equal(ob_path_canonicalize(in, &out), 0);
        assert_string_equal(out, want);
        free(out);
}

static void test_canonicalize(void **state)
{
        canon_is("/", "/");
        canon_is("//", "/");
        canon_is("/a/b/", "/a/b");
        canon_is("/a//b///c", "/a/b/c");
        canon_is("/a/./b/.", "/a/b");
        canon_is("/a/b/../c", "/a/c");
        canon_is("/..", "/");
        canon_is("/../../a", "/a");
        canon_is("/a/b/../../..", "/");
        canon_is("/a/..b/c..", "/a/..b/c..");
        canon_is("/data/../etc/passwd", "/etc/passwd");
        canon_is("/é/ü", "/é/ü");
}

static void test_canonicalize_errors(void **state)
{
        char *out = NULL, *longp;
        assert_int_equal(ob_path_canonicalize("", &out), -EINVAL);
        assert_int_equal(ob_path_canonicalize("a/b", &out), -EINVAL);
        assert_int_equal(ob_path_canonicalize("./a", &out), -EINVAL);
        assert_int_equal(ob_path_canonicalize("/a/\xff", &out), -EINVAL);
        assert_int_equal(ob_path_canonicalize("/a/\xc0\xaf", &out), -EINVAL);   /* overlong '/' */
        assert_int_equal(ob_path_canonicalize("/\xed\xa0\x80", &out), -EINVAL); /* surrogate */
        assert_int_equal(ob_path_canonicalize(NULL, &out), -EINVAL);
        assert_int_equal(ob_path_canonicalize("/a", NULL), -EINVAL);
        longp = malloc(PATH_MAX + 1);
        memset(longp, 'a', PATH_MAX);
        longp[0] = '/';
        longp[PATH_MAX] = '\0';
        assert_int_equal(ob_path_canonicalize(longp, &out), -ENAMETOOLONG);
        longp[PATH_MAX - 1] = '\0'; /* PATH_MAX - 1 bytes fit */
        assert_int_equal(ob_path_canonicalize(longp, &out), 0);
        free(out);
        free(longp);
        assert_null(NULL);
}

static void pattern_is(const char *in, const char *want)
{
        char *out = NULL;
        ob_error err = {0};
        assert_int_equal(cap_path_pattern_canonicalize(in, &out, &err), 0);
        assert_string_equal(out, want);
        free(out);
}

static void pattern_fails(const char *in, int want, const char *msg)
{
        char *out = NULL;
        ob_error err = {0};
        assert_int_equal(cap_path_pattern_canonicalize(in, &out, &err), want);
        assert_null(out);
        assert_non_null(strstr(err.message, msg));
}

static void test_pattern_canonicalize(void **state)
{
        char *longp;
        pattern_is("/data/*", "/data/*");
        pattern_is("/data//x/./*/", "/data/x/*");
        pattern_is("*", "*");
        pattern_is("*/.ssh/*", "*/.ssh/*");
        pattern_is("*//x/.", "*/x");
        pattern_is("/", "/");
        pattern_is("/a\\*b", "/a\\*b");
        pattern_is("/a/..*", "/a/..*");
        pattern_fails("/data/../etc/*", -EINVAL, "\"..\"");
        pattern_fails("/data/..", -EINVAL, "\"..\"");
        pattern_fails("data/*", -EINVAL, "absolute");
        pattern_fails("", -EINVAL, "absolute");
        pattern_fails("/\xff*", -EINVAL, "UTF-8");
        longp = malloc(PATH_MAX + 1);
        memset(longp, 'a', PATH_MAX);
        longp[0] = '/';
        longp[PATH_MAX] = '\0';
        pattern_fails(longp, -ENAMETOOLONG, "longer");
        free(longp);
}

static void test_utf8(void **state)
{
        assert_true(cap_utf8_valid("abc", 3));
        assert_true(cap_utf8_valid("\xf0\x9f\x98\x80", 4));
        assert_false(cap_utf8_valid("\xf0\x9f\x98", 3));
        assert_false(cap_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
        assert_false(cap_utf8_valid("\xe0\x80\x80", 3));     /* overlong */
        assert_false(cap_utf8_valid("\x80", 1));
        assert_false(cap_utf8_valid("\xc3\x28", 2));
        assert_false(cap_utf8_valid("\xf8\x88\x80\x80\x80", 5));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_canonicalize),
            cmocka_unit_test(test_canonicalize_errors),
            cmocka_unit_test(test_pattern_canonicalize),
            cmocka_unit_test(test_utf8),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
