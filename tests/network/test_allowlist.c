/* SPDX-License-Identifier: Apache-2.0 */
/* The allowlist maps decide like the capability set: compiled entries
 * (ob_net_compile, what the BPF programs look up) against ob_capset_check
 * on random CIDR/port-range grants and denials, plus fixed cases. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "network/network.h"

static ob_net_link fake_link(void)
{
        ob_net_link l = {.netns_fd = -1};
        inet_pton(AF_INET, "10.213.0.1", l.host4);
        inet_pton(AF_INET6, "fd6f:6d6e:6200::1", l.host6);
        return l;
}

typedef struct compiled {
        ob_net_rules rules;
        ob_net_entry *e;
        size_t n;
} compiled;

static void compile_set(const ob_capset *set, compiled *c)
{
        ob_net_link l = fake_link();
        ob_error err = {0};

        assert_int_equal(ob_net_rules_build(set, &l, NULL, NULL, &c->rules, &err), 0);
        assert_int_equal(ob_net_compile(&c->rules, &c->e, &c->n), 0);
}

static void compiled_done(compiled *c)
{
        ob_net_rules_done(&c->rules);
        free(c->e);
}

static bool decide(const compiled *c, const char *ip, uint16_t port, const char **ret_policy)
{
        uint8_t a[16];
        int af = strchr(ip, ':') ? AF_INET6 : AF_INET;
        uint16_t pol;
        bool ok;

        assert_int_equal(inet_pton(af, ip, a), 1);
        ok = ob_net_decide(c->e, c->n, af, a, port, &pol);
        if (ret_policy)
                *ret_policy = pol == OB_NET_NO_POLICY    ? "default-deny"
                              : c->rules.policy_ids[pol] ? c->rules.policy_ids[pol]
                                                         : "(none)";
        return ok;
}

static ob_capset *set_of(const char *const *grants, const char *const *denials)
{
        ob_capset *s = NULL;
        assert_int_equal(ob_capset_new(&s), 0);
        for (size_t i = 0; grants && grants[i]; i += 2)
                assert_int_equal(
                    ob_capset_add(s, false, OB_CAP_NETWORK_CONNECT, grants[i], grants[i + 1], NULL),
                    0);
        for (size_t i = 0; denials && denials[i]; i += 2)
                assert_int_equal(ob_capset_add(s, true, OB_CAP_NETWORK_CONNECT, denials[i],
                                               denials[i + 1], NULL),
                                 0);
        return s;
}

static void test_ancestors_and_denials(void **state)
{
        const char *g[] = {"10.0.0.0/8:80",
                           "g8",
                           "10.1.0.0/16:443",
                           "g16",
                           "[fd00::/64]:1-1024",
                           "g6",
                           "host.omnibase.internal:8080",
                           "gh",
                           NULL};
        const char *d[] = {"10.1.2.0/24:80", "d24", NULL};
        ob_capset *s = set_of(g, d);
        compiled c = {0};
        const char *pol;

        compile_set(s, &c);
        assert_true(decide(&c, "10.1.9.9", 80, &pol)); /* via the /8 ancestor */
        assert_string_equal(pol, "g8");
        assert_true(decide(&c, "10.1.9.9", 443, &pol));
        assert_false(decide(&c, "10.2.0.1", 443, &pol));
        assert_string_equal(pol, "default-deny");
        assert_false(decide(&c, "10.1.2.3", 80, &pol)); /* the denial wins */
        assert_string_equal(pol, "d24");
        assert_true(decide(&c, "fd00::5", 1024, NULL));
        assert_false(decide(&c, "fd00::5", 1025, NULL));
        assert_false(decide(&c, "fd00:0:0:1::5", 80, NULL));
        assert_true(decide(&c, "10.213.0.1", 8080, NULL));
        assert_true(decide(&c, "fd6f:6d6e:6200::1", 8080, NULL));
        {
                ob_capset *e = NULL;
                ob_decision dec;
                assert_int_equal(ob_net_rules_to_capset(&c.rules, s, &e), 0);
                assert_int_equal(
                    ob_capset_check(e, OB_CAP_NETWORK_CONNECT, "10.213.0.1:8080", &dec), 0);
                assert_true(dec.allowed);
                assert_string_equal(dec.rule->policy_id, "gh");
                assert_int_equal(ob_capset_check(e, OB_CAP_NETWORK_CONNECT, "10.1.2.3:80", &dec),
                                 0);
                assert_false(dec.allowed);
                assert_string_equal(dec.rule->policy_id, "d24");
                ob_capset_free(e);
        }
        assert_false(decide(&c, "10.213.0.2", 8080, NULL));
        assert_false(decide(&c, "10.1.9.9", 0, NULL)); /* port-less needs every port */
        compiled_done(&c);
        ob_capset_free(s);
}

static void test_star_and_portless(void **state)
{
        const char *g[] = {"*:*", "all", NULL};
        const char *d[] = {"192.168.0.0/16:*", "lan", NULL};
        ob_capset *s = set_of(g, d);
        compiled c = {0};
        const char *pol;

        compile_set(s, &c);
        assert_true(decide(&c, "1.2.3.4", 0, NULL));
        assert_true(decide(&c, "2001:db8::1", 53, NULL));
        assert_false(decide(&c, "192.168.1.1", 0, &pol));
        assert_string_equal(pol, "lan");
        compiled_done(&c);
        ob_capset_free(s);
}

/* Random rule text over a small universe so that rules overlap often. */
static void random_rule(char *buf, size_t size)
{
        static const unsigned lens[] = {8, 16, 24, 26, 28, 30, 32};
        unsigned len = lens[rand() % 7], lo = 1 + (unsigned)rand() % 20,
                 hi = lo + (unsigned)rand() % 6;
        uint32_t a = (10u << 24) | ((unsigned)rand() % 2) << 16 | ((unsigned)rand() % 2) << 8 |
                     (unsigned)rand() % 64;
        a &= len ? ~0u << (32 - len) : 0;
        snprintf(buf, size, "%u.%u.%u.%u/%u:%u-%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
                 a & 255, len, lo, hi);
}

static void test_random_against_capset_check(void **state)
{
        srand(12345);
        for (int round = 0; round < 300; round++) {
                ob_capset *s = NULL;
                compiled c = {0};
                char t[64];
                assert_int_equal(ob_capset_new(&s), 0);
                for (int i = 0, n = 1 + rand() % 6; i < n; i++) {
                        random_rule(t, sizeof(t));
                        assert_int_equal(
                            ob_capset_add(s, false, OB_CAP_NETWORK_CONNECT, t, "g", NULL), 0);
                }
                for (int i = 0, n = rand() % 3; i < n; i++) {
                        random_rule(t, sizeof(t));
                        assert_int_equal(
                            ob_capset_add(s, true, OB_CAP_NETWORK_CONNECT, t, "d", NULL), 0);
                }
                compile_set(s, &c);
                ob_capset *enforced = NULL;
                assert_int_equal(ob_net_rules_to_capset(&c.rules, s, &enforced), 0);
                for (int q = 0; q < 200; q++) {
                        char ip[32], req[48];
                        unsigned port = 1 + (unsigned)rand() % 28;
                        ob_decision dec;
                        snprintf(ip, sizeof(ip), "10.%u.%u.%u", (unsigned)rand() % 2,
                                 (unsigned)rand() % 2, (unsigned)rand() % 64);
                        snprintf(req, sizeof(req), "%s:%u", ip, port);
                        assert_int_equal(ob_capset_check(s, OB_CAP_NETWORK_CONNECT, req, &dec), 0);
                        if (dec.allowed != decide(&c, ip, (uint16_t)port, NULL))
                                fail_msg("round %d: %s: capset %d, maps %d", round, req,
                                         dec.allowed, !dec.allowed);
                        /* the rewritten set (for the sidecar) decides alike */
                        ob_decision dec2;
                        assert_int_equal(
                            ob_capset_check(enforced, OB_CAP_NETWORK_CONNECT, req, &dec2), 0);
                        assert_int_equal(dec2.allowed, dec.allowed);
                }
                ob_capset_free(enforced);
                compiled_done(&c);
                ob_capset_free(s);
        }
}

static void test_host_patterns(void **state)
{
        const char *g[] = {"10.*:80", "gp", "*.example.com:443", "gn", "**:22", "any", NULL};
        const char *d_ip[] = {"10.1.*:*", "dp", NULL};
        const char *d_name[] = {"*.evil.example:*", "dn", NULL};
        ob_capset *s = set_of(g, d_name);
        ob_net_link l = fake_link();
        ob_net_rules rules = {0};
        ob_error err = {0};
        compiled c = {0};

        /* grant patterns grant nothing but "*"; a name-only denial changes nothing */
        compile_set(s, &c);
        assert_false(decide(&c, "10.0.0.1", 80, NULL));
        assert_true(decide(&c, "10.0.0.1", 22, NULL));
        assert_true(decide(&c, "2001:db8::1", 22, NULL));
        compiled_done(&c);
        ob_capset_free(s);
        /* a denial pattern that can match addresses fails closed */
        s = set_of(g, d_ip);
        assert_int_equal(ob_net_rules_build(s, &l, NULL, NULL, &rules, &err), -ENOTSUP);
        assert_non_null(strstr(err.message, "10.1.*:*"));
        assert_null(rules.v);
        ob_capset_free(s);
}

static void test_pool_parse(void **state)
{
        uint8_t net[4];
        unsigned len;

        assert_int_equal(ob_net_parse_pool("10.213.7.9/16", net, &len), 0);
        assert_int_equal(len, 16);
        assert_int_equal(net[2], 0);
        assert_int_equal(net[3], 0);
        assert_int_equal(ob_net_parse_pool("10.0.0.0/31", net, &len), -EINVAL);
        assert_int_equal(ob_net_parse_pool("10.0.0.0", net, &len), -EINVAL);
        assert_int_equal(ob_net_parse_pool("10.0.0.0/x", net, &len), -EINVAL);
        assert_int_equal(ob_net_parse_pool("fd00::/64", net, &len), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ancestors_and_denials),
            cmocka_unit_test(test_star_and_portless),
            cmocka_unit_test(test_random_against_capset_check),
            cmocka_unit_test(test_host_patterns),
            cmocka_unit_test(test_pool_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
