/* SPDX-License-Identifier: Apache-2.0 */
/* Between mcp.c (framing, lifecycle) and tools.c (tools/list, tools/call). */
#pragma once

#include <cjson/cJSON.h>

#include "api/api.h"
#include "common/macros.h"

/* A JSON-RPC error to answer a request with. */
typedef struct ob_mcp_fault {
        int code;
        char message[512];
} ob_mcp_fault;

/* Fills fault and returns 1, so that a handler can `return ob_mcp_fault_set(...)`. */
int ob_mcp_fault_set(ob_mcp_fault *fault, int code, const char *fmt, ...) _printf_(3, 4);

/* The handlers of tools/list and tools/call: 0 and *ret the result object
 * (caller frees), 1 and *fault filled for an error response, or -ENOMEM. */
int ob_mcp_tools_list(const cJSON *params, cJSON **ret, ob_mcp_fault *fault);
int ob_mcp_tools_call(const ob_api_ctx *ctx, const cJSON *params, cJSON **ret, ob_mcp_fault *fault);
