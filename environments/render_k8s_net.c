/* SPDX-License-Identifier: Apache-2.0 */
/* NETWORK_CONNECT grants and denials as NetworkPolicy egress rules that
 * allow exactly the same (address, port) pairs as the local allowlist
 * (network/allowlist.c: a denial wins over a grant). Two CIDRs either nest
 * or are disjoint, so each grant splits into port intervals at the bounds
 * of the denials that touch it; on each interval a denial that holds the
 * whole grant removes it, a denial inside it is an ipBlock `except`.
 * Nothing is widened: what cannot be said exactly is refused. Host names
 * are resolved here, on this host, as a local run resolves them at launch
 * (network/rules.c): the policy holds the addresses of render time. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capabilities/endpoint.h"
#include "common/macros.h"
#include "environments/render_k8s.h"
#include "network/network.h"

#define MAX_NETS 512 /* grants and denials as address rules */

typedef struct net {
        int family;
        uint8_t addr[16];
        unsigned prefix_len;
        uint16_t lo, hi;
} net;

typedef struct nets {
        net v[MAX_NETS];
        size_t n;
} nets;

static int push(nets *s, const cap_endpoint *ep, int family, unsigned prefix_len)
{
        net *x;

        if (s->n >= MAX_NETS)
                return -E2BIG;
        x = &s->v[s->n++];
        *x =
            (net){.family = family, .prefix_len = prefix_len, .lo = ep->port_lo, .hi = ep->port_hi};
        if (family == ep->family)
                memcpy(x->addr, ep->addr, 16);
        for (unsigned i = 0; i < 16; i++) { /* the network address, canonical */
                unsigned bits = prefix_len > i * 8 ? prefix_len - i * 8 : 0;
                if (bits < 8)
                        x->addr[i] &= (uint8_t)(0xff00u >> bits);
        }
        return 0;
}

/* The rules of one side as address rules (host names already resolved); a
 * host pattern other than "*" refused (it has no address the cluster could
 * match). */
static int collect(const ob_capset *caps, bool deny, nets *s, ob_error *err)
{
        for (size_t i = 0; i < ob_capset_count(caps, deny); i++) {
                const ob_capability *c = ob_capset_get(caps, deny, i);
                cap_endpoint ep;
                int r;
                if (c->kind != OB_CAP_NETWORK_CONNECT)
                        continue;
                r = cap_endpoint_parse(c->target, true, &ep, err);
                if (r < 0)
                        return r;
                if (ep.family == AF_UNSPEC && ep.host_is_pattern &&
                    ep.host[strspn(ep.host, "*")] == '\0') {
                        r = push(s, &ep, AF_INET, 0);
                        if (r >= 0)
                                r = push(s, &ep, AF_INET6, 0);
                } else if (ep.family == AF_UNSPEC) {
                        return ob_error_set_code(
                            err, "invalid", EINVAL,
                            "NETWORK_CONNECT %s %s: a host pattern cannot be rendered as a "
                            "NetworkPolicy (write addresses, CIDRs or exact host names)",
                            deny ? "denial" : "grant", c->target);
                } else {
                        r = push(s, &ep, ep.family, ep.prefix_len);
                }
                if (r < 0)
                        return ob_error_set_code(err, "invalid", E2BIG,
                                                 "more than %d network rules to render", MAX_NETS);
        }
        return 0;
}

static bool inside(const net *a, const net *b) /* a's addresses all in b */
{
        return a->family == b->family && a->prefix_len >= b->prefix_len &&
               cap_addr_in_prefix(a->family, a->addr, b->addr, b->prefix_len);
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return x < y ? -1 : x > y;
}

static cJSON *cidr(const net *x)
{
        char ip[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 8];

        inet_ntop(x->family, x->addr, ip, sizeof(ip));
        snprintf(text, sizeof(text), "%s/%u", ip, x->prefix_len);
        return cJSON_CreateString(text);
}

/* One egress rule: the grant's block minus the excepts, on lo..hi, TCP and UDP. */
static int add_rule(cJSON *egress, const net *g, const nets *d, const bool *ex, uint32_t lo,
                    uint32_t hi)
{
        cJSON *rule = cJSON_CreateObject(), *to = cJSON_AddArrayToObject(rule, "to");
        cJSON *peer = cJSON_CreateObject(), *block = cJSON_AddObjectToObject(peer, "ipBlock");
        cJSON *ports = cJSON_AddArrayToObject(rule, "ports"), *except = NULL;

        cJSON_AddItemToArray(egress, rule);
        cJSON_AddItemToArray(to, peer);
        cJSON_AddItemToObject(block, "cidr", cidr(g));
        for (size_t k = 0; k < d->n; k++)
                if (ex[k]) {
                        except = except ? except : cJSON_AddArrayToObject(block, "except");
                        cJSON_AddItemToArray(except, cidr(&d->v[k]));
                }
        for (int p = 0; p < 2; p++) {
                cJSON *port = cJSON_CreateObject();
                cJSON_AddStringToObject(port, "protocol", p ? "UDP" : "TCP");
                cJSON_AddNumberToObject(port, "port", lo);
                if (hi > lo)
                        cJSON_AddNumberToObject(port, "endPort", hi);
                cJSON_AddItemToArray(ports, port);
        }
        return cJSON_GetArraySize(egress) > OB_K8S_MAX_EGRESS ? -E2BIG : 0;
}

/* The excepts of grant g on the interval [lo, hi]: false when a denial
 * holds all of g there; ex[k] for each outermost denial inside g. */
static bool excepts(const net *g, const nets *d, uint32_t lo, uint32_t hi, bool *ex)
{
        for (size_t k = 0; k < d->n; k++) {
                const net *x = &d->v[k];
                ex[k] = false;
                if (x->lo > lo || x->hi < hi || x->family != g->family)
                        continue;
                if (inside(g, x))
                        return false;
                if (!inside(x, g))
                        continue;
                ex[k] = true;
                for (size_t j = 0; j < d->n && ex[k]; j++) /* an outer one covers it */
                        if (j != k && d->v[j].lo <= lo && d->v[j].hi >= hi && inside(x, &d->v[j]) &&
                            inside(&d->v[j], g) && (d->v[j].prefix_len < x->prefix_len || j < k))
                                ex[k] = false;
        }
        return true;
}

/* Grant g as rules: its ports cut at every denial bound inside them;
 * neighbouring intervals with the same excepts merged. */
static int render_grant(cJSON *egress, const net *g, const nets *d)
{
        uint32_t cut[2 * MAX_NETS + 2];
        bool ex[MAX_NETS], prev_ex[MAX_NETS];
        size_t n = 0;
        uint32_t start = 0, end = 0;
        bool open = false;
        int r = 0;

        cut[n++] = g->lo;
        cut[n++] = (uint32_t)g->hi + 1;
        for (size_t k = 0; k < d->n; k++) {
                if (d->v[k].lo > g->lo && d->v[k].lo <= g->hi)
                        cut[n++] = d->v[k].lo;
                if (d->v[k].hi >= g->lo && d->v[k].hi < g->hi)
                        cut[n++] = (uint32_t)d->v[k].hi + 1;
        }
        qsort(cut, n, sizeof(cut[0]), cmp_u32);
        for (size_t i = 0; i + 1 < n && r >= 0; i++) {
                bool keep;
                if (cut[i] == cut[i + 1])
                        continue;
                keep = excepts(g, d, cut[i], cut[i + 1] - 1, ex);
                if (open && (!keep || memcmp(ex, prev_ex, d->n * sizeof(bool)) != 0)) {
                        r = add_rule(egress, g, d, prev_ex, start, end);
                        open = false;
                }
                if (keep && !open) {
                        start = cut[i];
                        memcpy(prev_ex, ex, d->n * sizeof(bool));
                        open = true;
                }
                end = cut[i + 1] - 1;
        }
        if (open && r >= 0)
                r = add_rule(egress, g, d, prev_ex, start, end);
        return r;
}

/* What kind of host a NETWORK_CONNECT target names: 0 an address, CIDR or
 * "*"; 1 an exact host name; refused: a pattern (other than "*") or the
 * local link's host.omnibase.internal, which a cluster does not have. */
static int host_kind(const ob_capability *c, bool deny, ob_error *err)
{
        cap_endpoint ep;
        int r = cap_endpoint_parse(c->target, true, &ep, err);

        if (r < 0)
                return r;
        if (ep.family != AF_UNSPEC || (ep.host_is_pattern && ep.host[strspn(ep.host, "*")] == '\0'))
                return 0;
        if (ep.host_is_pattern)
                return ob_error_set_code(
                    err, "invalid", EINVAL,
                    "NETWORK_CONNECT %s %s: a host pattern cannot be rendered as a NetworkPolicy "
                    "(write addresses, CIDRs or exact host names)",
                    deny ? "denial" : "grant", c->target);
        if (streq(ep.host, OB_NET_HOST_NAME))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "NETWORK_CONNECT %s %s: %s is a local run's own link to "
                                         "this host; a cluster has no such address",
                                         deny ? "denial" : "grant", c->target, OB_NET_HOST_NAME);
        return 1;
}

/* caps with every host name replaced by the addresses it resolves to now
 * (ob_net_rules_build: at most OB_NET_MAX_ADDRS each; a name that does not
 * resolve grants, or denies, nothing, as in a local run), and in
 * *ret_names {name: [address, ...]}. Without names: *ret NULL. */
static int resolve_names(const ob_capset *caps, ob_capset **ret, cJSON **ret_names,
                         bool *ret_grant_names, ob_error *err)
{
        const char *targets[MAX_NETS];
        ob_net_rules rules = {0};
        ob_net_link nowhere = {0};
        cJSON *names;
        size_t n = 0;
        bool any = false;
        int r;

        *ret = NULL;
        *ret_names = NULL;
        *ret_grant_names = false;
        for (int deny = 0; deny <= 1; deny++)
                for (size_t i = 0; i < ob_capset_count(caps, deny); i++) {
                        const ob_capability *c = ob_capset_get(caps, deny, i);
                        if (c->kind != OB_CAP_NETWORK_CONNECT)
                                continue;
                        r = host_kind(c, deny, err);
                        if (r < 0)
                                return r;
                        if (n >= ARRAY_SIZE(targets))
                                return ob_error_set_code(err, "invalid", E2BIG,
                                                         "more than %d network rules to render",
                                                         MAX_NETS);
                        targets[n++] = r ? c->target : NULL;
                        any |= r;
                        *ret_grant_names |= r && !deny;
                }
        if (!any)
                return 0;
        r = ob_net_rules_build(caps, &nowhere, NULL, NULL, &rules, err);
        if (r >= 0)
                r = ob_net_rules_to_capset(&rules, caps, ret);
        names = r >= 0 ? cJSON_CreateObject() : NULL;
        for (size_t i = 0; names && i < n; i++) {
                cap_endpoint ep;
                cJSON *list;
                if (!targets[i] || cap_endpoint_parse(targets[i], true, &ep, NULL) < 0)
                        continue;
                list = cJSON_GetObjectItemCaseSensitive(names, ep.host);
                if (!list)
                        list = cJSON_AddArrayToObject(names, ep.host);
                for (size_t k = 0; k < rules.n; k++) {
                        char ip[INET6_ADDRSTRLEN];
                        bool seen = false;
                        cJSON *v;
                        if (rules.v[k].index != i)
                                continue;
                        inet_ntop(rules.v[k].family, rules.v[k].addr, ip, sizeof(ip));
                        cJSON_ArrayForEach (v, list)
                                seen |= streq(v->valuestring, ip);
                        if (!seen)
                                cJSON_AddItemToArray(list, cJSON_CreateString(ip));
                }
        }
        ob_net_rules_done(&rules);
        if (r < 0 || !names) {
                ob_capset_free(*ret);
                *ret = NULL;
                return r < 0 ? r : -ENOMEM;
        }
        *ret_names = names;
        return 0;
}

/* Egress to the cluster's DNS (kube-dns in kube-system, port 53), for a
 * workload that connects to a granted name. */
static cJSON *dns_rule(void)
{
        cJSON *rule = cJSON_CreateObject(), *to = cJSON_AddArrayToObject(rule, "to");
        cJSON *peer = cJSON_CreateObject(), *ports = cJSON_AddArrayToObject(rule, "ports");

        cJSON_AddItemToArray(to, peer);
        cJSON_AddStringToObject(
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(peer, "namespaceSelector"),
                                    "matchLabels"),
            "kubernetes.io/metadata.name", "kube-system");
        cJSON_AddStringToObject(
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(peer, "podSelector"), "matchLabels"),
            "k8s-app", "kube-dns");
        for (int i = 0; i < 2; i++) {
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "protocol", i ? "TCP" : "UDP");
                cJSON_AddNumberToObject(p, "port", 53);
                cJSON_AddItemToArray(ports, p);
        }
        return rule;
}

/* See render_k8s.h. */
int ob_k8s_egress(const ob_capset *caps, cJSON **ret, cJSON **ret_resolved, ob_error *err)
{
        _cleanup_free_ nets *g = calloc(1, sizeof(nets)), *d = calloc(1, sizeof(nets));
        cJSON *egress = cJSON_CreateArray(), *names = NULL;
        ob_capset *resolved = NULL;
        bool grant_names = false;
        int r = g && d && egress ? 0 : -ENOMEM;

        if (r >= 0)
                r = resolve_names(caps, &resolved, &names, &grant_names, err);
        if (resolved)
                caps = resolved;
        if (r >= 0)
                r = collect(caps, false, g, err);
        if (r >= 0)
                r = collect(caps, true, d, err);
        for (size_t i = 0; r >= 0 && i < g->n; i++)
                r = render_grant(egress, &g->v[i], d);
        if (r >= 0 && grant_names)
                cJSON_AddItemToArray(egress, dns_rule());
        ob_capset_free(resolved);
        if (r == -E2BIG && (!err || !err->message[0]))
                ob_error_set_code(err, "invalid", E2BIG,
                                  "the network rules need more than %d NetworkPolicy egress rules",
                                  OB_K8S_MAX_EGRESS);
        if (r < 0) {
                cJSON_Delete(egress);
                cJSON_Delete(names);
                return r;
        }
        *ret = egress;
        if (ret_resolved)
                *ret_resolved = names;
        else
                cJSON_Delete(names);
        return 0;
}
