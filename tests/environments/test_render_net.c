/* SPDX-License-Identifier: Apache-2.0 */
/* The rendered NetworkPolicy means what the local allowlist means: for
 * random capability sets (IPv4 and IPv6 CIDRs, port ranges, denials inside
 * and around grants, "*"), a decision over the rendered egress rules (as a
 * CNI reads them: some rule with an ipBlock holding the address outside its
 * excepts and a TCP port range holding the port) agrees with ob_net_decide
 * over the compiled maps on random endpoints. Plus fixed cases: a denial
 * inside a grant is an `except`; a host name is refused. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capabilities/endpoint.h"
#include "environments/render_k8s.h"
#include "network/network.h"

static bool in_cidr(int af, const uint8_t *a, const char *text)
{
        char buf[80];
        uint8_t net[16] = {0};
        char *slash;
        int naf;

        snprintf(buf, sizeof(buf), "%s", text);
        slash = strchr(buf, '/');
        assert_non_null(slash);
        *slash = '\0';
        naf = strchr(buf, ':') ? AF_INET6 : AF_INET;
        assert_int_equal(inet_pton(naf, buf, net), 1);
        return naf == af && cap_addr_in_prefix(af, a, net, (unsigned)atoi(slash + 1));
}

/* The NetworkPolicy decision, from the JSON alone. */
static bool np_allows(const cJSON *egress, int af, const uint8_t *a, uint16_t port)
{
        const cJSON *rule, *peer, *p, *x;

        cJSON_ArrayForEach (rule, egress) {
                bool addr_ok = false, port_ok = false;
                cJSON_ArrayForEach (peer, cJSON_GetObjectItem(rule, "to")) {
                        const cJSON *b = cJSON_GetObjectItem(peer, "ipBlock");
                        bool hit = in_cidr(af, a, cJSON_GetObjectItem(b, "cidr")->valuestring);
                        cJSON_ArrayForEach (x, cJSON_GetObjectItem(b, "except"))
                                hit = hit && !in_cidr(af, a, x->valuestring);
                        addr_ok = addr_ok || hit;
                }
                cJSON_ArrayForEach (p, cJSON_GetObjectItem(rule, "ports")) {
                        const cJSON *end = cJSON_GetObjectItem(p, "endPort");
                        int lo = cJSON_GetObjectItem(p, "port")->valueint;
                        int hi = end ? end->valueint : lo;
                        if (streq(cJSON_GetObjectItem(p, "protocol")->valuestring, "TCP") &&
                            port >= lo && port <= hi)
                                port_ok = true;
                }
                if (addr_ok && port_ok)
                        return true;
        }
        return false;
}

static bool local_allows(const ob_capset *set, int af, const uint8_t *a, uint16_t port)
{
        ob_net_link l = {.netns_fd = -1};
        ob_net_rules rules = {0};
        ob_net_entry *e = NULL;
        size_t n = 0;
        uint16_t pol;
        bool ok;
        ob_error err = {0};

        assert_int_equal(ob_net_rules_build(set, &l, NULL, NULL, &rules, &err), 0);
        assert_int_equal(ob_net_compile(&rules, &e, &n), 0);
        ok = ob_net_decide(e, n, af, a, port, &pol);
        ob_net_rules_done(&rules);
        free(e);
        return ok;
}

/* A random address near 10.1.0.0 / fd00:1:: (few bits vary: overlaps are common). */
static void random_addr(int af, uint8_t *a)
{
        memset(a, 0, 16);
        if (af == AF_INET) {
                a[0] = 10, a[1] = 1, a[2] = (uint8_t)(rand() % 4), a[3] = (uint8_t)(rand() % 8);
        } else {
                a[0] = 0xfd, a[3] = 1, a[13] = (uint8_t)(rand() % 4), a[15] = (uint8_t)(rand() % 8);
        }
}

static void random_target(char *buf, size_t size)
{
        int af = rand() % 3 ? AF_INET : AF_INET6, k = rand() % 10;
        uint8_t a[16];
        char ip[INET6_ADDRSTRLEN], ports[32];
        unsigned lo = 1 + (unsigned)(rand() % 12), hi = lo + (unsigned)(rand() % 6);
        unsigned plen =
            af == AF_INET ? 22 + (unsigned)(rand() % 11) : 118 + (unsigned)(rand() % 11);

        if (k == 0)
                snprintf(ports, sizeof(ports), "*");
        else if (k < 4)
                snprintf(ports, sizeof(ports), "%u", lo);
        else
                snprintf(ports, sizeof(ports), "%u-%u", lo, hi);
        if (rand() % 25 == 0) {
                snprintf(buf, size, "*:%s", ports);
                return;
        }
        random_addr(af, a);
        for (unsigned i = 0; i < 16; i++) { /* a CIDR names its network address */
                unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
                if (bits < 8)
                        a[i] &= (uint8_t)(0xff00u >> bits);
        }
        inet_ntop(af, a, ip, sizeof(ip));
        snprintf(buf, size, af == AF_INET ? "%s/%u:%s" : "[%s/%u]:%s", ip, plen, ports);
}

static void test_random_sets(void **state)
{
        (void)state;
        srand(12345);
        for (int round = 0; round < 300; round++) {
                ob_capset *set = NULL;
                cJSON *egress = NULL;
                ob_error err = {0};
                char t[96];
                assert_int_equal(ob_capset_new(&set), 0);
                for (int i = 0, n = 1 + rand() % 4; i < n; i++) {
                        random_target(t, sizeof(t));
                        assert_int_equal(
                            ob_capset_add(set, false, OB_CAP_NETWORK_CONNECT, t, NULL, &err), 0);
                }
                for (int i = 0, n = rand() % 4; i < n; i++) {
                        random_target(t, sizeof(t));
                        assert_int_equal(
                            ob_capset_add(set, true, OB_CAP_NETWORK_CONNECT, t, NULL, &err), 0);
                }
                assert_int_equal(ob_k8s_egress(set, &egress, NULL, &err), 0);
                for (int k = 0; k < 400; k++) {
                        int af = rand() % 3 ? AF_INET : AF_INET6;
                        uint8_t a[16];
                        uint16_t port =
                            (uint16_t)(rand() % 25 == 0 ? 1 + rand() % 65535 : 1 + rand() % 20);
                        bool local, np;
                        random_addr(af, a);
                        local = local_allows(set, af, a, port);
                        np = np_allows(egress, af, a, port);
                        if (local != np) {
                                char ip[INET6_ADDRSTRLEN], *caps = NULL, *js = cJSON_Print(egress);
                                ob_capset_to_json(set, &caps);
                                inet_ntop(af, a, ip, sizeof(ip));
                                print_error("%s port %u: local %d, NetworkPolicy %d\n%s\n%s\n", ip,
                                            port, local, np, caps, js);
                                fail();
                        }
                }
                cJSON_Delete(egress);
                ob_capset_free(set);
        }
}

static cJSON *render(const char *const *grants, const char *const *denials, int *ret_r,
                     ob_error *err)
{
        ob_capset *set = NULL;
        cJSON *egress = NULL;

        assert_int_equal(ob_capset_new(&set), 0);
        for (size_t i = 0; grants[i]; i++)
                assert_int_equal(
                    ob_capset_add(set, false, OB_CAP_NETWORK_CONNECT, grants[i], NULL, err), 0);
        for (size_t i = 0; denials[i]; i++)
                assert_int_equal(
                    ob_capset_add(set, true, OB_CAP_NETWORK_CONNECT, denials[i], NULL, err), 0);
        *ret_r = ob_k8s_egress(set, &egress, NULL, err);
        ob_capset_free(set);
        return egress;
}

static void test_except(void **state)
{
        const char *g[] = {"10.0.0.0/8:443", NULL}, *d[] = {"10.9.0.0/16:443", NULL};
        ob_error err = {0};
        int r;
        cJSON *e = render(g, d, &r, &err);
        char *text = cJSON_PrintUnformatted(e);

        (void)state;
        assert_int_equal(r, 0);
        assert_string_equal(text, "[{\"to\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":"
                                  "[\"10.9.0.0/16\"]}}],\"ports\":[{\"protocol\":\"TCP\",\"port\":"
                                  "443},{\"protocol\":\"UDP\",\"port\":443}]}]");
        free(text);
        cJSON_Delete(e);
}

static void test_refused(void **state)
{
        const char *g[] = {"10.0.0.0/8:443", NULL}, *d[] = {"*.example.com:443", NULL};
        const char *g2[] = {"host.omnibase.internal:8080", NULL}, *none[] = {NULL};
        ob_error err = {0};
        int r;

        (void)state;
        assert_null(render(g, d, &r, &err));
        assert_int_equal(r, -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, "*.example.com"));
        assert_non_null(strstr(err.message, "host pattern"));
        err = (ob_error){0};
        assert_null(render(g2, none, &r, &err));
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(err.message, "host.omnibase.internal"));
}

static cJSON *render_names(const char *const *grants, const char *const *denials,
                           cJSON **ret_resolved)
{
        ob_capset *set = NULL;
        cJSON *egress = NULL;
        ob_error err = {0};

        assert_int_equal(ob_capset_new(&set), 0);
        for (size_t i = 0; grants[i]; i++)
                assert_int_equal(
                    ob_capset_add(set, false, OB_CAP_NETWORK_CONNECT, grants[i], NULL, &err), 0);
        for (size_t i = 0; denials[i]; i++)
                assert_int_equal(
                    ob_capset_add(set, true, OB_CAP_NETWORK_CONNECT, denials[i], NULL, &err), 0);
        assert_int_equal(ob_k8s_egress(set, &egress, ret_resolved, &err), 0);
        ob_capset_free(set);
        return egress;
}

static bool has_string(const cJSON *list, const char *s)
{
        const cJSON *v;
        cJSON_ArrayForEach (v, list)
                if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0)
                        return true;
        return false;
}

/* A granted name: its addresses of render time (said in *resolved), and
 * egress to the cluster's DNS so that the workload can look it up. */
static void test_names_resolved_at_render(void **state)
{
        const char *g[] = {"localhost:8080", "nonexistent.invalid:443", NULL}, *none[] = {NULL};
        cJSON *resolved = NULL, *e = render_names(g, none, &resolved), *last;
        /* 53 appears only in the DNS rule */
        char *text = cJSON_PrintUnformatted(e);

        (void)state;
        assert_non_null(resolved);
        assert_true(
            has_string(cJSON_GetObjectItemCaseSensitive(resolved, "localhost"), "127.0.0.1"));
        /* a name that does not resolve grants nothing, and says so */
        assert_int_equal(
            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resolved, "nonexistent.invalid")),
            0);
        assert_non_null(strstr(text, "{\"to\":[{\"ipBlock\":{\"cidr\":\"127.0.0.1/32\"}}],"
                                     "\"ports\":[{\"protocol\":\"TCP\",\"port\":8080},"
                                     "{\"protocol\":\"UDP\",\"port\":8080}]}"));
        assert_null(strstr(text, "443"));
        last = cJSON_GetArrayItem(e, cJSON_GetArraySize(e) - 1);
        assert_non_null(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(last, "to"), 0),
                    "podSelector"),
                "matchLabels"),
            "k8s-app"));
        assert_non_null(strstr(text, "\"port\":53"));
        free(text);
        cJSON_Delete(e);
        cJSON_Delete(resolved);
}

/* A denied name inside a granted CIDR: its addresses are excepted; no
 * grant needs a name, so no DNS egress. */
static void test_denied_name(void **state)
{
        const char *g[] = {"127.0.0.0/8:443", NULL}, *d[] = {"localhost:443", NULL};
        cJSON *resolved = NULL, *e = render_names(g, d, &resolved);
        char *text = cJSON_PrintUnformatted(e);

        (void)state;
        assert_non_null(strstr(text, "\"except\":[\"127.0.0.1/32\"]"));
        assert_null(strstr(text, "kube-dns"));
        assert_true(
            has_string(cJSON_GetObjectItemCaseSensitive(resolved, "localhost"), "127.0.0.1"));
        free(text);
        cJSON_Delete(e);
        cJSON_Delete(resolved);
}

static void test_no_grant(void **state)
{
        const char *none[] = {NULL};
        ob_error err = {0};
        int r;
        cJSON *e = render(none, none, &r, &err);

        (void)state;
        assert_int_equal(r, 0);
        assert_int_equal(cJSON_GetArraySize(e), 0);
        cJSON_Delete(e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_except),
            cmocka_unit_test(test_refused),
            cmocka_unit_test(test_names_resolved_at_render),
            cmocka_unit_test(test_denied_name),
            cmocka_unit_test(test_no_grant),
            cmocka_unit_test(test_random_sets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
