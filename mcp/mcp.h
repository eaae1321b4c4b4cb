/* SPDX-License-Identifier: Apache-2.0 */
/* The Model Context Protocol (revision 2025-11-25) over the operation table
 * (api/api.h, DESIGN §7, docs/mcp.md): JSON-RPC 2.0 messages in, responses
 * out, one tool per operation. Transport-free: `omnibase mcp` (stdio,
 * cli/cmd_mcp.c) and omnibased's Streamable HTTP endpoint (/mcp) both feed
 * it one message at a time. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"

/* The revision this server speaks by default, and the largest message it
 * reads (a longer one is answered with -32600 and never parsed). */
#define OB_MCP_PROTOCOL_VERSION "2025-11-25"
#define OB_MCP_MAX_MESSAGE      (4u * 1024 * 1024)

/* JSON-RPC 2.0 error codes. */
enum {
        OB_MCP_PARSE_ERROR = -32700,
        OB_MCP_INVALID_REQUEST = -32600,
        OB_MCP_METHOD_NOT_FOUND = -32601,
        OB_MCP_INVALID_PARAMS = -32602,
        OB_MCP_INTERNAL_ERROR = -32603,
};

/* One client's session. initialized turns true when initialize has been
 * answered; until then only initialize and ping are served (-32600 for
 * anything else). protocol_version is the negotiated revision. A front end
 * that keeps no sessions (stateless HTTP) fills both itself from the
 * MCP-Protocol-Version header. Zero-initialize before the first message. */
typedef struct ob_mcp_session {
        bool initialized;
        char protocol_version[32];
} ob_mcp_session;

/* Handles one JSON-RPC message (2025-11-25 has no batches: an array is an
 * invalid request) of len bytes, as the caller in ctx. *ret_response is the
 * response text (one line of valid UTF-8 JSON, no newline; caller frees),
 * or NULL for a notification or a response. Errors of the message itself
 * are JSON-RPC errors (-32700 parse, -32600 invalid request, -32601 method,
 * -32602 params, unknown tool included); an operation that fails is a
 * tools/call result with isError. Returns 0, or -ENOMEM (then
 * *ret_response is untouched).
 * Streamable HTTP: the body of a POST is msg; a response is the 200 body
 * (application/json), NULL is 202 Accepted without a body. A tools/call may
 * take as long as the operation (an env_exec: up to its timeout); the
 * session is only changed by initialize, so a front end that forks per
 * request can run tools/call in the child. */
int ob_mcp_handle(ob_mcp_session *s, const ob_api_ctx *ctx, const char *msg, size_t len,
                  char **ret_response);

/* The tools/list entry of op: name, title, description, inputSchema,
 * outputSchema, annotations and _meta ("omnibase/cli", "omnibase/rest").
 * NULL when out of memory; the caller frees it. */
cJSON *ob_mcp_tool(const ob_api_op *op);

/* The JSON-RPC error response {"jsonrpc","id","error":{code,message}} as
 * text (id NULL: null), for a transport that refuses a message before
 * ob_mcp_handle sees it. NULL when out of memory; the caller frees it. */
char *ob_mcp_error_response(const cJSON *id, int code, const char *message);
