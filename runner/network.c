/* SPDX-License-Identifier: Apache-2.0 */
/* Runner glue for the network module: setup before launch, the launch
 * hooks, ring-buffer denials as CapabilityDenied events, teardown. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "network/network.h"
#include "runner/network.h"

struct ob_run_network {
        char id[OB_RUN_ID_LEN + 1];
        const char *principal;
        ob_event_sink *sink;
        ob_net_link link;
        ob_net_rules rules;
        ob_net_bpf *bpf;
        int cgroup_fd, procs_fd;
        unsigned denials;
        char first[160]; /* the first denial, for the one-line verdict */
};

/* True when the run gets a network (see runner/network.h). */
bool ob_run_network_wanted(const ob_capset *caps)
{
        return ob_net_wanted(caps);
}

static void cgroup2_path(const char *id, char *buf, size_t size)
{
        snprintf(buf, size, "%s/%s/%s", OB_NET_CGROUP2_ROOT, OB_CGROUP_PARENT, id);
}

static const char *hook_name(unsigned hook)
{
        static const char *const names[] = {"?", "connect", "connect", "sendmsg", "sendmsg", "tc"};
        return hook < ARRAY_SIZE(names) ? names[hook] : "?";
}

static void on_denial(const struct ob_net_denial *d, void *userdata)
{
        ob_run_network *net = userdata;
        _cleanup_event_ ob_event *ev = NULL;
        char ip[INET6_ADDRSTRLEN], target[INET6_ADDRSTRLEN + 16];
        const char *policy = "default-deny";

        if (++net->denials > OB_NET_MAX_EVENTS ||
            ob_event_new(OB_EVENT_CAPABILITY_DENIED, net->id, net->principal, &ev) < 0)
                return;
        inet_ntop(d->family == 4 ? AF_INET : AF_INET6, d->addr, ip, sizeof(ip));
        snprintf(target, sizeof(target), d->family == 4 ? "%s:%u" : "[%s]:%u", ip, d->port);
        if (d->policy != OB_NET_NO_POLICY && d->policy < net->rules.n_ids &&
            net->rules.policy_ids[d->policy])
                policy = net->rules.policy_ids[d->policy];
        if (net->denials == 1)
                snprintf(net->first, sizeof(net->first), "NETWORK_CONNECT %s (bpf, policy %.64s)",
                         target, policy);
        ob_event_add_string(ev, "capability", "NETWORK_CONNECT");
        ob_event_add_string(ev, "target", target);
        ob_event_add_string(ev, "layer", "bpf");
        ob_event_add_string(ev, "hook", hook_name(d->hook));
        ob_event_add_string(ev, "protocol",
                            d->proto == 6                     ? "tcp"
                            : d->proto == 17                  ? "udp"
                            : d->proto == 1 || d->proto == 58 ? "icmp"
                                                              : "other");
        ob_event_add_string(ev, "policy_id", policy);
        (void)ob_event_emit(net->sink, ev);
}

/* The sandbox's /etc (runner/rootfs.c), with host.omnibase.internal (the
 * host end) in /etc/hosts and DNS after it in nsswitch.conf. */
static int write_etc(ob_run_network *net, const char *run_path, ob_mount_plan *mounts)
{
        char h4[INET_ADDRSTRLEN], h6[INET6_ADDRSTRLEN], text[512];

        inet_ntop(AF_INET, net->link.host4, h4, sizeof(h4));
        inet_ntop(AF_INET6, net->link.host6, h6, sizeof(h6));
        snprintf(text, sizeof(text), "%s\t%s\n%s\t%s\n", h4, OB_NET_HOST_NAME, h6,
                 OB_NET_HOST_NAME);
        return ob_rootfs_etc(run_path, net->id, text, true, mounts);
}

/* The per-run cgroup-v2 directory (the shared parent is made on demand and
 * removed with the run's other cgroups, runner/cgroup.c). */
static int make_cgroup(ob_run_network *net)
{
        char path[256], procs[300];

        snprintf(path, sizeof(path), "%s/%s", OB_NET_CGROUP2_ROOT, OB_CGROUP_PARENT);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        cgroup2_path(net->id, path, sizeof(path));
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        net->cgroup_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (net->cgroup_fd < 0)
                return negative_errno();
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
        net->procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
        return net->procs_fd < 0 ? negative_errno() : 0;
}

static void log_rules(const ob_net_rules *rules, ob_sandbox_line_fn log, void *ud)
{
        for (size_t i = 0; log && i < rules->n; i++) {
                const ob_net_addr_rule *r = &rules->v[i];
                char ip[INET6_ADDRSTRLEN], line[256];
                inet_ntop(r->family, r->addr, ip, sizeof(ip));
                snprintf(line, sizeof(line), "network: %s %s/%u ports %u-%u",
                         r->deny ? "deny" : "allow", ip, r->prefix_len, r->port_lo, r->port_hi);
                log(line, ud);
        }
}

/* Rules, maps, programs; then the attachments. */
static int arm(ob_run_network *net, const ob_capset *caps, ob_sandbox_line_fn log, void *ud,
               ob_error *err)
{
        _cleanup_free_ ob_net_entry *entries = NULL;
        size_t n = 0;
        int r;

        r = ob_net_rules_build(caps, &net->link, log, ud, &net->rules, err);
        if (r < 0)
                return r;
        log_rules(&net->rules, log, ud);
        if (net->rules.beyond_host && (r = ob_net_link_forward(&net->link)) < 0)
                return ob_error_set(err, 0, 0, r, "forwarding on %s: %s", net->link.host_if,
                                    strerror(-r));
        r = ob_net_compile(&net->rules, &entries, &n);
        if (r == -E2BIG)
                return ob_error_set(err, 0, 0, E2BIG,
                                    "network allowlist: more than %d port ranges for one address "
                                    "or %d prefixes",
                                    OB_NET_MAX_RANGES, OB_NET_MAX_PREFIX);
        if (r >= 0)
                r = ob_net_bpf_load(entries, n, on_denial, net, &net->bpf);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "loading the BPF egress programs: %s",
                                    strerror(-r));
        r = make_cgroup(net);
        if (r >= 0)
                r = ob_net_bpf_attach_cgroup(net->bpf, net->cgroup_fd);
        if (r >= 0)
                r = ob_net_bpf_attach_tc(net->bpf, net->link.host_ifindex);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "attaching the BPF egress programs: %s",
                                    strerror(-r));
        return 0;
}

/* Network, BPF and /etc files of run id; *ret is the caller's (ob_run_network_free). */
int ob_run_network_setup(const char *id, const char *run_path, const ob_capset *caps,
                         const char *principal, ob_event_sink *sink, ob_mount_plan *mounts,
                         ob_sandbox_line_fn log, void *userdata, ob_run_network **ret,
                         ob_error *err)
{
        ob_run_network *net = calloc(1, sizeof(*net));
        struct timespec t0, t1;
        int r;

        if (!net)
                return -ENOMEM;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        snprintf(net->id, sizeof(net->id), "%s", id);
        net->principal = principal;
        net->sink = sink;
        net->cgroup_fd = net->procs_fd = -1;
        r = ob_net_link_create(id, NULL, &net->link, err);
        if (r >= 0)
                r = arm(net, caps, log, userdata, err);
        if (r >= 0)
                r = write_etc(net, run_path, mounts);
        if (r < 0) {
                if (!err->message[0])
                        ob_error_set(err, 0, 0, r, "network setup: %s", strerror(-r));
                ob_run_network_free(net);
                ob_run_network_teardown(id);
                return r;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (log) {
                char line[160];
                snprintf(line, sizeof(line), "network: %s ready in %.1f ms (%s, veth %s)", id,
                         (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                             (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
                         net->link.netns, net->link.host_if);
                log(line, userdata);
        }
        *ret = net;
        return 0;
}

static void drain_cb(void *data)
{
        (void)ob_run_network_drain(data);
}

/* What the launch needs, borrowed from net; false when there is no network. */
bool ob_run_network_launch_info(ob_run_network *net, ob_run_network_launch *ret)
{
        if (!net)
                return false;
        *ret = (ob_run_network_launch){.netns_fd = net->link.netns_fd,
                                       .cgroup_procs_fd = net->procs_fd,
                                       .poll_fd = ob_net_bpf_poll_fd(net->bpf),
                                       .drain = drain_cb,
                                       .data = net};
        return true;
}

/* Drops the network namespace from config.json. */
void ob_run_network_adjust_spec(cJSON *config)
{
        cJSON *linux_ = cJSON_GetObjectItemCaseSensitive(config, "linux");
        cJSON *ns = cJSON_GetObjectItemCaseSensitive(linux_, "namespaces");
        int i = 0;
        cJSON *it;

        cJSON_ArrayForEach (it, ns) {
                cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
                if (cJSON_IsString(type) && streq(type->valuestring, "network")) {
                        cJSON_DeleteItemFromArray(ns, i);
                        return;
                }
                i++;
        }
}

/* Emits waiting denials as events; the number seen so far. */
unsigned ob_run_network_drain(ob_run_network *net)
{
        if (!net)
                return 0;
        (void)ob_net_bpf_drain(net->bpf);
        return net->denials;
}

/* See runner/network.h. */
int ob_run_network_enforced_caps(const ob_run_network *net, const ob_capset *caps, ob_capset **ret)
{
        if (!net)
                return -EINVAL;
        return ob_net_rules_to_capset(&net->rules, caps, ret);
}

/* The first denial as one line, "" when none. */
const char *ob_run_network_first_denial(const ob_run_network *net)
{
        return net ? net->first : "";
}

/* Frees what the runner holds; returns NULL. */
ob_run_network *ob_run_network_free(ob_run_network *net)
{
        if (!net)
                return NULL;
        ob_net_bpf_free(net->bpf);
        ob_net_rules_done(&net->rules);
        ob_net_link_done(&net->link);
        closep(&net->cgroup_fd);
        closep(&net->procs_fd);
        free(net);
        return NULL;
}

/* Removes all of run id's network; idempotent (runner and gc). */
void ob_run_network_teardown(const char *id)
{
        char path[256];

        (void)ob_net_link_destroy(id);
        cgroup2_path(id, path, sizeof(path));
        (void)rmdir(path); /* ob_cgroup_remove() retries it while runsc leaves */
}
