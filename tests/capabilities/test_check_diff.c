/* SPDX-License-Identifier: Apache-2.0 */
/* Random differential test of the indexed ob_capset_check against a naive
 * reference (scan every rule in set order), fixed seed, tens of thousands
 * of cases across file and network rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/capabilities.h>

#include "capabilities/endpoint.h"

#define SEED 0x9e3779b97f4a7c15ULL
static uint64_t rng = SEED;

static unsigned rnd(unsigned n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned)(rng % n);
}

static const char *const segs[] = {"a", "b", "data", "secret", "x.txt", "y.log", "ab", ".", ".."};
#define ARRAY_SIZE_SEGS (sizeof(segs) / sizeof(*segs))

/* A random concrete path (may hold ".", "..", "//" and literal stars). */
static void rand_path(char *buf, size_t size)
{
        size_t n = 0;
        unsigned k = 1 + rnd(5);
        for (unsigned i = 0; i < k; i++) {
                const char *s = rnd(12) == 0 ? "*" : segs[rnd(ARRAY_SIZE_SEGS)];
                n += (size_t)snprintf(buf + n, size - n, "%s%s", rnd(15) ? "/" : "//", s);
        }
}

/* A random path pattern: segments with wildcards and escaped stars mixed in. */
static void rand_pattern(char *buf, size_t size)
{
        static const char *const parts[] = {"a",    "b", "data", "secret", "x", ".txt",
                                            ".log", "*", "*",    "\\*",    "ab"};
        size_t n = 0;
        unsigned k = rnd(4);
        if (rnd(8) == 0)
                n += (size_t)snprintf(buf + n, size - n, "*");
        else
                n += (size_t)snprintf(buf + n, size - n, "/");
        for (unsigned i = 0; i < k; i++) {
                unsigned m = 1 + rnd(2);
                if (i > 0)
                        n += (size_t)snprintf(buf + n, size - n, "/");
                for (unsigned j = 0; j < m; j++)
                        n += (size_t)snprintf(buf + n, size - n, "%s",
                                              parts[rnd(sizeof(parts) / sizeof(*parts))]);
        }
}

static const ob_capability *naive_file(const ob_capset *s, bool deny, ob_cap_kind k,
                                       const char *canon)
{
        for (size_t i = 0; i < ob_capset_count(s, deny); i++) {
                const ob_capability *c = ob_capset_get(s, deny, i);
                if (c->kind == k && ob_pattern_match(c->target, canon))
                        return c;
        }
        return NULL;
}

/* Naive endpoint match, written apart from cap_endpoint_match. */
static bool naive_ep(const cap_endpoint *r, const cap_endpoint *q)
{
        if (q->port_lo < r->port_lo || q->port_lo > r->port_hi)
                return false;
        if (r->family == AF_UNSPEC)
                return ob_pattern_match(r->host, q->host);
        if (r->family != q->family)
                return false;
        for (unsigned b = 0; b < r->prefix_len; b++) {
                unsigned bit = 7 - b % 8;
                if (((r->addr[b / 8] >> bit) & 1) != ((q->addr[b / 8] >> bit) & 1))
                        return false;
        }
        return true;
}

static const ob_capability *naive_net(const ob_capset *s, bool deny, const cap_endpoint *q)
{
        for (size_t i = 0; i < ob_capset_count(s, deny); i++) {
                const ob_capability *c = ob_capset_get(s, deny, i);
                cap_endpoint r;
                if (c->kind != OB_CAP_NETWORK_CONNECT)
                        continue;
                assert_int_equal(cap_endpoint_parse(c->target, true, &r, NULL), 0);
                if (naive_ep(&r, q))
                        return c;
        }
        return NULL;
}

/* Outcomes seen: [0] allowed, [1] denied by a rule, [2] default deny. */
static size_t outcomes[3];

/* Each test starts from the seed with no outcomes counted, whichever ran
 * before it (or failed half-way). */
static int reset(void **state)
{
        (void)state;
        rng = SEED;
        memset(outcomes, 0, sizeof(outcomes));
        return 0;
}

static void expect(const ob_capset *s, ob_cap_kind k, const char *target, const ob_capability *deny,
                   const ob_capability *grant)
{
        ob_decision d;
        outcomes[deny ? 1 : grant ? 0 : 2]++;
        assert_int_equal(ob_capset_check(s, k, target, &d), 0);
        if (deny) {
                if (d.allowed || !d.denied_by_rule || d.rule != deny)
                        fail_msg("%s: want denial %s", target, deny->target);
        } else if (grant) {
                if (!d.allowed || d.rule != grant)
                        fail_msg("%s: want grant %s, got %s", target, grant->target,
                                 d.rule ? d.rule->target : "(none)");
        } else if (d.allowed || d.rule) {
                fail_msg("%s: want default deny, got %s", target, d.rule->target);
        }
}

static void test_files(void **state)
{
        size_t cases = 0;
        for (int round = 0; round < 200; round++) {
                ob_capset *s = NULL;
                unsigned n = 1 + rnd(80);
                assert_int_equal(ob_capset_new(&s), 0);
                for (unsigned i = 0; i < n; i++) {
                        char pat[256];
                        rand_pattern(pat, sizeof(pat));
                        (void)ob_capset_add(s, rnd(4) == 0, (ob_cap_kind)rnd(3), pat, NULL, NULL);
                }
                for (int t = 0; t < 100; t++, cases++) {
                        char path[256], *canon = NULL;
                        ob_cap_kind k = (ob_cap_kind)rnd(3);
                        rand_path(path, sizeof(path));
                        assert_int_equal(ob_path_canonicalize(path, &canon), 0);
                        expect(s, k, path, naive_file(s, true, k, canon),
                               naive_file(s, false, k, canon));
                        free(canon);
                }
                ob_capset_free(s);
        }
        assert_true(cases >= 20000);
        /* the random sets must exercise every outcome, not just default deny */
        printf("allowed %zu, denied by rule %zu, default deny %zu\n", outcomes[0], outcomes[1],
               outcomes[2]);
        for (int i = 0; i < 3; i++)
                assert_true(outcomes[i] > cases / 20);
}

static void rand_rule_ep(char *buf, size_t size)
{
        static const char *const hosts[] = {
            "a.example.com", "b.example.com", "*.example.com", "a.*", "*",
            "c.example.org", "10.0.*",        "*.org"};
        static const unsigned v4len[] = {8, 16, 24, 30, 31, 32, 32, 0};
        char ports[32];
        unsigned lo = 1 + rnd(10), hi = lo + rnd(4);
        if (rnd(6) == 0)
                snprintf(ports, sizeof(ports), "*");
        else if (rnd(2))
                snprintf(ports, sizeof(ports), "%u", lo);
        else
                snprintf(ports, sizeof(ports), "%u-%u", lo, hi);
        switch (rnd(3)) {
        case 0: {
                unsigned len = v4len[rnd(8)];
                uint32_t a = (10u << 24) | (rnd(4) << 8) | rnd(8), m;
                char txt[INET_ADDRSTRLEN];
                struct in_addr ia;
                m = len ? ~0u << (32 - len) : 0;
                ia.s_addr = htonl(a & m);
                inet_ntop(AF_INET, &ia, txt, sizeof(txt));
                if (len == 32)
                        snprintf(buf, size, "%s:%s", txt, ports);
                else
                        snprintf(buf, size, "%s/%u:%s", txt, len, ports);
                break;
        }
        case 1: {
                unsigned len = rnd(2) ? 128 : 125;
                unsigned last = rnd(8) & (len == 128 ? 7 : 0);
                if (len == 128)
                        snprintf(buf, size, "[2001:db8::%u]:%s", last, ports);
                else
                        snprintf(buf, size, "[2001:db8::%u/125]:%s", last, ports);
                break;
        }
        default:
                snprintf(buf, size, "%s:%s", hosts[rnd(8)], ports);
        }
}

static void rand_req_ep(char *buf, size_t size)
{
        static const char *const hosts[] = {"a.example.com", "b.example.com", "c.example.org",
                                            "a.b", "x.example.com"};
        unsigned port = 1 + rnd(14);
        switch (rnd(4)) {
        case 0:
                snprintf(buf, size, "10.0.%u.%u:%u", rnd(4), rnd(8), port);
                break;
        case 1:
                snprintf(buf, size, "[::ffff:10.0.%u.%u]:%u", rnd(4), rnd(8), port);
                break;
        case 2:
                snprintf(buf, size, "[2001:db8::%u]:%u", rnd(8), port);
                break;
        default:
                snprintf(buf, size, "%s:%u", hosts[rnd(5)], port);
        }
}

static void test_network(void **state)
{
        size_t cases = 0;
        for (int round = 0; round < 200; round++) {
                ob_capset *s = NULL;
                unsigned n = 1 + rnd(60);
                assert_int_equal(ob_capset_new(&s), 0);
                for (unsigned i = 0; i < n; i++) {
                        char t[128];
                        ob_error err = {0};
                        rand_rule_ep(t, sizeof(t));
                        if (ob_capset_add(s, rnd(4) == 0, OB_CAP_NETWORK_CONNECT, t, NULL, &err) <
                            0)
                                fail_msg("%s: %s", t, err.message);
                }
                for (int t = 0; t < 100; t++, cases++) {
                        char req[128];
                        cap_endpoint q;
                        rand_req_ep(req, sizeof(req));
                        assert_int_equal(cap_endpoint_parse(req, false, &q, NULL), 0);
                        expect(s, OB_CAP_NETWORK_CONNECT, req, naive_net(s, true, &q),
                               naive_net(s, false, &q));
                }
                ob_capset_free(s);
        }
        assert_true(cases >= 20000);
        /* the random sets must exercise every outcome, not just default deny */
        printf("allowed %zu, denied by rule %zu, default deny %zu\n", outcomes[0], outcomes[1],
               outcomes[2]);
        for (int i = 0; i < 3; i++)
                assert_true(outcomes[i] > cases / 20);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(test_files, reset),
            cmocka_unit_test_setup(test_network, reset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
