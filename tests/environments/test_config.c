/* SPDX-License-Identifier: Apache-2.0 */
/* The environment layer's settings, durations, state names and the checks on
 * names, owners and flags, against real files under /var/tmp. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "environments/store.h"
#include "runner/runner.h"
#include "test_util.h"

static char tmpdir[] = "/var/tmp/ob-config-XXXXXX";

static char *write_config(const char *name, const char *text)
{
        char *p = NULL;
        FILE *f;

        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        f = fopen(p, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        return p;
}

static void test_durations_ok(void **state)
{
        static const struct {
                const char *text;
                int64_t s;
        } ok[] = {{"30s", 30}, {"15m", 900},          {"72h", 259200},     {"7d", 604800},
                  {"1s", 1},   {"365d", 365 * 86400}, {"8760h", 31536000}, {"31536000s", 31536000}};
        ob_error err = {0};

        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                int64_t s = -1;
                assert_int_equal(ob_duration_parse(ok[i].text, &s, &err), 0);
                assert_int_equal(s, ok[i].s);
        }
}

static void test_durations_refused(void **state)
{
        static const char *const bad[] = {
            "",      "0s", "5",   "5x",  "-1h", "1h30m", "9999d", "366d",
            "8761h", "h",  " 5s", "5s ", "+5s", "5S",    "5.5h",  "99999999999999999999s"};

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                ob_error err = {0};
                int64_t s = 42;
                assert_int_equal(ob_duration_parse(bad[i], &s, &err), -EINVAL);
                assert_int_equal(s, 42);
                assert_string_equal(err.code, "invalid");
                if (bad[i][0])
                        assert_non_null(strstr(err.message, bad[i]));
        }
        assert_int_equal(ob_duration_parse(NULL, &(int64_t){0}, NULL), -EINVAL);
}

static void test_duration_format(void **state)
{
        char buf[24];

        ob_duration_format(3 * 86400, buf, sizeof(buf));
        assert_string_equal(buf, "3d");
        ob_duration_format(90 * 60, buf, sizeof(buf));
        assert_string_equal(buf, "90m");
        ob_duration_format(45, buf, sizeof(buf));
        assert_string_equal(buf, "45s");
        ob_duration_format(48 * 3600, buf, sizeof(buf));
        assert_string_equal(buf, "2d");
        ob_duration_format(25 * 3600, buf, sizeof(buf));
        assert_string_equal(buf, "25h");
        ob_duration_format(0, buf, sizeof(buf));
        assert_string_equal(buf, "0s");
}

static void test_states(void **state)
{
        ob_env_state s;

        for (int i = OB_ENV_CREATING; i <= OB_ENV_FAILED; i++) {
                const char *w = ob_env_state_to_string((ob_env_state)i);
                assert_non_null(w);
                assert_int_equal(ob_env_state_from_string(w, &s), 0);
                assert_int_equal(s, i);
        }
        assert_string_equal(ob_env_state_to_string(OB_ENV_STOPPED), "stopped");
        assert_null(ob_env_state_to_string((ob_env_state)99));
        assert_int_equal(ob_env_state_from_string("Running", &s), -EINVAL);
        assert_int_equal(ob_env_state_from_string(NULL, &s), -EINVAL);
}

static void test_names(void **state)
{
        static const char *const names_ok[] = {"a", "0", "web-1", "abc-def-123"};
        static const char *const names_bad[] = {"", "-a", "A", "a_b", "a.b", "a b", "é"};
        static const char *const owners_ok[] = {"alice", "Alice.B", "a@example.com", "0-x_y"};
        static const char *const owners_bad[] = {"", ".a", "@a", "a b", "a/b", "a:b"};
        static const char *const flags_ok[] = {"new-ui", "beta.search", "x_1", "0"};
        static const char *const flags_bad[] = {"", "New", "_x", "a b", "a=b"};
        char long63[64], long64[65], long65[66];
        ob_error err = {0};

        for (size_t i = 0; i < ARRAY_SIZE(names_ok); i++)
                assert_int_equal(ob_env_name_check(names_ok[i], &err), 0);
        for (size_t i = 0; i < ARRAY_SIZE(names_bad); i++) {
                err.code = NULL;
                assert_int_equal(ob_env_name_check(names_bad[i], &err), -EINVAL);
                assert_string_equal(err.code, "invalid");
        }
        for (size_t i = 0; i < ARRAY_SIZE(owners_ok); i++)
                assert_int_equal(ob_env_owner_check(owners_ok[i], &err), 0);
        for (size_t i = 0; i < ARRAY_SIZE(owners_bad); i++)
                assert_int_equal(ob_env_owner_check(owners_bad[i], &err), -EINVAL);
        for (size_t i = 0; i < ARRAY_SIZE(flags_ok); i++)
                assert_int_equal(ob_env_flag_check(flags_ok[i], &err), 0);
        for (size_t i = 0; i < ARRAY_SIZE(flags_bad); i++)
                assert_int_equal(ob_env_flag_check(flags_bad[i], &err), -EINVAL);
        assert_int_equal(ob_env_name_check(NULL, &err), -EINVAL);

        memset(long63, 'a', 63), long63[63] = '\0';
        memset(long64, 'a', 64), long64[64] = '\0';
        memset(long65, 'a', 65), long65[65] = '\0';
        assert_int_equal(ob_env_name_check(long63, &err), 0);
        assert_int_equal(ob_env_name_check(long64, &err), -EINVAL);
        assert_int_equal(ob_env_flag_check(long63, &err), 0);
        assert_int_equal(ob_env_flag_check(long64, &err), -EINVAL);
        assert_int_equal(ob_env_owner_check(long64, &err), 0);
        assert_int_equal(ob_env_owner_check(long65, &err), -EINVAL);
        assert_int_equal(ob_env_name_check("Bad_Name", &err), -EINVAL);
        assert_non_null(strstr(err.message, "Bad_Name"));
}

static void test_config_defaults(void **state)
{
        _cleanup_free_ char *missing = NULL;
        ob_env_config c, d;
        ob_error err = {0};

        ob_env_config_defaults(&d);
        assert_int_equal(d.max_environments_per_owner, 3);
        assert_int_equal(d.max_memory_mb_per_owner, 0);
        assert_int_equal(d.default_ttl_s, 48 * 3600);
        assert_int_equal(d.max_ttl_without_approval_s, 7 * 86400);
        assert_int_equal(d.idle_stop_after_s, 24 * 3600);
        assert_int_equal(d.exec_spare_idle_s, 600);

        /* The default file, when absent, is all defaults (skip if this host
         * has one). */
        assert_int_equal(unsetenv("OMNIBASE_CONFIG"), 0);
        if (access("/etc/omnibase/config.json", F_OK) != 0) {
                memset(&c, 0x55, sizeof(c));
                assert_int_equal(ob_env_config_load(NULL, &c, &err), 0);
                assert_memory_equal(&c, &d, sizeof(c));
        }
        /* A named file that is missing is an error, by argument or by env. */
        assert_true(asprintf(&missing, "%s/nope.json", tmpdir) > 0);
        memset(&c, 0x55, sizeof(c));
        assert_int_equal(ob_env_config_load(missing, &c, &err), -ENOENT);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, missing));
        assert_int_equal(c.max_environments_per_owner, 0x5555555555555555LL);
        assert_int_equal(setenv("OMNIBASE_CONFIG", missing, 1), 0);
        assert_int_equal(ob_env_config_load(NULL, &c, &err), -ENOENT);
        assert_int_equal(unsetenv("OMNIBASE_CONFIG"), 0);
}

static void test_config_values(void **state)
{
        _cleanup_free_ char *p = write_config(
            "good.json", "{\n  \"max_environments_per_owner\": 5,\n"
                         "  \"max_memory_mb_per_owner\": 4096,\n  \"default_ttl\": \"12h\",\n"
                         "  \"max_ttl_without_approval\": 1209600,\n  \"idle_stop_after\": 0,\n"
                         "  \"exec_spare_idle\": \"90s\"\n}\n");
        _cleanup_free_ char *q = write_config("partial.json", "{\"default_ttl\": \"30m\"}");
        ob_env_config c;
        ob_error err = {0};

        assert_int_equal(ob_env_config_load(p, &c, &err), 0);
        assert_int_equal(c.max_environments_per_owner, 5);
        assert_int_equal(c.max_memory_mb_per_owner, 4096);
        assert_int_equal(c.default_ttl_s, 12 * 3600);
        assert_int_equal(c.max_ttl_without_approval_s, 14 * 86400);
        assert_int_equal(c.idle_stop_after_s, 0);
        assert_int_equal(c.exec_spare_idle_s, 90);
        /* By $OMNIBASE_CONFIG; keys not given keep their defaults. */
        assert_int_equal(setenv("OMNIBASE_CONFIG", q, 1), 0);
        assert_int_equal(ob_env_config_load(NULL, &c, &err), 0);
        assert_int_equal(unsetenv("OMNIBASE_CONFIG"), 0);
        assert_int_equal(c.default_ttl_s, 1800);
        assert_int_equal(c.max_environments_per_owner, 3);
        assert_int_equal(c.idle_stop_after_s, 86400);
}

/* Each bad file fails with code "invalid" at line:column, named in the text. */
static void expect_bad(const char *name, const char *text, unsigned line, unsigned col,
                       const char *needle)
{
        _cleanup_free_ char *p = write_config(name, text), *where = NULL;
        ob_env_config c;
        ob_error err = {0};

        assert_int_equal(ob_env_config_load(p, &c, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_int_equal(err.line, line);
        assert_int_equal(err.column, col);
        assert_true(asprintf(&where, "%s:%u:%u: ", p, line, col) > 0);
        assert_ptr_equal(strstr(err.message, where), err.message);
        assert_non_null(strstr(err.message, needle));
}

static void test_config_refused(void **state)
{
        expect_bad("key.json", "{\n  \"default_ttl\": \"1h\",\n    \"max_envs\": 2\n}\n", 3, 5,
                   "unknown key \"max_envs\"");
        expect_bad("ttl.json", "{\"default_ttl\": \"1h30m\"}", 1, 17, "1h30m");
        expect_bad("zero.json", "{\"default_ttl\": 0}", 1, 17, "positive");
        expect_bad("neg.json", "{\n\"max_environments_per_owner\": -1}", 2, 31, "non-negative");
        expect_bad("frac.json", "{\"max_memory_mb_per_owner\": 1.5}", 1, 29, "integer");
        expect_bad("type.json", "{\"idle_stop_after\": true}", 1, 21, "duration");
        expect_bad("array.json", "[1]", 1, 1, "JSON object");
        expect_bad("syntax.json", "{\n  \"default_ttl\": \"1h\",\n}", 3, 1, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_durations_ok),    cmocka_unit_test(test_durations_refused),
            cmocka_unit_test(test_duration_format), cmocka_unit_test(test_states),
            cmocka_unit_test(test_names),           cmocka_unit_test(test_config_defaults),
            cmocka_unit_test(test_config_values),   cmocka_unit_test(test_config_refused),
        };
        int r;

        if (!mkdtemp(tmpdir))
                ob_test_skip("cannot make a directory under /var/tmp");
        r = cmocka_run_group_tests(tests, NULL, NULL);
        ob_rm_rf(tmpdir);
        return r;
}
