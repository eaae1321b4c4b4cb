/* SPDX-License-Identifier: Apache-2.0 */
/* tools/list and tools/call: one tool per operation of the table
 * (ob_api_ops()), never a list of its own. A tool's outputSchema is the
 * operation's, extended to admit the error object an operation that fails
 * gives (the official SDK's client validates structuredContent against the
 * outputSchema even when isError is true). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/macros.h"
#include "mcp/mcp-internal.h"
#include "mcp/mcp.h"

static void cjson_deletep(cJSON **p)
{
        cJSON_Delete(*p);
}
#define _cleanup_cjson_ _cleanup_(cjson_deletep)

/* The shape of structuredContent when an operation fails (ob_api_error_json). */
static const char error_schema[] =
    "{\"type\":\"object\",\"description\":\"The operation failed: a typed error (invalid, "
    "not_found, forbidden, quota_exceeded, ...).\",\"properties\":{\"error\":{\"type\":\"object\","
    "\"properties\":{\"code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}},"
    "\"required\":[\"code\",\"message\"]}},\"required\":[\"error\"]}";

/* {"type": "object", "anyOf": [op's schema, the error]}, the keywords that
 * belong at the root ($schema, $id, $defs) moved up so that references
 * inside op's schema still resolve. MCP wants structuredContent to be an
 * object: every operation's result is one (arrays come wrapped, as
 * {"environments": [...]}), which tests/mcp/test_mcp_protocol.c checks. */
static cJSON *output_schema(const ob_api_op *op)
{
        static const char *const root_keys[] = {"$schema", "$id", "$defs", "definitions"};
        _cleanup_cjson_ cJSON *base = ob_api_output_schema(op);
        _cleanup_cjson_ cJSON *root = cJSON_CreateObject();
        cJSON *any, *err;

        if (!base || !root)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(root_keys); i++) {
                cJSON *k = cJSON_DetachItemFromObjectCaseSensitive(base, root_keys[i]);
                if (k)
                        cJSON_AddItemToObject(root, root_keys[i], k);
        }
        err = cJSON_Parse(error_schema);
        any = cJSON_AddStringToObject(root, "type", "object")
                  ? cJSON_AddArrayToObject(root, "anyOf")
                  : NULL;
        if (!err || !any) {
                cJSON_Delete(err);
                return NULL;
        }
        cJSON_AddItemToArray(any, TAKE_PTR(base));
        cJSON_AddItemToArray(any, err);
        return TAKE_PTR(root);
}

static cJSON *annotations(const ob_api_op *op)
{
        cJSON *a = cJSON_CreateObject();

        if (!a || !cJSON_AddStringToObject(a, "title", op->title) ||
            !cJSON_AddBoolToObject(a, "readOnlyHint", op->flags & OB_API_READ) ||
            !cJSON_AddBoolToObject(a, "destructiveHint", op->flags & OB_API_DESTRUCTIVE) ||
            !cJSON_AddBoolToObject(a, "idempotentHint",
                                   op->flags & (OB_API_READ | OB_API_IDEMPOTENT)) ||
            /* everything happens on this host, in its sandboxes */
            !cJSON_AddFalseToObject(a, "openWorldHint")) {
                cJSON_Delete(a);
                return NULL;
        }
        return a;
}

static cJSON *meta(const ob_api_op *op)
{
        cJSON *m = cJSON_CreateObject();
        char rest[256];

        snprintf(rest, sizeof(rest), "%s %s", op->method, op->route);
        if (!m || !cJSON_AddStringToObject(m, "omnibase/cli", op->cli) ||
            !cJSON_AddStringToObject(m, "omnibase/rest", rest)) {
                cJSON_Delete(m);
                return NULL;
        }
        return m;
}

cJSON *ob_mcp_tool(const ob_api_op *op)
{
        _cleanup_cjson_ cJSON *t = cJSON_CreateObject();
        cJSON *in = ob_api_input_schema(op), *out = in ? output_schema(op) : NULL;
        cJSON *ann = out ? annotations(op) : NULL, *m = ann ? meta(op) : NULL;

        if (!t || !m || !cJSON_AddStringToObject(t, "name", op->name) ||
            !cJSON_AddStringToObject(t, "title", op->title) ||
            !cJSON_AddStringToObject(t, "description", op->description)) {
                cJSON_Delete(in);
                cJSON_Delete(out);
                cJSON_Delete(ann);
                cJSON_Delete(m);
                return NULL;
        }
        cJSON_AddItemToObject(t, "inputSchema", in);
        cJSON_AddItemToObject(t, "outputSchema", out);
        cJSON_AddItemToObject(t, "annotations", ann);
        cJSON_AddItemToObject(t, "_meta", m);
        return TAKE_PTR(t);
}

int ob_mcp_tools_list(const cJSON *params, cJSON **ret, ob_mcp_fault *fault)
{
        _cleanup_cjson_ cJSON *res = cJSON_CreateObject();
        const ob_api_op *ops;
        cJSON *tools;
        size_t n;

        /* every tool fits one page: a cursor can only be one we never gave */
        if (cJSON_GetObjectItemCaseSensitive(params, "cursor"))
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_PARAMS,
                                        "tools/list: unknown cursor (the list has one page)");
        tools = res ? cJSON_AddArrayToObject(res, "tools") : NULL;
        ops = ob_api_ops(&n);
        if (!tools || !ops)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                cJSON *t = ob_mcp_tool(&ops[i]);
                if (!t)
                        return -ENOMEM;
                cJSON_AddItemToArray(tools, t);
        }
        *ret = TAKE_PTR(res);
        return 0;
}

/* {content: [{type: text, text}], structuredContent, isError}; takes sc. */
static int tool_result(cJSON *sc, bool is_error, cJSON **ret)
{
        _cleanup_cjson_ cJSON *structured = sc;
        _cleanup_cjson_ cJSON *res = cJSON_CreateObject();
        _cleanup_free_ char *text = structured ? cJSON_PrintUnformatted(structured) : NULL;
        cJSON *content = res ? cJSON_AddArrayToObject(res, "content") : NULL;
        cJSON *item = cJSON_CreateObject();

        if (!text || !content || !item) {
                cJSON_Delete(item);
                return -ENOMEM;
        }
        cJSON_AddItemToArray(content, item);
        if (!cJSON_AddStringToObject(item, "type", "text") ||
            !cJSON_AddStringToObject(item, "text", text))
                return -ENOMEM;
        cJSON_AddItemToObject(res, "structuredContent", TAKE_PTR(structured));
        if (!cJSON_AddBoolToObject(res, "isError", is_error))
                return -ENOMEM;
        *ret = TAKE_PTR(res);
        return 0;
}

int ob_mcp_tools_call(const ob_api_ctx *ctx, const cJSON *params, cJSON **ret, ob_mcp_fault *fault)
{
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
        _cleanup_cjson_ cJSON *result = NULL;
        const ob_api_op *op;
        ob_error err = {0};
        bool is_error;

        if (!cJSON_IsString(name))
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_PARAMS,
                                        "tools/call: params.name must be a string");
        if (args && !cJSON_IsObject(args) && !cJSON_IsNull(args))
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_PARAMS,
                                        "tools/call: params.arguments must be an object");
        op = ob_api_find(name->valuestring);
        if (!op)
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_PARAMS,
                                        "tools/call: unknown tool \"%.128s\" (tools/list "
                                        "names them)",
                                        name->valuestring);
        if (ob_api_call(ctx, op, cJSON_IsObject(args) ? args : NULL, &result, &err) < 0)
                return tool_result(ob_api_error_json(&err), true, ret);

        is_error = ob_api_result_is_error(result);
        return tool_result(TAKE_PTR(result), is_error, ret);
}
