/* SPDX-License-Identifier: Apache-2.0 */
/* The capability file: parse, errors with positions, load, write back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omnibase/capabilities.h>

static const char design_example[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"principal\": \"3f2a9c1e-0000-4000-8000-000000000001\",\n"
    "  \"grants\":  [ {\"capability\": \"FILE_READ\", \"target\": \"/data/allowed.txt\", "
    "\"policy_id\": \"p1\"},\n"
    "               {\"capability\": \"NETWORK_CONNECT\", \"target\": \"10.0.0.5:443\"} ],\n"
    "  \"denials\": [ {\"capability\": \"FILE_READ\", \"target\": \"/data/secret/*\", "
    "\"policy_id\": \"p9\"} ],\n"
    "  \"limits\":  {\"memory_mb\": 256, \"cpus\": 1.5, \"pids\": 64, \"timeout_s\": 30,\n"
    "              \"tmpfs_mb\": 64, \"output_kb\": 1024}\n"
    "}\n";

static ob_capset *parse_ok(const char *text)
{
        ob_capset *s = NULL;
        ob_error err = {0};
        if (ob_capset_parse(text, strlen(text), &s, &err) < 0)
                fail_msg("%u:%u: %s", err.line, err.column, err.message);
        return s;
}

static void test_design_example(void **state)
{
        ob_capset *s = parse_ok(design_example);
        const ob_limits *l = ob_capset_limits_const(s);
        ob_decision d;
        assert_string_equal(ob_capset_principal(s), "3f2a9c1e-0000-4000-8000-000000000001");
        assert_int_equal(ob_capset_count(s, false), 2);
        assert_int_equal(ob_capset_count(s, true), 1);
        assert_int_equal(l->memory_mb, 256);
        assert_int_equal(l->cpus_milli, 1500);
        assert_int_equal(l->pids, 64);
        assert_int_equal(l->timeout_s, 30);
        assert_int_equal(l->tmpfs_mb, 64);
        assert_int_equal(l->output_kb, 1024);
        assert_int_equal(ob_capset_check(s, OB_CAP_FILE_READ, "/data/allowed.txt", &d), 0);
        assert_true(d.allowed);
        assert_string_equal(d.rule->policy_id, "p1");
        ob_capset_free(s);
}

static void test_minimal(void **state)
{
        ob_capset *s = parse_ok("{\"version\": 1, \"grants\": []}");
        assert_null(ob_capset_principal(s));
        assert_int_equal(ob_capset_count(s, false), 0);
        assert_int_equal(ob_capset_limits_const(s)->memory_mb, OB_LIMIT_UNSET);
        ob_capset_free(s);
}

/* Parses text, expects failure at line:col with msg in the message. */
static void parse_bad(const char *text, unsigned line, unsigned col, const char *msg)
{
        ob_capset *s = NULL;
        ob_error err = {0};
        int r = ob_capset_parse(text, strlen(text), &s, &err);
        if (r >= 0)
                fail_msg("accepted: %s", text);
        assert_null(s);
        if (!strstr(err.message, msg) || err.line != line || err.column != col)
                fail_msg("%s\n got %u:%u: %s\n want %u:%u: ...%s...", text, err.line, err.column,
                         err.message, line, col, msg);
}

static void test_errors(void **state)
{
        parse_bad("{\"version\": 1, \"grants\": [], \"grantz\": []}", 1, 30,
                  "unknown key \"grantz\"");
        parse_bad(
            "{\"version\": 1, \"grants\": [{\"capability\": \"FILE_READ\", \"target\": \"/a\"},"
            "{\"capability\": \"FILE_READ\", \"target\": \"/b\"},\n"
            "{\"capability\": \"FILE_RAED\", \"target\": \"/c\"}]}",
            2, 16, "grants[2].capability: unknown capability \"FILE_RAED\"");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"memory_mb\": -5}}", 1, 54,
                  "limits.memory_mb: expected a positive integer");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"memory_mb\": 1.5}}", 1, 54,
                  "limits.memory_mb: expected a positive integer");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"memory_mb\": \"1\"}}", 1, 54,
                  "limits.memory_mb: expected a positive integer");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"memory_mb\": 0}}", 1, 54,
                  "positive");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"memory_mb\": 9999999}}", 1, 54,
                  "limits.memory_mb: 9999999 is above the maximum 1048576");
        /* issue 14: below what the runner can start is refused here, with a position */
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"memory_mb\": 16}}", 1, 54,
                  "limits.memory_mb: 16 is below the minimum 32");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"cpus\": 0.001}}", 1, 49,
                  "limits.cpus: 0.001 is below the minimum 0.010");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"cpus\": 0.0001}}", 1, 49,
                  "limits.cpus: expected a positive number");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"cpus\": 2000}}", 1, 49,
                  "limits.cpus: 2000.000 is above the maximum 1024.000");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": {\"pids\": 1, \"disk\": 1}}", 1, 52,
                  "limits: unknown key \"disk\"");
        parse_bad("{\"version\": 1, \"grants\": [], \"limits\": []}", 1, 40,
                  "limits: expected an object, got array");
        parse_bad("{\"version\": 2, \"grants\": []}", 1, 13, "version: expected 1");
        parse_bad("{\"version\": \"1\", \"grants\": []}", 1, 13, "version: expected 1");
        parse_bad("{\"grants\": []}", 1, 1, "missing \"version\"");
        parse_bad("{\"version\": 1}", 1, 1, "missing \"grants\"");
        parse_bad("{\"version\": 1, \"grants\": {}}", 1, 26,
                  "grants: expected an array, got object");
        parse_bad("{\"version\": 1, \"grants\": [], \"denials\": 3}", 1, 41,
                  "denials: expected an array, got number");
        parse_bad("{\"version\": 1, \"grants\": [7]}", 1, 27, "grants[0]: expected an object");
        parse_bad("{\"version\": 1, \"grants\": [{\"target\": \"/a\"}]}", 1, 27,
                  "grants[0]: missing \"capability\"");
        parse_bad("{\"version\": 1, \"grants\": [{\"capability\": \"FILE_READ\"}]}", 1, 27,
                  "grants[0]: missing \"target\"");
        parse_bad("{\"version\": 1, \"grants\": [{\"capability\": 1, \"target\": \"/a\"}]}", 1, 42,
                  "grants[0].capability: expected a string, got number");
        parse_bad(
            "{\"version\": 1, \"grants\": [{\"capability\": \"FILE_READ\", \"target\": \"/a\","
            " \"policy_id\": null}]}",
            1, 84, "grants[0].policy_id: expected a string, got null");
        parse_bad(
            "{\"version\": 1, \"grants\": [{\"capability\": \"FILE_READ\", \"target\": \"/a\","
            " \"policy_id\": \"\"}]}",
            1, 84, "grants[0].policy_id: expected 1-256 bytes");
        parse_bad(
            "{\"version\": 1, \"grants\": [{\"capability\": \"FILE_READ\", \"target\": \"/a\","
            " \"why\": 1}]}",
            1, 71, "grants[0]: unknown key \"why\"");
        parse_bad("{\"version\": 1, \"grants\": [], \"denials\": [{\"capability\": \"FILE_READ\","
                  " \"target\": \"/data/../etc/*\"}]}",
                  1, 80, "denials[0].target: path pattern \"/data/../etc/*\" contains a \"..\"");
        parse_bad("{\"version\": 1, \"grants\": [{\"capability\": \"NETWORK_CONNECT\","
                  " \"target\": \"10.0.0.1:0\"}]}",
                  1, 71, "grants[0].target: endpoint \"10.0.0.1:0\": port");
        parse_bad("{\"version\": 1, \"principal\": \"nope\", \"grants\": []}", 1, 29,
                  "principal: expected a UUID");
        parse_bad("[]", 1, 1, "expected an object, got array");
        parse_bad("{\"version\": 1, \"grants\": [}", 1, 27, "invalid JSON");
        parse_bad("{\"version\": 1, \"version\": 1, \"grants\": []}", 1, 16, "duplicate key");
        parse_bad("{\"version\": 1, \"grants\": [], \"x\": \"\xff\"}", 1, 36, "UTF-8");
}

static void test_bounds(void **state)
{
        ob_capset *s = NULL;
        ob_error err = {0};
        size_t cap = 2u << 20, n = 0;
        char *big = malloc(cap);
        int r;
        /* 10,001 rules: refused with a limit error */
        n += (size_t)sprintf(big + n, "{\"version\": 1, \"grants\": [");
        for (int i = 0; i < 10001; i++)
                n +=
                    (size_t)sprintf(big + n, "%s{\"capability\":\"FILE_READ\",\"target\":\"/f%d\"}",
                                    i ? "," : "", i);
        n += (size_t)sprintf(big + n, "]}");
        r = ob_capset_parse(big, n, &s, &err);
        assert_int_equal(r, -E2BIG);
        assert_non_null(strstr(err.message, "more than 10000 rules"));
        /* over 1 MiB: refused before parsing */
        memset(big, ' ', cap);
        memcpy(big, "{\"version\":1,\"grants\":[]}", 25);
        r = ob_capset_parse(big, (1u << 20) + 1, &s, &err);
        assert_int_equal(r, -EFBIG);
        assert_null(s);
        /* exactly 1 MiB of whitespace after the object is fine */
        r = ob_capset_parse(big, 1u << 20, &s, &err);
        assert_int_equal(r, 0);
        ob_capset_free(s);
        free(big);
        assert_int_equal(ob_capset_parse(NULL, 0, &s, &err), -EINVAL);
        /* deep nesting: refused by the JSON layer */
        {
                char deep[300];
                memset(deep, '[', sizeof(deep) - 1);
                deep[sizeof(deep) - 1] = '\0';
                assert_true(ob_capset_parse(deep, strlen(deep), &s, &err) < 0);
        }
}

static void test_round_trip(void **state)
{
        ob_capset *s = parse_ok(design_example), *t;
        char *a = NULL, *b = NULL;
        assert_int_equal(ob_capset_to_json(s, &a), 0);
        assert_int_equal(a[strlen(a) - 1], '\n');
        t = parse_ok(a);
        assert_int_equal(ob_capset_to_json(t, &b), 0);
        assert_string_equal(a, b);
        assert_int_equal(ob_capset_limits_const(t)->cpus_milli, 1500);
        assert_string_equal(ob_capset_get(t, true, 0)->policy_id, "p9");
        assert_null(ob_capset_get(t, false, 1)->policy_id);
        assert_non_null(strstr(a, "\"cpus\":\t1.5"));
        assert_int_equal(ob_capset_to_json(NULL, &a), -EINVAL);
        free(a);
        free(b);
        ob_capset_free(s);
        ob_capset_free(t);
        /* an empty set writes version, grants, denials and no limits */
        assert_int_equal(ob_capset_new(&s), 0);
        assert_int_equal(ob_capset_to_json(s, &a), 0);
        assert_null(strstr(a, "limits"));
        assert_null(strstr(a, "principal"));
        t = parse_ok(a);
        ob_capset_free(t);
        ob_capset_free(s);
        free(a);
}

static void test_load(void **state)
{
        char path[] = "/tmp/ob-capfile-XXXXXX";
        int fd = mkstemp(path);
        ob_capset *s = NULL;
        ob_error err = {0};
        assert_true(fd >= 0);
        assert_int_equal(write(fd, design_example, strlen(design_example)),
                         (ssize_t)strlen(design_example));
        close(fd);
        assert_int_equal(ob_capset_load(path, &s, &err), 0);
        assert_int_equal(ob_capset_count(s, false), 2);
        ob_capset_free(s);
        s = NULL;
        unlink(path);
        assert_int_equal(ob_capset_load(path, &s, &err), -ENOENT);
        assert_int_equal(err.line, 0);
        assert_non_null(strstr(err.message, "cannot read"));
        assert_int_equal(ob_capset_load("/", &s, &err), -EISDIR);
        assert_int_equal(ob_capset_load(NULL, &s, &err), -EINVAL);
        assert_null(s);
}

static void test_load_too_big(void **state)
{
        char path[] = "/tmp/ob-capfile-XXXXXX";
        int fd = mkstemp(path);
        ob_capset *s = NULL;
        ob_error err = {0};
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (1 << 20) + 1), 0);
        close(fd);
        assert_int_equal(ob_capset_load(path, &s, &err), -EFBIG);
        assert_non_null(strstr(err.message, "larger than"));
        unlink(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_design_example), cmocka_unit_test(test_minimal),
            cmocka_unit_test(test_errors),         cmocka_unit_test(test_bounds),
            cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_load),
            cmocka_unit_test(test_load_too_big),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
