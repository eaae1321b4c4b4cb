/* SPDX-License-Identifier: Apache-2.0 */
/* Address rules to LPM-trie entries. A trie lookup returns only the longest
 * matching prefix, so each entry carries the port ranges of every rule of
 * its kind whose prefix contains it: one lookup then sees them all. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "capabilities/endpoint.h"
#include "common/macros.h"
#include "network/network.h"

static unsigned addr_len(int family)
{
        return family == AF_INET ? 4 : 16;
}

/* Zeroes the bits past prefix_len. */
static void mask(uint8_t *addr, unsigned len, unsigned prefix_len)
{
        for (unsigned i = 0; i < len; i++) {
                unsigned bits = prefix_len > i * 8 ? prefix_len - i * 8 : 0;
                if (bits < 8)
                        addr[i] &= (uint8_t)(0xff00u >> bits);
        }
}

static ob_net_entry *find(ob_net_entry *e, size_t n, const ob_net_addr_rule *r, const uint8_t *a)
{
        for (size_t i = 0; i < n; i++)
                if (e[i].deny == r->deny && e[i].family == r->family &&
                    e[i].prefix_len == r->prefix_len && memcmp(e[i].addr, a, 16) == 0)
                        return &e[i];
        return NULL;
}

static int add_range(struct ob_net_rule *v, const ob_net_addr_rule *r)
{
        for (uint32_t i = 0; i < v->n; i++)
                if (v->r[i].lo == r->port_lo && v->r[i].hi == r->port_hi)
                        return 0; /* the same range twice: the first rule decides */
        if (v->n >= OB_NET_MAX_RANGES)
                return -E2BIG;
        v->r[v->n++] = (struct ob_port_range){.lo = r->port_lo, .hi = r->port_hi, .rule = r->index};
        return 0;
}

/* The distinct prefixes, each with its own rules' ranges. */
static int collect(const ob_net_rules *rules, ob_net_entry *e, size_t *n)
{
        for (size_t i = 0; i < rules->n; i++) {
                const ob_net_addr_rule *r = &rules->v[i];
                uint8_t a[16] = {0};
                ob_net_entry *x;
                memcpy(a, r->addr, addr_len(r->family));
                mask(a, addr_len(r->family), r->prefix_len);
                x = find(e, *n, r, a);
                if (!x) {
                        if (*n >= OB_NET_MAX_PREFIX)
                                return -E2BIG;
                        x = &e[(*n)++];
                        *x = (ob_net_entry){
                            .family = r->family, .deny = r->deny, .prefix_len = r->prefix_len};
                        memcpy(x->addr, a, 16);
                }
                if (add_range(&x->value, r) < 0)
                        return -E2BIG;
        }
        return 0;
}

/* Rules to trie entries (see network.h); *ret is malloc'd, the caller frees it. */
int ob_net_compile(const ob_net_rules *rules, ob_net_entry **ret, size_t *ret_n)
{
        _cleanup_free_ ob_net_entry *e = NULL;
        size_t n = 0;
        int r;

        e = calloc(rules->n ? rules->n : 1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        r = collect(rules, e, &n);
        if (r < 0)
                return r;
        /* every shorter prefix of the same kind that contains an entry adds
         * its ranges (its own ones only: collected before this pass) */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < rules->n; j++) {
                        const ob_net_addr_rule *x = &rules->v[j];
                        if (x->deny != e[i].deny || x->family != e[i].family ||
                            x->prefix_len >= e[i].prefix_len ||
                            !cap_addr_in_prefix(x->family, e[i].addr, x->addr, x->prefix_len))
                                continue;
                        if (add_range(&e[i].value, x) < 0)
                                return -E2BIG;
                }
        *ret = TAKE_PTR(e);
        *ret_n = n;
        return 0;
}

/* The longest entry of the kind containing addr, or NULL. */
static const ob_net_entry *longest(const ob_net_entry *e, size_t n, bool deny, int family,
                                   const uint8_t *addr)
{
        const ob_net_entry *best = NULL;

        for (size_t i = 0; i < n; i++)
                if (e[i].deny == deny && e[i].family == family &&
                    cap_addr_in_prefix(family, addr, e[i].addr, e[i].prefix_len) &&
                    (!best || e[i].prefix_len > best->prefix_len))
                        best = &e[i];
        return best;
}

/* Mirrors ranges_match() of egress.bpf.c. */
static bool ranges(const ob_net_entry *x, uint16_t port, uint16_t *ret_rule)
{
        for (uint32_t i = 0; x && i < x->value.n; i++) {
                const struct ob_port_range *r = &x->value.r[i];
                bool whole = r->lo <= 1 && r->hi == 65535;
                if ((port == 0 && whole) || (port != 0 && port >= r->lo && port <= r->hi)) {
                        *ret_rule = r->rule;
                        return true;
                }
        }
        return false;
}

/* The BPF programs' decision, in C: true when allowed; *ret_policy the rule index. */
bool ob_net_decide(const ob_net_entry *e, size_t n, int family, const uint8_t *addr, uint16_t port,
                   uint16_t *ret_policy)
{
        uint16_t rule = OB_NET_NO_POLICY;

        if (ranges(longest(e, n, true, family, addr), port, &rule)) {
                *ret_policy = rule;
                return false;
        }
        if (ranges(longest(e, n, false, family, addr), port, &rule)) {
                *ret_policy = rule;
                return true;
        }
        *ret_policy = OB_NET_NO_POLICY;
        return false;
}
