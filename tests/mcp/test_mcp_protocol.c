/* SPDX-License-Identifier: Apache-2.0 */
/* mcp/: the JSON-RPC edges the SDK's client never sends (parse errors,
 * batches, bad ids, notifications, responses, the 4 MiB bound), the
 * lifecycle (nothing but ping before initialize, version negotiation, a
 * second initialize), tools/list against the operation table, the REST
 * half of the parity (every tool's _meta "omnibase/rest" is an operation of
 * ob_api_openapi() and every operation there is a tool's), and tools/call's
 * results and errors on a real, empty state directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "common/macros.h"
#include "common/utf8.h"
#include "mcp/mcp.h"

static ob_api_ctx ctx;
static char state_dir[] = "/tmp/ob-mcp-XXXXXX";

/* ob_mcp_handle on text; the parsed response (NULL when there is none). */
static cJSON *handle(ob_mcp_session *s, const char *text)
{
        char *resp = NULL;
        cJSON *j;

        assert_int_equal(ob_mcp_handle(s, &ctx, text, strlen(text), &resp), 0);
        if (!resp)
                return NULL;
        assert_null(strchr(resp, '\n')); /* stdio: one message per line */
        assert_true(ob_utf8_valid(resp, strlen(resp)));
        j = cJSON_Parse(resp);
        assert_non_null(j);
        free(resp);
        return j;
}

/* The error code of a response, checking its id (NULL: null). */
static int error_code(cJSON *resp, const char *id_json)
{
        cJSON *id = cJSON_GetObjectItemCaseSensitive(resp, "id");
        cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
        char *printed = cJSON_PrintUnformatted(id);

        assert_string_equal(printed, id_json ? id_json : "null");
        free(printed);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(resp, "jsonrpc")->valuestring, "2.0");
        assert_null(cJSON_GetObjectItemCaseSensitive(resp, "result"));
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
        return (int)cJSON_GetObjectItemCaseSensitive(e, "code")->valuedouble;
}

static int expect_error(ob_mcp_session *s, const char *text, const char *id_json)
{
        cJSON *r = handle(s, text);
        int code;

        assert_non_null(r);
        code = error_code(r, id_json);
        cJSON_Delete(r);
        return code;
}

static cJSON *result_of(cJSON *resp)
{
        assert_null(cJSON_GetObjectItemCaseSensitive(resp, "error"));
        return cJSON_GetObjectItemCaseSensitive(resp, "result");
}

static void initialize(ob_mcp_session *s, const char *version, const char *want)
{
        char msg[256];
        cJSON *r, *res;

        snprintf(msg, sizeof(msg),
                 "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":"
                 "\"t\",\"version\":\"1\"}}}",
                 version);
        r = handle(s, msg);
        res = result_of(r);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(res, "protocolVersion")->valuestring,
                            want);
        assert_string_equal(s->protocol_version, want);
        assert_true(s->initialized);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(
                                cJSON_GetObjectItemCaseSensitive(res, "serverInfo"), "name")
                                ->valuestring,
                            "omnibase");
        assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "capabilities"),
                                             "tools"),
            "listChanged")));
        assert_non_null(
            strstr(cJSON_GetObjectItemCaseSensitive(res, "instructions")->valuestring, "isError"));
        cJSON_Delete(r);
}

static void test_framing(void **state)
{
        ob_mcp_session s = {0};
        char *resp = NULL;
        char *big;

        assert_int_equal(expect_error(&s, "{\"jsonrpc\":", NULL), OB_MCP_PARSE_ERROR);
        assert_int_equal(expect_error(&s, "\xff", NULL), OB_MCP_PARSE_ERROR);
        /* the strict scanner: a duplicate key is not silently resolved */
        assert_int_equal(
            expect_error(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}", NULL),
            OB_MCP_PARSE_ERROR);
        assert_int_equal(
            expect_error(&s, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", NULL),
            OB_MCP_INVALID_REQUEST);
        assert_int_equal(expect_error(&s, "42", NULL), OB_MCP_INVALID_REQUEST);
        assert_int_equal(expect_error(&s, "{\"id\":7,\"method\":\"ping\"}", "7"),
                         OB_MCP_INVALID_REQUEST);
        assert_int_equal(
            expect_error(&s, "{\"jsonrpc\":\"1.0\",\"id\":\"x\",\"method\":\"ping\"}", "\"x\""),
            OB_MCP_INVALID_REQUEST);
        assert_int_equal(expect_error(&s, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":3}", "7"),
                         OB_MCP_INVALID_REQUEST);
        /* MCP ids are strings or integers, never null */
        assert_int_equal(
            expect_error(&s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", NULL),
            OB_MCP_INVALID_REQUEST);
        assert_int_equal(
            expect_error(&s, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", NULL),
            OB_MCP_INVALID_REQUEST);
        assert_int_equal(
            expect_error(&s, "{\"jsonrpc\":\"2.0\",\"id\":1e300,\"method\":\"ping\"}", NULL),
            OB_MCP_INVALID_REQUEST);
        assert_int_equal(
            expect_error(&s, "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", NULL),
            OB_MCP_INVALID_REQUEST);
        assert_int_equal(
            expect_error(&s, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\",\"params\":[]}",
                         "\"p\""),
            OB_MCP_INVALID_PARAMS);
        /* notifications and responses get no answer, known or not */
        assert_null(handle(&s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
        assert_null(handle(&s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}"));
        assert_null(
            handle(&s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\",\"params\":[1]}"));
        assert_null(handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}"));
        assert_null(handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":1,"
                               "\"message\":\"m\"}}"));
        assert_false(s.initialized);

        /* over 4 MiB: refused by its length before a byte is read */
        big = malloc(OB_MCP_MAX_MESSAGE + 1);
        assert_non_null(big);
        memset(big, ' ', OB_MCP_MAX_MESSAGE + 1);
        assert_int_equal(ob_mcp_handle(&s, &ctx, big, OB_MCP_MAX_MESSAGE + 1, &resp), 0);
        assert_non_null(strstr(resp, "-32600"));
        assert_non_null(strstr(resp, "4 MiB"));
        free(resp);
        free(big);
}

static void test_lifecycle(void **state)
{
        static const char *const supported[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
        ob_mcp_session s = {0};
        cJSON *r;

        /* before initialize: ping only */
        assert_int_equal(
            expect_error(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", "1"),
            OB_MCP_INVALID_REQUEST);
        r = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
        assert_int_equal(cJSON_GetArraySize(result_of(r)), 0);
        assert_true(cJSON_IsObject(result_of(r)));
        cJSON_Delete(r);
        assert_int_equal(
            expect_error(
                &s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{}}", "3"),
            OB_MCP_INVALID_PARAMS);
        assert_int_equal(
            expect_error(&s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\"}", "3"),
            OB_MCP_INVALID_PARAMS);
        assert_false(s.initialized);

        for (size_t i = 0; i < ARRAY_SIZE(supported); i++) {
                ob_mcp_session t = {0};
                initialize(&t, supported[i], supported[i]);
        }
        initialize(&s, "2024-11-05", OB_MCP_PROTOCOL_VERSION);
        assert_int_equal(expect_error(&s,
                                      "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"initialize\","
                                      "\"params\":{\"protocolVersion\":\"2025-11-25\"}}",
                                      "4"),
                         OB_MCP_INVALID_REQUEST);
        assert_string_equal(s.protocol_version, OB_MCP_PROTOCOL_VERSION);
        assert_int_equal(expect_error(&s,
                                      "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"method\":\"resources/"
                                      "list\"}",
                                      "\"r\""),
                         OB_MCP_METHOD_NOT_FOUND);
        assert_int_equal(expect_error(&s,
                                      "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\","
                                      "\"params\":{\"cursor\":\"x\"}}",
                                      "5"),
                         OB_MCP_INVALID_PARAMS);
}

static cJSON *tools_list(void)
{
        ob_mcp_session s = {0};
        cJSON *r, *tools;

        initialize(&s, OB_MCP_PROTOCOL_VERSION, OB_MCP_PROTOCOL_VERSION);
        r = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}");
        tools = cJSON_DetachItemFromObjectCaseSensitive(result_of(r), "tools");
        assert_null(cJSON_GetObjectItemCaseSensitive(result_of(r), "nextCursor"));
        cJSON_Delete(r);
        assert_true(cJSON_IsArray(tools));
        return tools;
}

static const char *str(const cJSON *o, const char *k)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
        assert_true(cJSON_IsString(v));
        return v->valuestring;
}

/* Every operation is a tool, in the table's order, described by it. */
static void test_tools_list(void **state)
{
        cJSON *tools = tools_list(), *t;
        size_t n, i = 0;
        const ob_api_op *ops = ob_api_ops(&n);

        assert_true(n > 0);
        assert_int_equal((size_t)cJSON_GetArraySize(tools), n);
        cJSON_ArrayForEach (t, tools) {
                const ob_api_op *op = &ops[i++];
                cJSON *meta = cJSON_GetObjectItemCaseSensitive(t, "_meta");
                cJSON *out = cJSON_GetObjectItemCaseSensitive(t, "outputSchema");
                cJSON *in = cJSON_GetObjectItemCaseSensitive(t, "inputSchema");
                cJSON *ann = cJSON_GetObjectItemCaseSensitive(t, "annotations");
                char rest[256];

                assert_string_equal(str(t, "name"), op->name);
                assert_string_equal(str(t, "title"), op->title);
                assert_string_equal(str(t, "description"), op->description);
                assert_string_equal(str(meta, "omnibase/cli"), op->cli);
                snprintf(rest, sizeof(rest), "%s %s", op->method, op->route);
                assert_string_equal(str(meta, "omnibase/rest"), rest);
                assert_string_equal(str(in, "type"), "object");
                assert_string_equal(str(out, "type"), "object");
                /* the op's own schema, or the typed error; MCP's
                 * structuredContent is an object, so every result must be */
                assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "anyOf")),
                                 2);
                assert_string_equal(
                    str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "anyOf"), 0),
                        "type"),
                    "object");
                for (const ob_api_param *p = op->params; p->name; p++)
                        assert_non_null(cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetObjectItemCaseSensitive(in, "properties"), p->name));
                assert_int_equal(
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ann, "readOnlyHint")),
                    !!(op->flags & OB_API_READ));
                assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ann, "openWorldHint")));
                assert_int_equal(
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ann, "destructiveHint")),
                    !!(op->flags & OB_API_DESTRUCTIVE));
                assert_int_equal(
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ann, "idempotentHint")),
                    !!(op->flags & (OB_API_READ | OB_API_IDEMPOTENT)));
                /* a read changes nothing, so it removes nothing */
                assert_false((op->flags & OB_API_READ) && (op->flags & OB_API_DESTRUCTIVE));
                /* what removes an environment or its changes says so */
                if (streq(op->name, "env_delete") || streq(op->name, "env_reset") ||
                    streq(op->name, "env_sweep"))
                        assert_true(op->flags & OB_API_DESTRUCTIVE);
                /* restore makes a new environment each time; create and exec act anew */
                if (streq(op->name, "env_restore") || streq(op->name, "env_create") ||
                    streq(op->name, "env_exec"))
                        assert_false(op->flags & (OB_API_DESTRUCTIVE | OB_API_IDEMPOTENT));
        }
        cJSON_Delete(tools);
}

/* The REST half of the parity: tools and OpenAPI operations, both ways. */
static void test_rest_parity(void **state)
{
        cJSON *tools = tools_list(), *t, *path, *m;
        cJSON *doc = ob_api_openapi();
        cJSON *paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");
        size_t seen = 0;

        assert_true(cJSON_IsObject(paths));
        cJSON_ArrayForEach (t, tools) {
                char method[16] = "", route[200] = "";
                const char *rest =
                    str(cJSON_GetObjectItemCaseSensitive(t, "_meta"), "omnibase/rest");
                assert_int_equal(sscanf(rest, "%15s %199s", method, route), 2);
                for (char *c = method; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                if (!cJSON_GetObjectItemCaseSensitive(
                        cJSON_GetObjectItemCaseSensitive(paths, route), method))
                        fail_msg("tool %s: %s is not in the OpenAPI document", str(t, "name"),
                                 rest);
        }
        cJSON_ArrayForEach (path, paths)
                cJSON_ArrayForEach (m, path) {
                        char want[256];
                        bool found = false;
                        snprintf(want, sizeof(want), "%s %s", m->string, path->string);
                        for (char *c = want; *c != ' '; c++)
                                *c = (char)toupper((unsigned char)*c);
                        cJSON_ArrayForEach (t, tools)
                                found |= streq(str(cJSON_GetObjectItemCaseSensitive(t, "_meta"),
                                                   "omnibase/rest"),
                                               want);
                        if (!found)
                                fail_msg("OpenAPI %s has no MCP tool", want);
                        seen++;
                }
        assert_int_equal(seen, (size_t)cJSON_GetArraySize(tools));
        cJSON_Delete(doc);
        cJSON_Delete(tools);
}

/* tools/call: a result, operation errors as isError results, protocol
 * errors for what is not a call of a known tool. */
static void test_tools_call(void **state)
{
        ob_mcp_session s = {0};
        cJSON *r, *res, *sc, *text;

        initialize(&s, OB_MCP_PROTOCOL_VERSION, OB_MCP_PROTOCOL_VERSION);
        r = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
                       "\"name\":\"env_list\",\"arguments\":{}}}");
        res = result_of(r);
        assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(res, "isError")));
        sc = cJSON_GetObjectItemCaseSensitive(res, "structuredContent");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sc, "environments")),
                         0);
        assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(sc, "environments")));
        text = cJSON_Parse(
            str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "content"), 0), "text"));
        assert_true(cJSON_Compare(text, sc, true));
        cJSON_Delete(text);
        cJSON_Delete(r);

        /* an argument the operation does not take: a typed error, isError */
        r = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{"
                       "\"name\":\"env_list\",\"arguments\":{\"colour\":\"red\"}}}");
        res = result_of(r);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "isError")));
        sc = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(res, "structuredContent"), "error");
        assert_string_equal(str(sc, "code"), "invalid");
        assert_non_null(strstr(str(sc, "message"), "colour"));
        cJSON_Delete(r);

        /* an environment that is not there */
        r = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{"
                       "\"name\":\"env_show\",\"arguments\":{\"id\":\"env-0123456789ab\"}}}");
        res = result_of(r);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "isError")));
        sc = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(res, "structuredContent"), "error");
        assert_string_equal(str(sc, "code"), "not_found");
        cJSON_Delete(r);

        /* the table's roles hold through MCP: only an admin sweeps */
        ctx.caller.role = OB_API_OWNER;
        r = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{"
                       "\"name\":\"env_sweep\"}}");
        ctx.caller.role = OB_API_ADMIN;
        res = result_of(r);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "isError")));
        sc = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(res, "structuredContent"), "error");
        assert_string_equal(str(sc, "code"), "forbidden");
        cJSON_Delete(r);

        assert_int_equal(expect_error(&s,
                                      "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\","
                                      "\"params\":{\"name\":\"no_such_tool\"}}",
                                      "4"),
                         OB_MCP_INVALID_PARAMS);
        {
                /* a message cut inside a character is still valid UTF-8 */
                char msg[512], name[200];
                cJSON *r2;
                memset(name, 'a', 127);
                strcpy(name + 127, "\xc3\xa9\xc3\xa9");
                snprintf(msg, sizeof(msg),
                         "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{"
                         "\"name\":\"%s\"}}",
                         name);
                r2 = handle(&s, msg); /* handle() checks the UTF-8 */
                assert_int_equal(error_code(r2, "9"), OB_MCP_INVALID_PARAMS);
                assert_non_null(
                    strstr(str(cJSON_GetObjectItemCaseSensitive(r2, "error"), "message"),
                           "aaa\xef\xbf\xbd"));
                cJSON_Delete(r2);
        }
        assert_int_equal(expect_error(&s,
                                      "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
                                      "\"params\":{}}",
                                      "5"),
                         OB_MCP_INVALID_PARAMS);
        assert_int_equal(expect_error(&s,
                                      "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\","
                                      "\"params\":{\"name\":\"env_list\",\"arguments\":[1]}}",
                                      "6"),
                         OB_MCP_INVALID_PARAMS);
}

static int setup(void **state)
{
        if (!mkdtemp(state_dir))
                return -1;
        ctx.state_dir = state_dir;
        /* the table decides roles; an admin sees every operation work */
        snprintf(ctx.caller.name, sizeof(ctx.caller.name), "mcp-test");
        ctx.caller.role = OB_API_ADMIN;
        return 0;
}

static int teardown(void **state)
{
        char cmd[64];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_framing),    cmocka_unit_test(test_lifecycle),
            cmocka_unit_test(test_tools_list), cmocka_unit_test(test_rest_parity),
            cmocka_unit_test(test_tools_call),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
