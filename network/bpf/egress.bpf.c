// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* The egress allowlist of one run. cgroup-v2 sock_addr programs (connect4/6,
 * sendmsg4/6) refuse a non-granted destination at the syscall (EPERM); a tc
 * classifier on the run's veth drops every other packet that is not to a
 * granted destination (any protocol). Denials go to a ring buffer. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "egress.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
        __uint(type, BPF_MAP_TYPE_LPM_TRIE);
        __uint(max_entries, OB_NET_MAX_PREFIX);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, struct ob_lpm4);
        __type(value, struct ob_net_rule);
} allow4 SEC(".maps"), deny4 SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_LPM_TRIE);
        __uint(max_entries, OB_NET_MAX_PREFIX);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, struct ob_lpm6);
        __type(value, struct ob_net_rule);
} allow6 SEC(".maps"), deny6 SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, OB_NET_RINGBUF);
} denials SEC(".maps");

#define NO_MATCH 0xffffffffu

/* The rule index of the first range holding port (0: any range), or NO_MATCH. */
static __always_inline __u32 ranges_match(const struct ob_net_rule *v, __u16 port)
{
        if (!v)
                return NO_MATCH;
#pragma unroll
        for (int i = 0; i < OB_NET_MAX_RANGES; i++) {
                if (i >= v->n)
                        break;
                if (port == 0 || (port >= v->r[i].lo && port <= v->r[i].hi)) {
                        /* port 0: a port-less packet needs the whole range */
                        if (port == 0 && !(v->r[i].lo <= 1 && v->r[i].hi == 65535))
                                continue;
                        return v->r[i].rule;
                }
        }
        return NO_MATCH;
}

static __always_inline void report(__u8 family, __u8 hook, __u8 proto, __u16 port, __u32 policy,
                                   const __u8 *addr, int len)
{
        struct ob_net_denial *d = bpf_ringbuf_reserve(&denials, sizeof(*d), 0);

        if (!d)
                return;
        __builtin_memset(d, 0, sizeof(*d));
        d->family = family;
        d->hook = hook;
        d->proto = proto;
        d->port = port;
        d->policy = policy == NO_MATCH ? OB_NET_NO_POLICY : (__u16)policy;
        if (len == 4)
                __builtin_memcpy(d->addr, addr, 4);
        else
                __builtin_memcpy(d->addr, addr, 16);
        bpf_ringbuf_submit(d, 0);
}

/* 1 when addr:port is allowed; otherwise reports the denial and returns 0. */
static __always_inline int check4(__u32 ip, __u16 port, __u8 proto, __u8 hook)
{
        struct ob_lpm4 key = {.prefixlen = 32};
        __u32 d, a;

        /* loopback too needs a grant: its sockets are host sockets, and a
         * connection not yet accepted is charged to no cgroup (F12) */
        __builtin_memcpy(key.addr, &ip, 4);
        d = ranges_match(bpf_map_lookup_elem(&deny4, &key), port);
        a = d == NO_MATCH ? ranges_match(bpf_map_lookup_elem(&allow4, &key), port) : NO_MATCH;
        if (a != NO_MATCH)
                return 1;
        report(4, hook, proto, port, d, key.addr, 4);
        return 0;
}

static __always_inline int check6(const __u32 *ip6, __u16 port, __u8 proto, __u8 hook)
{
        struct ob_lpm6 key = {.prefixlen = 128};
        __u32 d, a;

        __builtin_memcpy(key.addr, ip6, 16);
        if (ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0xffff))
                return check4(ip6[3], port, proto, hook); /* v4-mapped */
        d = ranges_match(bpf_map_lookup_elem(&deny6, &key), port);
        a = d == NO_MATCH ? ranges_match(bpf_map_lookup_elem(&allow6, &key), port) : NO_MATCH;
        if (a != NO_MATCH)
                return 1;
        report(6, hook, proto, port, d, key.addr, 16);
        return 0;
}

SEC("cgroup/connect4")
int ob_connect4(struct bpf_sock_addr *ctx)
{
        return check4(ctx->user_ip4, bpf_ntohs(ctx->user_port), ctx->protocol, OB_HOOK_CONNECT4);
}

SEC("cgroup/sendmsg4")
int ob_sendmsg4(struct bpf_sock_addr *ctx)
{
        return check4(ctx->user_ip4, bpf_ntohs(ctx->user_port), ctx->protocol, OB_HOOK_SENDMSG4);
}

static __always_inline int sock6(struct bpf_sock_addr *ctx, __u8 hook)
{
        __u32 ip6[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
        return check6(ip6, bpf_ntohs(ctx->user_port), ctx->protocol, hook);
}

SEC("cgroup/connect6")
int ob_connect6(struct bpf_sock_addr *ctx)
{
        return sock6(ctx, OB_HOOK_CONNECT6);
}

SEC("cgroup/sendmsg6")
int ob_sendmsg6(struct bpf_sock_addr *ctx)
{
        return sock6(ctx, OB_HOOK_SENDMSG6);
}

/* Destination port of a TCP/UDP/SCTP header at off, 0 for other protocols,
 * -1 when the packet is too short. */
static __always_inline int l4_port(struct __sk_buff *skb, __u32 off, __u8 proto)
{
        __u16 port;

        if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP &&
            proto != IPPROTO_UDPLITE)
                return 0;
        if (bpf_skb_load_bytes(skb, off + 2, &port, 2) < 0)
                return -1;
        return bpf_ntohs(port);
}

static __always_inline int tc_ipv4(struct __sk_buff *skb)
{
        struct iphdr ip;
        int port;

        if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
                return TC_ACT_SHOT;
        if (ip.frag_off & bpf_htons(0x1fff))
                return TC_ACT_SHOT; /* a later fragment: no port to judge */
        port = l4_port(skb, ETH_HLEN + ip.ihl * 4, ip.protocol);
        if (port < 0)
                return TC_ACT_SHOT;
        return check4(ip.daddr, (__u16)port, ip.protocol, OB_HOOK_TC) ? TC_ACT_OK : TC_ACT_SHOT;
}

static __always_inline int tc_ipv6(struct __sk_buff *skb)
{
        struct ipv6hdr ip;
        __u32 dst[4];
        __u8 type;
        int port;

        if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
                return TC_ACT_SHOT;
        /* MLD reports to link-scope groups (ff02::/16, behind a hop-by-hop
         * header): never forwarded past the veth */
        if (ip.daddr.in6_u.u6_addr8[0] == 0xff && ip.daddr.in6_u.u6_addr8[1] == 0x02 &&
            (ip.nexthdr == IPPROTO_HOPOPTS || ip.nexthdr == IPPROTO_ICMPV6))
                return TC_ACT_OK;
        if (ip.nexthdr == IPPROTO_ICMPV6) {
                if (bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(ip), &type, 1) < 0)
                        return TC_ACT_SHOT;
                if (type >= 130 && type <= 143)
                        return TC_ACT_OK; /* MLD and neighbour discovery: the
                                             kernel's own link chatter */
        }
        port = l4_port(skb, ETH_HLEN + sizeof(ip), ip.nexthdr);
        if (port < 0)
                return TC_ACT_SHOT;
        __builtin_memcpy(dst, &ip.daddr, 16);
        return check6(dst, (__u16)port, ip.nexthdr, OB_HOOK_TC) ? TC_ACT_OK : TC_ACT_SHOT;
}

/* On the root-namespace end of the run's veth, ingress: what the run sends. */
SEC("tc")
int ob_tc_egress(struct __sk_buff *skb)
{
        if (skb->protocol == bpf_htons(ETH_P_ARP))
                return TC_ACT_OK;
        if (skb->protocol == bpf_htons(ETH_P_IP))
                return tc_ipv4(skb);
        if (skb->protocol == bpf_htons(ETH_P_IPV6))
                return tc_ipv6(skb);
        return TC_ACT_SHOT;
}
