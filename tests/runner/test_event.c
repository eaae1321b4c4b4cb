/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/macros.h"
#include "events/event.h"

static void test_format_time(void **state)
{
        char buf[40];

        assert_int_equal(ob_event_format_time(0, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
        assert_int_equal(ob_event_format_time(1700000000123456, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "2023-11-14T22:13:20.123456Z");
        assert_int_equal(ob_event_format_time(-1, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(ob_event_format_time(0, buf, 10), -ENOBUFS);
}

static void test_serialise(void **state)
{
        ob_event *ev = NULL;
        char *line = NULL;

        assert_int_equal(ob_event_new(OB_EVENT_RESOURCE_LIMIT_EXCEEDED, "ob-1", NULL, &ev), 0);
        ev->seq = 7;
        ev->time_us = 1000001;
        assert_int_equal(ob_event_add_string(ev, "limit", "memory"), 0);
        assert_int_equal(ob_event_add_int(ev, "value", 50), 0);
        assert_int_equal(ob_event_add_bool(ev, "oom", true), 0);
        assert_int_equal(ob_event_add_string(ev, "limit", "again"), -EINVAL);
        assert_int_equal(ob_event_add_int(ev, "seq", 1), -EINVAL);
        assert_int_equal(ob_event_to_json_line(ev, &line), 0);
        assert_string_equal(line, "{\"seq\":7,\"time\":\"1970-01-01T00:00:01.000001Z\","
                                  "\"type\":\"ResourceLimitExceeded\",\"sandbox_id\":\"ob-1\","
                                  "\"principal\":null,\"limit\":\"memory\",\"value\":50,"
                                  "\"oom\":true}");
        free(line);
        ob_event_free(ev);
        assert_null(ob_event_free(NULL));
}

static void collect(const char *line, void *userdata)
{
        int *n = userdata;
        (*n)++;
        assert_non_null(strstr(line, "\"type\":\"Sandbox"));
}

static void test_sink_sequence(void **state)
{
        int n = 0;
        ob_event_sink sink = {.fn = collect, .userdata = &n};
        ob_event *a = NULL, *b = NULL;

        assert_int_equal(ob_event_new(OB_EVENT_SANDBOX_START, "ob-2", "p", &a), 0);
        assert_int_equal(ob_event_new(OB_EVENT_SANDBOX_EXIT, "ob-2", "p", &b), 0);
        assert_int_equal(ob_event_emit(&sink, a), 0);
        assert_int_equal(ob_event_emit(&sink, b), 0);
        assert_int_equal(a->seq, 1);
        assert_int_equal(b->seq, 2);
        assert_true(a->time_us > 1600000000000000LL);
        assert_int_equal(n, 2);
        assert_string_equal(ob_event_type_to_string(OB_EVENT_SANDBOX_EXIT), "SandboxExit");
        assert_null(ob_event_type_to_string(OB_EVENT_TYPE_MAX));
        assert_int_equal(ob_event_new(OB_EVENT_TYPE_MAX, NULL, NULL, &a), -EINVAL);
        ob_event_free(a);
        ob_event_free(b);
}

static void test_line_bound(void **state)
{
        ob_event *ev = NULL;
        char *big = malloc(OB_EVENT_MAX_LINE + 10), *line = NULL;

        memset(big, 'a', OB_EVENT_MAX_LINE + 9);
        big[OB_EVENT_MAX_LINE + 9] = '\0';
        assert_int_equal(ob_event_new(OB_EVENT_SANDBOX_EXIT, "ob-3", NULL, &ev), 0);
        ev->time_us = 1;
        assert_int_equal(ob_event_add_string(ev, "big", big), 0);
        assert_int_equal(ob_event_to_json_line(ev, &line), -E2BIG);
        assert_null(line);
        ob_event_free(ev);
        free(big);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_format_time),
            cmocka_unit_test(test_serialise),
            cmocka_unit_test(test_sink_sequence),
            cmocka_unit_test(test_line_bound),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
