/* SPDX-License-Identifier: Apache-2.0 */
/* NETWORK_CONNECT endpoint syntax, canonical form, matching and algebra. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "capabilities/endpoint.h"

/* Parses a rule and checks its canonical text. */
static cap_endpoint rule_is(const char *in, const char *want)
{
        cap_endpoint ep;
        ob_error err = {0};
        char buf[320];
        int r = cap_endpoint_parse(in, true, &ep, &err);
        if (r < 0)
                fail_msg("%s: %s", in, err.message);
        assert_int_equal(cap_endpoint_format(&ep, buf, sizeof(buf)), 0);
        assert_string_equal(buf, want);
        return ep;
}

static void bad(const char *in, bool rule, const char *msg)
{
        cap_endpoint ep;
        ob_error err = {0};
        assert_int_equal(cap_endpoint_parse(in, rule, &ep, &err), -EINVAL);
        if (msg && !strstr(err.message, msg))
                fail_msg("%s: message \"%s\" lacks \"%s\"", in, err.message, msg);
}

static void test_rules(void **state)
{
        cap_endpoint ep = rule_is("10.0.0.5:443", "10.0.0.5:443");
        uint8_t want[4] = {10, 0, 0, 5};
        assert_int_equal(ep.family, AF_INET);
        assert_int_equal(ep.prefix_len, 32);
        assert_memory_equal(ep.addr, want, 4);
        assert_int_equal(ep.port_lo, 443);
        assert_int_equal(ep.port_hi, 443);
        ep = rule_is("10.0.0.0/8:80-90", "10.0.0.0/8:80-90");
        assert_int_equal(ep.prefix_len, 8);
        assert_int_equal(ep.port_hi, 90);
        rule_is("10.0.0.0/8:*", "10.0.0.0/8:*");
        rule_is("10.0.0.0/8:1-65535", "10.0.0.0/8:*");
        rule_is("0.0.0.0/0:5-5", "0.0.0.0/0:5");
        rule_is("[::1]:443", "[::1]:443");
        rule_is("[2001:DB8::/32]:1-2", "[2001:db8::/32]:1-2");
        rule_is("[::ffff:10.0.0.5]:80", "10.0.0.5:80");       /* mapped → IPv4 */
        rule_is("[::ffff:10.0.0.0/104]:80", "10.0.0.0/8:80"); /* mapped prefix */
        ep = rule_is("Example.COM:443", "example.com:443");
        assert_int_equal(ep.family, AF_UNSPEC);
        assert_false(ep.host_is_pattern);
        ep = rule_is("*.example.com:*", "*.example.com:*");
        assert_true(ep.host_is_pattern);
        rule_is("*:443", "*:443");
        rule_is("10.0.0.*:22", "10.0.0.*:22");
        rule_is("my_host-1:8080", "my_host-1:8080");
}

static void test_bad_rules(void **state)
{
        char longhost[300];
        bad("", true, "empty");
        bad("10.0.0.5", true, "host:port");
        bad("10.0.0.5:0", true, "port");
        bad("10.0.0.5:65536", true, "port");
        bad("10.0.0.5:080", true, "port");
        bad("10.0.0.5:90-80", true, "port");
        bad("10.0.0.5:-1", true, "port");
        bad("10.0.0.5:", true, "port");
        bad("10.0.0.5:1-", true, "port");
        bad("10.0.0.5/8:80", true, "bits set");
        bad("10.0.0.0/33:80", true, "prefix");
        bad("10.0.0.0/:80", true, "prefix");
        bad("10.0.0.0/08:80", true, "prefix");
        bad("10.0.0.256:80", true, "host");
        bad("::1:80", true, "brackets");
        bad("[::1:80", true, "[IPv6]");
        bad("[::1]80", true, "[IPv6]");
        bad("[::g]:80", true, "IPv6");
        bad("[::1/129]:80", true, "prefix");
        bad("a..b:80", true, "host");
        bad("a b:80", true, "host");
        bad(".a:80", true, "host");
        bad("a.:80", true, "host");
        bad("1.2.3:80", true, "host"); /* numeric last label: not a name */
        bad("123:80", true, "host");
        bad(":80", true, "host");
        memset(longhost, 'a', sizeof(longhost));
        strcpy(longhost + 260, ".com:80");
        bad(longhost, true, "host");
        memset(longhost, 'a', 64);
        strcpy(longhost + 64, ".com:80");
        bad(longhost, true, "host"); /* label over 63 */
        bad(NULL, true, NULL);
}

static void test_requests(void **state)
{
        cap_endpoint ep;
        assert_int_equal(cap_endpoint_parse("1.2.3.4:80", false, &ep, NULL), 0);
        assert_string_equal(ep.host, "1.2.3.4");
        assert_int_equal(cap_endpoint_parse("[::1]:443", false, &ep, NULL), 0);
        assert_string_equal(ep.host, "::1");
        assert_int_equal(ep.family, AF_INET6);
        assert_int_equal(cap_endpoint_parse("[::FFFF:1.2.3.4]:443", false, &ep, NULL), 0);
        assert_int_equal(ep.family, AF_INET);
        assert_string_equal(ep.host, "1.2.3.4");
        assert_int_equal(cap_endpoint_parse("Api.Example.com:443", false, &ep, NULL), 0);
        assert_string_equal(ep.host, "api.example.com");
        bad("1.2.3.4:*", false, "port");
        bad("1.2.3.4:80-81", false, "port");
        bad("10.0.0.0/8:80", false, "prefix");
        bad("*.example.com:80", false, "host");
}

static bool match(const char *rule, const char *req)
{
        cap_endpoint a, b;
        assert_int_equal(cap_endpoint_parse(rule, true, &a, NULL), 0);
        assert_int_equal(cap_endpoint_parse(req, false, &b, NULL), 0);
        return cap_endpoint_match(&a, &b);
}

static void test_match(void **state)
{
        assert_true(match("10.0.0.5:443", "10.0.0.5:443"));
        assert_false(match("10.0.0.5:443", "10.0.0.5:444"));
        assert_false(match("10.0.0.5:443", "10.0.0.6:443"));
        assert_true(match("10.0.0.0/8:*", "10.255.1.2:1"));
        assert_false(match("10.0.0.0/8:*", "11.0.0.0:1"));
        assert_true(match("10.0.0.0/9:*", "10.127.0.0:1"));
        assert_false(match("10.0.0.0/9:*", "10.128.0.0:1"));
        assert_true(match("[2001:db8::/32]:80-90", "[2001:db8:1::5]:85"));
        assert_false(match("[2001:db8::/32]:80-90", "[2001:db9::5]:85"));
        assert_false(match("[::/0]:*", "1.2.3.4:80")); /* families differ */
        assert_true(match("10.0.0.0/8:80", "[::ffff:10.1.2.3]:80"));
        assert_true(match("*.example.com:443", "api.example.com:443"));
        assert_false(match("*.example.com:443", "example.com:443"));
        assert_true(match("example.com:443", "EXAMPLE.com:443"));
        assert_false(match("localhost:80", "127.0.0.1:80"));
        assert_true(match("10.0.0.*:80", "10.0.0.7:80")); /* pattern on address text */
        assert_true(match("*:*", "[::1]:9"));
}

static bool contained(const char *a, const char *b)
{
        cap_endpoint x, y;
        assert_int_equal(cap_endpoint_parse(a, true, &x, NULL), 0);
        assert_int_equal(cap_endpoint_parse(b, true, &y, NULL), 0);
        return cap_endpoint_contained(&x, &y);
}

static bool overlap(const char *a, const char *b)
{
        cap_endpoint x, y;
        bool r = false, r2 = false;
        assert_int_equal(cap_endpoint_parse(a, true, &x, NULL), 0);
        assert_int_equal(cap_endpoint_parse(b, true, &y, NULL), 0);
        assert_int_equal(cap_endpoint_overlap(&x, &y, &r), 0);
        assert_int_equal(cap_endpoint_overlap(&y, &x, &r2), 0);
        assert_int_equal(r, r2); /* symmetric */
        return r;
}

static void test_algebra(void **state)
{
        assert_true(contained("10.0.0.5:443", "10.0.0.0/8:400-500"));
        assert_false(contained("10.0.0.5:443", "10.0.0.0/8:444-500"));
        assert_false(contained("10.0.0.0/8:80", "10.0.0.0/16:80"));
        assert_true(contained("10.1.0.0/16:80", "10.0.0.0/8:*"));
        assert_false(contained("10.0.0.0/8:80", "[::/0]:*"));
        assert_true(contained("10.0.0.0/8:80", "*:*"));
        assert_true(contained("10.0.0.5:80", "10.0.0.*:80"));
        assert_false(contained("10.0.0.0/24:80", "10.0.0.*:80")); /* conservative */
        assert_true(contained("a.example.com:80", "*.example.com:80"));
        assert_true(contained("*.a.example.com:80", "*.example.com:80"));
        assert_false(contained("*.example.com:80", "a.example.com:80"));
        assert_true(contained("a.com:80", "a.com:80"));
        assert_false(contained("a.com:80", "b.com:80"));
        assert_false(contained("*.com:80", "0.0.0.0/0:*"));
        assert_true(overlap("10.0.0.0/8:80", "10.1.2.3:*"));
        assert_false(overlap("10.0.0.0/8:80", "10.1.2.3:81"));
        assert_false(overlap("10.0.0.0/8:80", "11.0.0.0/8:80"));
        assert_false(overlap("10.0.0.0/8:80", "[::/0]:80"));
        assert_false(overlap("10.0.0.0/8:80", "example.com:80"));
        assert_false(overlap("10.0.0.0/8:80", "*.example.com:80"));
        assert_true(overlap("10.0.0.0/8:80", "10.*:80"));
        assert_true(overlap("10.0.0.5:80", "10.*:80"));
        assert_false(overlap("11.0.0.5:80", "10.*:80"));
        assert_true(overlap("[::/0]:80", "*:80"));
        assert_true(overlap("*.example.com:80", "a.*:80"));
        assert_false(overlap("*.example.com:80", "*.example.org:80"));
        assert_true(overlap("a.example.com:80", "*.example.com:80"));
        assert_false(overlap("a.example.com:80", "b.example.com:80"));
        assert_true(overlap("a.example.com:80", "a.example.com:80"));
}

static void test_format_nospace(void **state)
{
        cap_endpoint ep;
        char buf[4];
        assert_int_equal(cap_endpoint_parse("example.com:443", true, &ep, NULL), 0);
        assert_int_equal(cap_endpoint_format(&ep, buf, sizeof(buf)), -ENOSPC);
        assert_true(cap_addr_in_prefix(AF_INET, (const uint8_t *)"\x0a\x01\x02\x03",
                                       (const uint8_t *)"\x0a\x00\x00\x00", 8));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rules),    cmocka_unit_test(test_bad_rules),
            cmocka_unit_test(test_requests), cmocka_unit_test(test_match),
            cmocka_unit_test(test_algebra),  cmocka_unit_test(test_format_nospace),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
