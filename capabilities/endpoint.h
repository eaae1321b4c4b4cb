/* SPDX-License-Identifier: Apache-2.0 */
/* NETWORK_CONNECT endpoints: rule targets (what grants and denials say) and
 * request targets (a concrete destination). The runner lists a grant with
 * cap_endpoint_parse(target, true, ...) to program its egress allowlist:
 * family AF_INET/AF_INET6 with addr/prefix_len, or AF_UNSPEC with a host
 * name (resolve it) or a host pattern (cannot be resolved). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <omnibase/error.h>

#define CAP_HOST_MAX 253

typedef struct cap_endpoint {
        int family;          /* AF_INET, AF_INET6, or AF_UNSPEC for a host name/pattern */
        uint8_t addr[16];    /* network byte order; AF_INET uses addr[0..4) */
        unsigned prefix_len; /* 32 / 128 for one address */
        uint16_t port_lo;    /* 1..65535 */
        uint16_t port_hi;    /* port_lo..65535; "*" is 1-65535 */
        bool host_is_pattern;
        /* AF_UNSPEC: lower-case host name or pattern; for a request, also
         * the canonical text of an IP address (host patterns match it). */
        char host[CAP_HOST_MAX + 1];
} cap_endpoint;

/* Parses target. rule == true accepts the rule syntax (`host:port`,
 * `host:lo-hi`, `host:*`, host patterns with '*', `a.b.c.d/len:...`,
 * `[v6]:...`, `[v6/len]:...`); rule == false only a concrete `ip:port`,
 * `[v6]:port` or `name:port`. IPv4-mapped IPv6 addresses become IPv4.
 * 0 and *ret, or -EINVAL with a reason in *err (may be NULL). */
int cap_endpoint_parse(const char *target, bool rule, cap_endpoint *ret, ob_error *err);

/* Canonical text of ep (what the capability file stores) into buf;
 * returns 0, or -ENOSPC when size is too small (64 + CAP_HOST_MAX is enough). */
int cap_endpoint_format(const cap_endpoint *ep, char *buf, size_t size);

/* True when rule (a parsed rule target) matches req (a parsed request). */
bool cap_endpoint_match(const cap_endpoint *rule, const cap_endpoint *req);

/* True when every request rule a matches, rule b matches too. Exact except
 * for a CIDR against a host pattern other than "*" (then false). */
bool cap_endpoint_contained(const cap_endpoint *a, const cap_endpoint *b);

/* *ret = false only when no request can match both rules (exact for
 * CIDRs and host names; a host pattern against a CIDR overlaps unless the
 * pattern cannot spell an address of that family). */
int cap_endpoint_overlap(const cap_endpoint *a, const cap_endpoint *b, bool *ret);

/* True when addr (family af) lies in net/prefix_len. */
bool cap_addr_in_prefix(int af, const uint8_t *addr, const uint8_t *net, unsigned prefix_len);
