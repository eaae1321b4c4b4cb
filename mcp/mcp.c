/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-RPC 2.0 framing and the MCP lifecycle (initialize, ping); the tools
 * are in tools.c. Every message is parsed by the strict scanner
 * (common/json.h: UTF-8, depth, duplicate keys) within OB_MCP_MAX_MESSAGE. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/macros.h"
#include "common/utf8.h"
#include "mcp/mcp-internal.h"
#include "mcp/mcp.h"

#ifndef OB_MCP_SERVER_VERSION
#define OB_MCP_SERVER_VERSION "0"
#endif

/* The revisions this server can speak, newest first. */
static const char *const versions[] = {OB_MCP_PROTOCOL_VERSION, "2025-06-18", "2025-03-26"};

static const char instructions[] =
    "omnibase runs commands in gVisor (runsc) sandboxes under capability policies. "
    "Environments (env_* tools) are long-lived sandboxes made from a template: env_create "
    "one, run commands in it with env_exec, env_extend its time to live, env_delete it "
    "when done; sandbox_run is a one-shot run; template_*, policy_* and events_* inspect "
    "templates, Cedar policies and the audit log.\n"
    "Every call acts as the caller this server identified (over stdio: the user who started "
    "it), with that caller's role: an owner sees and changes its own environments, an "
    "observer only reads, an admin does everything.\n"
    "A denial is never a protocol error: the tool result has isError true and its "
    "structuredContent carries the violations (each with capability and target). An "
    "operation that fails has isError true and structuredContent.error {code, message}.";

static void cjson_deletep(cJSON **p)
{
        cJSON_Delete(*p);
}

/* The message as one line of text, always valid UTF-8: what an operation
 * gives (a command's output, a message cut at a byte count) may not be, and
 * cJSON copies string bytes as they are, so an invalid byte becomes U+FFFD. */
static char *print_envelope(cJSON *root)
{
        char *text = root ? cJSON_PrintUnformatted(root) : NULL;
        char *fixed;

        if (!text || ob_utf8_valid(text, strlen(text)))
                return text;
        fixed = ob_utf8_sanitize_dup(text, strlen(text), false, NULL);
        free(text);
        return fixed;
}

char *ob_mcp_error_response(const cJSON *id, int code, const char *message)
{
        _cleanup_(cjson_deletep) cJSON *root = cJSON_CreateObject();
        cJSON *e;

        if (!root || !cJSON_AddStringToObject(root, "jsonrpc", "2.0"))
                return NULL;
        if (!cJSON_AddItemToObject(root, "id", id ? cJSON_Duplicate(id, true) : cJSON_CreateNull()))
                return NULL;
        e = cJSON_AddObjectToObject(root, "error");
        if (!e || !cJSON_AddNumberToObject(e, "code", code) ||
            !cJSON_AddStringToObject(e, "message", message))
                return NULL;
        return print_envelope(root);
}

/* {"jsonrpc": "2.0", "id": id, "result": result}; takes result. */
static char *result_response(const cJSON *id, cJSON *result)
{
        _cleanup_(cjson_deletep) cJSON *root = cJSON_CreateObject();
        cJSON *dup = cJSON_Duplicate(id, true);

        if (!root || !result || !dup) {
                cJSON_Delete(result);
                cJSON_Delete(dup);
                return NULL;
        }
        cJSON_AddStringToObject(root, "jsonrpc", "2.0");
        cJSON_AddItemToObject(root, "id", dup);
        cJSON_AddItemToObject(root, "result", result);
        return print_envelope(root);
}

static const char *negotiate(const char *requested)
{
        for (size_t i = 0; requested && i < ARRAY_SIZE(versions); i++)
                if (streq(versions[i], requested))
                        return versions[i];
        return OB_MCP_PROTOCOL_VERSION;
}

static int initialize(ob_mcp_session *s, const cJSON *params, cJSON **ret, ob_mcp_fault *fault)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
        _cleanup_(cjson_deletep) cJSON *res = NULL;
        cJSON *caps, *info;
        const char *version;

        if (s->initialized)
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_REQUEST,
                                        "the session is already initialized");
        if (!cJSON_IsString(v))
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_PARAMS,
                                        "initialize: params.protocolVersion must be a string");
        v = cJSON_GetObjectItemCaseSensitive(params, "capabilities");
        if (v && !cJSON_IsObject(v))
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_PARAMS,
                                        "initialize: params.capabilities must be an object");
        version =
            negotiate(cJSON_GetObjectItemCaseSensitive(params, "protocolVersion")->valuestring);

        res = cJSON_CreateObject();
        if (!res || !cJSON_AddStringToObject(res, "protocolVersion", version))
                return -ENOMEM;
        caps = cJSON_AddObjectToObject(res, "capabilities");
        v = caps ? cJSON_AddObjectToObject(caps, "tools") : NULL;
        if (!v || !cJSON_AddFalseToObject((cJSON *)v, "listChanged"))
                return -ENOMEM;
        info = cJSON_AddObjectToObject(res, "serverInfo");
        if (!info || !cJSON_AddStringToObject(info, "name", "omnibase") ||
            !cJSON_AddStringToObject(info, "title", "omnibase sandboxes") ||
            !cJSON_AddStringToObject(info, "version", OB_MCP_SERVER_VERSION) ||
            !cJSON_AddStringToObject(res, "instructions", instructions))
                return -ENOMEM;
        snprintf(s->protocol_version, sizeof(s->protocol_version), "%s", version);
        s->initialized = true;
        *ret = TAKE_PTR(res);
        return 0;
}

/* A request's result, or a fault (r == 1) for its error response. */
static int dispatch(ob_mcp_session *s, const ob_api_ctx *ctx, const char *method,
                    const cJSON *params, cJSON **ret, ob_mcp_fault *fault)
{
        if (streq(method, "initialize"))
                return initialize(s, params, ret, fault);
        if (streq(method, "ping")) {
                *ret = cJSON_CreateObject();
                return *ret ? 0 : -ENOMEM;
        }
        if (!s->initialized)
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_REQUEST,
                                        "the session is not initialized: send initialize first");
        if (streq(method, "tools/list"))
                return ob_mcp_tools_list(params, ret, fault);
        if (streq(method, "tools/call"))
                return ob_mcp_tools_call(ctx, params, ret, fault);
        return ob_mcp_fault_set(fault, OB_MCP_METHOD_NOT_FOUND, "method not found: %.128s", method);
}

int ob_mcp_fault_set(ob_mcp_fault *fault, int code, const char *fmt, ...)
{
        va_list ap;

        fault->code = code;
        va_start(ap, fmt);
        vsnprintf(fault->message, sizeof(fault->message), fmt, ap);
        va_end(ap);
        return 1;
}

static bool valid_id(const cJSON *id)
{
        /* MCP: a string or an integer, never null (within +-2^53, where a
         * double holds every integer, so that the echo is exact) */
        const double max = 9007199254740992.0;

        if (cJSON_IsString(id))
                return true;
        return cJSON_IsNumber(id) && id->valuedouble >= -max && id->valuedouble <= max &&
               id->valuedouble == (double)(int64_t)id->valuedouble;
}

static int respond(char *text, char **ret_response)
{
        if (!text)
                return -ENOMEM;
        *ret_response = text;
        return 0;
}

/* The text into doc: 0, or 1 and fault for a message too long or not JSON
 * (the strict scanner: UTF-8, depth, duplicate keys), or -ENOMEM. */
static int parse(const char *msg, size_t len, ob_json_doc *doc, ob_mcp_fault *fault)
{
        ob_error err = {0};
        int r;

        if (len > OB_MCP_MAX_MESSAGE)
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_REQUEST, "the message is over 4 MiB");
        r = ob_json_parse(msg, len, OB_MCP_MAX_MESSAGE, doc, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return ob_mcp_fault_set(fault, OB_MCP_PARSE_ERROR, "parse error at %u:%u: %s",
                                        err.line, err.column, err.message);
        if (!cJSON_IsObject(doc->root))
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_REQUEST, "%s",
                                        cJSON_IsArray(doc->root)
                                            ? "batches are not part of MCP 2025-11-25: send "
                                              "one message"
                                            : "a message must be a JSON object");
        return 0;
}

/* A request's or notification's envelope (JSON-RPC's own rules): 0, or 1
 * and fault (for the id when it is a valid one). */
static int check_envelope(const cJSON *root, ob_mcp_fault *fault)
{
        const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "jsonrpc");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");

        if (!cJSON_IsString(version) || !streq(version->valuestring, "2.0"))
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_REQUEST,
                                        "\"jsonrpc\" must be \"2.0\"");
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "method")))
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_REQUEST,
                                        "\"method\" must be a string");
        if (id && !valid_id(id))
                return ob_mcp_fault_set(fault, OB_MCP_INVALID_REQUEST,
                                        "\"id\" must be a string or an integer");
        return 0;
}

int ob_mcp_handle(ob_mcp_session *s, const ob_api_ctx *ctx, const char *msg, size_t len,
                  char **ret_response)
{
        _cleanup_(ob_json_doc_done) ob_json_doc doc = {0};
        _cleanup_(cjson_deletep) cJSON *result = NULL;
        ob_mcp_fault fault = {0};
        const cJSON *id, *method, *params;
        int r;

        r = parse(msg, len, &doc, &fault);
        if (r < 0)
                return r;
        if (r > 0)
                return respond(ob_mcp_error_response(NULL, fault.code, fault.message),
                               ret_response);
        id = cJSON_GetObjectItemCaseSensitive(doc.root, "id");
        method = cJSON_GetObjectItemCaseSensitive(doc.root, "method");
        if (!method && id &&
            (cJSON_GetObjectItemCaseSensitive(doc.root, "result") ||
             cJSON_GetObjectItemCaseSensitive(doc.root, "error"))) {
                /* a response: this server sends no requests, so none is awaited */
                *ret_response = NULL;
                return 0;
        }
        if (check_envelope(doc.root, &fault) > 0)
                return respond(
                    ob_mcp_error_response(valid_id(id) ? id : NULL, fault.code, fault.message),
                    ret_response);
        if (!id) {
                /* a notification changes nothing here: initialized, cancelled
                 * (requests are answered in order, so nothing is in flight
                 * to cancel) and any other are accepted and ignored */
                *ret_response = NULL;
                return 0;
        }
        params = cJSON_GetObjectItemCaseSensitive(doc.root, "params");
        if (params && !cJSON_IsObject(params)) /* MCP's params are objects */
                return respond(ob_mcp_error_response(id, OB_MCP_INVALID_PARAMS,
                                                     "\"params\" must be an object"),
                               ret_response);
        r = dispatch(s, ctx, method->valuestring, params, &result, &fault);
        if (r < 0)
                return r;
        if (r > 0)
                return respond(ob_mcp_error_response(id, fault.code, fault.message), ret_response);
        return respond(result_response(id, TAKE_PTR(result)), ret_response);
}
