/* SPDX-License-Identifier: Apache-2.0 */
/* libnl-route wrappers: links, addresses, routes. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <string.h>
#include <sys/socket.h>

#include "capabilities/endpoint.h"
#include "network/nl.h"

static int nlerr(int e)
{
        switch (e < 0 ? -e : e) {
        case 0:
                return 0;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_OBJ_NOTFOUND:
        case NLE_NODEV:
                return -ENODEV;
        case NLE_PERM:
                return -EPERM;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_INVAL:
                return -EINVAL;
        default:
                return -EIO;
        }
}

/* A new route socket in the current namespace (*ret, free with nl_socket_free). */
int ob_nl_open(struct nl_sock **ret)
{
        struct nl_sock *sk = nl_socket_alloc();
        int r;

        if (!sk)
                return -ENOMEM;
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0) {
                nl_socket_free(sk);
                return nlerr(r);
        }
        *ret = sk;
        return 0;
}

/* The index of interface name: 0 or -ENODEV. */
int ob_nl_ifindex(struct nl_sock *sk, const char *name, int *ret)
{
        struct rtnl_link *l = NULL;
        int r = rtnl_link_get_kernel(sk, 0, name, &l);

        if (r < 0)
                return nlerr(r);
        *ret = rtnl_link_get_ifindex(l);
        rtnl_link_put(l);
        return 0;
}

/* Sets IFF_UP on ifindex. */
int ob_nl_link_up(struct nl_sock *sk, int ifindex)
{
        struct rtnl_link *orig = NULL, *change;
        int r = rtnl_link_get_kernel(sk, ifindex, NULL, &orig);

        if (r < 0)
                return nlerr(r);
        change = rtnl_link_alloc();
        if (!change) {
                rtnl_link_put(orig);
                return -ENOMEM;
        }
        rtnl_link_set_flags(change, IFF_UP);
        r = rtnl_link_change(sk, orig, change, 0);
        rtnl_link_put(change);
        rtnl_link_put(orig);
        return nlerr(r);
}

/* Deletes the link called name. */
int ob_nl_link_delete(struct nl_sock *sk, const char *name)
{
        struct rtnl_link *l = rtnl_link_alloc();
        int r;

        if (!l)
                return -ENOMEM;
        rtnl_link_set_name(l, name);
        r = rtnl_link_delete(sk, l);
        rtnl_link_put(l);
        return nlerr(r);
}

/* A veth pair, the peer created directly in netns_fd. */
int ob_nl_veth_add(struct nl_sock *sk, const char *name, const char *peer_name, int netns_fd)
{
        struct rtnl_link *l = rtnl_link_veth_alloc(), *peer;
        int r;

        if (!l)
                return -ENOMEM;
        peer = rtnl_link_veth_get_peer(l);
        rtnl_link_set_name(l, name);
        rtnl_link_set_name(peer, peer_name);
        rtnl_link_set_ns_fd(peer, netns_fd);
        r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
        rtnl_link_put(peer);
        rtnl_link_veth_release(l);
        return nlerr(r);
}

/* Adds addr/prefix_len to ifindex (no DAD). */
int ob_nl_addr_add(struct nl_sock *sk, int ifindex, int family, const uint8_t *addr,
                   unsigned prefix_len)
{
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = nl_addr_build(family, addr, family == AF_INET ? 4 : 16);
        int r = -ENOMEM;

        if (a && local) {
                nl_addr_set_prefixlen(local, (int)prefix_len);
                rtnl_addr_set_ifindex(a, ifindex);
                rtnl_addr_set_family(a, family);
                r = rtnl_addr_set_local(a, local);
                if (family == AF_INET6)
                        rtnl_addr_set_flags(a, IFA_F_NODAD);
                if (r >= 0)
                        r = nlerr(rtnl_addr_add(sk, a, 0));
                else
                        r = nlerr(r);
        }
        nl_addr_put(local);
        rtnl_addr_put(a);
        return r;
}

/* A default route via gw_addr on ifindex. */
int ob_nl_default_route(struct nl_sock *sk, int family, const uint8_t *gw_addr, int ifindex)
{
        static const uint8_t zero[16] = {0};
        unsigned len = family == AF_INET ? 4 : 16;
        struct rtnl_route *rt = rtnl_route_alloc();
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        struct nl_addr *dst = nl_addr_build(family, zero, len),
                       *gw = nl_addr_build(family, gw_addr, len);
        int r = -ENOMEM;

        if (rt && nh && dst && gw) {
                nl_addr_set_prefixlen(dst, 0);
                rtnl_route_set_family(rt, (uint8_t)family);
                rtnl_route_set_dst(rt, dst);
                rtnl_route_nh_set_gateway(nh, gw);
                rtnl_route_nh_set_ifindex(nh, ifindex);
                rtnl_route_add_nexthop(rt, nh);
                nh = NULL; /* the route owns it */
                r = nlerr(rtnl_route_add(sk, rt, NLM_F_CREATE));
        }
        if (nh)
                rtnl_route_nh_free(nh);
        nl_addr_put(dst);
        nl_addr_put(gw);
        rtnl_route_put(rt);
        return r;
}

typedef struct overlap_ctx {
        int family;
        const uint8_t *addr;
        unsigned prefix_len;
        bool found;
} overlap_ctx;

static void check_route(struct nl_object *obj, void *data)
{
        overlap_ctx *c = data;
        struct nl_addr *dst = rtnl_route_get_dst((struct rtnl_route *)obj);
        unsigned plen, shorter;
        uint8_t a[16] = {0};

        if (!dst || nl_addr_get_family(dst) != c->family || nl_addr_get_prefixlen(dst) == 0)
                return;
        plen = (unsigned)nl_addr_get_prefixlen(dst);
        if (nl_addr_get_len(dst) > sizeof(a))
                return;
        memcpy(a, nl_addr_get_binary_addr(dst), nl_addr_get_len(dst));
        shorter = plen < c->prefix_len ? plen : c->prefix_len;
        if (cap_addr_in_prefix(c->family, a, c->addr, shorter))
                c->found = true;
}

/* Dumps every route of family; *ret is the caller's (nl_cache_free). */
int ob_nl_routes(struct nl_sock *sk, int family, struct nl_cache **ret)
{
        return nlerr(rtnl_route_alloc_cache(sk, family, 0, ret));
}

/* True when a non-default route of routes overlaps addr/prefix_len. */
bool ob_nl_route_overlaps(struct nl_cache *routes, int family, const uint8_t *addr,
                          unsigned prefix_len)
{
        overlap_ctx c = {.family = family, .addr = addr, .prefix_len = prefix_len};

        nl_cache_foreach(routes, check_route, &c);
        return c.found;
}
