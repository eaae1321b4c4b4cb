/* SPDX-License-Identifier: Apache-2.0 */
/* The workload's pod for the Kubernetes backend: gVisor (runtimeClassName),
 * the sidecar as its entrypoint holding the capability set from a
 * ConfigMap, a read-only root, the workspace and /tmp sized like the local
 * ones, resources from the limits; and the agent-sandbox objects around
 * it: Sandbox (an environment), SandboxTemplate and SandboxWarmPool. An
 * environment's seed is installed by an init container, its secrets are
 * files of a Secret (docs/kubernetes.md). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "environments/env.h"
#include "environments/render_k8s.h"
#include "runner/runner.h"

static const char *const sidecar_caps[] = {"SETUID",     "SETGID", "SETPCAP",
                                           "SYS_PTRACE", "KILL",   "DAC_READ_SEARCH"};

static void add_mib(cJSON *o, const char *key, int64_t mib)
{
        char text[32];

        snprintf(text, sizeof(text), "%lldMi", (long long)mib);
        cJSON_AddStringToObject(o, key, text);
}

/* limits and requests alike (Guaranteed QoS): cpu, memory, ephemeral storage. */
static cJSON *resources(const ob_template *t)
{
        ob_limits l = ob_limits_effective(ob_capset_limits_const(t->caps));
        cJSON *res = cJSON_CreateObject();
        char cpu[32];

        snprintf(cpu, sizeof(cpu), "%lldm", (long long)l.cpus_milli);
        for (int i = 0; i < 2; i++) {
                cJSON *x = cJSON_AddObjectToObject(res, i ? "requests" : "limits");
                cJSON_AddStringToObject(x, "cpu", cpu);
                add_mib(x, "ephemeral-storage", t->workspace_mb);
                add_mib(x, "memory", l.memory_mb);
        }
        return res;
}

/* A container's securityContext: no privilege escalation, every capability
 * dropped but add, read-only root, seccomp RuntimeDefault, as uid:uid. */
static cJSON *security_context(int uid, const char *const *add, size_t n_add)
{
        cJSON *sc = cJSON_CreateObject(), *caps, *v;

        cJSON_AddFalseToObject(sc, "allowPrivilegeEscalation");
        caps = cJSON_AddObjectToObject(sc, "capabilities");
        if (n_add)
                cJSON_AddItemToObject(caps, "add", cJSON_CreateStringArray(add, (int)n_add));
        v = cJSON_AddArrayToObject(caps, "drop");
        cJSON_AddItemToArray(v, cJSON_CreateString("ALL"));
        cJSON_AddFalseToObject(sc, "privileged");
        cJSON_AddTrueToObject(sc, "readOnlyRootFilesystem");
        cJSON_AddNumberToObject(sc, "runAsGroup", uid);
        cJSON_AddBoolToObject(sc, "runAsNonRoot", uid != 0);
        cJSON_AddNumberToObject(sc, "runAsUser", uid);
        v = cJSON_AddObjectToObject(sc, "seccompProfile");
        cJSON_AddStringToObject(v, "type", "RuntimeDefault");
        return sc;
}

static void add_mount(cJSON *mounts, const char *name, const char *path, const char *sub, bool ro)
{
        cJSON *m = cJSON_CreateObject();

        cJSON_AddStringToObject(m, "mountPath", path);
        cJSON_AddStringToObject(m, "name", name);
        if (ro)
                cJSON_AddTrueToObject(m, "readOnly");
        if (sub)
                cJSON_AddStringToObject(m, "subPath", sub);
        cJSON_AddItemToArray(mounts, m);
}

static void add_env(cJSON *env, const char *name, const char *value)
{
        cJSON *e = cJSON_CreateObject();

        cJSON_AddStringToObject(e, "name", name);
        cJSON_AddStringToObject(e, "value", value);
        cJSON_AddItemToArray(env, e);
}

/* The sidecar's command: the head a local run gives it (both capability
 * files, /tmp and /dev/shm as scratch, the sandbox user), its channel on
 * fd 1 instead of 0 (the pod has no supervisor: its SandboxStart and
 * SandboxExit go to the container's log), without the "--" that ends it,
 * then --hold. */
static cJSON *sidecar_command(void)
{
        const char *const *head;
        size_t n = ob_sidecar_argv_head(&head);
        cJSON *cmd = cJSON_CreateArray();

        for (size_t i = 0; i + 1 < n; i++) {
                if (streq(head[i], "--channel-fd")) {
                        cJSON_AddItemToArray(cmd, cJSON_CreateString(head[i++]));
                        cJSON_AddItemToArray(cmd, cJSON_CreateString("1"));
                        continue;
                }
                cJSON_AddItemToArray(cmd, cJSON_CreateString(head[i]));
        }
        cJSON_AddItemToArray(cmd, cJSON_CreateString("--hold"));
        return cmd;
}

static cJSON *container(const ob_template *t, const char *id, char *const *flags,
                        const ob_k8s_opts *o, const ob_k8s_env_extras *x)
{
        cJSON *c = cJSON_CreateObject(), *env, *mounts;
        char list[OB_ENV_MAX_FLAGS * (OB_ENV_FLAG_MAX + 1) + 1] = "";

        cJSON_AddItemToObject(c, "command", sidecar_command());
        env = cJSON_AddArrayToObject(c, "env");
        if (id)
                add_env(env, "OMNIBASE_ENV_ID", id);
        for (size_t i = 0; flags && flags[i]; i++) {
                if (i)
                        strcat(list, ",");
                strncat(list, flags[i], OB_ENV_FLAG_MAX);
        }
        add_env(env, "OMNIBASE_FEATURE_FLAGS", list);
        cJSON_AddStringToObject(c, "image", o && o->image ? o->image : OB_K8S_DEFAULT_IMAGE);
        cJSON_AddStringToObject(c, "imagePullPolicy", "IfNotPresent");
        cJSON_AddStringToObject(c, "name", "environment");
        cJSON_AddItemToObject(c, "resources", resources(t));
        /* the sidecar starts as root to drop the workload to 65534 */
        cJSON_AddItemToObject(c, "securityContext",
                              security_context(0, sidecar_caps, ARRAY_SIZE(sidecar_caps)));
        mounts = cJSON_AddArrayToObject(c, "volumeMounts");
        add_mount(mounts, "capabilities", OB_K8S_CAPS_DIR, NULL, true);
        add_mount(mounts, "flags", OB_ENV_FLAGS_FILE, "flags.json", true);
        if (x && x->secrets && x->secrets[0])
                add_mount(mounts, "secrets", OB_K8S_SECRETS_DIR, NULL, true);
        add_mount(mounts, "tmp", "/tmp", NULL, false);
        add_mount(mounts, "shm", "/dev/shm", NULL, false);
        add_mount(mounts, "workspace", OB_ENV_WORKSPACE, NULL, false);
        cJSON_AddStringToObject(c, "workingDir", OB_ENV_WORKSPACE);
        return c;
}

static void add_volume(cJSON *vols, const char *name, const char *cm, const char *medium,
                       int64_t mib)
{
        cJSON *v = cJSON_CreateObject(), *x;

        if (cm) {
                x = cJSON_AddObjectToObject(v, "configMap");
                cJSON_AddNumberToObject(x, "defaultMode", 0444);
                cJSON_AddStringToObject(x, "name", cm);
        } else {
                x = cJSON_AddObjectToObject(v, "emptyDir");
                if (medium)
                        cJSON_AddStringToObject(x, "medium", medium);
                add_mib(x, "sizeLimit", mib);
        }
        cJSON_AddStringToObject(v, "name", name);
        cJSON_AddItemToArray(vols, v);
}

/* The init step that installs the seed as ob_seed_install does locally
 * (files 0644, directories 0755, MANIFEST kept, every mtime 1970-01-01),
 * from the bundle in the image, after checking that its MANIFEST is the
 * local one byte for byte (its SHA-256) and every file its MANIFEST's: the
 * same bytes on both backends. A restarted pod whose workspace already has
 * the seed keeps it. Runs as the workload's user, nothing else granted. */
static cJSON *seed_container(const ob_template *t, const ob_k8s_env_extras *x, const char *image)
{
        static const char script[] = "set -eu\n"
                                     "[ -e /workspace/seed ] && exit 0\n"
                                     "cd '%s/%.*s/%s'\n"
                                     "echo '%s  MANIFEST' | sha256sum --quiet --strict -c -\n"
                                     "sha256sum --quiet --strict -c MANIFEST\n"
                                     "t=/workspace/.seed.tmp\n"
                                     "rm -rf \"$t\"\n"
                                     "mkdir -m 0700 \"$t\"\n"
                                     "while read -r sum path; do\n"
                                     "  mkdir -p \"$t/$(dirname \"$path\")\"\n"
                                     "  cp \"$path\" \"$t/$path\"\n"
                                     "done < MANIFEST\n"
                                     "cp MANIFEST \"$t/MANIFEST\"\n"
                                     "find \"$t\" -type d -exec chmod 0755 {} +\n"
                                     "find \"$t\" -type f -exec chmod 0644 {} +\n"
                                     "find \"$t\" -exec touch -h -d @0 {} +\n"
                                     "mv \"$t\" /workspace/seed\n";
        cJSON *c = cJSON_CreateObject(), *cmd, *mounts;
        const char *colon = strchr(x->seed, ':');
        char *text = NULL;

        /* name and version were checked ([a-z0-9-], v[0-9]): nothing to quote */
        if (!colon || asprintf(&text, script, OB_K8S_SEED_DIR, (int)(colon - x->seed), x->seed,
                               colon + 1, x->seed_manifest) < 0)
                text = NULL;
        cmd = cJSON_AddArrayToObject(c, "command");
        cJSON_AddItemToArray(cmd, cJSON_CreateString("/bin/sh"));
        cJSON_AddItemToArray(cmd, cJSON_CreateString("-c"));
        cJSON_AddItemToArray(cmd, cJSON_CreateString(text ? text : ""));
        free(text);
        cJSON_AddStringToObject(c, "image", image);
        cJSON_AddStringToObject(c, "imagePullPolicy", "IfNotPresent");
        cJSON_AddStringToObject(c, "name", "seed");
        cJSON_AddItemToObject(c, "resources", resources(t));
        cJSON_AddItemToObject(c, "securityContext", security_context(65534, NULL, 0));
        mounts = cJSON_AddArrayToObject(c, "volumeMounts");
        add_mount(mounts, "workspace", OB_ENV_WORKSPACE, NULL, false);
        return c;
}

/* The secrets' volume: the Secret's keys named (a missing one keeps the
 * pod from starting), root:65534 0440 on the Secret volume's tmpfs. */
static void add_secrets_volume(cJSON *vols, char *const *names)
{
        cJSON *v = cJSON_CreateObject(), *s = cJSON_AddObjectToObject(v, "secret");
        cJSON *items = cJSON_AddArrayToObject(s, "items");

        cJSON_AddNumberToObject(s, "defaultMode", 0440);
        for (size_t i = 0; names[i]; i++) {
                cJSON *it = cJSON_CreateObject();
                cJSON_AddStringToObject(it, "key", names[i]);
                cJSON_AddStringToObject(it, "path", names[i]);
                cJSON_AddItemToArray(items, it);
        }
        cJSON_AddFalseToObject(s, "optional");
        cJSON_AddStringToObject(s, "secretName", OB_K8S_SECRET_NAME);
        cJSON_AddStringToObject(v, "name", "secrets");
        cJSON_AddItemToArray(vols, v);
}

/* See render_k8s.h. */
int ob_k8s_pod_spec(const ob_template *t, const char *id, char *const *flags, const char *suffix,
                    const ob_k8s_opts *o, const ob_k8s_env_extras *x, cJSON **ret)
{
        ob_limits l = ob_limits_effective(ob_capset_limits_const(t->caps));
        cJSON *spec = cJSON_CreateObject(), *v, *sc;
        char caps[128], fl[128];

        snprintf(caps, sizeof(caps), "omnibase-capabilities%s", suffix);
        snprintf(fl, sizeof(fl), "omnibase-flags%s", suffix);
        cJSON_AddFalseToObject(spec, "automountServiceAccountToken");
        v = cJSON_AddArrayToObject(spec, "containers");
        cJSON_AddItemToArray(v, container(t, id, flags, o, x));
        cJSON_AddFalseToObject(spec, "enableServiceLinks");
        if (x && x->seed) {
                v = cJSON_AddArrayToObject(spec, "initContainers");
                cJSON_AddItemToArray(
                    v, seed_container(t, x, o && o->image ? o->image : OB_K8S_DEFAULT_IMAGE));
        }
        cJSON_AddStringToObject(spec, "runtimeClassName", OB_K8S_RUNTIME_CLASS);
        sc = cJSON_AddObjectToObject(spec, "securityContext");
        if (x && x->secrets && x->secrets[0]) /* the secrets' files: group 65534 */
                cJSON_AddNumberToObject(sc, "fsGroup", 65534);
        v = cJSON_AddObjectToObject(sc, "seccompProfile");
        cJSON_AddStringToObject(v, "type", "RuntimeDefault");
        cJSON_AddNumberToObject(spec, "terminationGracePeriodSeconds", 10);
        v = cJSON_AddArrayToObject(spec, "volumes");
        add_volume(v, "capabilities", caps, NULL, 0);
        add_volume(v, "flags", fl, NULL, 0);
        if (x && x->secrets && x->secrets[0])
                add_secrets_volume(v, x->secrets);
        add_volume(v, "tmp", NULL, "Memory", l.tmpfs_mb);
        /* the sandbox's own /dev/shm, as locally: a tmpfs of tmpfs_mb */
        add_volume(v, "shm", NULL, "Memory", l.tmpfs_mb);
        add_volume(v, "workspace", NULL, NULL, t->workspace_mb);
        *ret = spec;
        return 0;
}

static cJSON *pod_template(const ob_template *t, const char *id, char *const *flags,
                           const char *suffix, const ob_k8s_opts *o, const ob_k8s_env_extras *x)
{
        cJSON *pt = cJSON_CreateObject(), *md = cJSON_AddObjectToObject(pt, "metadata"), *spec;
        cJSON *ann = cJSON_AddObjectToObject(md, "annotations");
        cJSON *labels = cJSON_AddObjectToObject(md, "labels");

        /* the image holds the profile's paths (read-only root) */
        cJSON_AddStringToObject(ann, "omnibase.dev/profile", t->profile);
        cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "omnibase");
        if (id)
                cJSON_AddStringToObject(labels, "omnibase.dev/environment", id);
        cJSON_AddStringToObject(labels, "omnibase.dev/template", t->name);
        ob_k8s_pod_spec(t, id, flags, suffix, o, x, &spec);
        cJSON_AddItemToObject(pt, "spec", spec);
        return pt;
}

/* See render_k8s.h. */
cJSON *ob_k8s_sandbox(const ob_env_record *r, const ob_template *t, const ob_k8s_opts *o,
                      const ob_k8s_env_extras *x)
{
        char ns[80], when[32];
        cJSON *sb, *spec;

        snprintf(ns, sizeof(ns), "omnibase-%s", r->id);
        sb = ob_k8s_object(OB_K8S_SANDBOX_API, "Sandbox", r->id, ns, r->id);
        spec = cJSON_AddObjectToObject(sb, "spec");
        cJSON_AddItemToObject(spec, "podTemplate", pod_template(t, r->id, r->flags, "", o, x));
        cJSON_AddStringToObject(spec, "shutdownPolicy", "Delete");
        ob_k8s_time(r->expires_at, when, sizeof(when));
        cJSON_AddStringToObject(spec, "shutdownTime", when);
        return sb;
}

/* See render_k8s.h. */
cJSON *ob_k8s_sandbox_template(const ob_template *t, cJSON *egress, const ob_k8s_opts *o)
{
        cJSON *st = ob_k8s_object(OB_K8S_EXTENSIONS_API, "SandboxTemplate", t->name, NULL, NULL);
        cJSON *spec = cJSON_AddObjectToObject(st, "spec"), *np;
        char suffix[80];

        snprintf(suffix, sizeof(suffix), "-%s", t->name);
        cJSON_AddStringToObject(spec, "envVarsInjectionPolicy", "Disallowed");
        np = cJSON_AddObjectToObject(spec, "networkPolicy");
        cJSON_AddItemToObject(np, "egress", egress);
        cJSON_AddStringToObject(spec, "networkPolicyManagement", "Managed");
        cJSON_AddItemToObject(spec, "podTemplate",
                              pod_template(t, NULL, t->flags_default, suffix, o, NULL));
        return st;
}

/* See render_k8s.h. */
cJSON *ob_k8s_warm_pool(const ob_template *t, int64_t n)
{
        cJSON *wp = ob_k8s_object(OB_K8S_EXTENSIONS_API, "SandboxWarmPool", t->name, NULL, NULL);
        cJSON *spec = cJSON_AddObjectToObject(wp, "spec"), *ref;

        cJSON_AddNumberToObject(spec, "replicas", (double)n);
        ref = cJSON_AddObjectToObject(spec, "sandboxTemplateRef");
        cJSON_AddStringToObject(ref, "name", t->name);
        return wp;
}
