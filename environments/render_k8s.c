/* SPDX-License-Identifier: Apache-2.0 */
/* An environment as Kubernetes objects (DESIGN §8, docs/kubernetes.md), in
 * apply order: RuntimeClass, Namespace, ResourceQuota, LimitRange,
 * NetworkPolicy, Roles and the owner's RoleBinding, ConfigMaps, Sandbox.
 * Every object carries app.kubernetes.io/managed-by: omnibase. */
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macros.h"
#include "environments/env.h"
#include "environments/render_k8s.h"
#include "runner/network.h"
#include "runner/runner.h"
#include "environments/seed.h"

static void cjson_deletep(cJSON **j)
{
        cJSON_Delete(*j);
}
#define _cleanup_cjson_ _cleanup_(cjson_deletep)

/* See render_k8s.h. */
void ob_k8s_time(int64_t t, char *buf, size_t size)
{
        time_t tt = (time_t)t;
        struct tm tm;

        gmtime_r(&tt, &tm);
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* See render_k8s.h. */
cJSON *ob_k8s_object(const char *api, const char *kind, const char *name, const char *ns,
                     const char *id)
{
        cJSON *o = cJSON_CreateObject(), *md, *labels;

        cJSON_AddStringToObject(o, "apiVersion", api);
        cJSON_AddStringToObject(o, "kind", kind);
        md = cJSON_AddObjectToObject(o, "metadata");
        labels = cJSON_AddObjectToObject(md, "labels");
        cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "omnibase");
        if (id)
                cJSON_AddStringToObject(labels, "omnibase.dev/environment", id);
        cJSON_AddStringToObject(md, "name", name);
        if (ns)
                cJSON_AddStringToObject(md, "namespace", ns);
        return o;
}

/* A label value for text: itself when it is one (63 characters of
 * [A-Za-z0-9._-], alphanumeric at both ends), else "sha256-" and 40 hex
 * digits of its hash (the exact text is in an annotation). */
static void label_value(const char *text, char buf[64])
{
        size_t n = strlen(text);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        bool ok = n > 0 && n <= 63 &&
                  strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789._-") == n;

        ok = ok && strchr("._-", text[0]) == NULL && strchr("._-", text[n - 1]) == NULL;
        if (ok) {
                memcpy(buf, text, n + 1);
                return;
        }
        EVP_Digest(text, n, md, &md_len, EVP_sha256(), NULL);
        strcpy(buf, "sha256-");
        for (unsigned i = 0; i < 20; i++)
                sprintf(buf + 7 + 2 * i, "%02x", md[i]);
}

static cJSON *labels_of(cJSON *o)
{
        return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"),
                                                "labels");
}

static cJSON *namespace_obj(const ob_env_record *r, const char *ns)
{
        cJSON *o = ob_k8s_object("v1", "Namespace", ns, NULL, r->id);
        cJSON *ann = cJSON_CreateObject(), *labels = labels_of(o);
        char v[64], when[32];

        ob_k8s_time(r->expires_at, when, sizeof(when));
        cJSON_AddStringToObject(ann, "omnibase.dev/expires-at", when);
        cJSON_AddStringToObject(ann, "omnibase.dev/owner", r->owner);
        if (r->seed)
                cJSON_AddStringToObject(ann, "omnibase.dev/seed", r->seed);
        cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "annotations", ann);
        label_value(r->owner, v);
        cJSON_AddStringToObject(labels, "omnibase.dev/owner", v);
        cJSON_AddStringToObject(labels, "omnibase.dev/template", r->template_name);
        /* no Pod Security Admission label: "baseline" refuses the sidecar's
         * SYS_PTRACE and DAC_READ_SEARCH (docs/kubernetes.md) */
        return o;
}

static void add_quantities(cJSON *x, const char *prefix, const ob_limits *l, int64_t disk_mb)
{
        char key[64], val[32];

        snprintf(key, sizeof(key), "%scpu", prefix);
        snprintf(val, sizeof(val), "%lldm", (long long)l->cpus_milli);
        cJSON_AddStringToObject(x, key, val);
        snprintf(key, sizeof(key), "%sephemeral-storage", prefix);
        snprintf(val, sizeof(val), "%lldMi", (long long)disk_mb);
        cJSON_AddStringToObject(x, key, val);
        snprintf(key, sizeof(key), "%smemory", prefix);
        snprintf(val, sizeof(val), "%lldMi", (long long)l->memory_mb);
        cJSON_AddStringToObject(x, key, val);
}

/* The namespace may hold exactly one environment pod of these limits. */
static cJSON *quota_obj(const ob_template *t, const char *ns, const char *id)
{
        ob_limits l = ob_limits_effective(ob_capset_limits_const(t->caps));
        cJSON *o = ob_k8s_object("v1", "ResourceQuota", "omnibase-quota", ns, id);
        cJSON *hard = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "spec"), "hard");

        add_quantities(hard, "limits.", &l, t->workspace_mb);
        cJSON_AddStringToObject(hard, "persistentvolumeclaims", "0");
        cJSON_AddStringToObject(hard, "pods", "1");
        add_quantities(hard, "requests.", &l, t->workspace_mb);
        cJSON_AddStringToObject(hard, "services.loadbalancers", "0");
        cJSON_AddStringToObject(hard, "services.nodeports", "0");
        return o;
}

static cJSON *limit_range_obj(const ob_template *t, const char *ns, const char *id)
{
        ob_limits l = ob_limits_effective(ob_capset_limits_const(t->caps));
        cJSON *o = ob_k8s_object("v1", "LimitRange", "omnibase-limits", ns, id);
        cJSON *limits = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "spec"), "limits");
        cJSON *c = cJSON_CreateObject();

        cJSON_AddItemToArray(limits, c);
        add_quantities(cJSON_AddObjectToObject(c, "default"), "", &l, t->workspace_mb);
        add_quantities(cJSON_AddObjectToObject(c, "defaultRequest"), "", &l, t->workspace_mb);
        add_quantities(cJSON_AddObjectToObject(c, "max"), "", &l, t->workspace_mb);
        cJSON_AddStringToObject(c, "type", "Container");
        return o;
}

/* The host names of the grants and the addresses they had at render time
 * (ob_k8s_egress), as an annotation: the policy does not follow a name that
 * moves; render again. Takes resolved (NULL: nothing to say). */
static void annotate_resolved(cJSON *o, cJSON *resolved)
{
        cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata"), *ann;
        char *text;

        if (!resolved)
                return;
        text = cJSON_PrintUnformatted(resolved);
        cJSON_Delete(resolved);
        if (!text)
                return;
        ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
        if (!ann)
                ann = cJSON_AddObjectToObject(md, "annotations");
        cJSON_AddStringToObject(ann, "omnibase.dev/resolved-at-render", text);
        free(text);
}

/* Default deny both ways for every pod of the namespace; egress exactly
 * the grants (ob_k8s_egress). */
static cJSON *netpol_obj(cJSON *egress, cJSON *resolved, const char *ns, const char *id)
{
        cJSON *o =
            ob_k8s_object("networking.k8s.io/v1", "NetworkPolicy", "omnibase-egress", ns, id);
        cJSON *spec = cJSON_AddObjectToObject(o, "spec"), *types;

        annotate_resolved(o, resolved);
        cJSON_AddItemToObject(spec, "egress", egress);
        cJSON_AddArrayToObject(spec, "ingress");
        cJSON_AddObjectToObject(spec, "podSelector");
        types = cJSON_AddArrayToObject(spec, "policyTypes");
        cJSON_AddItemToArray(types, cJSON_CreateString("Ingress"));
        cJSON_AddItemToArray(types, cJSON_CreateString("Egress"));
        return o;
}

static void add_rule(cJSON *rules, const char *group, const char *const *res, size_t n_res,
                     const char *const *verbs, size_t n_verbs)
{
        cJSON *r = cJSON_CreateObject(), *g = cJSON_AddArrayToObject(r, "apiGroups");

        cJSON_AddItemToArray(g, cJSON_CreateString(group));
        cJSON_AddItemToObject(r, "resources", cJSON_CreateStringArray(res, n_res));
        cJSON_AddItemToObject(r, "verbs", cJSON_CreateStringArray(verbs, n_verbs));
        cJSON_AddItemToArray(rules, r);
}

/* Seed 003's roles. Observer: read and logs; no secrets, exec or port-forward.
 * Owner: that, plus secrets, exec, attach, port-forward and deleting the
 * pod; no writes to the policy objects or the Sandbox (docs/kubernetes.md).
 * Admin: everything in the namespace. */
static cJSON *role_obj(int which, const char *ns, const char *id)
{
        static const char *const names[] = {"omnibase-observer", "omnibase-owner",
                                            "omnibase-admin"};
        static const char *const read[] = {"get", "list", "watch"}, *const all[] = {"*"};
        static const char *const core[] = {
            "configmaps", "endpoints", "events",         "limitranges", "persistentvolumeclaims",
            "pods",       "pods/log",  "resourcequotas", "services"};
        static const char *const secrets[] = {"secrets"}, *const pods[] = {"pods"};
        static const char *const into[] = {"pods/attach", "pods/exec", "pods/portforward"};
        static const char *const create[] = {"create", "get"}, *const del[] = {"delete"};
        static const char *const sandboxes[] = {"sandboxes"}, *const np[] = {"networkpolicies"};
        cJSON *o = ob_k8s_object("rbac.authorization.k8s.io/v1", "Role", names[which], ns, id);
        cJSON *rules = cJSON_AddArrayToObject(o, "rules");

        if (which == 2) {
                add_rule(rules, "*", all, 1, all, 1);
                return o;
        }
        add_rule(rules, "", core, ARRAY_SIZE(core), read, ARRAY_SIZE(read));
        add_rule(rules, "agents.x-k8s.io", sandboxes, 1, read, ARRAY_SIZE(read));
        add_rule(rules, "networking.k8s.io", np, 1, read, ARRAY_SIZE(read));
        if (which == 1) {
                add_rule(rules, "", secrets, 1, read, ARRAY_SIZE(read));
                add_rule(rules, "", into, ARRAY_SIZE(into), create, ARRAY_SIZE(create));
                add_rule(rules, "", pods, 1, del, 1);
        }
        return o;
}

/* RoleBinding name (also the Role's) to a User (owner) or to groups. */
static cJSON *binding(const char *name, const char *ns, const char *id, const char *user,
                      const char (*groups)[OB_K8S_GROUP_MAX + 1], size_t n_groups)
{
        cJSON *o = ob_k8s_object("rbac.authorization.k8s.io/v1", "RoleBinding", name, ns, id);
        cJSON *ref = cJSON_AddObjectToObject(o, "roleRef"), *subj;

        cJSON_AddStringToObject(ref, "apiGroup", "rbac.authorization.k8s.io");
        cJSON_AddStringToObject(ref, "kind", "Role");
        cJSON_AddStringToObject(ref, "name", name);
        subj = cJSON_AddArrayToObject(o, "subjects");
        for (size_t i = 0; i < (user ? 1 : n_groups); i++) {
                cJSON *s = cJSON_CreateObject();
                cJSON_AddStringToObject(s, "apiGroup", "rbac.authorization.k8s.io");
                cJSON_AddStringToObject(s, "kind", user ? "User" : "Group");
                cJSON_AddStringToObject(s, "name", user ? user : groups[i]);
                cJSON_AddItemToArray(subj, s);
        }
        return o;
}

static void add_bindings(cJSON *items, const ob_env_record *r, const char *ns, const ob_k8s_opts *o)
{
        const ob_env_config *c = o ? o->cfg : NULL;

        cJSON_AddItemToArray(items, binding("omnibase-owner", ns, r->id, r->owner, NULL, 0));
        if (c && c->n_k8s_admin_groups)
                cJSON_AddItemToArray(items, binding("omnibase-admin", ns, r->id, NULL,
                                                    c->k8s_admin_groups, c->n_k8s_admin_groups));
        if (c && c->n_k8s_observer_groups)
                cJSON_AddItemToArray(items,
                                     binding("omnibase-observer", ns, r->id, NULL,
                                             c->k8s_observer_groups, c->n_k8s_observer_groups));
}

static cJSON *runtime_class(void)
{
        cJSON *o =
            ob_k8s_object("node.k8s.io/v1", "RuntimeClass", OB_K8S_RUNTIME_CLASS, NULL, NULL);

        cJSON_AddStringToObject(o, "handler", "runsc");
        return o;
}

/* A ConfigMap with one key whose value is text. */
static cJSON *config_map(const char *name, const char *ns, const char *id, const char *key,
                         const char *text)
{
        cJSON *o = ob_k8s_object("v1", "ConfigMap", name, ns, id);

        cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "data"), key, text);
        return o;
}

/* The sidecar's second capability file, as a local run writes it: what the
 * workload needs from its own sandbox (the profile's paths, /tmp, /dev/shm,
 * devices, ptys, probes), from the runner's own pure plan of the template's
 * sandbox (ob_run_new: nothing is made or cached). */
static int profile_caps_text(const char *profile, const ob_capset *caps, char **ret, ob_error *err)
{
        ob_sandbox_options o;
        ob_run *run = NULL;
        ob_capset *prof = NULL;
        int r;

        ob_sandbox_options_init(&o);
        o.caps = caps;
        o.profile = profile;
        o.hold = true;
        o.dry_run = true;
        r = ob_run_new(&o, &run, err);
        if (r >= 0)
                r = ob_sidecar_profile_caps(ob_run_plan_get(run), ob_run_network_wanted(caps),
                                            &prof);
        if (r >= 0)
                r = ob_capset_to_json(prof, ret);
        ob_capset_free(prof);
        ob_run_destroy(run);
        return r;
}

/* The capability sets (the capability files' text, as caps.json and
 * profile-caps.json are locally) and flags.json ({"env_id", "flags"}, as
 * locally). */
static int config_maps(cJSON *items, const ob_capset *caps, const char *profile, char *const *flags,
                       const char *id, const char *ns, const char *suffix, ob_error *err)
{
        _cleanup_free_ char *text = NULL, *prof = NULL, *fl = NULL;
        char name[128];
        cJSON *doc, *f, *cm;
        int r = ob_capset_to_json(caps, &text);

        if (r >= 0)
                r = profile_caps_text(profile, caps, &prof, err);
        if (r < 0)
                return r;
        snprintf(name, sizeof(name), "omnibase-capabilities%s", suffix);
        cm = config_map(name, ns, id, "caps.json", text);
        cJSON_AddStringToObject(cJSON_GetObjectItem(cm, "data"), "profile-caps.json", prof);
        cJSON_AddItemToArray(items, cm);
        doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "env_id", id ? cJSON_CreateString(id) : cJSON_CreateNull());
        f = cJSON_AddObjectToObject(doc, "flags");
        for (size_t i = 0; flags && flags[i]; i++)
                cJSON_AddTrueToObject(f, flags[i]);
        fl = cJSON_Print(doc);
        cJSON_Delete(doc);
        if (!fl)
                return -ENOMEM;
        snprintf(name, sizeof(name), "omnibase-flags%s", suffix);
        cJSON_AddItemToArray(items, config_map(name, ns, id, "flags.json", fl));
        return 0;
}

static cJSON *new_list(cJSON **ret_items)
{
        cJSON *list = cJSON_CreateObject();

        cJSON_AddStringToObject(list, "apiVersion", "v1");
        *ret_items = cJSON_AddArrayToObject(list, "items");
        cJSON_AddStringToObject(list, "kind", "List");
        return list;
}

/* See render_k8s.h. */
int ob_k8s_render_env(const ob_env_record *r, const ob_template *t, const ob_k8s_opts *o,
                      cJSON **ret, ob_error *err)
{
        _cleanup_cjson_ cJSON *list = NULL;
        cJSON *items, *egress = NULL, *resolved = NULL;
        ob_k8s_env_extras x = {0};
        ob_capset *caps = NULL;
        char ns[80];
        int k;

        x.seed = r->seed;
        x.secrets = r->secret_names;
        k = r->seed ? ob_seed_manifest_sha256(r->seed, x.seed_manifest, err) : 0;
        if (k >= 0)
                k = ob_env_caps(t->caps, r->id, &caps, err);
        if (k >= 0)
                k = ob_k8s_egress(caps, &egress, &resolved, err);
        if (k < 0) {
                ob_capset_free(caps);
                return k;
        }
        snprintf(ns, sizeof(ns), "omnibase-%s", r->id);
        list = new_list(&items);
        cJSON_AddItemToArray(items, runtime_class());
        cJSON_AddItemToArray(items, namespace_obj(r, ns));
        cJSON_AddItemToArray(items, quota_obj(t, ns, r->id));
        cJSON_AddItemToArray(items, limit_range_obj(t, ns, r->id));
        cJSON_AddItemToArray(items, netpol_obj(egress, resolved, ns, r->id));
        for (int i = 0; i < 3; i++)
                cJSON_AddItemToArray(items, role_obj(i, ns, r->id));
        add_bindings(items, r, ns, o);
        k = config_maps(items, caps, t->profile, r->flags, r->id, ns, "", err);
        ob_capset_free(caps);
        if (k < 0 && !err->message[0])
                ob_error_set_code(err, "invalid", -k, "render: %s", strerror(-k));
        if (k < 0)
                return k;
        cJSON_AddItemToArray(items, ob_k8s_sandbox(r, t, o, &x));
        *ret = TAKE_PTR(list);
        return 0;
}

/* See render_k8s.h. */
int ob_k8s_render_template(const ob_template *t, const ob_k8s_opts *o, cJSON **ret, ob_error *err)
{
        _cleanup_cjson_ cJSON *list = NULL;
        cJSON *items, *egress = NULL, *resolved = NULL, *tpl;
        char suffix[80];
        int k;

        if (o && (o->pool < 0 || o->pool > OB_K8S_MAX_POOL))
                return ob_error_set_code(err, "invalid", EINVAL, "--pool: 0..%d", OB_K8S_MAX_POOL);
        k = ob_k8s_egress(t->caps, &egress, &resolved, err);
        if (k < 0)
                return k;
        snprintf(suffix, sizeof(suffix), "-%s", t->name);
        list = new_list(&items);
        cJSON_AddItemToArray(items, runtime_class());
        k = config_maps(items, t->caps, t->profile, t->flags_default, NULL, NULL, suffix, err);
        if (k < 0) {
                cJSON_Delete(egress);
                cJSON_Delete(resolved);
                if (!err->message[0])
                        ob_error_set_code(err, "invalid", -k, "render: %s", strerror(-k));
                return k;
        }
        tpl = ob_k8s_sandbox_template(t, egress, o);
        annotate_resolved(tpl, resolved);
        cJSON_AddItemToArray(items, tpl);
        if (o && o->pool > 0)
                cJSON_AddItemToArray(items, ob_k8s_warm_pool(t, o->pool));
        *ret = TAKE_PTR(list);
        return 0;
}
