/* SPDX-License-Identifier: Apache-2.0 */
/* Small libnl-route wrappers used by link.c; every one returns 0 or -errno
 * (libnl's own error codes are mapped). A socket serves the network
 * namespace it was opened in. */
#pragma once

#include <netlink/netlink.h>
#include <stdbool.h>
#include <stdint.h>

/* A connected NETLINK_ROUTE socket in the caller's current namespace. */
int ob_nl_open(struct nl_sock **ret);
int ob_nl_ifindex(struct nl_sock *sk, const char *name, int *ret);
int ob_nl_link_up(struct nl_sock *sk, int ifindex);
/* Deletes a link by name (a veth takes its peer with it). */
int ob_nl_link_delete(struct nl_sock *sk, const char *name);
/* A veth pair: name here, peer in the namespace netns_fd. */
int ob_nl_veth_add(struct nl_sock *sk, const char *name, const char *peer, int netns_fd);
/* addr/prefix_len on ifindex, without duplicate address detection. */
int ob_nl_addr_add(struct nl_sock *sk, int ifindex, int family, const uint8_t *addr,
                   unsigned prefix_len);
int ob_nl_default_route(struct nl_sock *sk, int family, const uint8_t *gw, int ifindex);
/* Every route of family (all tables), for ob_nl_route_overlaps(). */
int ob_nl_routes(struct nl_sock *sk, int family, struct nl_cache **ret);
/* True when some route of cache (not a default route) overlaps
 * addr/prefix_len. */
bool ob_nl_route_overlaps(struct nl_cache *routes, int family, const uint8_t *addr,
                          unsigned prefix_len);
