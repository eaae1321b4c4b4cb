/* SPDX-License-Identifier: Apache-2.0 */
/* The event channel codec: round trips, the strict schema, the line reader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "channel/channel.h"

static ob_channel_msg denied(void)
{
        return (ob_channel_msg){.type = OB_CHANNEL_CAPABILITY_DENIED,
                                .capability = "FILE_READ",
                                .target = "/etc/passwd",
                                .syscall = "openat",
                                .pid = 42,
                                .policy_id = "default-deny",
                                .layer = "sidecar"};
}

static void roundtrip(const ob_channel_msg *in, ob_channel_msg *out)
{
        char *line = NULL;
        size_t len = 0;
        ob_error err = {0};

        assert_int_equal(ob_channel_encode(in, &line, &len), 0);
        assert_int_equal(line[len - 1], '\n');
        assert_null(memchr(line, '\n', len - 1));
        assert_int_equal(ob_channel_decode(line, len - 1, out, &err), 0);
        free(line);
}

static void test_roundtrip_all_types(void **state)
{
        ob_channel_msg in = denied(), out = {0};
        ob_channel_msg start = {.type = OB_CHANNEL_SANDBOX_START, .pid = 1, .argv0 = "python3"};
        ob_channel_msg ex = {.type = OB_CHANNEL_SANDBOX_EXIT,
                             .exit_code = 137,
                             .signal = 9,
                             .denials = 3,
                             .dropped = 1,
                             .pids_refused = 2};

        roundtrip(&in, &out);
        assert_int_equal(out.type, OB_CHANNEL_CAPABILITY_DENIED);
        assert_string_equal(out.capability, "FILE_READ");
        assert_string_equal(out.target, "/etc/passwd");
        assert_string_equal(out.syscall, "openat");
        assert_int_equal(out.pid, 42);
        assert_string_equal(out.policy_id, "default-deny");
        assert_string_equal(out.layer, "sidecar");
        ob_channel_msg_done(&out);

        roundtrip(&start, &out);
        assert_int_equal(out.type, OB_CHANNEL_SANDBOX_START);
        assert_string_equal(out.argv0, "python3");
        assert_int_equal(out.pid, 1);
        ob_channel_msg_done(&out);

        roundtrip(&ex, &out);
        assert_int_equal(out.type, OB_CHANNEL_SANDBOX_EXIT);
        assert_int_equal(out.exit_code, 137);
        assert_int_equal(out.signal, 9);
        assert_int_equal(out.denials, 3);
        assert_int_equal(out.dropped, 1);
        assert_int_equal(out.pids_refused, 2);
        ob_channel_msg_done(&out);
}

static void test_encode_sanitises_bytes(void **state)
{
        ob_channel_msg in = denied(), out = {0};

        in.target = "/tmp/a\xff\"b\n\x01\xc3\xa9";
        roundtrip(&in, &out);
        assert_string_equal(out.target, "/tmp/a\xef\xbf\xbd\"b\n\x01\xc3\xa9");
        ob_channel_msg_done(&out);
}

static void test_encode_refuses_schema_breaks(void **state)
{
        ob_channel_msg in = denied();
        char *line = NULL;

        in.capability = "FILE_RAED";
        assert_int_equal(ob_channel_encode(&in, &line, NULL), -EINVAL);
        in = denied();
        in.layer = NULL;
        assert_int_equal(ob_channel_encode(&in, &line, NULL), -EINVAL);
        in = denied();
        in.pid = 0;
        assert_int_equal(ob_channel_encode(&in, &line, NULL), -EINVAL);
        in = denied();
        in.type = OB_CHANNEL_TYPE_MAX;
        assert_int_equal(ob_channel_encode(&in, &line, NULL), -EINVAL);
        assert_null(line);
}

static int decode_str(const char *s, ob_error *err)
{
        ob_channel_msg m = {0};
        int r = ob_channel_decode(s, strlen(s), &m, err);
        ob_channel_msg_done(&m);
        return r;
}

static void test_decode_is_strict(void **state)
{
        static const char *const bad[] = {
            "",
            "[]",
            "{\"type\":\"SandboxStart\",\"pid\":1}",
            "{\"type\":\"SandboxStart\",\"pid\":1,\"argv0\":\"x\",\"extra\":1}",
            "{\"type\":\"SandboxStart\",\"pid\":1,\"argv0\":\"x\",\"pid\":2}",
            "{\"type\":\"SandboxStart\",\"pid\":\"1\",\"argv0\":\"x\"}",
            "{\"type\":\"SandboxStart\",\"pid\":1.5,\"argv0\":\"x\"}",
            "{\"type\":\"SandboxStart\",\"pid\":-1,\"argv0\":\"x\"}",
            "{\"type\":\"SandboxStart\",\"pid\":1,\"argv0\":\"\"}",
            "{\"type\":\"Forged\",\"pid\":1,\"argv0\":\"x\"}",
            "{\"pid\":1,\"argv0\":\"x\"}",
            "{\"type\":\"SandboxExit\",\"exit_code\":256,\"signal\":0,\"denials\":0,"
            "\"dropped\":0}",
            "{\"type\":\"CapabilityDenied\",\"capability\":\"FILE_READ\",\"target\":\"/x\","
            "\"syscall\":\"open at\",\"pid\":1,\"policy_id\":\"p\",\"layer\":\"sidecar\"}",
            "{\"type\":\"CapabilityDenied\",\"capability\":\"FILE_READ\",\"target\":\"/x\","
            "\"syscall\":\"openat\",\"pid\":1,\"policy_id\":\"p\",\"layer\":\"runner\"}",
            "{\"type\":\"SandboxStart\",\"pid\":1,\"argv0\":\"\xff\"}",
            "{\"type\":\"SandboxStart\",\"pid\":1,\"argv0\":\"x\"} trailing",
        };
        ob_error err = {0};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err.message[0] = '\0';
                if (decode_str(bad[i], &err) >= 0)
                        fail_msg("accepted: %s", bad[i]);
                assert_true(err.message[0] != '\0');
        }
        assert_int_equal(decode_str("{\"type\":\"Forged\"}", &err), -EINVAL);
        assert_non_null(strstr(err.message, "unknown message type"));
}

static void test_decode_line_limit(void **state)
{
        size_t n = OB_CHANNEL_MAX_LINE + 1;
        char *big = malloc(n + 1);
        ob_channel_msg m = {0};
        ob_error err = {0};

        memset(big, ' ', n);
        big[n] = '\0';
        assert_int_equal(ob_channel_decode(big, n, &m, &err), -E2BIG);
        free(big);
}

static void test_reader_lines(void **state)
{
        ob_channel_reader r = {0};
        char *line = NULL;
        size_t len = 0;

        assert_int_equal(ob_channel_reader_feed(&r, "ab\ncd", 5), 0);
        assert_int_equal(ob_channel_reader_next(&r, &line, &len), 1);
        assert_string_equal(line, "ab");
        assert_int_equal(len, 2);
        free(line);
        assert_int_equal(ob_channel_reader_next(&r, &line, &len), 0);
        assert_int_equal(ob_channel_reader_feed(&r, "e\n", 2), 0);
        assert_int_equal(ob_channel_reader_next(&r, &line, &len), 1);
        assert_string_equal(line, "cde");
        free(line);
        assert_int_equal(ob_channel_reader_feed(&r, "torn", 4), 0);
        r.eof = true;
        assert_int_equal(ob_channel_reader_next(&r, &line, &len), -EBADMSG);
        ob_channel_reader_done(&r);
}

static void test_reader_bounds_lines(void **state)
{
        ob_channel_reader r = {0};
        char chunk[4096];
        char *line = NULL;
        int ret = 0;

        memset(chunk, 'x', sizeof(chunk));
        for (size_t i = 0; i < OB_CHANNEL_MAX_LINE / sizeof(chunk) + 1; i++)
                assert_int_equal(ob_channel_reader_feed(&r, chunk, sizeof(chunk)), 0);
        ret = ob_channel_reader_next(&r, &line, NULL);
        assert_int_equal(ret, -E2BIG);
        ob_channel_reader_done(&r);
}

static void test_reader_fill_from_socket(void **state)
{
        int sv[2];
        ob_channel_reader r = {0};
        ob_channel_msg in = denied(), out = {0};
        char *line = NULL;
        size_t len = 0;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(ob_channel_send(sv[0], &in), 0);
        close(sv[0]);
        assert_true(ob_channel_reader_fill(&r, sv[1]) > 0);
        assert_int_equal(ob_channel_reader_next(&r, &line, &len), 1);
        assert_int_equal(ob_channel_decode(line, len, &out, NULL), 0);
        assert_string_equal(out.target, "/etc/passwd");
        free(line);
        line = NULL;
        assert_int_equal(ob_channel_reader_fill(&r, sv[1]), 0);
        assert_true(r.eof);
        assert_int_equal(ob_channel_reader_next(&r, &line, &len), 0);
        assert_null(line);
        ob_channel_msg_done(&out);
        ob_channel_reader_done(&r);
        close(sv[1]);
}

static void test_type_names(void **state)
{
        (void)state;
        assert_string_equal(ob_channel_type_to_string(OB_CHANNEL_SANDBOX_START), "SandboxStart");
        assert_string_equal(ob_channel_type_to_string(OB_CHANNEL_CAPABILITY_DENIED),
                            "CapabilityDenied");
        assert_string_equal(ob_channel_type_to_string(OB_CHANNEL_SANDBOX_EXIT), "SandboxExit");
        assert_null(ob_channel_type_to_string(OB_CHANNEL_TYPE_MAX));
        assert_null(ob_channel_type_to_string((ob_channel_type)-1));
}

/* Each malformed UTF-8 form is replaced byte by byte; valid 2-4 byte
 * sequences are kept. */
static void test_encode_sanitises_every_utf8_error(void **state)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
            {"/a\xf0\x9f\x98\x80", "/a\xf0\x9f\x98\x80"},                 /* U+1F600 */
            {"/a\xe0\x80\x80", "/a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
            {"/a\xed\xa0\x80", "/a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
            {"/a\xf4\x90\x80\x80",
             "/a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
            {"/a\xe2\x82", "/a\xef\xbf\xbd\xef\xbf\xbd"},           /* truncated */
            {"/a\xc3(", "/a\xef\xbf\xbd("},                         /* bad continuation */
            {"/a\xf8\x88", "/a\xef\xbf\xbd\xef\xbf\xbd"},           /* 5-byte lead */
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ob_channel_msg in = denied(), out = {0};
                in.target = (char *)cases[i].in;
                roundtrip(&in, &out);
                assert_string_equal(out.target, cases[i].out);
                ob_channel_msg_done(&out);
        }
}

static void test_validate_names_the_field(void **state)
{
        ob_channel_msg m = denied();
        ob_error err = {0};
        (void)state;

        assert_int_equal(ob_channel_msg_validate(&m, &err), 0);
        m.pid = 4194305;
        assert_int_equal(ob_channel_msg_validate(&m, &err), -EINVAL);
        assert_non_null(strstr(err.message, "\"pid\" out of range (4194305, allowed 1..4194304)"));
        m = denied();
        m.target = NULL;
        assert_int_equal(ob_channel_msg_validate(&m, &err), -EINVAL);
        assert_non_null(strstr(err.message, "\"target\" missing"));
        m = denied();
        m.policy_id = "p\xff";
        assert_int_equal(ob_channel_msg_validate(&m, &err), -EINVAL);
        assert_non_null(strstr(err.message, "\"policy_id\" is not valid UTF-8"));
        m = denied();
        m.type = OB_CHANNEL_TYPE_MAX;
        assert_int_equal(ob_channel_msg_validate(&m, &err), -EINVAL);
        assert_non_null(strstr(err.message, "unknown message type"));
}

/* The runner hung up: the send fails with EPIPE, and no SIGPIPE kills us. */
static void test_send_to_a_closed_peer(void **state)
{
        ob_channel_msg in = denied(), bad = denied();
        int sv[2];
        (void)state;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        bad.layer = "kernel";
        assert_int_equal(ob_channel_send(sv[0], &bad), -EINVAL);
        close(sv[1]);
        assert_int_equal(ob_channel_send(sv[0], &in), -EPIPE);
        close(sv[0]);
        assert_int_equal(ob_channel_send(sv[0], &in), -EBADF);
}

static void test_reader_edges(void **state)
{
        ob_channel_reader r = {0};
        static char big[2 * (OB_CHANNEL_MAX_LINE + 1) + 1];
        char *line = NULL;
        (void)state;

        assert_int_equal(ob_channel_reader_feed(&r, "", 0), 0);
        assert_int_equal(ob_channel_reader_next(&r, &line, NULL), 0);
        /* more than two lines' worth held at once is refused */
        memset(big, 'x', sizeof(big));
        assert_int_equal(ob_channel_reader_feed(&r, big, sizeof(big)), -E2BIG);
        /* a terminated line over the limit */
        big[OB_CHANNEL_MAX_LINE + 1] = '\n';
        assert_int_equal(ob_channel_reader_feed(&r, big, OB_CHANNEL_MAX_LINE + 2), 0);
        assert_int_equal(ob_channel_reader_next(&r, &line, NULL), -E2BIG);
        assert_null(line);
        ob_channel_reader_done(&r);
        /* a torn last line at end of stream */
        assert_int_equal(ob_channel_reader_feed(&r, "{\"type\"", 7), 0);
        r.eof = true;
        assert_int_equal(ob_channel_reader_next(&r, &line, NULL), -EBADMSG);
        ob_channel_reader_done(&r);
        assert_int_equal(ob_channel_reader_fill(&r, -1), -EBADF);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_roundtrip_all_types),
            cmocka_unit_test(test_encode_sanitises_bytes),
            cmocka_unit_test(test_encode_refuses_schema_breaks),
            cmocka_unit_test(test_decode_is_strict),
            cmocka_unit_test(test_decode_line_limit),
            cmocka_unit_test(test_reader_lines),
            cmocka_unit_test(test_reader_bounds_lines),
            cmocka_unit_test(test_reader_fill_from_socket),
            cmocka_unit_test(test_type_names),
            cmocka_unit_test(test_encode_sanitises_every_utf8_error),
            cmocka_unit_test(test_validate_names_the_field),
            cmocka_unit_test(test_send_to_a_closed_peer),
            cmocka_unit_test(test_reader_edges),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
