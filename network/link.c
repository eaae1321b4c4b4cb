/* SPDX-License-Identifier: Apache-2.0 */
/* A run's network: namespace omnibase-<id> (unshare, bind-mounted in
 * /run/netns so that `ip netns list` and gc see it), a veth pair made with
 * libnl (one end inside, named eth0), a /30 and a /126 per run, default
 * routes via the host end. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "network/network.h"
#include "network/nl.h"

#define NET_LOCK "/run/omnibase-net.lock"

/* The host end's interface name for run id, into buf. */
void ob_net_host_ifname(const char *id, char buf[IFNAMSIZ])
{
        const char *hex = strncmp(id, "ob-", 3) == 0 ? id + 3 : id;
        snprintf(buf, IFNAMSIZ, "ob%.13s", hex);
}

/* 0 with the pool's network and length, or -EINVAL. */
int ob_net_parse_pool(const char *text, uint8_t net[4], unsigned *ret_len)
{
        char buf[32], *slash, *end;
        unsigned long len;
        struct in_addr a;

        if (!text || strlen(text) >= sizeof(buf))
                return -EINVAL;
        strcpy(buf, text);
        slash = strchr(buf, '/');
        if (!slash)
                return -EINVAL;
        *slash = '\0';
        errno = 0;
        len = strtoul(slash + 1, &end, 10);
        if (errno || *end || end == slash + 1 || len < 8 || len > 30 ||
            inet_pton(AF_INET, buf, &a) != 1)
                return -EINVAL;
        memcpy(net, &a, 4);
        for (unsigned i = 0; i < 4; i++) { /* the network itself */
                unsigned bits = len > i * 8 ? len - i * 8 : 0;
                if (bits < 8)
                        net[i] &= (uint8_t)(0xff00u >> bits);
        }
        *ret_len = (unsigned)len;
        return 0;
}

void ob_net_netns_path(const char *id, char *buf, size_t size)
{
        snprintf(buf, size, "%s/%s%s", OB_NET_NETNS_DIR, OB_NET_NETNS_PREFIX, id);
}

/* unshare a namespace, bind it at /run/netns/omnibase-<id>, and come back.
 * *ret_fd refers to it; *ret_sk is a netlink socket living inside it. */
static int netns_create(const char *id, int *ret_fd, struct nl_sock **ret_sk)
{
        char path[128];
        _cleanup_close_ int self = -1, fd = -1;
        struct nl_sock *sk = NULL;
        int r = 0;

        ob_net_netns_path(id, path, sizeof(path));
        if (mkdir(OB_NET_NETNS_DIR, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        closep(&fd); /* leaves -1: the cleanup does not close it again */
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0 || unshare(CLONE_NEWNET) < 0) {
                r = negative_errno();
                (void)unlink(path);
                return r;
        }
        if (mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) < 0)
                r = negative_errno();
        if (r >= 0 && (fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
                r = negative_errno();
        if (r >= 0)
                r = ob_nl_open(&sk);
        if (setns(self, CLONE_NEWNET) < 0) /* cannot fail for our own namespace */
                r = r < 0 ? r : negative_errno();
        if (r < 0) {
                nl_socket_free(sk);
                (void)umount2(path, MNT_DETACH);
                (void)unlink(path);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        *ret_sk = sk;
        return 0;
}

/* Writes value to /proc/sys/net/<family>/conf/<ifname>/<key>. */
static int write_sysctl(const char *family, const char *ifname, const char *key, const char *value)
{
        char path[128];
        _cleanup_close_ int fd = -1;
        ssize_t len = (ssize_t)strlen(value);

        snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", family, ifname, key);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return write(fd, value, (size_t)len) == len ? 0 : negative_errno();
}

/* Addresses of slot k of the pool: host .4k+1, guest .4k+2 (and in v6). */
static void slot_addrs(const uint8_t net[4], uint32_t k, ob_net_link *l)
{
        uint32_t base =
            ((uint32_t)net[0] << 24 | (uint32_t)net[1] << 16 | (uint32_t)net[2] << 8 | net[3]) +
            4 * k;
        uint32_t h = htonl(base + 1), g = htonl(base + 2), h6 = htonl(4 * k + 1),
                 g6 = htonl(4 * k + 2);

        memcpy(l->host4, &h, 4);
        memcpy(l->guest4, &g, 4);
        inet_pton(AF_INET6, OB_NET_POOL6_PREFIX, l->host6);
        memcpy(l->guest6, l->host6, 16);
        memcpy(l->host6 + 12, &h6, 4);
        memcpy(l->guest6 + 12, &g6, 4);
}

/* The first slot whose /30 and /126 overlap no route of the root namespace
 * (the routes are read once; the caller holds the pool lock). */
static int pick_slot(struct nl_sock *sk, const uint8_t net[4], unsigned len, ob_net_link *l)
{
        uint32_t slots = 1u << (32 - len - 2);
        struct nl_cache *r4 = NULL, *r6 = NULL;
        int r = ob_nl_routes(sk, AF_INET, &r4);

        if (r >= 0)
                r = ob_nl_routes(sk, AF_INET6, &r6);
        for (uint32_t k = 0; r >= 0; k++) {
                if (k == slots) {
                        r = -EADDRNOTAVAIL;
                        break;
                }
                slot_addrs(net, k, l);
                if (!ob_nl_route_overlaps(r4, AF_INET, l->host4, 30) &&
                    !ob_nl_route_overlaps(r6, AF_INET6, l->host6, 126))
                        break;
        }
        nl_cache_free(r4);
        nl_cache_free(r6);
        return r;
}

/* Per-interface forwarding on the host end: 0 or -errno. */
int ob_net_link_forward(const ob_net_link *link)
{
        int r = write_sysctl("ipv4", link->host_if, "forwarding", "1");

        /* IPv6 forwarding is global before kernel 6.17; force_forwarding
         * turns it on for this interface only where it exists */
        if (r >= 0)
                (void)write_sysctl("ipv6", link->host_if, "force_forwarding", "1");
        return r;
}

typedef struct build {
        const char *id;
        ob_net_link *l;
        struct nl_sock *root, *inside;
        int guest_ifindex;
} build;

static int configure_host(build *b)
{
        int r = ob_nl_ifindex(b->root, b->l->host_if, &b->l->host_ifindex);

        if (r >= 0)
                r = ob_nl_addr_add(b->root, b->l->host_ifindex, AF_INET, b->l->host4, 30);
        if (r >= 0)
                r = ob_nl_addr_add(b->root, b->l->host_ifindex, AF_INET6, b->l->host6, 126);
        if (r >= 0)
                r = ob_nl_link_up(b->root, b->l->host_ifindex);
        return r;
}

static int configure_guest(build *b)
{
        int lo, r = ob_nl_ifindex(b->inside, "lo", &lo);

        if (r >= 0)
                r = ob_nl_link_up(b->inside, lo);
        if (r >= 0)
                r = ob_nl_ifindex(b->inside, OB_NET_GUEST_IF, &b->guest_ifindex);
        if (r >= 0)
                r = ob_nl_addr_add(b->inside, b->guest_ifindex, AF_INET, b->l->guest4, 30);
        if (r >= 0)
                r = ob_nl_addr_add(b->inside, b->guest_ifindex, AF_INET6, b->l->guest6, 126);
        if (r >= 0)
                r = ob_nl_link_up(b->inside, b->guest_ifindex);
        if (r >= 0)
                r = ob_nl_default_route(b->inside, AF_INET, b->l->host4, b->guest_ifindex);
        if (r >= 0)
                r = ob_nl_default_route(b->inside, AF_INET6, b->l->host6, b->guest_ifindex);
        return r;
}

/* Under the pool lock: pick a slot, make the veth, address both ends. */
static int build_link(build *b, const uint8_t net[4], unsigned len, ob_error *err)
{
        _cleanup_close_ int lock = open(NET_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        int r;

        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return ob_error_set(err, 0, 0, errno, "%s: %s", NET_LOCK, strerror(errno));
        r = pick_slot(b->root, net, len, b->l);
        if (r == -EADDRNOTAVAIL)
                return ob_error_set(err, 0, 0, r,
                                    "network pool exhausted: every /30 overlaps a route");
        if (r >= 0)
                r = ob_nl_veth_add(b->root, b->l->host_if, OB_NET_GUEST_IF, b->l->netns_fd);
        if (r >= 0)
                r = configure_host(b);
        if (r >= 0)
                r = configure_guest(b);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "network setup (%s): %s", b->l->host_if,
                                    strerror(-r));
        return 0;
}

/* Namespace, veth, addresses and routes of run id; *ret holds the netns fd. */
int ob_net_link_create(const char *id, const char *pool, ob_net_link *ret, ob_error *err)
{
        ob_net_link l = {.netns_fd = -1};
        build b = {.id = id, .l = &l};
        uint8_t net[4];
        unsigned len;
        int r;

        if (!pool)
                pool = getenv("OMNIBASE_NET_POOL") && getenv("OMNIBASE_NET_POOL")[0]
                           ? getenv("OMNIBASE_NET_POOL")
                           : OB_NET_POOL_DEFAULT;
        if (ob_net_parse_pool(pool, net, &len) < 0)
                return ob_error_set(err, 0, 0, EINVAL,
                                    "network pool \"%s\": want an IPv4 a.b.c.d/len, len 8..30",
                                    pool);
        snprintf(l.netns, sizeof(l.netns), "%s%s", OB_NET_NETNS_PREFIX, id);
        ob_net_host_ifname(id, l.host_if);
        r = ob_nl_open(&b.root);
        if (r >= 0)
                r = netns_create(id, &l.netns_fd, &b.inside);
        if (r < 0) {
                nl_socket_free(b.root);
                return ob_error_set(err, 0, 0, r, "network namespace %s: %s", l.netns,
                                    strerror(-r));
        }
        r = build_link(&b, net, len, err);
        nl_socket_free(b.root);
        nl_socket_free(b.inside);
        if (r < 0) {
                ob_net_link_done(&l);
                (void)ob_net_link_destroy(id);
                return r;
        }
        *ret = l;
        return 0;
}

/* Closes the link's fd; the namespace and veth stay. */
void ob_net_link_done(ob_net_link *link)
{
        closep(&link->netns_fd);
}

/* Removes the namespace (and so the veth) of run id; idempotent. */
int ob_net_link_destroy(const char *id)
{
        char path[128], ifname[IFNAMSIZ];
        struct nl_sock *sk = NULL;
        bool had_netns;
        int ret = 0, r;

        /* The namespace goes first: once unmounted, and with its processes
         * gone, the kernel destroys it in the background, taking the veth
         * (both ends) and its tc filter with it. Deleting the veth here
         * would cost ~50 ms of RCU grace periods on every run. */
        ob_net_netns_path(id, path, sizeof(path));
        had_netns = access(path, F_OK) == 0;
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                ret = negative_errno();
        if (unlink(path) < 0 && errno != ENOENT && ret == 0)
                ret = negative_errno();
        if (had_netns)
                return ret;
        /* A second pass (gc) that still finds the host end: something kept
         * the namespace alive; delete the veth explicitly. */
        ob_net_host_ifname(id, ifname);
        r = ob_nl_open(&sk);
        if (r >= 0)
                r = ob_nl_link_delete(sk, ifname);
        nl_socket_free(sk);
        if (r < 0 && r != -ENODEV && r != -ENOENT && ret == 0)
                ret = r;
        return ret;
}
