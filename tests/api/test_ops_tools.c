/* SPDX-License-Identifier: Apache-2.0 */
/* The tool operations (api/ops_tools.c, ops_events.c, ops_run.c) through
 * ob_api_call: templates (a temporary template directory), policies, the
 * audit log written with the real audit API (owner visibility, after_seq,
 * limit, verify), and sandbox_run with real runsc (root only; skipped with
 * a message otherwise). Every result is checked against its operation's
 * output schema. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <omnibase/audit.h>

#include "api/api.h"
#include "environments/env.h"
#include "environments/store.h"
#include "runner/runner.h"
#include "test_util.h"

#define U "3f2a9c1e-0000-4000-8000-000000000001"

static char tmp[64];
/* the state directory of the calls, under tmp: the runs get their own (the
 * events tests leave a broken log behind) */
static const char *state_rel = "state";

static char *P(const char *rel)
{
        static char bufs[8][512];
        static int i;
        char *b = bufs[i++ % 8];
        snprintf(b, 512, "%s/%s", tmp, rel);
        return b;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

/* ---- a small JSON Schema check: the keywords the table's schemas use ---- */

static bool schema_ok(const cJSON *s, const cJSON *v, char *why, size_t n);

static bool type_is(const char *t, const cJSON *v)
{
        if (!strcmp(t, "object"))
                return cJSON_IsObject(v);
        if (!strcmp(t, "array"))
                return cJSON_IsArray(v);
        if (!strcmp(t, "string"))
                return cJSON_IsString(v);
        if (!strcmp(t, "boolean"))
                return cJSON_IsBool(v);
        if (!strcmp(t, "null"))
                return cJSON_IsNull(v);
        if (!strcmp(t, "number"))
                return cJSON_IsNumber(v);
        if (!strcmp(t, "integer"))
                return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
        return false;
}

static bool type_ok(const cJSON *t, const cJSON *v)
{
        const cJSON *e;

        if (!t)
                return true;
        if (cJSON_IsString(t))
                return type_is(t->valuestring, v);
        cJSON_ArrayForEach (e, t)
                if (type_is(e->valuestring, v))
                        return true;
        return false;
}

static bool members_ok(const cJSON *s, const cJSON *v, char *why, size_t n)
{
        const cJSON *props = cJSON_GetObjectItem(s, "properties"), *req, *e;
        const cJSON *extra = cJSON_GetObjectItem(s, "additionalProperties");

        cJSON_ArrayForEach (req, cJSON_GetObjectItem(s, "required"))
                if (!cJSON_GetObjectItemCaseSensitive(v, req->valuestring)) {
                        snprintf(why, n, "missing \"%s\"", req->valuestring);
                        return false;
                }
        cJSON_ArrayForEach (e, v) {
                const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, e->string);
                if (!ps && cJSON_IsObject(extra))
                        ps = extra;
                if (!ps && cJSON_IsFalse(extra)) {
                        snprintf(why, n, "unexpected \"%s\"", e->string);
                        return false;
                }
                if (ps && !schema_ok(ps, e, why, n))
                        return false;
        }
        return true;
}

static bool schema_ok(const cJSON *s, const cJSON *v, char *why, size_t n)
{
        const cJSON *c = cJSON_GetObjectItem(s, "const"), *en = cJSON_GetObjectItem(s, "enum");
        const cJSON *items = cJSON_GetObjectItem(s, "items"),
                    *min = cJSON_GetObjectItem(s, "minimum");
        const cJSON *e;
        bool found = false;

        if (!type_ok(cJSON_GetObjectItem(s, "type"), v)) {
                char *text = cJSON_PrintUnformatted(v);
                snprintf(why, n, "wrong type: %.200s", text ? text : "?");
                free(text);
                return false;
        }
        if (c && !cJSON_Compare(c, v, true)) {
                snprintf(why, n, "not the const");
                return false;
        }
        cJSON_ArrayForEach (e, en)
                found |= cJSON_Compare(e, v, true);
        if (en && !found) {
                snprintf(why, n, "not in the enum: %s", cJSON_IsString(v) ? v->valuestring : "?");
                return false;
        }
        if (min && cJSON_IsNumber(v) && v->valuedouble < min->valuedouble) {
                snprintf(why, n, "below the minimum");
                return false;
        }
        if (cJSON_IsObject(v) && !members_ok(s, v, why, n))
                return false;
        if (cJSON_IsArray(v) && items)
                cJSON_ArrayForEach (e, v)
                        if (!schema_ok(items, e, why, n))
                                return false;
        return true;
}

/* ---- calling the operations ---- */

static ob_api_ctx ctx_of(const char *name, ob_api_role role)
{
        ob_api_ctx c = {.state_dir = P(state_rel), .caller = {.role = role}};
        snprintf(c.caller.name, sizeof(c.caller.name), "%s", name);
        return c;
}

static const ob_api_ctx *admin(void)
{
        static ob_api_ctx c;
        c = ctx_of("root", OB_API_ADMIN);
        return &c;
}

/* Calls op with args (JSON text, NULL: none) as ctx; on success checks the
 * result against the op's output schema. Returns the call's value. */
static int call_as(const ob_api_ctx *ctx, const char *op_name, const char *args, cJSON **ret,
                   ob_error *err)
{
        const ob_api_op *op = ob_api_find(op_name);
        cJSON *a = args ? cJSON_Parse(args) : NULL;
        cJSON *out = NULL, *schema;
        char why[512] = "";
        int r;

        if (!op)
                fail_msg("no operation %s", op_name);
        if (args && !a)
                fail_msg("%s: bad test arguments %s", op_name, args);
        memset(err, 0, sizeof(*err));
        r = ob_api_call(ctx, op, a, &out, err);
        cJSON_Delete(a);
        if (r >= 0) {
                schema = ob_api_output_schema(op);
                assert_non_null(schema);
                if (!schema_ok(schema, out, why, sizeof(why))) {
                        char *text = cJSON_PrintUnformatted(out);
                        fail_msg("%s: the result does not match the output schema (%s): %.400s",
                                 op_name, why, text);
                }
                cJSON_Delete(schema);
        }
        if (ret)
                *ret = out;
        else
                cJSON_Delete(out);
        return r;
}

static int call(const char *op_name, const char *args, cJSON **ret, ob_error *err)
{
        return call_as(admin(), op_name, args, ret, err);
}

static const char *str_of(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        assert_true(cJSON_IsString(v));
        return v->valuestring;
}

static const char *str_or_null(const cJSON *o, const char *key)
{
        return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static double num_of(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        assert_true(cJSON_IsNumber(v));
        return v->valuedouble;
}

/* Entries of dir (0 when absent). */
static int entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        int n = 0;

        while (d && (e = readdir(d)))
                n += e->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

/* ---- fixtures ---- */

static const char good_template[] =
    "{\n"
    "  \"name\": \"tiny\",\n"
    "  \"description\": \"A test template.\",\n"
    "  \"approved\": true,\n"
    "  \"approved_by\": \"tests@example.test\",\n"
    "  \"data_classification\": \"synthetic\",\n"
    "  \"profile\": \"shell\",\n"
    "  \"capabilities\": {\"version\": 1, \"grants\": [{\"capability\": \"FILE_READ\", "
    "\"target\": \"/workspace/*\", \"policy_id\": \"tiny\"}], \"denials\": [], \"limits\": "
    "{\"memory_mb\": 128}},\n"
    "  \"ttl\": {\"default\": \"4h\", \"max\": \"24h\"},\n"
    "  \"default_seed\": null,\n"
    "  \"feature_flags\": {\"available\": [\"beta\"], \"default\": []},\n"
    "  \"workspace_mb\": 64\n"
    "}\n";

static const char policies[] =
    "{\"staticPolicies\": {"
    "\"read-data\": {\"effect\": \"permit\", \"principal\": {\"op\": \"==\", \"entity\": "
    "{\"type\": \"Component\", \"id\": \"" U "\"}}, \"action\": {\"op\": \"==\", \"entity\": "
    "{\"type\": \"Action\", \"id\": \"FILE_READ\"}}, \"resource\": {\"op\": \"All\"}, "
    "\"conditions\": [{\"kind\": \"when\", \"body\": {\"like\": {\"left\": {\".\": {\"left\": "
    "{\"Var\": \"resource\"}, \"attr\": \"path\"}}, \"pattern\": [{\"Literal\": \"/data/\"}, "
    "\"Wildcard\"]}}}]},"
    "\"no-secrets\": {\"effect\": \"forbid\", \"principal\": {\"op\": \"All\"}, \"action\": "
    "{\"op\": \"All\"}, \"resource\": {\"op\": \"is\", \"entity_type\": \"File\"}, "
    "\"conditions\": [{\"kind\": \"when\", \"body\": {\"like\": {\"left\": {\".\": {\"left\": "
    "{\"Var\": \"resource\"}, \"attr\": \"path\"}}, \"pattern\": [{\"Literal\": "
    "\"/data/secret/\"}, \"Wildcard\"]}}}]}"
    "}}";

static int setup(void **state)
{
        (void)state;
        strcpy(tmp, "/var/tmp/ob-api-tools-XXXXXX");
        assert_non_null(mkdtemp(tmp));
        assert_int_equal(mkdir(P("templates"), 0700), 0);
        assert_int_equal(mkdir(P("state"), 0700), 0);
        write_file(P("templates/tiny.json"), good_template);
        /* loads as JSON, but "tmpl" is not a template key: listed as an error */
        write_file(P("templates/broken.json"), "{\n  \"name\": \"broken\",\n  \"tmpl\": 1\n}\n");
        assert_int_equal(setenv("OMNIBASE_TEMPLATE_DIR", P("templates"), 1), 0);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        return ob_rm_rf(tmp);
}

/* ---- templates ---- */

static void test_template_list_and_show(void **state)
{
        cJSON *out = NULL;
        const cJSON *list, *errors;
        ob_error err;

        (void)state;
        assert_int_equal(call("template_list", NULL, &out, &err), 0);
        list = cJSON_GetObjectItem(out, "templates");
        errors = cJSON_GetObjectItem(out, "errors");
        assert_int_equal(cJSON_GetArraySize(list), 1);
        assert_string_equal(str_of(cJSON_GetArrayItem(list, 0), "name"), "tiny");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "approved")));
        assert_string_equal(str_of(cJSON_GetArrayItem(list, 0), "profile"), "shell");
        /* the whole template (the dashboard offers its flags) and its file */
        assert_string_equal(
            cJSON_GetArrayItem(
                cJSON_GetObjectItem(
                    cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "feature_flags"), "available"),
                0)
                ->valuestring,
            "beta");
        assert_string_equal(str_of(cJSON_GetArrayItem(list, 0), "file"), P("templates/tiny.json"));
        assert_int_equal(cJSON_GetArraySize(errors), 1);
        assert_string_equal(str_of(cJSON_GetArrayItem(errors, 0), "name"), "broken");
        /* the position of the bad key */
        assert_non_null(strstr(str_of(cJSON_GetArrayItem(errors, 0), "message"), "broken:3:"));
        assert_non_null(strstr(str_of(cJSON_GetArrayItem(errors, 0), "message"), "tmpl"));
        cJSON_Delete(out);

        /* an observer may read */
        ob_api_ctx obs = ctx_of("olga", OB_API_OBSERVER);
        assert_int_equal(call_as(&obs, "template_show", "{\"name\": \"tiny\"}", &out, &err), 0);
        assert_string_equal(str_of(out, "name"), "tiny");
        assert_string_equal(str_of(cJSON_GetObjectItem(out, "ttl"), "max"), "1d");
        assert_int_equal(num_of(out, "workspace_mb"), 64);
        assert_string_equal(
            str_of(cJSON_GetArrayItem(
                       cJSON_GetObjectItem(cJSON_GetObjectItem(out, "capabilities"), "grants"), 0),
                   "target"),
            "/workspace/*");
        cJSON_Delete(out);

        assert_int_equal(call("template_show", "{\"name\": \"nope\"}", NULL, &err), -ENOENT);
        assert_string_equal(err.code, "template_not_found");
        assert_int_equal(ob_api_http_status(err.code), 404);
        /* a path is not a name: never read off the host */
        assert_true(call("template_show", "{\"name\": \"../templates/tiny\"}", NULL, &err) < 0);
        assert_string_equal(err.code, "invalid");
        assert_int_equal(call("template_show", "{\"name\": \"broken\"}", NULL, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, "broken:3:"));
}

static void test_template_check(void **state)
{
        cJSON *out = NULL;
        ob_error err;
        char args[4096];
        cJSON *text;

        (void)state;
        /* as an object */
        snprintf(args, sizeof(args), "{\"template\": %s}", good_template);
        assert_int_equal(call("template_check", args, &out, &err), 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(out, "ok")));
        assert_string_equal(str_of(cJSON_GetObjectItem(out, "template"), "profile"), "shell");
        cJSON_Delete(out);

        /* as text: the position is in that text (line 7, the profile) */
        text = cJSON_CreateObject();
        char *bad = strdup(good_template);
        memcpy(strstr(bad, "\"shell\""), "\"nosuc\"", 7);
        cJSON_AddStringToObject(text, "template_text", bad);
        char *a = cJSON_PrintUnformatted(text);
        assert_int_equal(call("template_check", a, NULL, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_int_equal(err.line, 7);
        assert_non_null(strstr(err.message, "template:7:"));
        assert_non_null(strstr(err.message, "nosuc"));
        free(a);
        free(bad);
        cJSON_Delete(text);

        /* an unknown key in an object */
        assert_int_equal(
            call("template_check", "{\"template\": {\"name\": \"x\", \"bogus\": 1}}", NULL, &err),
            -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_true(err.line > 0);
        assert_non_null(strstr(err.message, "bogus"));

        /* neither or both */
        assert_int_equal(call("template_check", "{}", NULL, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_int_equal(
            call("template_check", "{\"template\": {}, \"template_text\": \"{}\"}", NULL, &err),
            -EINVAL);
}

static void test_template_render(void **state)
{
        cJSON *out = NULL;
        const cJSON *item;
        ob_error err;
        bool pool = false, tmpl = false;

        (void)state;
        assert_int_equal(call("template_render", "{\"name\": \"tiny\", \"pool\": 3}", &out, &err),
                         0);
        assert_string_equal(str_of(out, "kind"), "List");
        cJSON_ArrayForEach (item, cJSON_GetObjectItem(out, "items")) {
                pool |= !strcmp(str_of(item, "kind"), "SandboxWarmPool");
                tmpl |= !strcmp(str_of(item, "kind"), "SandboxTemplate");
        }
        assert_true(pool && tmpl);
        cJSON_Delete(out);
        assert_int_equal(
            call("template_render", "{\"name\": \"tiny\", \"pool\": 1001}", NULL, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
}

/* ---- policies ---- */

static void test_policy_check_compile_explain(void **state)
{
        char args[8192];
        cJSON *out = NULL;
        const cJSON *grants;
        ob_error err;

        (void)state;
        snprintf(args, sizeof(args), "{\"policies\": %s}", policies);
        assert_int_equal(call("policy_check", args, &out, &err), 0);
        assert_int_equal(num_of(out, "policies"), 2);
        cJSON_Delete(out);

        snprintf(args, sizeof(args), "{\"policies\": %s, \"principal\": \"" U "\"}", policies);
        assert_int_equal(call("policy_compile", args, &out, &err), 0);
        grants = cJSON_GetObjectItem(cJSON_GetObjectItem(out, "capabilities"), "grants");
        assert_int_equal(cJSON_GetArraySize(grants), 1);
        assert_string_equal(str_of(cJSON_GetArrayItem(grants, 0), "target"), "/data/*");
        assert_string_equal(str_of(cJSON_GetArrayItem(grants, 0), "policy_id"), "read-data");
        assert_string_equal(str_of(cJSON_GetObjectItem(out, "capabilities"), "principal"), U);
        cJSON_Delete(out);

        snprintf(args, sizeof(args),
                 "{\"policies\": %s, \"principal\": \"" U "\", \"request\": "
                 "\"FILE_READ:/data/secret/k\"}",
                 policies);
        assert_int_equal(call("policy_explain", args, &out, &err), 0);
        assert_string_equal(str_of(out, "decision"), "Deny");
        assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "reasons"), 0)->valuestring,
                            "no-secrets");
        assert_null(cJSON_GetObjectItem(out, "warning"));
        cJSON_Delete(out);
        snprintf(args, sizeof(args),
                 "{\"policies\": %s, \"principal\": \"" U "\", \"request\": \"FILE_RAED:/x\"}",
                 policies);
        assert_int_equal(call("policy_explain", args, NULL, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, "unknown capability kind \"FILE_RAED\""));
}

static void test_policy_errors_have_positions(void **state)
{
        cJSON *a = cJSON_CreateObject();
        char *args;
        ob_error err;

        (void)state;
        /* line 3: an unknown effect, in the caller's own text */
        cJSON_AddStringToObject(a, "policies_text",
                                "{\"staticPolicies\": {\n  \"p\": {\n    \"effect\": \"perhaps\",\n"
                                "    \"principal\": {\"op\": \"All\"}, \"action\": {\"op\": "
                                "\"All\"}, \"resource\": {\"op\": \"All\"}, \"conditions\": []}}}");
        args = cJSON_PrintUnformatted(a);
        assert_int_equal(call("policy_check", args, NULL, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_int_equal(err.line, 3);
        assert_non_null(strstr(err.message, "policies:3:"));
        assert_int_equal(ob_api_http_status(err.code), 400);
        free(args);
        cJSON_Delete(a);

        /* not a UUID */
        char buf[8192];
        snprintf(buf, sizeof(buf), "{\"policies\": %s, \"principal\": \"bob\"}", policies);
        assert_true(call("policy_compile", buf, NULL, &err) < 0);
        assert_string_equal(err.code, "invalid");
        /* the principal is required: checked by the table */
        snprintf(buf, sizeof(buf), "{\"policies\": %s}", policies);
        assert_int_equal(call("policy_compile", buf, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.message, "principal"));
}

/* ---- events ---- */

/* Appends an event of type with these string members (NULL values: absent). */
static void append(ob_audit_log *log, const char *type, const char *sandbox_id, const char *owner,
                   const char *env_id)
{
        cJSON *ev = cJSON_CreateObject();

        cJSON_AddStringToObject(ev, "type", type);
        if (sandbox_id)
                cJSON_AddStringToObject(ev, "sandbox_id", sandbox_id);
        if (env_id)
                cJSON_AddStringToObject(ev, "env_id", env_id);
        if (owner)
                cJSON_AddStringToObject(ev, "owner", owner);
        assert_int_equal(ob_audit_append(log, ev, NULL), 0);
        cJSON_Delete(ev);
}

static void make_env(ob_store *s, const char *name, const char *owner, char id[OB_ENV_ID_LEN + 1])
{
        ob_env_config c;
        ob_env_record r = {.name = strdup(name),
                           .owner = strdup(owner),
                           .template_name = strdup("tiny"),
                           .created_at = 1700000000,
                           .expires_at = 1700000000 + 3600,
                           .memory_mb = 64};
        bool existed = false;
        ob_error err = {0};

        ob_env_config_defaults(&c);
        assert_int_equal(ob_store_create(s, &c, &r, &existed, &err), 0);
        strcpy(id, r.id);
        ob_env_record_done(&r);
}

/* seqs of the events of a query, as "1,2,3". */
static void seqs(const cJSON *out, char *buf, size_t n)
{
        const cJSON *e;
        size_t len = 0;

        buf[0] = '\0';
        cJSON_ArrayForEach (e, cJSON_GetObjectItem(out, "events"))
                len += (size_t)snprintf(buf + len, n - len, "%s%d", len ? "," : "",
                                        (int)num_of(e, "seq"));
}

static void query(const ob_api_ctx *ctx, const char *args, const char *want, int last)
{
        cJSON *out = NULL;
        ob_error err;
        char got[256];

        if (call_as(ctx, "events_query", args, &out, &err) < 0)
                fail_msg("events_query %s: %s", args, err.message);
        seqs(out, got, sizeof(got));
        if (strcmp(got, want) != 0)
                fail_msg("events_query %s as %s: seqs %s, expected %s", args, ctx->caller.name, got,
                         want);
        assert_int_equal(num_of(out, "last_seq"), last);
        cJSON_Delete(out);
}

static void test_events_query(void **state)
{
        char a_env[OB_ENV_ID_LEN + 1], b_env[OB_ENV_ID_LEN + 1], args[256];
        ob_api_ctx alice = ctx_of("alice", OB_API_OWNER), bob = ctx_of("bob", OB_API_OWNER);
        ob_api_ctx obs = ctx_of("olga", OB_API_OBSERVER), carol = ctx_of("carol", OB_API_OWNER);
        ob_audit_log *log = NULL;
        ob_store *s = NULL;
        ob_error err = {0};

        (void)state;
        /* no log yet: nothing, and nothing created */
        query(&alice, NULL, "", 0);
        assert_int_equal(access(P("state/omnibase.db"), F_OK), -1);

        assert_int_equal(ob_store_open(P("state"), &s, &err), 0);
        make_env(s, "a", "alice", a_env);
        make_env(s, "b", "bob", b_env);
        ob_store_close(s);
        assert_int_equal(ob_audit_open(P("state/audit.jsonl"), OB_AUDIT_NO_DBUS, &log), 0);
        append(log, "EnvironmentCreated", a_env, "alice", a_env); /* 1 */
        append(log, "EnvironmentCreated", b_env, "bob", b_env);   /* 2 */
        append(log, "SandboxStart", a_env, NULL, NULL);           /* 3: an exec in a */
        append(log, "CapabilityDenied", a_env, NULL, NULL);       /* 4 */
        append(log, "SandboxStart", "run-1234", NULL, NULL);      /* 5: a one-shot run */
        append(log, "CapabilityDenied", b_env, NULL, NULL);       /* 6 */
        append(log, "EnvironmentStopped", NULL, "alice", NULL);   /* 7: alice's by owner */
        ob_audit_close(log);

        query(&obs, NULL, "1,2,3,4,5,6,7", 7);
        query(admin(), NULL, "1,2,3,4,5,6,7", 7);
        query(&alice, NULL, "1,3,4,7", 7);
        query(&bob, NULL, "2,6", 6);
        query(&carol, NULL, "", 0);
        /* type list, env, after_seq, limit */
        query(&obs, "{\"type\": \"CapabilityDenied,SandboxStart\"}", "3,4,5,6", 6);
        snprintf(args, sizeof(args), "{\"env\": \"%s\"}", a_env);
        query(&obs, args, "1,3,4", 4);
        query(&bob, args, "", 0); /* not its environment: sees nothing of it */
        query(&obs, "{\"after_seq\": 4}", "5,6,7", 7);
        query(&obs, "{\"after_seq\": 7}", "", 7);
        query(&obs, "{\"limit\": 2}", "1,2", 2);
        query(&obs, "{\"after_seq\": 2, \"limit\": 2}", "3,4", 4);
        query(&alice, "{\"after_seq\": 1, \"limit\": 2}", "3,4", 4);
        assert_int_equal(call("events_query", "{\"limit\": 0}", NULL, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_int_equal(call("events_query", "{\"limit\": 1001}", NULL, &err), -EINVAL);
        assert_int_equal(call("events_query", "{\"after_seq\": -1}", NULL, &err), -EINVAL);

        /* the library call env_logs uses */
        cJSON *events = NULL;
        unsigned long long last = 0;
        assert_int_equal(
            ob_api_events_query(&alice, "CapabilityDenied", NULL, 0, 10, &events, &last, &err), 0);
        assert_int_equal(cJSON_GetArraySize(events), 1);
        assert_int_equal(last, 4);
        cJSON_Delete(events);

        /* the environment's own sandbox names it by its principal only */
        char principal[40];
        cJSON *ev = cJSON_CreateObject();
        ob_env_principal(a_env, principal, sizeof(principal));
        cJSON_AddStringToObject(ev, "type", "SandboxExit");
        cJSON_AddStringToObject(ev, "sandbox_id", "ob-0123456789abcdef");
        cJSON_AddStringToObject(ev, "principal", principal);
        assert_int_equal(ob_audit_open(P("state/audit.jsonl"), OB_AUDIT_NO_DBUS, &log), 0);
        assert_int_equal(ob_audit_append(log, ev, NULL), 0); /* 8 */
        ob_audit_close(log);
        cJSON_Delete(ev);
        query(&alice, "{\"after_seq\": 7}", "8", 8);
        query(&bob, "{\"after_seq\": 7}", "", 7);
        snprintf(args, sizeof(args), "{\"env\": \"%s\", \"after_seq\": 4}", a_env);
        query(&alice, args, "8", 8);
        snprintf(args, sizeof(args), "{\"env\": \"%s\", \"after_seq\": 4}", b_env);
        query(&obs, args, "6", 6);
}

/* n events of type Tick in one batch. */
static void ticks(ob_audit_log *log, size_t n)
{
        cJSON **evs = calloc(n, sizeof(cJSON *));

        assert_non_null(evs);
        for (size_t i = 0; i < n; i++) {
                evs[i] = cJSON_CreateObject();
                cJSON_AddStringToObject(evs[i], "type", "Tick");
                cJSON_AddStringToObject(evs[i], "sandbox_id", "run-0123456789ab");
                cJSON_AddStringToObject(evs[i], "padding",
                                        "................................"
                                        "................................");
        }
        assert_int_equal(ob_audit_append_batch(log, (const cJSON *const *)evs, n, NULL), 0);
        for (size_t i = 0; i < n; i++)
                cJSON_Delete(evs[i]);
        free(evs);
}

/* A log rotated twice (LOG.2: 1..1500, LOG.1: 1501..3001, LOG: 3002..3012)
 * and long enough to be entered by bisection: every after_seq reads on
 * from the right line, across the files. */
static void test_events_query_across_rotations(void **state)
{
        ob_api_ctx obs = ctx_of("olga", OB_API_OBSERVER);
        ob_audit_log *log = NULL;
        uint64_t last = 0;

        (void)state;
        obs.state_dir = P("rot-state");
        assert_int_equal(ob_audit_open(P("rot-state/audit.jsonl"), OB_AUDIT_NO_DBUS, &log), 0);
        ticks(log, 1500);
        assert_int_equal(ob_audit_rotate(log, &last), 0);
        assert_int_equal(last, 1500);
        ticks(log, 1500);
        assert_int_equal(ob_audit_rotate(log, &last), 0);
        assert_int_equal(last, 3001);
        ticks(log, 10);
        ob_audit_close(log);

        query(&obs, "{\"limit\": 3}", "1,2,3", 3); /* from the oldest file kept */
        query(&obs, "{\"after_seq\": 100, \"limit\": 3}", "101,102,103", 103);
        query(&obs, "{\"after_seq\": 1499, \"limit\": 3}", "1500,1501,1502", 1502);
        query(&obs, "{\"after_seq\": 2000, \"limit\": 1}", "2001", 2001);
        query(&obs, "{\"after_seq\": 2999, \"limit\": 4}", "3000,3001,3002,3003", 3003);
        query(&obs, "{\"after_seq\": 2999, \"type\": \"Tick\", \"limit\": 4}",
              "3000,3001,3003,3004", 3004);
        query(&obs, "{\"after_seq\": 3010}", "3011,3012", 3012);
        query(&obs, "{\"after_seq\": 3012}", "", 3012);
        /* every after_seq, across the files and the bisection's probes */
        for (int after = 1; after < 3012; after += 7) {
                char args[64], want[16];
                snprintf(args, sizeof(args), "{\"after_seq\": %d, \"limit\": 1}", after);
                snprintf(want, sizeof(want), "%d", after + 1);
                query(&obs, args, want, after + 1);
        }
}

static void test_events_skip_long_lines_and_verify(void **state)
{
        ob_api_ctx obs = ctx_of("olga", OB_API_OBSERVER);
        char big[1024];
        cJSON *out = NULL;
        ob_error err;
        int fd;

        (void)state;
        /* the log of test_events_query: intact */
        assert_int_equal(call("events_verify", NULL, &out, &err), 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(out, "ok")));
        assert_int_equal(num_of(out, "events"), 8);
        assert_int_equal(num_of(out, "last_seq"), 8);
        assert_int_equal(strlen(str_of(out, "last_hash")), 64);
        cJSON_Delete(out);

        /* a line over 64 KiB (not an event) is skipped, then verify names it */
        fd = open(P("state/audit.jsonl"), O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        memset(big, 'x', sizeof(big));
        for (int i = 0; i < 70; i++)
                assert_int_equal(write(fd, big, sizeof(big)), sizeof(big));
        assert_int_equal(write(fd, "\n", 1), 1);
        close(fd);
        query(&obs, "{\"after_seq\": 5}", "6,7,8", 8);
        assert_int_equal(call("events_verify", NULL, &out, &err), 0);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(out, "ok")));
        assert_int_equal(num_of(out, "bad_line"), 9);
        assert_int_equal(num_of(out, "bad_seq"), 9);
        cJSON_Delete(out);
}

static void test_events_verify_without_log(void **state)
{
        ob_api_ctx c = ctx_of("root", OB_API_ADMIN);
        ob_error err;

        (void)state;
        c.state_dir = P("nothing-here");
        assert_int_equal(call_as(&c, "events_verify", NULL, NULL, &err), -ENOENT);
        assert_string_equal(err.code, "not_found");
}

/* ---- sandbox_run ---- */

static const char caps_none[] =
    "{\"version\": 1, \"grants\": [], \"denials\": [], \"limits\": {\"timeout_s\": 60}}";

static void test_sandbox_run_refusals(void **state)
{
        ob_api_ctx obs = ctx_of("olga", OB_API_OBSERVER);
        char args[1024];
        ob_error err;

        (void)state;
        state_rel = "run-state";
        snprintf(args, sizeof(args), "{\"argv\": [\"/bin/true\"], \"capabilities\": %s}",
                 caps_none);
        assert_int_equal(call_as(&obs, "sandbox_run", args, NULL, &err), -EPERM);
        assert_string_equal(err.code, "forbidden");
        /* neither argv nor script; both capabilities and policies */
        snprintf(args, sizeof(args), "{\"capabilities\": %s}", caps_none);
        assert_int_equal(call("sandbox_run", args, NULL, &err), -EINVAL);
        assert_string_equal(err.code, "invalid");
        snprintf(args, sizeof(args),
                 "{\"argv\": [\"/bin/true\"], \"capabilities\": %s, \"policies\": {}, "
                 "\"principal\": \"" U "\"}",
                 caps_none);
        assert_int_equal(call("sandbox_run", args, NULL, &err), -EINVAL);
        /* a profile path is refused: names only */
        snprintf(args, sizeof(args),
                 "{\"argv\": [\"/bin/true\"], \"profile\": \"/etc/x.json\", \"capabilities\": %s}",
                 caps_none);
        assert_int_equal(call("sandbox_run", args, NULL, &err), -EINVAL);
        /* a bad capability set: invalid with its position; the script's
         * directory is gone */
        assert_int_equal(call("sandbox_run",
                              "{\"script\": \"print(1)\", \"capabilities\": {\"version\": 1, "
                              "\"grants\": [{\"capability\": \"FILE_RAED\", \"target\": \"/x\"}]}}",
                              NULL, &err),
                         -EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, "capabilities:"));
        assert_non_null(strstr(err.message, "FILE_RAED"));
        assert_int_equal(entries(P("run-state/api-runs")), 0);
        /* limits out of their bounds */
        snprintf(args, sizeof(args),
                 "{\"argv\": [\"/bin/true\"], \"memory_mb\": 16, \"capabilities\": %s}", caps_none);
        assert_int_equal(call("sandbox_run", args, NULL, &err), -ERANGE);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, "memory_mb"));
        snprintf(args, sizeof(args),
                 "{\"argv\": [\"/bin/true\"], \"cpus\": 0, \"capabilities\": %s}", caps_none);
        assert_int_equal(call("sandbox_run", args, NULL, &err), -ERANGE);
        /* a timeout above the set's: nothing ran, nothing left */
        snprintf(args, sizeof(args),
                 "{\"script\": \"print(1)\", \"timeout_s\": 120, \"capabilities\": %s}", caps_none);
        assert_int_equal(call("sandbox_run", args, NULL, &err), -EPERM);
        assert_string_equal(err.code, "forbidden");
        assert_non_null(strstr(err.message, "timeout_s"));
        assert_int_equal(entries(P("run-state/api-runs")), 0);
        assert_int_equal(entries(P("run-state/runs")), 0);
}

/* An owner (the server runs as root) may not hand itself a capability set:
 * without an approved template it runs nothing, and a set or a limit beyond
 * the template's is refused; the attack of reading the host's /etc/shadow
 * through a set of one's own fails, and within the template the read is a
 * violation. */
static void test_sandbox_run_bounded_by_template(void **state)
{
        ob_api_ctx owner = ctx_of("mallory", OB_API_OWNER);
        static const char steal[] =
            "{\"argv\": [\"/bin/cat\", \"/etc/shadow\"], %s\"capabilities\": {\"version\": 1, "
            "\"grants\": [{\"capability\": \"FILE_READ\", \"target\": \"/etc/*\"}]}}";
        char args[1024];
        cJSON *out = NULL;
        const cJSON *v;
        ob_error err;

        (void)state;
        state_rel = "tpl-state";
        /* the shipped python-agent template, among this test's templates */
        snprintf(args, sizeof(args), "cp %s/templates/python-agent.json %s/",
                 getenv("OMNIBASE_SOURCE_DIR") ? getenv("OMNIBASE_SOURCE_DIR") : ".",
                 P("templates"));
        assert_int_equal(system(args), 0);
        snprintf(args, sizeof(args), steal, "");
        assert_int_equal(call_as(&owner, "sandbox_run", args, NULL, &err), -EPERM);
        assert_string_equal(err.code, "forbidden");
        assert_non_null(strstr(err.message, "only an admin may run without a template"));
        snprintf(args, sizeof(args), steal, "\"template\": \"python-agent\", ");
        assert_int_equal(call_as(&owner, "sandbox_run", args, NULL, &err), -EPERM);
        assert_string_equal(err.code, "forbidden");
        assert_non_null(strstr(err.message, "grant more than template python-agent"));
        assert_int_equal(call_as(&owner, "sandbox_run",
                                 "{\"argv\": [\"/bin/true\"], \"template\": \"python-agent\", "
                                 "\"capabilities\": {\"version\": 1, \"grants\": [], \"limits\": "
                                 "{\"memory_mb\": 4096}}}",
                                 NULL, &err),
                         -EPERM);
        assert_non_null(strstr(err.message, "limit memory_mb is above template python-agent"));
        assert_true(call_as(&owner, "sandbox_run",
                            "{\"argv\": [\"/bin/true\"], \"template\": \"no-such-template\"}", NULL,
                            &err) < 0);
        assert_string_equal(err.code, "template_not_found");
        assert_true(call_as(&owner, "sandbox_run",
                            "{\"argv\": [\"/bin/true\"], \"template\": \"../etc/x\"}", NULL,
                            &err) < 0);
        assert_string_equal(err.code, "invalid");
        assert_int_equal(entries(P("tpl-state/runs")), 0);
        if (geteuid() != 0 || system("command -v runsc >/dev/null 2>&1") != 0) {
                const char *must = getenv("OMNIBASE_MUST_WORK");
                if (must && *must && *must != '0')
                        fail_msg("OMNIBASE_MUST_WORK: sandbox_run needs root and runsc");
                return;
        }
        /* within the template, for real: the read is denied */
        if (call_as(&owner, "sandbox_run",
                    "{\"argv\": [\"/bin/cat\", \"/etc/shadow\"], \"template\": \"python-agent\"}",
                    &out, &err) < 0)
                fail_msg("sandbox_run within python-agent: %s", err.message);
        assert_string_equal(str_of(out, "status"), "violation");
        assert_null(strstr(str_of(out, "stdout"), "root:"));
        v = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "violations"), 0);
        assert_string_equal(str_of(v, "target"), "/etc/shadow");
        /* the log says who ran it, and that owner (not another) reads it back */
        {
                ob_api_ctx eve = ctx_of("eve", OB_API_OWNER);
                char id[64];
                cJSON *events = NULL, *e;
                unsigned long long last = 0;
                int mine = 0, types = 0;

                snprintf(id, sizeof(id), "%s", str_of(out, "sandbox_id"));
                assert_int_equal(
                    ob_api_events_query(&owner, NULL, NULL, 0, 1000, &events, &last, &err), 0);
                cJSON_ArrayForEach (e, events) {
                        if (!str_or_null(e, "sandbox_id") ||
                            strcmp(str_or_null(e, "sandbox_id"), id))
                                continue;
                        assert_string_equal(str_of(e, "owner"), "mallory");
                        mine++;
                        types |= streq(str_of(e, "type"), "SandboxStart")       ? 1
                                 : streq(str_of(e, "type"), "CapabilityDenied") ? 2
                                 : streq(str_of(e, "type"), "SandboxExit")      ? 4
                                                                                : 0;
                }
                assert_int_equal(types, 7);
                cJSON_Delete(events);
                events = NULL;
                assert_int_equal(
                    ob_api_events_query(&eve, NULL, NULL, 0, 1000, &events, &last, &err), 0);
                cJSON_ArrayForEach (e, events)
                        assert_false(str_or_null(e, "sandbox_id") &&
                                     streq(str_or_null(e, "sandbox_id"), id));
                cJSON_Delete(events);
                assert_true(mine >= 3);
        }
        cJSON_Delete(out);
        assert_int_equal(entries(P("tpl-state/runs")), 0);
}

static void test_sandbox_run_for_real(void **state)
{
        char args[1024];
        cJSON *out = NULL;
        const cJSON *v;
        ob_error err;

        (void)state;
        state_rel = "run-state";
        if (geteuid() != 0 || system("command -v runsc >/dev/null 2>&1") != 0) {
                fprintf(stderr, "sandbox_run for real: skipped (needs root and runsc)\n");
                const char *must = getenv("OMNIBASE_MUST_WORK");
                if (must && *must && *must != '0')
                        fail_msg("OMNIBASE_MUST_WORK: sandbox_run needs root and runsc");
                skip();
        }
        /* where the log is before these runs (earlier tests ran some too) */
        cJSON *events = NULL;
        unsigned long long before = 0, last = 0;
        assert_int_equal(ob_api_events_query(admin(), NULL, NULL, 0, 1000, &events, &before, &err),
                         0);
        cJSON_Delete(events);
        snprintf(args, sizeof(args), "{\"argv\": [\"/bin/echo\", \"hello\"], \"capabilities\": %s}",
                 caps_none);
        if (call("sandbox_run", args, &out, &err) < 0)
                fail_msg("sandbox_run: %s", err.message);
        assert_string_equal(str_of(out, "status"), "ok");
        assert_int_equal(num_of(out, "exit_code"), 0);
        assert_string_equal(str_of(out, "stdout"), "hello\n");
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(out, "stdout_truncated")));
        assert_false(ob_api_result_is_error(out));
        cJSON_Delete(out);

        /* a script as text that is denied a read: a violation, which is a
         * result (isError), not a failed call; the workload's stdin is empty */
        snprintf(args, sizeof(args),
                 "{\"script\": \"cat; cat /etc/shadow; echo after\", \"profile\": \"shell\", "
                 "\"timeout_s\": 30, \"capabilities\": %s}",
                 caps_none);
        if (call("sandbox_run", args, &out, &err) < 0)
                fail_msg("sandbox_run: %s", err.message);
        assert_string_equal(str_of(out, "status"), "violation");
        assert_int_equal(num_of(out, "exit_code"), 126);
        assert_string_equal(str_of(out, "stdout"), "after\n");
        v = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "violations"), 0);
        assert_string_equal(str_of(v, "capability"), "FILE_READ");
        assert_string_equal(str_of(v, "target"), "/etc/shadow");
        assert_true(ob_api_result_is_error(out));
        cJSON_Delete(out);
        assert_int_equal(entries(P("run-state/api-runs")), 0);
        assert_int_equal(entries(P("run-state/runs")), 0);

        /* the limits given lower the set's: a small output limit kills the run */
        snprintf(args, sizeof(args),
                 "{\"argv\": [\"/bin/sh\", \"-c\", \"while :; do echo "
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done\"], \"output_kb\": 4, "
                 "\"cpus\": 0.5, \"capabilities\": %s}",
                 caps_none);
        if (call("sandbox_run", args, &out, &err) < 0)
                fail_msg("sandbox_run with output_kb: %s", err.message);
        assert_string_equal(str_of(out, "status"), "limit_exceeded");
        assert_string_equal(str_of(out, "limit"), "output");
        assert_true(strlen(str_of(out, "stdout")) <= 4096);
        cJSON_Delete(out);

        /* policies compiled for a principal: the read of /data is granted, so
         * the only denial is /etc/shadow (policy ids carried) */
        snprintf(args, sizeof(args),
                 "{\"argv\": [\"/bin/cat\", \"/etc/shadow\"], \"policies_text\": \"%s\", "
                 "\"principal\": \"" U "\"}",
                 "{\\\"staticPolicies\\\": {}}");
        if (call("sandbox_run", args, &out, &err) < 0)
                fail_msg("sandbox_run with policies: %s", err.message);
        assert_string_equal(str_of(out, "status"), "violation");
        v = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "violations"), 0);
        assert_string_equal(str_of(v, "policy_id"), "default-deny");
        cJSON_Delete(out);

        /* its events are in the state's audit log */
        assert_int_equal(
            ob_api_events_query(admin(), "SandboxExit", NULL, before, 100, &events, &last, &err),
            0);
        assert_int_equal(cJSON_GetArraySize(events), 4); /* one per run */
        cJSON_Delete(events);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_template_list_and_show),
            cmocka_unit_test(test_template_check),
            cmocka_unit_test(test_template_render),
            cmocka_unit_test(test_policy_check_compile_explain),
            cmocka_unit_test(test_policy_errors_have_positions),
            cmocka_unit_test(test_events_query),
            cmocka_unit_test(test_events_query_across_rotations),
            cmocka_unit_test(test_events_skip_long_lines_and_verify),
            cmocka_unit_test(test_events_verify_without_log),
            cmocka_unit_test(test_sandbox_run_refusals),
            cmocka_unit_test(test_sandbox_run_bounded_by_template),
            cmocka_unit_test(test_sandbox_run_for_real),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
