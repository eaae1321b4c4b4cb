/* SPDX-License-Identifier: Apache-2.0 */
/* Loading the egress programs (embedded in the library at build time, see
 * bpf_object.c), filling the allowlist maps, attaching, and reading the
 * denial ring buffer. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/macros.h"
#include "network/network.h"

extern const unsigned char ob_net_bpf_obj[];
extern const unsigned char ob_net_bpf_obj_end[];

struct ob_net_bpf {
        struct bpf_object *obj;
        struct ring_buffer *rb;
        ob_net_denial_fn fn;
        void *userdata;
};

/* libbpf prints to stderr by default; library code does not print
 * (OMNIBASE_BPF_DEBUG=1 lets libbpf's messages through, for debugging). */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap) _printf_(2, 0);
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        if (getenv("OMNIBASE_BPF_DEBUG"))
                return vfprintf(stderr, fmt, ap);
        return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
        ob_net_bpf *b = ctx;

        if (size >= sizeof(struct ob_net_denial) && b->fn)
                b->fn(data, b->userdata);
        return 0;
}

static int fill(ob_net_bpf *b, const ob_net_entry *e, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const char *name = e[i].family == AF_INET ? (e[i].deny ? "deny4" : "allow4")
                                                          : (e[i].deny ? "deny6" : "allow6");
                struct bpf_map *m = bpf_object__find_map_by_name(b->obj, name);
                struct ob_lpm6 k6 = {.prefixlen = e[i].prefix_len};
                struct ob_lpm4 k4 = {.prefixlen = e[i].prefix_len};
                if (!m)
                        return -ENOENT;
                memcpy(k4.addr, e[i].addr, 4);
                memcpy(k6.addr, e[i].addr, 16);
                if (bpf_map_update_elem(bpf_map__fd(m), e[i].family == AF_INET ? (void *)&k4 : &k6,
                                        &e[i].value, BPF_ANY) < 0)
                        return negative_errno();
        }
        return 0;
}

/* Opens and loads the embedded object, fills its maps; *ret owns it (free with ob_net_bpf_free). */
int ob_net_bpf_load(const ob_net_entry *entries, size_t n, ob_net_denial_fn fn, void *userdata,
                    ob_net_bpf **ret)
{
        LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "omnibase_egress");
        ob_net_bpf *b = calloc(1, sizeof(*b));
        struct bpf_map *rbm;
        int r;

        if (!b)
                return -ENOMEM;
        libbpf_set_print(quiet);
        b->fn = fn;
        b->userdata = userdata;
        b->obj = bpf_object__open_mem(ob_net_bpf_obj, (size_t)(ob_net_bpf_obj_end - ob_net_bpf_obj),
                                      &opts);
        if (!b->obj) {
                r = negative_errno();
                goto fail;
        }
        r = bpf_object__load(b->obj);
        if (r >= 0)
                r = fill(b, entries, n);
        rbm = r >= 0 ? bpf_object__find_map_by_name(b->obj, "denials") : NULL;
        if (r >= 0 && !rbm)
                r = -ENOENT;
        if (r >= 0) {
                b->rb = ring_buffer__new(bpf_map__fd(rbm), on_record, b, NULL);
                if (!b->rb)
                        r = negative_errno();
        }
        if (r < 0)
                goto fail;
        *ret = b;
        return 0;
fail:
        ob_net_bpf_free(b);
        return r < 0 ? r : -EIO;
}

/* sock_addr programs on the cgroup, owned by the cgroup (no bpf_link): 0 or -errno. */
int ob_net_bpf_attach_cgroup(ob_net_bpf *b, int cgroup_fd)
{
        static const struct {
                const char *prog;
                enum bpf_attach_type type;
        } hooks[] = {
            {"ob_connect4", BPF_CGROUP_INET4_CONNECT},
            {"ob_connect6", BPF_CGROUP_INET6_CONNECT},
            {"ob_sendmsg4", BPF_CGROUP_UDP4_SENDMSG},
            {"ob_sendmsg6", BPF_CGROUP_UDP6_SENDMSG},
        };

        for (size_t i = 0; i < ARRAY_SIZE(hooks); i++) {
                struct bpf_program *p = bpf_object__find_program_by_name(b->obj, hooks[i].prog);
                if (!p)
                        return -ENOENT;
                if (bpf_prog_attach(bpf_program__fd(p), cgroup_fd, hooks[i].type,
                                    BPF_F_ALLOW_MULTI) < 0)
                        return negative_errno();
        }
        return 0;
}

/* clsact + the classifier on ifindex ingress (owned by the link): 0 or -errno. */
int ob_net_bpf_attach_tc(ob_net_bpf *b, int ifindex)
{
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
        LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
        struct bpf_program *p = bpf_object__find_program_by_name(b->obj, "ob_tc_egress");
        int r;

        if (!p)
                return -ENOENT;
        r = bpf_tc_hook_create(&hook);
        if (r < 0 && r != -EEXIST)
                return r;
        opts.prog_fd = bpf_program__fd(p);
        return bpf_tc_attach(&hook, &opts);
}

/* The ring buffer's epoll fd (owned by b), -1 without one. */
int ob_net_bpf_poll_fd(const ob_net_bpf *b)
{
        return b && b->rb ? ring_buffer__epoll_fd(b->rb) : -1;
}

/* Consumes the ring buffer through the callback; the count or -errno. */
int ob_net_bpf_drain(ob_net_bpf *b)
{
        return b && b->rb ? ring_buffer__consume(b->rb) : 0;
}

/* Frees b (attachments stay with their cgroup and link); returns NULL. */
ob_net_bpf *ob_net_bpf_free(ob_net_bpf *b)
{
        if (!b)
                return NULL;
        ring_buffer__free(b->rb);
        bpf_object__close(b->obj);
        free(b);
        return NULL;
}
