/* SPDX-License-Identifier: Apache-2.0 */
/* The event layer's error paths a caller can meet: a time before the epoch,
 * a line over OB_EVENT_MAX_LINE through the sink (seq is not used up), bad
 * keys and unknown types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/macros.h"
#include "events/event.h"

static unsigned lines_seen;

static void count_line(const char *line, void *userdata)
{
        (void)line;
        (void)userdata;
        lines_seen++;
}

static void test_negative_time_is_einval(void **state)
{
        _cleanup_event_ ob_event *ev = NULL;
        char *line = NULL;

        (void)state;
        assert_int_equal(ob_event_new(OB_EVENT_SANDBOX_START, "ob-1", NULL, &ev), 0);
        ev->time_us = -1;
        assert_int_equal(ob_event_to_json_line(ev, &line), -EINVAL);
        assert_null(line);
}

static void test_emit_too_big_keeps_seq(void **state)
{
        ob_event_sink sink = {.fn = count_line};
        _cleanup_event_ ob_event *big = NULL, *small = NULL;
        char *text = malloc(OB_EVENT_MAX_LINE + 1);

        (void)state;
        assert_non_null(text);
        memset(text, 'x', OB_EVENT_MAX_LINE);
        text[OB_EVENT_MAX_LINE] = '\0';
        lines_seen = 0;
        assert_int_equal(ob_event_new(OB_EVENT_SANDBOX_EXIT, "ob-2", NULL, &big), 0);
        assert_int_equal(ob_event_add_string(big, "blob", text), 0);
        assert_int_equal(ob_event_emit(&sink, big), -E2BIG);
        assert_int_equal(lines_seen, 0);
        /* the failed event did not take a sequence number */
        assert_int_equal(ob_event_new(OB_EVENT_SANDBOX_EXIT, "ob-2", NULL, &small), 0);
        assert_int_equal(ob_event_emit(&sink, small), 0);
        assert_int_equal(small->seq, 1);
        assert_int_equal(sink.next_seq, 2);
        assert_int_equal(lines_seen, 1);
        free(text);
}

static void test_bad_keys_and_types(void **state)
{
        _cleanup_event_ ob_event *ev = NULL;
        ob_event *none = NULL;

        (void)state;
        assert_int_equal(ob_event_new(OB_EVENT_TYPE_MAX, NULL, NULL, &none), -EINVAL);
        assert_null(none);
        assert_int_equal(ob_event_new(OB_EVENT_SANDBOX_START, NULL, NULL, &ev), 0);
        assert_int_equal(ob_event_add_int(ev, "seq", 5), -EINVAL);
        assert_int_equal(ob_event_add_bool(ev, "ok", true), 0);
        assert_int_equal(ob_event_add_bool(ev, "ok", false), -EINVAL);
        assert_int_equal(ob_event_add_string(ev, "why", NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_negative_time_is_einval),
            cmocka_unit_test(test_emit_too_big_keeps_seq),
            cmocka_unit_test(test_bad_keys_and_types),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
