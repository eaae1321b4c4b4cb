/* SPDX-License-Identifier: Apache-2.0 */
/* The audit line: building from events, decoding, canonical hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit-internal.h"

static cJSON *event_from(const char *json)
{
        cJSON *ev = cJSON_Parse(json);
        assert_non_null(ev);
        return ev;
}

/* Builds a line for json at seq after prev and returns it (no newline). */
static char *build(const char *json, uint64_t seq, const char *prev, int *ret_r, char hash[65])
{
        cJSON *ev = event_from(json);
        char *line = NULL;
        size_t len = 0;

        *ret_r = ob_audit_line_build(ev, seq, prev, &line, &len, hash);
        cJSON_Delete(ev);
        if (*ret_r < 0)
                return NULL;
        assert_int_equal(line[len - 1], '\n');
        line[len - 1] = '\0';
        return line;
}

static void test_build_decode_roundtrip(void **state)
{
        char hash[65];
        ob_audit_record rec = {0};
        int r;
        char *line = build("{\"type\":\"SandboxExit\",\"sandbox_id\":\"sb1\",\"exit_code\":3,"
                           "\"time\":\"2026-11-22T05:40:00.123456Z\",\"seq\":99}",
                           7, OB_AUDIT_ZERO_HASH, &r, hash);

        assert_int_equal(r, 0);
        /* Members in the documented order; the input's seq is replaced. */
        assert_non_null(strstr(line, "{\"seq\":7,\"time\":\"2026-11-22T05:40:00.123456Z\","
                                     "\"type\":\"SandboxExit\",\"sandbox_id\":\"sb1\","
                                     "\"principal\":null,\"exit_code\":3,\"prev_hash\":\""));
        assert_int_equal(ob_audit_line_decode(line, strlen(line), &rec, NULL), 0);
        assert_int_equal(rec.seq, 7);
        assert_string_equal(rec.type, "SandboxExit");
        assert_string_equal(rec.sandbox_id, "sb1");
        assert_string_equal(rec.hash, hash);
        assert_string_equal(rec.prev_hash, OB_AUDIT_ZERO_HASH);
        assert_true(rec.hash_ok);
        ob_audit_record_done(&rec);
        free(line);
}

static void test_canonical_bytes(void **state)
{
        char hash[65], expect[65];
        int r;
        char *line = build("{\"type\":\"X\"}", 1, OB_AUDIT_ZERO_HASH, &r, hash);
        char *cut = strstr(line, ",\"hash\":\"");

        assert_non_null(cut);
        /* hash = SHA-256 of the line with ,"hash":"..." removed. */
        assert_int_equal(ob_audit_sha256_hex(line, (size_t)(cut - line), "}", 1, expect), 0);
        assert_string_equal(hash, expect);
        /* Known vector: SHA-256("abc"). */
        assert_int_equal(ob_audit_sha256_hex("ab", 2, "c", 1, expect), 0);
        assert_string_equal(expect,
                            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        free(line);
}

static void test_edit_breaks_hash(void **state)
{
        char hash[65];
        ob_audit_record rec = {0};
        int r;
        char *line =
            build("{\"type\":\"X\",\"target\":\"/etc/passwd\"}", 1, OB_AUDIT_ZERO_HASH, &r, hash);
        char *p = strstr(line, "passwd");

        p[0] = 'P';
        assert_int_equal(ob_audit_line_decode(line, strlen(line), &rec, NULL), 0);
        assert_false(rec.hash_ok);
        ob_audit_record_done(&rec);
        free(line);
}

static void test_bad_events(void **state)
{
        char hash[65], deep[160], json[256];
        int r;

        assert_null(build("{\"sandbox_id\":\"x\"}", 1, OB_AUDIT_ZERO_HASH, &r, hash));
        assert_int_equal(r, -EINVAL); /* no type */
        assert_null(build("{\"type\":\"\"}", 1, OB_AUDIT_ZERO_HASH, &r, hash));
        assert_int_equal(r, -EINVAL);
        assert_null(build("{\"type\":\"X\",\"principal\":5}", 1, OB_AUDIT_ZERO_HASH, &r, hash));
        assert_int_equal(r, -EINVAL);
        assert_null(
            build("{\"type\":\"X\",\"time\":\"yesterday\"}", 1, OB_AUDIT_ZERO_HASH, &r, hash));
        assert_int_equal(r, -EINVAL);
        assert_null(build("{\"type\":\"X\",\"a\":1,\"a\":2}", 1, OB_AUDIT_ZERO_HASH, &r, hash));
        assert_int_equal(r, -EINVAL); /* duplicate key */
        /* Deeper than verify's JSON reader goes: refused, not written. */
        memset(deep, '[', 70);
        memset(deep + 70, ']', 70);
        deep[140] = '\0';
        snprintf(json, sizeof(json), "{\"type\":\"X\",\"deep\":%s}", deep);
        assert_null(build(json, 1, OB_AUDIT_ZERO_HASH, &r, hash));
        assert_int_equal(r, -EINVAL);
        assert_null(build("{\"type\":\"X\"}", 0, OB_AUDIT_ZERO_HASH, &r, hash));
        assert_int_equal(r, -EINVAL);
}

static void test_line_bound(void **state)
{
        size_t big = OB_AUDIT_MAX_LINE;
        char *json = malloc(big + 64), hash[65], *line;
        int r, n;

        n = sprintf(json, "{\"type\":\"X\",\"blob\":\"");
        memset(json + n, 'a', big - 400);
        strcpy(json + n + big - 400, "\"}");
        line = build(json, 1, OB_AUDIT_ZERO_HASH, &r, hash);
        assert_int_equal(r, 0); /* just under the bound */
        assert_true(strlen(line) <= OB_AUDIT_MAX_LINE);
        free(line);
        memset(json + n, 'a', big);
        strcpy(json + n + big, "\"}");
        assert_null(build(json, 1, OB_AUDIT_ZERO_HASH, &r, hash));
        assert_int_equal(r, -E2BIG);
        free(json);
}

static void test_invalid_utf8_replaced(void **state)
{
        cJSON *ev = cJSON_CreateObject();
        char hash[65], *line = NULL;
        size_t len;
        ob_audit_record rec = {0};

        cJSON_AddStringToObject(ev, "type", "CapabilityDenied");
        cJSON_AddStringToObject(ev, "target", "/tmp/\xff\xfe\xc3(");
        assert_int_equal(ob_audit_line_build(ev, 1, OB_AUDIT_ZERO_HASH, &line, &len, hash), 0);
        assert_non_null(strstr(line, "/tmp/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd("));
        assert_int_equal(ob_audit_line_decode(line, len - 1, &rec, NULL), 0);
        assert_true(rec.hash_ok);
        ob_audit_record_done(&rec);
        cJSON_Delete(ev);
        free(line);
}

static void expect_decode_error(const char *line, unsigned column)
{
        ob_audit_record rec = {0};
        ob_error err = {0};

        assert_true(ob_audit_line_decode(line, strlen(line), &rec, &err) < 0);
        assert_null(rec.type);
        assert_true(err.message[0] != '\0');
        if (column)
                assert_int_equal(err.column, column);
}

static void test_decode_rejects(void **state)
{
        const char *h = OB_AUDIT_ZERO_HASH;
        char buf[512];

        expect_decode_error("", 0);
        expect_decode_error("[1]", 0);
        expect_decode_error("{\"seq\":1,", 0);
        snprintf(buf, sizeof(buf),
                 "{\"time\":\"2026-11-22T05:40:00.123456Z\",\"seq\":1,\"type\":\"X\","
                 "\"sandbox_id\":null,\"principal\":null,\"prev_hash\":\"%s\",\"hash\":\"%s\"}",
                 h, h);
        expect_decode_error(buf, 2); /* seq must come first */
        snprintf(buf, sizeof(buf),
                 "{\"seq\":0,\"time\":\"2026-11-22T05:40:00.123456Z\",\"type\":\"X\","
                 "\"sandbox_id\":null,\"principal\":null,\"prev_hash\":\"%s\",\"hash\":\"%s\"}",
                 h, h);
        expect_decode_error(buf, 8);
        snprintf(buf, sizeof(buf),
                 "{\"seq\":1,\"time\":\"2026-11-22T05:40:00.123456Z\",\"type\":\"X\","
                 "\"sandbox_id\":null,\"principal\":null,\"prev_hash\":\"%s\",\"hash\":\"%s\" }",
                 h, h);
        expect_decode_error(buf, 0); /* hash not in canonical form */
        snprintf(buf, sizeof(buf),
                 "{\"seq\":1,\"time\":\"2026-11-22T05:40:00.123456Z\",\"type\":\"X\","
                 "\"sandbox_id\":null,\"principal\":null,\"hash\":\"%s\",\"prev_hash\":\"%s\"}",
                 h, h);
        expect_decode_error(buf, 0);
        snprintf(buf, sizeof(buf),
                 "{\"seq\":1,\"time\":\"2026-11-22T05:40:00Z\",\"type\":\"X\","
                 "\"sandbox_id\":null,\"principal\":null,\"prev_hash\":\"%s\",\"hash\":\"%s\"}",
                 h, h);
        expect_decode_error(buf, 17);
}

static void test_time_and_paths(void **state)
{
        char *p = NULL;

        assert_int_equal(ob_audit_check_time("2026-11-22T05:40:00.123456Z"), 0);
        assert_int_equal(ob_audit_check_time("2026-13-22T05:40:00.123456Z"), -EINVAL);
        assert_int_equal(ob_audit_check_time("2026-11-22T25:40:00.123456Z"), -EINVAL);
        assert_int_equal(ob_audit_check_time("2026-11-22 05:40:00.123456Z"), -EINVAL);
        assert_int_equal(ob_audit_predecessor_path("/x/audit.jsonl", &p), 0);
        assert_string_equal(p, "/x/audit.jsonl.1");
        free(p);
        assert_int_equal(ob_audit_predecessor_path("/x/audit.jsonl.9", &p), 0);
        assert_string_equal(p, "/x/audit.jsonl.10");
        free(p);
}

static void random_string(char *buf, size_t max)
{
        static const char pick[] = "aZ09 \"\\/\n\t\x01\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                                   "\xff\xed\xa0\x80\xc0";
        size_t n = (size_t)rand() % max;

        for (size_t i = 0; i < n; i++)
                buf[i] = pick[rand() % (int)(sizeof(pick) - 1)];
        buf[n] = '\0';
}

static cJSON *random_value(int depth)
{
        static const double numbers[] = {0,
                                         -1,
                                         1.5,
                                         1e300,
                                         -2.5e-300,
                                         9007199254740991.0,
                                         9007199254740992.0,
                                         123456789012345678.0,
                                         0.1};
        char s[24];
        int kind = rand() % (depth > 40 ? 4 : 6);
        cJSON *v;

        switch (kind) {
        case 0:
                random_string(s, sizeof(s) - 1);
                return cJSON_CreateString(s);
        case 1:
                return cJSON_CreateNumber(numbers[rand() % (int)ARRAY_SIZE(numbers)]);
        case 2:
                return cJSON_CreateBool(rand() % 2);
        case 3:
                return cJSON_CreateNull();
        case 4:
                v = cJSON_CreateArray();
                for (int i = rand() % 3; i > 0; i--)
                        cJSON_AddItemToArray(v, random_value(depth + 1));
                return v;
        default:
                v = cJSON_CreateObject();
                for (int i = rand() % 3; i > 0; i--) {
                        random_string(s, 4);
                        cJSON_AddItemToObject(v, s, random_value(depth + 1));
                }
                return v;
        }
}

/* Whatever an event holds, either the line is refused (-EINVAL, -E2BIG) or
 * verify's decoder reads it back with a matching hash. */
static void test_random_events_decode(void **state)
{
        unsigned built = 0;

        srand(4);
        for (int i = 0; i < 3000; i++) {
                cJSON *ev = random_value(0);
                char hash[65], *line = NULL;
                ob_audit_record rec = {0};
                size_t len;
                int r;

                if (!cJSON_IsObject(ev)) {
                        cJSON_Delete(ev);
                        ev = cJSON_CreateObject();
                        cJSON_AddItemToObject(ev, "x", random_value(1));
                }
                cJSON_AddStringToObject(ev, "type", "Random");
                r = ob_audit_line_build(ev, (uint64_t)i + 1, OB_AUDIT_ZERO_HASH, &line, &len, hash);
                if (r < 0) {
                        assert_true(r == -EINVAL || r == -E2BIG);
                } else {
                        built++;
                        assert_int_equal(ob_audit_line_decode(line, len - 1, &rec, NULL), 0);
                        assert_true(rec.hash_ok);
                        assert_int_equal(rec.seq, (uint64_t)i + 1);
                        ob_audit_record_done(&rec);
                }
                free(line);
                cJSON_Delete(ev);
        }
        assert_true(built > 1000); /* most events are fine */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_build_decode_roundtrip),
            cmocka_unit_test(test_canonical_bytes),
            cmocka_unit_test(test_edit_breaks_hash),
            cmocka_unit_test(test_bad_events),
            cmocka_unit_test(test_line_bound),
            cmocka_unit_test(test_invalid_utf8_replaced),
            cmocka_unit_test(test_decode_rejects),
            cmocka_unit_test(test_time_and_paths),
            cmocka_unit_test(test_random_events_decode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
