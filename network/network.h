/* SPDX-License-Identifier: Apache-2.0 */
/* The network module (issue 5): a run's private network namespace and veth
 * (libnl), its egress allowlist compiled into BPF maps, and the BPF programs
 * that enforce it (libbpf): cgroup-v2 sock_addr hooks and a tc classifier.
 * docs/network.md describes the design. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <omnibase/capabilities.h>

#include "common/error.h"
#include "network/bpf/egress.h"

#define OB_NET_POOL_DEFAULT "10.213.0.0/16"    /* $OMNIBASE_NET_POOL overrides */
#define OB_NET_POOL6_PREFIX "fd6f:6d6e:6200::" /* a /126 per run beside the /30 */
#define OB_NET_NETNS_DIR    "/run/netns"
#define OB_NET_NETNS_PREFIX "omnibase-"
#define OB_NET_HOST_NAME    "host.omnibase.internal"
#define OB_NET_GUEST_IF     "eth0"
#define OB_NET_MAX_RULES    1024 /* address rules after resolution */
#define OB_NET_MAX_ADDRS    16   /* addresses kept per resolved host name */

/* ---- the run's link: netns + veth + addresses (link.c) ---- */

typedef struct ob_net_link {
        char netns[64];         /* omnibase-<id>, bind-mounted in /run/netns */
        char host_if[IFNAMSIZ]; /* root-namespace end of the veth */
        int host_ifindex;
        int netns_fd; /* O_CLOEXEC; setns() target for the runsc child */
        uint8_t host4[4], guest4[4];
        uint8_t host6[16], guest6[16];
} ob_net_link;

/* /run/netns/omnibase-<id>: where run id's namespace is bound. */
void ob_net_netns_path(const char *id, char *buf, size_t size);
/* The host-side interface name of run id ("ob" + 13 hex digits of the id). */
void ob_net_host_ifname(const char *id, char buf[IFNAMSIZ]);
/* Makes netns omnibase-<id>, a veth pair (OB_NET_GUEST_IF inside), a free
 * /30 of pool (NULL: $OMNIBASE_NET_POOL or the default) and a /126, both
 * ends up, the default routes inside. On failure, whatever was made is
 * removed. */
int ob_net_link_create(const char *id, const char *pool, ob_net_link *ret, ob_error *err);
/* Lets the host end forward what the run sends (grants past the host):
 * per-interface IPv4 forwarding and IPv6 force_forwarding where the kernel
 * has it (6.17+); global settings are not touched. */
int ob_net_link_forward(const ob_net_link *link);
/* Closes the link's fd (leaves the namespace and veth in place). */
void ob_net_link_done(ob_net_link *link);
/* Removes the veth and the namespace of run id; idempotent, for gc too.
 * Returns the first error other than "not there". */
int ob_net_link_destroy(const char *id);
/* Parses "a.b.c.d/len" (len 8..30) into net and len. */
int ob_net_parse_pool(const char *text, uint8_t net[4], unsigned *ret_len);

/* ---- rules: grants and denials as address prefixes (rules.c) ---- */

typedef struct ob_net_addr_rule {
        int family; /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        unsigned prefix_len;
        uint16_t port_lo, port_hi;
        bool deny;
        uint16_t index; /* into ob_net_rules.policy_ids */
} ob_net_addr_rule;

typedef struct ob_net_rules {
        ob_net_addr_rule *v;
        size_t n;
        char **policy_ids; /* per capability (index), NULL when it has none */
        size_t n_ids;
        bool beyond_host; /* some grant reaches past the host end */
} ob_net_rules;

/* Message sink for what could not be turned into addresses. */
typedef void (*ob_net_log_fn)(const char *line, void *userdata);

/* Lists every NETWORK_CONNECT grant and denial of caps as address rules:
 * IPs and CIDRs as they are, host.omnibase.internal as the link's host end,
 * "*" as 0.0.0.0/0 and ::/0, other names resolved now (getaddrinfo); other
 * host patterns cannot be enforced by address and are logged and skipped. */
int ob_net_rules_build(const ob_capset *caps, const ob_net_link *link, ob_net_log_fn log,
                       void *userdata, ob_net_rules *ret, ob_error *err);
void ob_net_rules_done(ob_net_rules *rules);
/* A copy of caps (principal, limits, every other rule) whose NETWORK_CONNECT
 * rules are rules' address prefixes, with their policy ids: the set the
 * kernel enforces, for a checker that sees addresses (the sidecar). *ret is
 * the caller's (ob_capset_free). */
int ob_net_rules_to_capset(const ob_net_rules *rules, const ob_capset *caps, ob_capset **ret);
/* True when caps has at least one NETWORK_CONNECT grant. */
bool ob_net_wanted(const ob_capset *caps);

/* ---- the allowlist maps (allowlist.c) ---- */

typedef struct ob_net_entry {
        int family;
        bool deny;
        uint8_t addr[16];
        unsigned prefix_len;
        struct ob_net_rule value; /* its own ranges and its ancestors' */
} ob_net_entry;

/* One entry per distinct (deny, family, prefix) of rules, each holding the
 * ranges of every rule of the same kind whose prefix contains it, so that a
 * longest-prefix lookup alone decides. -E2BIG past OB_NET_MAX_RANGES ranges
 * for one prefix or OB_NET_MAX_PREFIX prefixes. *ret malloc'd. */
int ob_net_compile(const ob_net_rules *rules, ob_net_entry **ret, size_t *ret_n);
/* What the maps decide for addr:port (port 0: a port-less protocol), the
 * same way the BPF programs do; *ret_policy the deciding rule index or
 * OB_NET_NO_POLICY. For tests and `-v`. */
bool ob_net_decide(const ob_net_entry *e, size_t n, int family, const uint8_t *addr, uint16_t port,
                   uint16_t *ret_policy);

/* ---- BPF programs and maps (bpf.c) ---- */

typedef struct ob_net_bpf ob_net_bpf;
typedef void (*ob_net_denial_fn)(const struct ob_net_denial *d, void *userdata);

/* Loads the embedded object and fills its maps with entries. */
int ob_net_bpf_load(const ob_net_entry *entries, size_t n, ob_net_denial_fn fn, void *userdata,
                    ob_net_bpf **ret);
/* Attaches connect4/6 and sendmsg4/6 to the cgroup-v2 directory cgroup_fd
 * (BPF_F_ALLOW_MULTI, no link: the attachment lives as long as the
 * directory, whatever happens to this process). */
int ob_net_bpf_attach_cgroup(ob_net_bpf *b, int cgroup_fd);
/* Attaches the classifier to ifindex's clsact ingress (lives with the link). */
int ob_net_bpf_attach_tc(ob_net_bpf *b, int ifindex);
/* An fd that polls readable when denials wait in the ring buffer. */
int ob_net_bpf_poll_fd(const ob_net_bpf *b);
/* Hands every waiting denial to the load's callback; returns how many. */
int ob_net_bpf_drain(ob_net_bpf *b);
/* Closes what this process holds (attachments stay). Accepts NULL. */
ob_net_bpf *ob_net_bpf_free(ob_net_bpf *b);
