/* SPDX-License-Identifier: Apache-2.0 */
/* NETWORK_CONNECT grants and denials as address rules. Host names are
 * resolved once, here, at launch; what a name resolves to later is not
 * followed (docs/network.md). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capabilities/endpoint.h"
#include "common/macros.h"
#include "network/network.h"

/* True when caps grants any NETWORK_CONNECT. */
bool ob_net_wanted(const ob_capset *caps)
{
        for (size_t i = 0; i < ob_capset_count(caps, false); i++)
                if (ob_capset_get(caps, false, i)->kind == OB_CAP_NETWORK_CONNECT)
                        return true;
        return false;
}

/* Frees what rules holds and zeroes it. */
void ob_net_rules_done(ob_net_rules *rules)
{
        for (size_t i = 0; i < rules->n_ids; i++)
                free(rules->policy_ids[i]);
        free(rules->policy_ids);
        free(rules->v);
        *rules = (ob_net_rules){0};
}

static int push(ob_net_rules *rules, int family, const uint8_t *addr, unsigned prefix_len,
                const cap_endpoint *ep, bool deny, uint16_t index)
{
        ob_net_addr_rule *v;

        if (rules->n >= OB_NET_MAX_RULES)
                return -E2BIG;
        v = realloc(rules->v, (rules->n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        rules->v = v;
        v[rules->n] = (ob_net_addr_rule){.family = family,
                                         .prefix_len = prefix_len,
                                         .port_lo = ep->port_lo,
                                         .port_hi = ep->port_hi,
                                         .deny = deny,
                                         .index = index};
        memcpy(v[rules->n].addr, addr, family == AF_INET ? 4 : 16);
        rules->n++;
        return 0;
}

static void logf_(ob_net_log_fn log, void *ud, const char *fmt, ...) _printf_(3, 4);
static void logf_(ob_net_log_fn log, void *ud, const char *fmt, ...)
{
        char line[512];
        va_list ap;

        if (!log)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        log(line, ud);
}

/* A host name: getaddrinfo, at most OB_NET_MAX_ADDRS addresses. */
static int resolve(ob_net_rules *rules, const cap_endpoint *ep, bool deny, uint16_t index,
                   ob_net_log_fn log, void *ud)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        unsigned kept = 0;
        int r = 0, g;

        g = getaddrinfo(ep->host, NULL, &hints, &res);
        if (g != 0) {
                logf_(log, ud, "network: %s %s: cannot resolve (%s): %s", deny ? "denial" : "grant",
                      ep->host, gai_strerror(g), deny ? "not enforced" : "nothing granted");
                return 0;
        }
        for (struct addrinfo *ai = res; ai && r >= 0 && kept < OB_NET_MAX_ADDRS; ai = ai->ai_next) {
                char text[INET6_ADDRSTRLEN];
                if (ai->ai_family == AF_INET) {
                        const void *a = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
                        r = push(rules, AF_INET, a, 32, ep, deny, index);
                        inet_ntop(AF_INET, a, text, sizeof(text));
                } else if (ai->ai_family == AF_INET6) {
                        const void *a = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
                        r = push(rules, AF_INET6, a, 128, ep, deny, index);
                        inet_ntop(AF_INET6, a, text, sizeof(text));
                } else {
                        continue;
                }
                kept++;
                logf_(log, ud, "network: %s resolved to %s", ep->host, text);
        }
        freeaddrinfo(res);
        return r;
}

/* True when a host pattern could match the text of some IP address (the
 * capability set's check matches patterns against it); same test as
 * capabilities/endpoint.c. */
static bool pattern_may_spell_ip(const char *pattern)
{
        return pattern[strspn(pattern, "0123456789.*")] == '\0' ||
               pattern[strspn(pattern, "0123456789abcdef:.*")] == '\0';
}

static int add_one(ob_net_rules *rules, const ob_capability *c, bool deny, uint16_t index,
                   const ob_net_link *link, ob_net_log_fn log, void *ud)
{
        static const uint8_t any[16] = {0};
        cap_endpoint ep;
        int r;

        if (cap_endpoint_parse(c->target, true, &ep, NULL) < 0)
                return -EINVAL; /* the capability file was checked when loaded */
        if (ep.family != AF_UNSPEC)
                return push(rules, ep.family, ep.addr, ep.prefix_len, &ep, deny, index);
        if (streq(ep.host, OB_NET_HOST_NAME)) {
                r = push(rules, AF_INET, link->host4, 32, &ep, deny, index);
                return r < 0 ? r : push(rules, AF_INET6, link->host6, 128, &ep, deny, index);
        }
        if (ep.host_is_pattern && ep.host[strspn(ep.host, "*")] == '\0') {
                r = push(rules, AF_INET, any, 0, &ep, deny, index);
                return r < 0 ? r : push(rules, AF_INET6, any, 0, &ep, deny, index);
        }
        if (ep.host_is_pattern && deny && pattern_may_spell_ip(ep.host))
                return -ENOTSUP; /* fail closed: it may deny addresses we cannot express */
        if (ep.host_is_pattern) {
                logf_(log, ud, "network: %s %s: a host pattern cannot be enforced by address: %s",
                      deny ? "denial" : "grant", c->target,
                      deny ? "it matches names only, and connections are to addresses"
                           : "nothing granted");
                return 0;
        }
        return resolve(rules, &ep, deny, index, log, ud);
}

static bool beyond_host(const ob_net_rules *rules, const ob_net_link *link)
{
        for (size_t i = 0; i < rules->n; i++) {
                const ob_net_addr_rule *r = &rules->v[i];
                const uint8_t *h = r->family == AF_INET ? link->host4 : link->host6;
                if (!r->deny && !(r->prefix_len == (r->family == AF_INET ? 32u : 128u) &&
                                  memcmp(r->addr, h, r->family == AF_INET ? 4 : 16) == 0))
                        return true;
        }
        return false;
}

/* Grants and denials as address rules (see network.h); *ret is the caller's. */
int ob_net_rules_build(const ob_capset *caps, const ob_net_link *link, ob_net_log_fn log,
                       void *userdata, ob_net_rules *ret, ob_error *err)
{
        ob_net_rules rules = {0};
        size_t total = ob_capset_count(caps, false) + ob_capset_count(caps, true);
        int r = 0;

        if (total >= OB_NET_NO_POLICY)
                return ob_error_set(err, 0, 0, E2BIG, "too many rules for the network allowlist");
        rules.policy_ids = calloc(total ? total : 1, sizeof(char *));
        if (!rules.policy_ids)
                return -ENOMEM;
        for (int deny = 0; deny <= 1 && r >= 0; deny++)
                for (size_t i = 0; i < ob_capset_count(caps, deny) && r >= 0; i++) {
                        const ob_capability *c = ob_capset_get(caps, deny, i);
                        uint16_t index = (uint16_t)rules.n_ids;
                        if (c->kind != OB_CAP_NETWORK_CONNECT)
                                continue;
                        rules.n_ids++;
                        if (c->policy_id && !(rules.policy_ids[index] = strdup(c->policy_id)))
                                r = -ENOMEM;
                        if (r >= 0)
                                r = add_one(&rules, c, deny, index, link, log, userdata);
                        if (r == -ENOTSUP) {
                                ob_net_rules_done(&rules);
                                return ob_error_set(err, 0, 0, ENOTSUP,
                                                    "NETWORK_CONNECT denial %s: a host pattern "
                                                    "that can match addresses cannot be enforced "
                                                    "in the kernel; write it as a CIDR",
                                                    c->target);
                        }
                }
        if (r < 0) {
                ob_net_rules_done(&rules);
                if (r == -E2BIG)
                        return ob_error_set(err, 0, 0, E2BIG,
                                            "more than %d network address rules: narrow the grants",
                                            OB_NET_MAX_RULES);
                return ob_error_set(err, 0, 0, -r, "network rules: %s", strerror(-r));
        }
        rules.beyond_host = beyond_host(&rules, link);
        *ret = rules;
        return 0;
}

/* "a.b.c.d/len:lo-hi" or "[v6/len]:lo-hi" */
static void rule_target(const ob_net_addr_rule *r, char *buf, size_t size)
{
        char ip[INET6_ADDRSTRLEN];

        inet_ntop(r->family, r->addr, ip, sizeof(ip));
        snprintf(buf, size, r->family == AF_INET ? "%s/%u:%u-%u" : "[%s/%u]:%u-%u", ip,
                 r->prefix_len, r->port_lo, r->port_hi);
}

/* See network.h. */
int ob_net_rules_to_capset(const ob_net_rules *rules, const ob_capset *caps, ob_capset **ret)
{
        ob_capset *set = NULL;
        int r = ob_capset_new(&set);

        if (r >= 0 && ob_capset_principal(caps))
                r = ob_capset_set_principal(set, ob_capset_principal(caps));
        if (r >= 0)
                *ob_capset_limits(set) = *ob_capset_limits_const(caps);
        for (int deny = 0; deny <= 1 && r >= 0; deny++)
                for (size_t i = 0; i < ob_capset_count(caps, deny) && r >= 0; i++) {
                        const ob_capability *c = ob_capset_get(caps, deny, i);
                        if (c->kind != OB_CAP_NETWORK_CONNECT)
                                r = ob_capset_add(set, deny, c->kind, c->target, c->policy_id,
                                                  NULL);
                }
        for (size_t i = 0; i < rules->n && r >= 0; i++) {
                const ob_net_addr_rule *a = &rules->v[i];
                char target[INET6_ADDRSTRLEN + 32];
                rule_target(a, target, sizeof(target));
                r = ob_capset_add(set, a->deny, OB_CAP_NETWORK_CONNECT, target,
                                  a->index < rules->n_ids ? rules->policy_ids[a->index] : NULL,
                                  NULL);
        }
        if (r < 0) {
                ob_capset_free(set);
                return r;
        }
        *ret = set;
        return 0;
}
