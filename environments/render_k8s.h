/* SPDX-License-Identifier: Apache-2.0 */
/* The Kubernetes backend's renderer (DESIGN §8, docs/kubernetes.md): an
 * environment (its record and template) or a template alone as the objects
 * a cluster needs, in apply order, as cJSON trees; and a YAML emitter for
 * them. Pure: nothing is read but the arguments, nothing is written. The
 * same input gives the same bytes. */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "environments/store.h"
#include "environments/template.h"

#define OB_K8S_DEFAULT_IMAGE  "ghcr.io/omnibase/environment:latest"
#define OB_K8S_RUNTIME_CLASS  "gvisor"
#define OB_K8S_MAX_EGRESS     256 /* egress rules of one NetworkPolicy */
#define OB_K8S_MAX_POOL       1000
#define OB_K8S_SANDBOX_API    "agents.x-k8s.io/v1beta1"
#define OB_K8S_EXTENSIONS_API "extensions.agents.x-k8s.io/v1beta1"
#define OB_K8S_SIDECAR        "/omnibase/sidecar/omnibase-sidecar"
#define OB_K8S_CAPS_DIR       "/omnibase/run"

typedef struct ob_k8s_opts {
        size_t struct_size;       /* sizeof(ob_k8s_opts) */
        const char *image;        /* the environment image; NULL: OB_K8S_DEFAULT_IMAGE */
        int64_t pool;             /* template render: a SandboxWarmPool of this many; 0: none */
        const ob_env_config *cfg; /* its kubernetes groups get the Admin and Observer
                                   * roles; NULL: none */
} ob_k8s_opts;

/* The objects of environment r (made from template t) as a v1 List:
 * RuntimeClass, Namespace, ResourceQuota, LimitRange, NetworkPolicy, Roles,
 * RoleBindings (the owner's; Admin's and Observer's when o->cfg names
 * groups), ConfigMaps, Sandbox. Errors: code "invalid" for what the
 * cluster cannot express exactly (a host-name grant, too many rules).
 * *ret the caller's (cJSON_Delete). */
int ob_k8s_render_env(const ob_env_record *r, const ob_template *t, const ob_k8s_opts *o,
                      cJSON **ret, ob_error *err);
/* The template as a List: RuntimeClass, SandboxTemplate (+ SandboxWarmPool
 * when o->pool > 0). Same errors. */
int ob_k8s_render_template(const ob_template *t, const ob_k8s_opts *o, cJSON **ret, ob_error *err);

/* The NetworkPolicy egress rules that allow exactly what caps's
 * NETWORK_CONNECT grants allow and its denials do not (TCP and UDP):
 * addresses and CIDRs as ipBlocks, a denial inside a granted CIDR as an
 * `except`, port ranges as port/endPort. Host names are resolved now, on
 * this host (a name that does not resolve grants or denies nothing, as in a
 * local run), *ret_resolved (when not NULL) is then {name: [addresses]}
 * (NULL without names), and a grant of a name adds egress to the cluster's
 * DNS (kube-dns, port 53). A host pattern (other than "*") or
 * host.omnibase.internal cannot be rendered: -EINVAL, code "invalid". No
 * grant: an empty array (no egress at all). *ret the caller's.
 * (render_k8s_net.c) */
int ob_k8s_egress(const ob_capset *caps, cJSON **ret, cJSON **ret_resolved, ob_error *err);

#define OB_K8S_SEED_DIR    "/usr/share/omnibase/seeds" /* in the image: seeds/ as installed */
#define OB_K8S_SECRETS_DIR "/run/omnibase/secrets"     /* a file per secret, in the pod */
#define OB_K8S_SECRET_NAME "omnibase-secrets"          /* the Secret the pod reads them from */

/* What an environment's pod has beyond its template's: the seed, installed
 * into the workspace by an init container that first checks the bundle in
 * the image against the local MANIFEST's SHA-256; the secrets, files of a
 * Secret on a memory-backed volume readable by the workload's group only. */
typedef struct ob_k8s_env_extras {
        const char *seed;       /* "name:version", or NULL */
        char seed_manifest[65]; /* the local bundle's MANIFEST SHA-256 (hex) */
        char *const *secrets;   /* names, NULL-terminated, or NULL */
} ob_k8s_env_extras;

/* The pod template's spec of an environment (or, id NULL, of a template);
 * its ConfigMaps are omnibase-capabilities<suffix> and omnibase-flags<suffix>;
 * x (may be NULL) the environment's seed and secrets. (render_k8s_pod.c) */
int ob_k8s_pod_spec(const ob_template *t, const char *id, char *const *flags, const char *suffix,
                    const ob_k8s_opts *o, const ob_k8s_env_extras *x, cJSON **ret);
/* The agent-sandbox objects (render_k8s_pod.c): a Sandbox named id whose
 * shutdownTime is expires_at; a SandboxTemplate named after t; a
 * SandboxWarmPool of n of it. */
cJSON *ob_k8s_sandbox(const ob_env_record *r, const ob_template *t, const ob_k8s_opts *o,
                      const ob_k8s_env_extras *x);
cJSON *ob_k8s_sandbox_template(const ob_template *t, cJSON *egress, const ob_k8s_opts *o);
cJSON *ob_k8s_warm_pool(const ob_template *t, int64_t n);
/* "2026-12-07T12:00:00Z" into buf (>= 32). */
void ob_k8s_time(int64_t t, char *buf, size_t size);

/* The common metadata: name, namespace (NULL: none), labels (managed-by,
 * and the environment's when id is given). (render_k8s.c) */
cJSON *ob_k8s_object(const char *api, const char *kind, const char *name, const char *ns,
                     const char *id);

/* Multi-document YAML of a v1 List's items ("---" before each): mappings
 * and sequences in block style, every string double-quoted with JSON's
 * escapes (valid YAML 1.2), numbers and booleans plain. *ret malloc'd.
 * (render_yaml.c) */
int ob_k8s_yaml(const cJSON *list, char **ret);
