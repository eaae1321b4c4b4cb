/* SPDX-License-Identifier: Apache-2.0 */
/* common/utf8.c: the one strict decoder every JSON text, path and output
 * goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/utf8.h"

static void test_sequences(void **state)
{
        (void)state;
        assert_int_equal(ob_utf8_seq((const unsigned char *)"a", 1), 1);
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\xc3\xa9", 2), 2);
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\xe2\x82\xac", 3), 3);
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\xc3\xa9", 1), 0);     /* cut */
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\xc0\xaf", 2), 0);     /* overlong */
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\xe0\x80\xaf", 3), 0); /* overlong */
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\xed\xa0\x80", 3), 0); /* surrogate */
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\xf4\x90\x80\x80", 4),
                         0); /* >10FFFF */
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\x80", 1), 0);
        assert_int_equal(ob_utf8_seq((const unsigned char *)"\xc3(", 2), 0);
}

static void test_valid_and_sanitize(void **state)
{
        size_t len = 0;
        char *out;

        (void)state;
        assert_true(ob_utf8_valid("caf\xc3\xa9", 5));
        assert_false(ob_utf8_valid("a\xff", 2));
        assert_true(ob_utf8_valid("a\0b", 3)); /* NUL is UTF-8 */
        assert_int_equal(ob_utf8_invalid_bytes("a\0b", 3, true), 1);
        out = ob_utf8_sanitize_dup("a\xff\xc3\xa9\xe2\x82", 6, false, &len);
        assert_string_equal(out, "a\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
        assert_int_equal(len, 12);
        free(out);
        out = ob_utf8_sanitize_dup("x\0y", 3, true, &len);
        assert_string_equal(out, "x\xef\xbf\xbdy");
        free(out);
        out = ob_utf8_sanitize_dup("", 0, true, &len);
        assert_string_equal(out, "");
        assert_int_equal(len, 0);
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sequences),
            cmocka_unit_test(test_valid_and_sanitize),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
