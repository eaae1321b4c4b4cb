/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the BPF programs (egress.bpf.c) and the loader: the layout
 * of the allowlist maps and of the denial records in the ring buffer. */
#pragma once

#ifdef __bpf__
#include <linux/types.h>
typedef __u8 ob_u8;
typedef __u16 ob_u16;
typedef __u32 ob_u32;
#else
#include <stdint.h>
typedef uint8_t ob_u8;
typedef uint16_t ob_u16;
typedef uint32_t ob_u32;
#endif

#define OB_NET_MAX_RANGES 16     /* port ranges per prefix (its own and its ancestors') */
#define OB_NET_MAX_PREFIX 4096   /* entries per trie */
#define OB_NET_NO_POLICY  0xffff /* policy index of a default deny */
#define OB_NET_RINGBUF    (256 * 1024)

/* LPM trie keys: prefix length in bits, then the address (network order). */
struct ob_lpm4 {
        ob_u32 prefixlen;
        ob_u8 addr[4];
};
struct ob_lpm6 {
        ob_u32 prefixlen;
        ob_u8 addr[16];
};

/* A port range [lo, hi] (host order) and the index of its rule in the
 * loader's table (for the policy id of a denial). */
struct ob_port_range {
        ob_u16 lo, hi;
        ob_u16 rule;
        ob_u16 pad;
};

/* What one prefix allows (or denies): every range of every rule whose
 * prefix contains it, so that the longest match alone decides. */
struct ob_net_rule {
        ob_u32 n;
        struct ob_port_range r[OB_NET_MAX_RANGES];
};

enum ob_net_hook {
        OB_HOOK_CONNECT4 = 1,
        OB_HOOK_CONNECT6,
        OB_HOOK_SENDMSG4,
        OB_HOOK_SENDMSG6,
        OB_HOOK_TC,
};

/* One denial, as the ring buffer carries it. */
struct ob_net_denial {
        ob_u8 family; /* 4 or 6 */
        ob_u8 hook;   /* enum ob_net_hook */
        ob_u8 proto;  /* IPPROTO_* when known, else 0 */
        ob_u8 pad;
        ob_u16 port;   /* host order; 0 for port-less protocols */
        ob_u16 policy; /* index of the deciding denial, or OB_NET_NO_POLICY */
        ob_u8 addr[16];
};
