/* SPDX-License-Identifier: Apache-2.0 */
/* The operation table's tools (api.h): templates, policies, one-shot runs
 * (ops_run.c) and the audit log (ops_events.c). Each handler calls what the
 * CLI verb it names calls; nothing here decides differently from the CLI. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/policy.h>

#include "api/ops_tools.h"
#include "common/macros.h"
#include "environments/render_k8s.h"
#include "environments/template.h"
#include "policy/explain.h"

/* ---- shared by the tool handlers ---- */

int ob_api_doc_text(const cJSON *args, const char *name, char **ret, ob_error *err)
{
        const cJSON *obj = cJSON_GetObjectItemCaseSensitive(args, name);
        char text_name[64];
        const char *text;
        char *out;

        snprintf(text_name, sizeof(text_name), "%s_text", name);
        text = ob_api_str(args, text_name);
        if (!obj == !text)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "give %s (an object) or %s (its text)", name, text_name);
        out = text ? strdup(text) : cJSON_Print(obj);
        if (!out)
                return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        *ret = out;
        return 0;
}

int ob_api_input_error(ob_error *err, const char *what, int r)
{
        char msg[sizeof(err->message) + 64];

        if (r >= 0)
                return r;
        if (r == -ENOMEM)
                return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
        if (!err->code)
                err->code = "invalid";
        if (err->line > 0) {
                snprintf(msg, sizeof(msg), "%.40s:%u:%u: %s", what, err->line, err->column,
                         err->message);
                msg[sizeof(err->message) - 1] = '\0'; /* cut to fit */
                memcpy(err->message, msg, sizeof(err->message));
        }
        return r;
}

cJSON *ob_api_parse_object(const char *text)
{
        cJSON *o = text ? cJSON_Parse(text) : NULL;

        if (o && !cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

static int nomem(ob_error *err)
{
        return ob_error_set_code(err, NULL, ENOMEM, "out of memory");
}

/* *ret = {key: item}, taking item; item NULL: out of memory. */
static int wrap(const char *key, cJSON *item, cJSON **ret, ob_error *err)
{
        cJSON *o = item ? cJSON_CreateObject() : NULL;

        if (!o || !cJSON_AddItemToObject(o, key, item)) {
                cJSON_Delete(item);
                cJSON_Delete(o);
                return nomem(err);
        }
        *ret = o;
        return 0;
}

/* ---- templates ---- */

/* A template by NAME only (never a path: the caller is not on this host),
 * as `template show NAME` finds it. */
static int load_template(const char *name, ob_template **ret, ob_error *err)
{
        _cleanup_free_ char *file = NULL;
        int r = ob_template_find(name, &file, err);

        if (r >= 0)
                r = ob_template_load(file, ret, err);
        return ob_api_input_error(err, name, r);
}

static cJSON *template_json(const ob_template *t)
{
        _cleanup_free_ char *text = NULL;

        return ob_template_to_json(t, &text) < 0 ? NULL : ob_api_parse_object(text);
}

static int template_list(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        cJSON *o = cJSON_CreateObject(), *list, *bad;
        char **names = NULL;
        int r;

        if (!o || !(list = cJSON_AddArrayToObject(o, "templates")) ||
            !(bad = cJSON_AddArrayToObject(o, "errors"))) {
                cJSON_Delete(o);
                return nomem(err);
        }
        r = ob_template_list(&names, err);
        for (size_t i = 0; r >= 0 && names[i]; i++) {
                ob_template *t = NULL;
                ob_error e = {0};
                cJSON *item;
                if (load_template(names[i], &t, &e) >= 0) {
                        item = template_json(t);
                        if (item && !cJSON_AddStringToObject(item, "file", t->file)) {
                                cJSON_Delete(item);
                                item = NULL;
                        }
                        ob_template_free(t);
                        r = cJSON_AddItemToArray(list, item) ? 0 : -ENOMEM;
                        continue;
                }
                item = cJSON_CreateObject();
                if (!item || !cJSON_AddItemToArray(bad, item) ||
                    !cJSON_AddStringToObject(item, "name", names[i]) ||
                    !cJSON_AddStringToObject(item, "message", e.message))
                        r = -ENOMEM;
        }
        for (size_t i = 0; names && names[i]; i++)
                free(names[i]);
        free(names);
        if (r < 0) {
                cJSON_Delete(o);
                return r == -ENOMEM ? nomem(err) : r;
        }
        *ret = o;
        return 0;
}

static int template_show(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        ob_template *t = NULL;
        cJSON *o;
        int r = load_template(ob_api_str(args, "name"), &t, err);

        if (r < 0)
                return r;
        o = template_json(t);
        ob_template_free(t);
        if (!o)
                return nomem(err);
        *ret = o;
        return 0;
}

static int template_check(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        _cleanup_free_ char *text = NULL;
        ob_template *t = NULL;
        cJSON *o;
        int r = ob_api_doc_text(args, "template", &text, err);

        if (r < 0)
                return r;
        r = ob_template_parse(text, strlen(text), NULL, &t, err);
        if (r < 0)
                return ob_api_input_error(err, "template", r);
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddTrueToObject(o, "ok") ||
            !cJSON_AddItemToObject(o, "template", template_json(t))) {
                ob_template_free(t);
                cJSON_Delete(o);
                return nomem(err);
        }
        ob_template_free(t);
        *ret = o;
        return 0;
}

static int template_render(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        ob_k8s_opts o = {.struct_size = sizeof(o)};
        long long pool = ob_api_int(args, "pool", 0);
        ob_template *t = NULL;
        int r;

        if (pool < 0 || pool > OB_K8S_MAX_POOL)
                return ob_error_set_code(err, "invalid", EINVAL, "pool: a number 0..%d",
                                         OB_K8S_MAX_POOL);
        o.pool = pool;
        o.image = ob_api_str(args, "image");
        r = load_template(ob_api_str(args, "name"), &t, err);
        if (r >= 0)
                r = ob_template_require_approved(t, err);
        if (r >= 0)
                r = ob_k8s_render_template(t, &o, ret, err);
        ob_template_free(t);
        return r;
}

/* ---- policies ---- */

static int load_policies(const cJSON *args, ob_policy_set **ret, ob_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r = ob_api_doc_text(args, "policies", &text, err);

        if (r < 0)
                return r;
        r = ob_policy_parse(text, strlen(text), ret, err);
        return ob_api_input_error(err, "policies", r);
}

static int policy_check(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        ob_policy_set *set = NULL;
        cJSON *o;
        int r = load_policies(args, &set, err);

        if (r >= 0)
                r = ob_api_input_error(err, "policies", ob_policy_check(set, err));
        if (r >= 0) {
                o = cJSON_CreateObject();
                if (!o || !cJSON_AddTrueToObject(o, "ok") ||
                    !cJSON_AddNumberToObject(o, "policies", (double)ob_policy_set_size(set))) {
                        cJSON_Delete(o);
                        r = nomem(err);
                } else {
                        *ret = o;
                }
        }
        ob_policy_set_free(set);
        return r;
}

static int policy_compile(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        _cleanup_free_ char *json = NULL;
        ob_policy_set *set = NULL;
        ob_capset *caps = NULL;
        int r = load_policies(args, &set, err);

        if (r >= 0)
                r = ob_api_input_error(
                    err, "policies",
                    ob_policy_compile(set, ob_api_str(args, "principal"), &caps, err));
        if (r >= 0)
                r = ob_capset_to_json(caps, &json) < 0
                        ? nomem(err)
                        : wrap("capabilities", ob_api_parse_object(json), ret, err);
        ob_capset_free(caps);
        ob_policy_set_free(set);
        return r;
}

static int policy_explain(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err)
{
        ob_policy_response resp = {0};
        ob_policy_set *set = NULL;
        const char *target;
        ob_cap_kind kind;
        ob_error check = {0};
        cJSON *o = NULL;
        int r = ob_policy_request_parse(ob_api_str(args, "request"), &kind, &target, err);

        if (r >= 0)
                r = load_policies(args, &set, err);
        /* as the CLI: answered as Cedar would even for a set that check
         * refuses, with a warning */
        if (r >= 0 &&
            ob_policy_is_authorized(set, ob_api_str(args, "principal"), kind, target, &resp) < 0)
                r = ob_error_set_code(err, "invalid", EINVAL, "invalid %s target \"%s\"%s",
                                      ob_cap_kind_to_string(kind), target,
                                      kind == OB_CAP_NETWORK_CONNECT
                                          ? " (expected host:port, port 1-65535)"
                                          : " (expected an absolute path)");
        if (r >= 0 && !(o = ob_policy_response_to_json(&resp)))
                r = nomem(err);
        if (r >= 0 && ob_policy_check(set, &check) < 0) {
                (void)ob_api_input_error(&check, "policies", -EINVAL);
                if (!cJSON_AddStringToObject(o, "warning", check.message))
                        r = nomem(err);
        }
        if (r >= 0)
                *ret = TAKE_PTR(o);
        cJSON_Delete(o);
        ob_policy_response_done(&resp);
        ob_policy_set_free(set);
        return r;
}

/* ---- the table ---- */

/* JSON Schema pieces of the results. */
#define S_STR         "{\"type\":\"string\"}"
#define S_INT         "{\"type\":\"integer\"}"
#define S_BOOL        "{\"type\":\"boolean\"}"
#define S_STRS        "{\"type\":\"array\",\"items\":" S_STR "}"
#define S_STR_OR_NULL "{\"type\":[\"string\",\"null\"]}"
#define S_RULE                                                                                     \
        "{\"type\":\"object\",\"properties\":{\"capability\":" S_STR ",\"target\":" S_STR          \
        ",\"policy_id\":" S_STR "},\"required\":[\"capability\",\"target\"]}"
#define S_CAPSET                                                                                   \
        "{\"type\":\"object\",\"description\":\"a capability set in the capability-file format "   \
        "(docs/capabilities.md)\",\"properties\":{\"version\":" S_INT ",\"principal\":" S_STR      \
        ",\"grants\":{\"type\":\"array\",\"items\":" S_RULE "},\"denials\":{\"type\":\"array\","   \
        "\"items\":" S_RULE "},\"limits\":{\"type\":\"object\",\"additionalProperties\":"          \
        "{\"type\":\"number\"}}},\"required\":[\"version\",\"grants\",\"denials\"]}"
/* A template (ob_template_to_json's keys) with more properties (",\"k\":S")
 * and required keys (",\"k\""). */
#define S_TEMPLATE_WITH(props, req)                                                                \
        "{\"type\":\"object\",\"properties\":{\"name\":" S_STR ",\"description\":" S_STR           \
        ",\"approved\":" S_BOOL ",\"approved_by\":" S_STR ",\"data_classification\":" S_STR        \
        ",\"profile\":" S_STR ",\"capabilities\":" S_CAPSET ",\"ttl\":{\"type\":\"object\","       \
        "\"properties\":{\"default\":" S_STR ",\"max\":" S_STR "},\"required\":[\"default\","      \
        "\"max\"]},\"default_seed\":" S_STR_OR_NULL ",\"feature_flags\":{\"type\":\"object\","     \
        "\"properties\":{\"available\":" S_STRS ",\"default\":" S_STRS "},\"required\":"           \
        "[\"available\",\"default\"]},\"workspace_mb\":" S_INT props "},\"required\":[\"name\","   \
        "\"description\",\"approved\",\"data_classification\",\"profile\",\"capabilities\","       \
        "\"ttl\",\"default_seed\",\"feature_flags\",\"workspace_mb\"" req "]}"
#define S_TEMPLATE S_TEMPLATE_WITH("", "")
#define S_K8S_LIST                                                                                 \
        "{\"type\":\"object\",\"properties\":{\"apiVersion\":{\"const\":\"v1\"},\"kind\":"         \
        "{\"const\":\"List\"},\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\","       \
        "\"properties\":{\"apiVersion\":" S_STR ",\"kind\":" S_STR ",\"metadata\":"                \
        "{\"type\":\"object\"}},\"required\":[\"apiVersion\",\"kind\",\"metadata\"]}}},"           \
        "\"required\":[\"apiVersion\",\"kind\",\"items\"]}"

#define S_VIOLATION                                                                                \
        "{\"type\":\"object\",\"properties\":{\"capability\":" S_STR ",\"target\":" S_STR          \
        ",\"syscall\":" S_STR ",\"policy_id\":" S_STR ",\"layer\":" S_STR ",\"pid\":" S_INT "},"   \
        "\"required\":[\"capability\",\"target\",\"syscall\",\"policy_id\",\"layer\",\"pid\"]}"
#define S_RUN                                                                                      \
        "{\"type\":\"object\",\"properties\":{\"status\":{\"enum\":[\"ok\",\"violation\","         \
        "\"timeout\",\"limit_exceeded\",\"error\"]},\"exit_code\":" S_INT                          \
        ",\"sandbox_id\":" S_STR_OR_NULL ",\"stdout\":" S_STR ",\"stderr\":" S_STR                 \
        ",\"stdout_truncated\":" S_BOOL ",\"stderr_truncated\":" S_BOOL                            \
        ",\"ended_by\":{\"enum\":[\"exit\",\"timeout\","                                           \
        "\"limit_exceeded\",\"error\"]},\"limit\":" S_STR_OR_NULL ",\"usage\":{\"type\":"          \
        "\"object\",\"properties\":{\"max_rss_kb\":" S_INT ",\"cpu_ms\":" S_INT                    \
        ",\"wall_ms\":" S_INT                                                                      \
        "},\"required\":[\"max_rss_kb\",\"cpu_ms\",\"wall_ms\"]},\"violations\":"                  \
        "{\"type\":\"array\",\"items\":" S_VIOLATION "},\"denials\":" S_INT                        \
        ",\"error\":" S_STR_OR_NULL                                                                \
        "},\"required\":[\"status\",\"exit_code\",\"sandbox_id\",\"stdout\","                      \
        "\"stderr\",\"stdout_truncated\",\"stderr_truncated\",\"ended_by\",\"limit\",\"usage\","   \
        "\"violations\",\"denials\",\"error\"]}"
#define S_EVENTS                                                                                   \
        "{\"type\":\"object\",\"properties\":{\"events\":{\"type\":\"array\",\"items\":"           \
        "{\"type\":\"object\",\"description\":\"an audit log line (docs/events.md)\","             \
        "\"properties\":{\"seq\":{\"type\":\"integer\",\"minimum\":1},\"time\":" S_STR             \
        ",\"type\":" S_STR ",\"sandbox_id\":" S_STR_OR_NULL ",\"principal\":" S_STR_OR_NULL        \
        ",\"prev_hash\":" S_STR ",\"hash\":" S_STR "},\"required\":[\"seq\",\"type\"]}},"          \
        "\"last_seq\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"events\","             \
        "\"last_seq\"]}"
#define S_VERIFY                                                                                   \
        "{\"type\":\"object\",\"properties\":{\"ok\":" S_BOOL ",\"events\":" S_INT                 \
        ",\"last_seq\":" S_INT ",\"last_hash\":" S_STR ",\"bad_seq\":" S_INT                       \
        ",\"bad_line\":" S_INT ",\"bad_column\":" S_INT ",\"reason\":" S_STR                       \
        "},\"required\":[\"ok\",\"events\","                                                       \
        "\"last_seq\"]}"

#define P_POLICIES                                                                                 \
        {"policies",                                                                               \
         OB_API_OBJECT,                                                                            \
         false,                                                                                    \
         OB_API_BODY,                                                                              \
         NULL,                                                                                     \
         "a Cedar JSON policy set ({\"staticPolicies\": {...}}) or one policy; errors give "       \
         "line:column in the object as printed by the server (give policies_text instead for "     \
         "positions in your own text)"},                                                           \
        {                                                                                          \
                "policies_text", OB_API_STRING, false, OB_API_BODY, NULL,                          \
                    "or: the policy file's text (give exactly one of policies and policies_text)"  \
        }
#define P_PRINCIPAL(what)                                                                          \
        {                                                                                          \
                "principal", OB_API_STRING, true, OB_API_BODY, NULL,                               \
                    "the component UUID the policies are " what " for (Component::\"UUID\")"       \
        }

const ob_api_op ob_api_tool_ops[] = {
    {
        .name = "template_list",
        .cli = "template list",
        .method = "GET",
        .route = "/templates",
        .title = "List environment templates",
        .description = "Lists the environment templates this host has (the template directory's "
                       "NAME.json files), each as template_show gives it plus its file: name, "
                       "whether approved (environments can only be created from approved "
                       "ones), profile, capabilities, TTLs, seed, feature flags. A template "
                       "that does not load is listed under errors with the reason. Changes "
                       "nothing.",
        .flags = OB_API_READ,
        .params = {{0}},
        .output_schema =
            "{\"type\":\"object\",\"properties\":{\"templates\":{\"type\":\"array\","
            "\"items\":" S_TEMPLATE_WITH(
                ",\"file\":" S_STR,
                ",\"file\"") "},\"errors\":{\"type\":\"array\",\"items\":"
                             "{\"type\":\"object\",\"properties\":{\"name\":" S_STR
                             ",\"message\":" S_STR
                             "},\"required\":[\"name\",\"message\"]}}},\"required\":[\"templates\","
                             "\"errors\"]}",
        .http_status = 200,
        .call = template_list,
    },
    {
        .name = "template_show",
        .cli = "template show",
        .method = "GET",
        .route = "/templates/{name}",
        .title = "Show one environment template",
        .description = "One template by name, resolved: its capability set (grants, denials, "
                       "limits), TTLs, default seed, feature flags and workspace size, the keys "
                       "of the template file. A name only, never a path. Errors: "
                       "template_not_found, invalid (a malformed name, or a template file that "
                       "does not parse). Changes nothing.",
        .flags = OB_API_READ,
        .params = {{"name", OB_API_STRING, true, OB_API_PATH, NULL,
                    "the template's name ([a-z0-9][a-z0-9-]*)"}},
        .output_schema = S_TEMPLATE,
        .http_status = 200,
        .call = template_show,
    },
    {
        .name = "template_check",
        .cli = "template check",
        .method = "POST",
        .route = "/templates/check",
        .title = "Validate an environment template",
        .description = "Checks a template document the way template files are checked (strict: "
                       "an unknown key, a wrong type, an unknown profile or a bad capability is "
                       "an invalid error naming template:LINE:COLUMN). On success gives the "
                       "template resolved. Installs nothing and changes nothing.",
        .flags = OB_API_READ,
        .params = {{"template", OB_API_OBJECT, false, OB_API_BODY, NULL,
                    "the template (the keys of a template file, docs/environments-templates.md); "
                    "error positions refer to the object as printed by the server"},
                   {"template_text", OB_API_STRING, false, OB_API_BODY, NULL,
                    "or: the template file's text (give exactly one of template and "
                    "template_text)"}},
        .output_schema = "{\"type\":\"object\",\"properties\":{\"ok\":{\"const\":true},"
                         "\"template\":" S_TEMPLATE "},\"required\":[\"ok\",\"template\"]}",
        .http_status = 200,
        .call = template_check,
    },
    {
        .name = "template_render",
        .cli = "template render",
        .method = "GET",
        .route = "/templates/{name}/render",
        .title = "Render a template as Kubernetes objects",
        .description = "An approved template as the Kubernetes objects agent-sandbox needs "
                       "(RuntimeClass, ConfigMaps, SandboxTemplate, and a SandboxWarmPool when "
                       "pool > 0), as a v1 List in JSON (the CLI's --backend kubernetes --format "
                       "json; YAML only from the CLI). Pure: applies nothing to any cluster. "
                       "Errors: template_not_found, template_not_approved, invalid (what a "
                       "cluster cannot express, e.g. a host-name network grant).",
        .flags = OB_API_READ,
        .params = {{"name", OB_API_STRING, true, OB_API_PATH, NULL, "the template's name"},
                   {"pool", OB_API_INTEGER, false, OB_API_BODY, NULL,
                    "a SandboxWarmPool of this many sandboxes (0..1000; default 0: none)"},
                   {"image", OB_API_STRING, false, OB_API_BODY, NULL,
                    "the environment image (default " OB_K8S_DEFAULT_IMAGE ")"}},
        .output_schema = S_K8S_LIST,
        .http_status = 200,
        .call = template_render,
    },
    {
        .name = "sandbox_run",
        .cli = "sandbox run",
        .method = "POST",
        .route = "/runs",
        .title = "Run code once in a sandbox",
        .description =
            "Runs a command (argv, shell profile) or a script given as text (script, "
            "python-minimal profile unless profile says otherwise) once under gVisor with only "
            "the capabilities given (a capability set, or Cedar policies compiled for a "
            "principal), and waits for it to end. Nothing outside the grants exists inside; "
            "there is no network without a NETWORK_CONNECT grant; the workload's stdin is "
            "empty (/dev/null). The result is sandbox run --json's: status ok, violation (a "
            "denied access: the violations are listed; the run still succeeds as a call), "
            "timeout, limit_exceeded or error, the exit code, and stdout and stderr captured "
            "(at most 1 MiB each here, with *_truncated flags). Every event goes to the "
            "audit log. Leaves nothing behind. Errors (nothing ran): invalid (bad arguments, "
            "a capability set or policy that does not parse), forbidden (a limit above the "
            "set's: limits can only be lowered; or, for anyone but an admin, a run without "
            "an approved template, or one granting more than it).",
        .flags = 0,
        .params = {{"argv", OB_API_STRINGS, false, OB_API_BODY, NULL,
                    "a command and its arguments (give argv or script)"},
                   {"script", OB_API_STRING, false, OB_API_BODY, NULL,
                    "the text of a script, run by the profile's interpreter"},
                   {"args", OB_API_STRINGS, false, OB_API_BODY, NULL,
                    "the script's arguments (with script only)"},
                   {"profile", OB_API_STRING, false, OB_API_BODY, NULL,
                    "a base profile name: python-minimal (scripts' default), python-data (numpy, "
                    "pandas), shell (commands' "
                    "default), workstation"},
                   {"capabilities", OB_API_OBJECT, false, OB_API_BODY, NULL,
                    "a capability set (the capability-file format: version, grants, denials, "
                    "limits); give capabilities, or policies with principal"},
                   P_POLICIES,
                   {"principal", OB_API_STRING, false, OB_API_BODY, NULL,
                    "with policies: the component UUID they are compiled for"},
                   {"template", OB_API_STRING, false, OB_API_BODY, NULL,
                    "an approved template that bounds the run: the capabilities (or policies) "
                    "may grant nothing it does not, no limit above its; without them its own "
                    "set and profile are used. Required for everyone but admins"},
                   {"warm", OB_API_BOOLEAN, false, OB_API_BODY, NULL,
                    "take a pre-booted sandbox of the warm pool (pool_status) when its "
                    "capability set, limits and profile equal this run's exactly; else run "
                    "cold (the result's warm says which)"},
                   {"timeout_s", OB_API_INTEGER, false, OB_API_BODY, NULL,
                    "wall-clock limit in seconds (as --timeout); like every limit here, it can "
                    "only lower the capability set's"},
                   {"memory_mb", OB_API_INTEGER, false, OB_API_BODY, NULL,
                    "memory limit in MiB (as --memory)"},
                   {"cpus", OB_API_NUMBER, false, OB_API_BODY, NULL,
                    "CPU limit in CPUs, e.g. 0.5 (as --cpus)"},
                   {"pids", OB_API_INTEGER, false, OB_API_BODY, NULL,
                    "at most this many tasks (as --pids)"},
                   {"tmpfs_mb", OB_API_INTEGER, false, OB_API_BODY, NULL,
                    "size of /tmp in MiB (as --tmpfs)"},
                   {"output_kb", OB_API_INTEGER, false, OB_API_BODY, NULL,
                    "output limit per stream in KiB (as --output): more kills the run "
                    "(limit_exceeded)"},
                   {"write_mb", OB_API_INTEGER, false, OB_API_BODY, NULL,
                    "at most this many MiB written under FILE_WRITE grants (as --write); the "
                    "writes then land on the host when the run ends (docs/runner.md)"}},
        .output_schema = S_RUN,
        .http_status = 200,
        .call = ob_api_op_sandbox_run,
    },
    {
        .name = "policy_check",
        .cli = "policy check",
        .method = "POST",
        .route = "/policies/check",
        .title = "Validate Cedar policies",
        .description = "Parses and statically checks a Cedar JSON policy set (omnibase's "
                       "subset, docs/policy.md): refuses anything outside the subset and any "
                       "policy whose evaluation could error, as an invalid error naming "
                       "policies:LINE:COLUMN. Stores nothing.",
        .flags = OB_API_READ,
        .params = {P_POLICIES},
        .output_schema = "{\"type\":\"object\",\"properties\":{\"ok\":{\"const\":true},"
                         "\"policies\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"ok\","
                         "\"policies\"]}",
        .http_status = 200,
        .call = policy_check,
    },
    {
        .name = "policy_compile",
        .cli = "policy compile",
        .method = "POST",
        .route = "/policies/compile",
        .title = "Compile Cedar policies to capabilities",
        .description = "Compiles a Cedar JSON policy set for one principal into the capability "
                       "set a run would get (grants and denials keep their policy ids). A "
                       "policy that applies but cannot be expressed as capability rules is an "
                       "invalid error, never dropped. Runs nothing, stores nothing.",
        .flags = OB_API_READ,
        .params = {P_POLICIES, P_PRINCIPAL("compiled")},
        .output_schema = "{\"type\":\"object\",\"properties\":{\"capabilities\":" S_CAPSET "},"
                         "\"required\":[\"capabilities\"]}",
        .http_status = 200,
        .call = policy_compile,
    },
    {
        .name = "policy_explain",
        .cli = "policy explain",
        .method = "POST",
        .route = "/policies/explain",
        .title = "Decide one request against Cedar policies",
        .description = "Evaluates one request (KIND:TARGET, e.g. FILE_READ:/data/x or "
                       "NETWORK_CONNECT:10.0.0.5:443) for a principal with Cedar's semantics: "
                       "decision Allow or Deny, the ids of the determining policies (none on a "
                       "default deny) and any evaluation errors. A set that policy_check "
                       "refuses is still answered, with a warning. Runs nothing.",
        .flags = OB_API_READ,
        .params = {P_POLICIES,
                   P_PRINCIPAL("evaluated"),
                   {"request", OB_API_STRING, true, OB_API_BODY, NULL,
                    "KIND:TARGET: KIND FILE_READ, FILE_WRITE, FILE_EXEC (TARGET an absolute "
                    "path) or NETWORK_CONNECT (TARGET host:port)"}},
        .output_schema = "{\"type\":\"object\",\"properties\":{\"decision\":{\"enum\":[\"Allow\","
                         "\"Deny\"]},\"reasons\":" S_STRS ",\"errors\":{\"type\":\"array\","
                         "\"items\":{\"type\":\"object\",\"properties\":{\"policy_id\":" S_STR
                         ",\"message\":" S_STR "},\"required\":[\"policy_id\",\"message\"]}},"
                         "\"warning\":" S_STR "},\"required\":[\"decision\",\"reasons\","
                         "\"errors\"]}",
        .http_status = 200,
        .call = policy_explain,
    },
    {
        .name = "events_query",
        .cli = "events follow",
        .method = "GET",
        .route = "/events",
        .title = "Read audit events",
        .description =
            "Reads events of the hash-chained audit log (runs, denials, environment lifecycle), "
            "oldest first, at most limit of them, after after_seq; filtered by type and "
            "environment. An owner sees only the events of its own environments; observers and "
            "admins see all. Never waits: call again with after_seq = last_seq to read on (REST "
            "also serves it as Server-Sent Events). Older events are read from the rotated "
            "files still kept; lines over 64 KiB are skipped. Changes nothing.",
        .flags = OB_API_READ | OB_API_STREAM,
        .params = {{"type", OB_API_STRING, false, OB_API_BODY, NULL,
                    "only these event types, comma-separated (e.g. "
                    "CapabilityDenied,SandboxExit); default all"},
                   {"env", OB_API_STRING, false, OB_API_BODY, NULL,
                    "only the events of this environment id (env-...)"},
                   {"after_seq", OB_API_INTEGER, false, OB_API_BODY, NULL,
                    "only events with a larger seq (default 0: from the start); pass the "
                    "last_seq of the previous answer to read on"},
                   {"limit", OB_API_INTEGER, false, OB_API_BODY, NULL,
                    "at most this many events (1..1000, default 100)"}},
        .output_schema = S_EVENTS,
        .http_status = 200,
        .call = ob_api_op_events_query,
    },
    {
        .name = "events_verify",
        .cli = "events verify",
        .method = "POST",
        .route = "/events/verify",
        .title = "Verify the audit log's hash chain",
        .description = "Checks every line of the audit log: format, seq strictly +1, each "
                       "prev_hash equal to the previous hash, each hash over its line, no torn "
                       "last line. ok true with the count and the last seq and hash, or ok "
                       "false naming the first bad line and why. Repairs nothing. Error: "
                       "not_found when there is no log yet.",
        .flags = OB_API_READ,
        .params = {{0}},
        .output_schema = S_VERIFY,
        .http_status = 200,
        .call = ob_api_op_events_verify,
    },
};

const size_t ob_api_n_tool_ops = ARRAY_SIZE(ob_api_tool_ops);
