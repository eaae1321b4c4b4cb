/* SPDX-License-Identifier: Apache-2.0 */
/* NETWORK_CONNECT endpoint syntax, matching and rule algebra. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>

#include <omnibase/capabilities.h>

#include "capabilities/endpoint.h"
#include "capabilities/pattern.h"
#include "common/error.h"

#define TARGET_MAX 512

/* Reads a decimal number without sign or leading zeros, <= max. */
static int parse_uint(const char **s, unsigned max, unsigned *ret)
{
        const char *p = *s;
        unsigned v = 0;

        if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (unsigned)(*p - '0');
                if (v > max)
                        return -EINVAL;
        }
        *s = p;
        *ret = v;
        return 0;
}

static int parse_ports(const char *s, bool rule, cap_endpoint *ep, ob_error *err,
                       const char *target)
{
        unsigned lo, hi;

        if (rule && streq(s, "*")) {
                ep->port_lo = 1;
                ep->port_hi = 65535;
                return 0;
        }
        if (parse_uint(&s, 65535, &lo) < 0 || lo == 0)
                goto bad;
        hi = lo;
        if (rule && *s == '-') {
                s++;
                if (parse_uint(&s, 65535, &hi) < 0 || hi < lo)
                        goto bad;
        }
        if (*s != '\0')
                goto bad;
        ep->port_lo = (uint16_t)lo;
        ep->port_hi = (uint16_t)hi;
        return 0;
bad:
        return ob_error_set(err, 0, 0, EINVAL,
                            rule ? "endpoint \"%s\": port must be 1-65535, lo-hi or *"
                                 : "endpoint \"%s\": port must be 1-65535",
                            target);
}

/* Turns ::ffff:a.b.c.d (and a prefix of at least 96 bits) into IPv4. */
static void unmap_v4(cap_endpoint *ep)
{
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        if (ep->family != AF_INET6 || ep->prefix_len < 96 || memcmp(ep->addr, mapped, 12) != 0)
                return;
        memmove(ep->addr, ep->addr + 12, 4);
        memset(ep->addr + 4, 0, 12);
        ep->family = AF_INET;
        ep->prefix_len -= 96;
}

/* Whether addr lies in net/prefix_len (both in network byte order). */
bool cap_addr_in_prefix(int af, const uint8_t *addr, const uint8_t *net, unsigned prefix_len)
{
        unsigned full = prefix_len / 8, bits = prefix_len % 8;

        (void)af;
        if (memcmp(addr, net, full) != 0)
                return false;
        if (bits == 0)
                return true;
        return ((addr[full] ^ net[full]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

/* Parses an address with an optional "/len" (rules only) into ep. */
static int parse_addr(char *text, int af, bool rule, cap_endpoint *ep, ob_error *err,
                      const char *target)
{
        unsigned max = af == AF_INET ? 32 : 128, len = max;
        char *slash = strchr(text, '/');
        uint8_t net[16];

        if (slash) {
                const char *p = slash + 1;
                if (!rule || parse_uint(&p, max, &len) < 0 || *p != '\0')
                        return ob_error_set(err, 0, 0, EINVAL, "endpoint \"%s\": bad prefix length",
                                            target);
                *slash = '\0';
        }
        memset(ep->addr, 0, sizeof(ep->addr));
        if (inet_pton(af, text, ep->addr) != 1)
                return ob_error_set(err, 0, 0, EINVAL, "endpoint \"%s\": bad %s address \"%s\"",
                                    target, af == AF_INET ? "IPv4" : "IPv6", text);
        memset(net, 0, sizeof(net));
        memcpy(net, ep->addr, len / 8);
        if (len % 8)
                net[len / 8] = ep->addr[len / 8] & (uint8_t)(0xff << (8 - len % 8));
        if (memcmp(net, ep->addr, sizeof(net)) != 0)
                return ob_error_set(err, 0, 0, EINVAL,
                                    "endpoint \"%s\": address has bits set beyond /%u", target,
                                    len);
        ep->family = af;
        ep->prefix_len = len;
        unmap_v4(ep);
        return 0;
}

/* Validates and lower-cases a host name or (rule) host pattern in place. */
static int parse_host(char *host, bool rule, cap_endpoint *ep, ob_error *err, const char *target)
{
        size_t n = strlen(host), label = 0;
        bool pattern = false, digits_only = true;

        if (n == 0 || n > CAP_HOST_MAX)
                goto bad;
        for (size_t i = 0; i < n; i++) {
                char c = (char)tolower((unsigned char)host[i]);
                host[i] = c;
                if (c == '*' && rule) {
                        pattern = true;
                } else if (c == '.') {
                        if (label == 0 && !pattern)
                                goto bad;
                        label = 0;
                        digits_only = true;
                        continue;
                } else if (!isalnum((unsigned char)c) && c != '-' && c != '_') {
                        goto bad;
                }
                if (!isdigit((unsigned char)c))
                        digits_only = false;
                if (++label > 63)
                        goto bad;
        }
        if (!pattern && (label == 0 || digits_only))
                goto bad;
        ep->family = AF_UNSPEC;
        ep->prefix_len = 0;
        ep->host_is_pattern = pattern;
        memcpy(ep->host, host, n + 1);
        return 0;
bad:
        return ob_error_set(err, 0, 0, EINVAL, "endpoint \"%s\": bad host name \"%s\"", target,
                            host);
}

static int split_target(char *buf, const char *target, char **ret_host, char **ret_ports,
                        bool *ret_v6, ob_error *err)
{
        char *colon;

        if (buf[0] == '[') {
                char *close = strchr(buf, ']');
                if (!close || close[1] != ':')
                        return ob_error_set(err, 0, 0, EINVAL,
                                            "endpoint \"%s\": expected [IPv6]:port", target);
                *close = '\0';
                *ret_host = buf + 1;
                *ret_ports = close + 2;
                *ret_v6 = true;
                return 0;
        }
        colon = strrchr(buf, ':');
        if (!colon)
                return ob_error_set(err, 0, 0, EINVAL, "endpoint \"%s\": expected host:port",
                                    target);
        *colon = '\0';
        if (strchr(buf, ':'))
                return ob_error_set(err, 0, 0, EINVAL,
                                    "endpoint \"%s\": an IPv6 address needs brackets: [addr]:port",
                                    target);
        *ret_host = buf;
        *ret_ports = colon + 1;
        *ret_v6 = false;
        return 0;
}

/* Parses a rule or request endpoint; see endpoint.h. */
int cap_endpoint_parse(const char *target, bool rule, cap_endpoint *ret, ob_error *err)
{
        char buf[TARGET_MAX + 1], *host = NULL, *ports = NULL;
        cap_endpoint ep = {0};
        uint8_t probe[4];
        bool v6 = false;
        int r;

        if (!target || strnlen(target, TARGET_MAX + 1) > TARGET_MAX || !*target)
                return ob_error_set(err, 0, 0, EINVAL, "endpoint is empty or too long");
        strcpy(buf, target);
        r = split_target(buf, target, &host, &ports, &v6, err);
        if (r < 0)
                return r;
        r = parse_ports(ports, rule, &ep, err, target);
        if (r < 0)
                return r;
        if (v6)
                r = parse_addr(host, AF_INET6, rule, &ep, err, target);
        else if (strchr(host, '/') || inet_pton(AF_INET, host, probe) == 1)
                r = parse_addr(host, AF_INET, rule, &ep, err, target);
        else
                r = parse_host(host, rule, &ep, err, target);
        if (r < 0)
                return r;
        if (!rule && ep.family != AF_UNSPEC &&
            !inet_ntop(ep.family, ep.addr, ep.host, sizeof(ep.host)))
                return -EINVAL;
        *ret = ep;
        return 0;
}

/* Writes the canonical text of a rule endpoint into buf. */
int cap_endpoint_format(const cap_endpoint *ep, char *buf, size_t size)
{
        char host[INET6_ADDRSTRLEN + 8], ports[16];
        int n;

        if (ep->port_lo == 1 && ep->port_hi == 65535)
                snprintf(ports, sizeof(ports), "*");
        else if (ep->port_lo == ep->port_hi)
                snprintf(ports, sizeof(ports), "%u", ep->port_lo);
        else
                snprintf(ports, sizeof(ports), "%u-%u", ep->port_lo, ep->port_hi);
        if (ep->family == AF_UNSPEC) {
                n = snprintf(buf, size, "%s:%s", ep->host, ports);
        } else {
                unsigned full = ep->family == AF_INET ? 32 : 128;
                if (!inet_ntop(ep->family, ep->addr, host, sizeof(host)))
                        return -EINVAL;
                if (ep->prefix_len != full)
                        snprintf(host + strlen(host), 8, "/%u", ep->prefix_len);
                n = snprintf(buf, size, ep->family == AF_INET ? "%s:%s" : "[%s]:%s", host, ports);
        }
        return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

/* Whether a parsed rule matches a parsed request. */
bool cap_endpoint_match(const cap_endpoint *rule, const cap_endpoint *req)
{
        if (req->port_lo < rule->port_lo || req->port_lo > rule->port_hi)
                return false;
        if (rule->family != AF_UNSPEC)
                return req->family == rule->family &&
                       cap_addr_in_prefix(rule->family, req->addr, rule->addr, rule->prefix_len);
        if (rule->host_is_pattern)
                return ob_pattern_match(rule->host, req->host);
        return streq(rule->host, req->host);
}

/* True when a host pattern can only match names: it holds a character that
 * no address text of family af (canonical inet_ntop form) contains. */
static bool pattern_cannot_spell(const char *pattern, int af)
{
        const char *ok = af == AF_INET ? "0123456789.*" : "0123456789abcdef:.*";
        return pattern[strspn(pattern, ok)] != '\0';
}

static bool all_stars(const char *s)
{
        return s[strspn(s, "*")] == '\0';
}

/* Containment of the host parts of two rules (ports aside). */
static int host_contained(const cap_endpoint *a, const cap_endpoint *b, bool *ret)
{
        cap_tokens ta = {0}, tb = {0};
        int r = 0;

        if (b->family != AF_UNSPEC) {
                *ret = a->family == b->family && a->prefix_len >= b->prefix_len &&
                       cap_addr_in_prefix(b->family, a->addr, b->addr, b->prefix_len);
                return 0;
        }
        if (a->family != AF_UNSPEC) {
                char text[INET6_ADDRSTRLEN];
                unsigned full = a->family == AF_INET ? 32 : 128;
                *ret = b->host_is_pattern && all_stars(b->host);
                if (!*ret && b->host_is_pattern && a->prefix_len == full &&
                    inet_ntop(a->family, a->addr, text, sizeof(text)))
                        *ret = ob_pattern_match(b->host, text);
                return 0;
        }
        if (!b->host_is_pattern) {
                *ret = !a->host_is_pattern && streq(a->host, b->host);
                return 0;
        }
        if (!a->host_is_pattern) {
                *ret = ob_pattern_match(b->host, a->host);
                return 0;
        }
        if ((r = cap_pattern_tokens(a->host, &ta)) >= 0 &&
            (r = cap_pattern_tokens(b->host, &tb)) >= 0)
                *ret = cap_tokens_contained(&ta, &tb);
        cap_tokens_done(&ta);
        cap_tokens_done(&tb);
        return r < 0 ? r : 0;
}

/* Whether rule a is inside rule b (false when unsure). */
bool cap_endpoint_contained(const cap_endpoint *a, const cap_endpoint *b)
{
        bool in = false;

        if (a->port_lo < b->port_lo || a->port_hi > b->port_hi)
                return false;
        return host_contained(a, b, &in) >= 0 && in;
}

/* Overlap of an address rule with a host-name rule. */
static bool addr_host_overlap(const cap_endpoint *net, const cap_endpoint *host)
{
        char text[INET6_ADDRSTRLEN];
        unsigned full = net->family == AF_INET ? 32 : 128;

        if (!host->host_is_pattern || pattern_cannot_spell(host->host, net->family))
                return false;
        if (net->prefix_len == full && inet_ntop(net->family, net->addr, text, sizeof(text)))
                return ob_pattern_match(host->host, text);
        return true;
}

/* Whether some request can match both rules (true when unsure). */
int cap_endpoint_overlap(const cap_endpoint *a, const cap_endpoint *b, bool *ret)
{
        cap_tokens ta = {0}, tb = {0};
        int r = 0;

        if (a->port_lo > b->port_hi || b->port_lo > a->port_hi) {
                *ret = false;
        } else if (a->family != AF_UNSPEC && b->family != AF_UNSPEC) {
                const cap_endpoint *wide = a->prefix_len <= b->prefix_len ? a : b;
                const cap_endpoint *narrow = wide == a ? b : a;
                *ret = a->family == b->family &&
                       cap_addr_in_prefix(a->family, narrow->addr, wide->addr, wide->prefix_len);
        } else if (a->family != AF_UNSPEC || b->family != AF_UNSPEC) {
                *ret = a->family != AF_UNSPEC ? addr_host_overlap(a, b) : addr_host_overlap(b, a);
        } else if (!a->host_is_pattern || !b->host_is_pattern) {
                const cap_endpoint *lit = a->host_is_pattern ? b : a;
                const cap_endpoint *other = lit == a ? b : a;
                *ret = other->host_is_pattern ? ob_pattern_match(other->host, lit->host)
                                              : streq(lit->host, other->host);
        } else {
                if ((r = cap_pattern_tokens(a->host, &ta)) >= 0 &&
                    (r = cap_pattern_tokens(b->host, &tb)) >= 0)
                        r = cap_tokens_overlap(&ta, &tb, ret);
                cap_tokens_done(&ta);
                cap_tokens_done(&tb);
        }
        return r < 0 ? r : 0;
}
