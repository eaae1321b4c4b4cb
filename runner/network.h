/* SPDX-License-Identifier: Apache-2.0 */
/* The runner's side of NETWORK_CONNECT (issue 5): with at least one grant,
 * a run gets its own network namespace, veth and egress allowlist, enforced
 * by BPF on a per-run cgroup-v2 directory and on the veth; denials become
 * CapabilityDenied events. The work itself is in network/. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "events/event.h"
#include "runner/runner.h"

#define OB_NET_CGROUP2_ROOT OB_CGROUP_ROOT "/unified"
#define OB_NET_MAX_EVENTS   1000 /* CapabilityDenied events per run; more are counted */

typedef struct ob_run_network ob_run_network;

/* What the launch needs: the namespace to join and the cgroup-v2
 * cgroup.procs to write "0" to (both in the runsc child, before exec),
 * and a ring-buffer fd to poll with its drain function. */
typedef struct ob_run_network_launch {
        int netns_fd;
        int cgroup_procs_fd;
        int poll_fd;
        void (*drain)(void *data);
        void *data;
} ob_run_network_launch;

/* True when caps holds a NETWORK_CONNECT grant (the run gets a network). */
bool ob_run_network_wanted(const ob_capset *caps);
/* Sets the network of run id up: namespace, veth, addresses, the cgroup-v2
 * directory with the sock_addr programs, the tc classifier, and /etc/hosts
 * + /etc/nsswitch.conf in run_path added to mounts. Denials are emitted on
 * sink (which must outlive *ret). On failure nothing is left (teardown). */
int ob_run_network_setup(const char *id, const char *run_path, const ob_capset *caps,
                         const char *principal, ob_event_sink *sink, ob_mount_plan *mounts,
                         ob_sandbox_line_fn log, void *userdata, ob_run_network **ret,
                         ob_error *err);
/* Fills *ret for ob_launch; net may be NULL (no network: returns false). */
bool ob_run_network_launch_info(ob_run_network *net, ob_run_network_launch *ret);
/* Removes the network namespace from config.json's linux.namespaces
 * (runsc runs with --network=host inside the run's own namespace). */
void ob_run_network_adjust_spec(cJSON *config);
/* Emits waiting denials; returns the number of denials seen so far. */
unsigned ob_run_network_drain(ob_run_network *net);
/* "NETWORK_CONNECT <ip:port> (bpf, policy <id>)" for the first denial, ""
 * when none; lives as long as net. */
const char *ob_run_network_first_denial(const ob_run_network *net);
/* caps with its NETWORK_CONNECT rules replaced by the addresses this run
 * enforces (host.omnibase.internal and host names as resolved at setup), for
 * the in-sandbox sidecar, so that both layers decide alike. *ret is the
 * caller's (ob_capset_free). */
int ob_run_network_enforced_caps(const ob_run_network *net, const ob_capset *caps, ob_capset **ret);
/* Closes what the runner holds (fds, maps); the namespace, veth, BPF
 * attachments and cgroup stay until ob_run_network_teardown(). NULL ok. */
ob_run_network *ob_run_network_free(ob_run_network *net);
/* Removes everything the network of run id left (namespace, veth with its
 * tc filter, cgroup-v2 directory with its programs). Idempotent; used by
 * the runner's cleanup and by gc. */
void ob_run_network_teardown(const char *id);
