/* SPDX-License-Identifier: Apache-2.0 */
/* Capability sets: kinds, limits, principal, add/get/count, check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/capabilities.h>

static void test_kinds(void **state)
{
        ob_cap_kind k;
        assert_string_equal(ob_cap_kind_to_string(OB_CAP_FILE_READ), "FILE_READ");
        assert_string_equal(ob_cap_kind_to_string(OB_CAP_FILE_WRITE), "FILE_WRITE");
        assert_string_equal(ob_cap_kind_to_string(OB_CAP_FILE_EXEC), "FILE_EXEC");
        assert_string_equal(ob_cap_kind_to_string(OB_CAP_NETWORK_CONNECT), "NETWORK_CONNECT");
        assert_null(ob_cap_kind_to_string(OB_CAP_KIND_MAX));
        assert_null(ob_cap_kind_to_string((ob_cap_kind)-1));
        for (int i = 0; i < OB_CAP_KIND_MAX; i++) {
                assert_int_equal(ob_cap_kind_from_string(ob_cap_kind_to_string(i), &k), 0);
                assert_int_equal(k, i);
        }
        assert_int_equal(ob_cap_kind_from_string("FILE_RAED", &k), -EINVAL);
        assert_int_equal(ob_cap_kind_from_string("file_read", &k), -EINVAL);
        assert_int_equal(ob_cap_kind_from_string(NULL, &k), -EINVAL);
}

static void test_limits(void **state)
{
        ob_limits u = ob_limits_unset(), e;
        ob_capset *s = NULL;
        assert_int_equal(u.memory_mb, OB_LIMIT_UNSET);
        assert_int_equal(u.output_kb, OB_LIMIT_UNSET);
        e = ob_limits_effective(&u);
        assert_int_equal(e.memory_mb, OB_DEFAULT_MEMORY_MB);
        assert_int_equal(e.cpus_milli, OB_DEFAULT_CPUS_MILLI);
        assert_int_equal(e.pids, OB_DEFAULT_PIDS);
        assert_int_equal(e.timeout_s, OB_DEFAULT_TIMEOUT_S);
        assert_int_equal(e.tmpfs_mb, OB_DEFAULT_TMPFS_MB);
        assert_int_equal(e.output_kb, OB_DEFAULT_OUTPUT_KB);
        e = ob_limits_effective(NULL);
        assert_int_equal(e.pids, OB_DEFAULT_PIDS);
        u.memory_mb = 99;
        e = ob_limits_effective(&u);
        assert_int_equal(e.memory_mb, 99);
        assert_int_equal(ob_capset_new(&s), 0);
        assert_int_equal(ob_capset_limits_const(s)->pids, OB_LIMIT_UNSET);
        ob_capset_limits(s)->pids = 7;
        assert_int_equal(ob_capset_limits_const(s)->pids, 7);
        assert_null(ob_capset_limits(NULL));
        assert_null(ob_capset_limits_const(NULL));
        ob_capset_free(s);
}

static void test_principal(void **state)
{
        ob_capset *s = NULL;
        assert_int_equal(ob_capset_new(&s), 0);
        assert_null(ob_capset_principal(s));
        assert_int_equal(ob_capset_set_principal(s, "3F2A9C1E-0000-4000-8000-000000000001"), 0);
        assert_string_equal(ob_capset_principal(s), "3f2a9c1e-0000-4000-8000-000000000001");
        assert_int_equal(ob_capset_set_principal(s, "3f2a9c1e-0000-4000-8000-00000000000"),
                         -EINVAL);
        assert_int_equal(ob_capset_set_principal(s, "3f2a9c1e-0000-4000-8000-0000000000011"),
                         -EINVAL);
        assert_int_equal(ob_capset_set_principal(s, "3f2a9c1e_0000-4000-8000-000000000001"),
                         -EINVAL);
        assert_int_equal(ob_capset_set_principal(s, "3f2a9c1g-0000-4000-8000-000000000001"),
                         -EINVAL);
        assert_int_equal(ob_capset_set_principal(s, NULL), -EINVAL);
        assert_int_equal(ob_capset_set_principal(NULL, "3f2a9c1e-0000-4000-8000-000000000001"),
                         -EINVAL);
        /* unchanged after failures */
        assert_string_equal(ob_capset_principal(s), "3f2a9c1e-0000-4000-8000-000000000001");
        assert_null(ob_capset_principal(NULL));
        assert_null(ob_capset_free(s));
        assert_null(ob_capset_free(NULL));
        assert_int_equal(ob_capset_new(NULL), -EINVAL);
}

static void test_add_get(void **state)
{
        ob_capset *s = NULL;
        ob_error err = {0};
        const ob_capability *c;
        assert_int_equal(ob_capset_new(&s), 0);
        assert_int_equal(ob_capset_add(s, false, OB_CAP_FILE_READ, "/data//x/./y/", "p1", &err), 0);
        assert_int_equal(
            ob_capset_add(s, false, OB_CAP_NETWORK_CONNECT, "10.0.0.5:1-65535", NULL, &err), 0);
        assert_int_equal(ob_capset_add(s, true, OB_CAP_FILE_READ, "/data/secret/*", "p9", &err), 0);
        assert_int_equal(ob_capset_count(s, false), 2);
        assert_int_equal(ob_capset_count(s, true), 1);
        assert_int_equal(ob_capset_count(NULL, true), 0);
        c = ob_capset_get(s, false, 0);
        assert_int_equal(c->kind, OB_CAP_FILE_READ);
        assert_string_equal(c->target, "/data/x/y");
        assert_string_equal(c->policy_id, "p1");
        c = ob_capset_get(s, false, 1);
        assert_string_equal(c->target, "10.0.0.5:*");
        assert_null(c->policy_id);
        assert_null(ob_capset_get(s, false, 2));
        assert_null(ob_capset_get(NULL, false, 0));

        /* errors: nothing added, reason given */
        assert_int_equal(ob_capset_add(s, false, OB_CAP_FILE_READ, "/data/../etc/*", NULL, &err),
                         -EINVAL);
        assert_non_null(strstr(err.message, ".."));
        assert_int_equal(ob_capset_add(s, false, OB_CAP_FILE_READ, "rel/path", NULL, &err),
                         -EINVAL);
        assert_int_equal(ob_capset_add(s, false, OB_CAP_NETWORK_CONNECT, "host", NULL, &err),
                         -EINVAL);
        assert_int_equal(ob_capset_add(s, false, OB_CAP_KIND_MAX, "/x", NULL, &err), -EINVAL);
        assert_int_equal(ob_capset_add(s, false, OB_CAP_FILE_READ, NULL, NULL, &err), -EINVAL);
        assert_int_equal(ob_capset_add(s, false, OB_CAP_FILE_READ, "/x", "", &err), -EINVAL);
        assert_non_null(strstr(err.message, "policy id"));
        assert_int_equal(ob_capset_add(s, false, OB_CAP_FILE_READ, "/x", "\xff", NULL), -EINVAL);
        assert_int_equal(ob_capset_add(NULL, false, OB_CAP_FILE_READ, "/x", NULL, NULL), -EINVAL);
        assert_int_equal(ob_capset_count(s, false), 2);
        ob_capset_free(s);
}

static ob_decision check(const ob_capset *s, ob_cap_kind k, const char *t)
{
        ob_decision d;
        int r = ob_capset_check(s, k, t, &d);
        if (r < 0)
                fail_msg("check %s: %d", t, r);
        return d;
}

static void add(ob_capset *s, bool deny, ob_cap_kind k, const char *t, const char *id)
{
        ob_error err = {0};
        if (ob_capset_add(s, deny, k, t, id, &err) < 0)
                fail_msg("add %s: %s", t, err.message);
}

static void test_check_files(void **state)
{
        ob_capset *s = NULL;
        ob_decision d;
        assert_int_equal(ob_capset_new(&s), 0);
        d = check(s, OB_CAP_FILE_READ, "/data/x");
        assert_false(d.allowed);
        assert_null(d.rule);
        add(s, false, OB_CAP_FILE_READ, "/data/allowed.txt", "p1");
        add(s, false, OB_CAP_FILE_READ, "/data/*", "p2");
        add(s, false, OB_CAP_FILE_READ, "*.txt", "p3");
        add(s, true, OB_CAP_FILE_READ, "/data/secret/*", "p9");
        add(s, true, OB_CAP_FILE_READ, "/data/secret/a", "p10");
        add(s, false, OB_CAP_FILE_WRITE, "/tmp/*", "w1");

        d = check(s, OB_CAP_FILE_READ, "/data/allowed.txt");
        assert_true(d.allowed);
        assert_false(d.denied_by_rule);
        assert_string_equal(d.rule->policy_id, "p1"); /* first grant in set order */
        d = check(s, OB_CAP_FILE_READ, "/data/other");
        assert_true(d.allowed);
        assert_string_equal(d.rule->policy_id, "p2");
        d = check(s, OB_CAP_FILE_READ, "/etc/x.txt");
        assert_string_equal(d.rule->policy_id, "p3");
        d = check(s, OB_CAP_FILE_READ, "/data/secret/a");
        assert_false(d.allowed);
        assert_true(d.denied_by_rule);
        assert_string_equal(d.rule->policy_id, "p9"); /* first denial in set order */
        d = check(s, OB_CAP_FILE_READ, "/data/x/../secret/./b");
        assert_true(d.denied_by_rule);
        d = check(s, OB_CAP_FILE_READ, "/etc/passwd");
        assert_false(d.allowed);
        assert_false(d.denied_by_rule);
        assert_null(d.rule);
        d = check(s, OB_CAP_FILE_WRITE, "/data/allowed.txt");
        assert_false(d.allowed); /* kinds are separate */
        d = check(s, OB_CAP_FILE_WRITE, "/tmp/a/b");
        assert_string_equal(d.rule->policy_id, "w1");
        d = check(s, OB_CAP_FILE_EXEC, "/tmp/a/b");
        assert_false(d.allowed);
        assert_int_equal(ob_capset_check(s, OB_CAP_FILE_READ, "relative", &d), -EINVAL);
        assert_int_equal(ob_capset_check(s, OB_CAP_FILE_READ, "/\xff", &d), -EINVAL);
        assert_int_equal(ob_capset_check(s, OB_CAP_KIND_MAX, "/x", &d), -EINVAL);
        assert_int_equal(ob_capset_check(s, OB_CAP_FILE_READ, NULL, &d), -EINVAL);
        assert_int_equal(ob_capset_check(NULL, OB_CAP_FILE_READ, "/x", &d), -EINVAL);
        assert_int_equal(ob_capset_check(s, OB_CAP_FILE_READ, "/x", NULL), -EINVAL);
        ob_capset_free(s);
}

static void test_check_escaped_star(void **state)
{
        ob_capset *s = NULL;
        ob_decision d;
        assert_int_equal(ob_capset_new(&s), 0);
        add(s, false, OB_CAP_FILE_READ, "/a\\*b", "lit");
        add(s, false, OB_CAP_FILE_READ, "/x\\*/*", "pre");
        d = check(s, OB_CAP_FILE_READ, "/a*b");
        assert_true(d.allowed);
        d = check(s, OB_CAP_FILE_READ, "/aXb");
        assert_false(d.allowed);
        d = check(s, OB_CAP_FILE_READ, "/x*/q");
        assert_string_equal(d.rule->policy_id, "pre");
        d = check(s, OB_CAP_FILE_READ, "/xy/q");
        assert_false(d.allowed);
        ob_capset_free(s);
}

static void test_check_network(void **state)
{
        ob_capset *s = NULL;
        ob_decision d;
        assert_int_equal(ob_capset_new(&s), 0);
        add(s, false, OB_CAP_NETWORK_CONNECT, "10.0.0.5:443", "n1");
        add(s, false, OB_CAP_NETWORK_CONNECT, "10.0.0.0/8:8000-8999", "n2");
        add(s, false, OB_CAP_NETWORK_CONNECT, "*.example.com:443", "n3");
        add(s, false, OB_CAP_NETWORK_CONNECT, "api.example.org:*", "n4");
        add(s, false, OB_CAP_NETWORK_CONNECT, "[2001:db8::/32]:80", "n5");
        add(s, true, OB_CAP_NETWORK_CONNECT, "10.9.0.0/16:*", "d1");
        add(s, true, OB_CAP_NETWORK_CONNECT, "evil.example.com:*", "d2");

        assert_string_equal(check(s, OB_CAP_NETWORK_CONNECT, "10.0.0.5:443").rule->policy_id, "n1");
        assert_false(check(s, OB_CAP_NETWORK_CONNECT, "10.0.0.5:444").allowed);
        assert_string_equal(check(s, OB_CAP_NETWORK_CONNECT, "10.0.0.5:8080").rule->policy_id,
                            "n2");
        assert_string_equal(
            check(s, OB_CAP_NETWORK_CONNECT, "[::ffff:10.1.1.1]:8080").rule->policy_id, "n2");
        d = check(s, OB_CAP_NETWORK_CONNECT, "10.9.1.1:8080");
        assert_true(d.denied_by_rule);
        assert_string_equal(d.rule->policy_id, "d1");
        assert_string_equal(check(s, OB_CAP_NETWORK_CONNECT, "a.example.com:443").rule->policy_id,
                            "n3");
        d = check(s, OB_CAP_NETWORK_CONNECT, "evil.example.com:443");
        assert_true(d.denied_by_rule);
        assert_string_equal(check(s, OB_CAP_NETWORK_CONNECT, "API.example.org:5").rule->policy_id,
                            "n4");
        assert_string_equal(check(s, OB_CAP_NETWORK_CONNECT, "[2001:db8::1]:80").rule->policy_id,
                            "n5");
        assert_false(check(s, OB_CAP_NETWORK_CONNECT, "[2001:db9::1]:80").allowed);
        assert_false(check(s, OB_CAP_NETWORK_CONNECT, "example.com:443").allowed);
        assert_int_equal(ob_capset_check(s, OB_CAP_NETWORK_CONNECT, "10.0.0.5", &d), -EINVAL);
        assert_int_equal(ob_capset_check(s, OB_CAP_NETWORK_CONNECT, "*.x.com:80", &d), -EINVAL);
        ob_capset_free(s);
}

static void test_rule_pointers_stable(void **state)
{
        ob_capset *s = NULL;
        ob_decision d;
        char t[64];
        assert_int_equal(ob_capset_new(&s), 0);
        add(s, false, OB_CAP_FILE_READ, "/first", "p0");
        d = check(s, OB_CAP_FILE_READ, "/first");
        for (int i = 0; i < 1000; i++) {
                snprintf(t, sizeof(t), "/r%d/*", i);
                add(s, false, OB_CAP_FILE_READ, t, NULL);
        }
        assert_string_equal(d.rule->policy_id, "p0"); /* still valid after growth */
        assert_ptr_equal(d.rule, ob_capset_get(s, false, 0));
        assert_true(check(s, OB_CAP_FILE_READ, "/r999/x").allowed);
        assert_ptr_equal(check(s, OB_CAP_FILE_READ, "/r500/x").rule, ob_capset_get(s, false, 501));
        ob_capset_free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kinds),         cmocka_unit_test(test_limits),
            cmocka_unit_test(test_principal),     cmocka_unit_test(test_add_get),
            cmocka_unit_test(test_check_files),   cmocka_unit_test(test_check_escaped_star),
            cmocka_unit_test(test_check_network), cmocka_unit_test(test_rule_pointers_stable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
