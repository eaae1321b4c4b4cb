/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the MCP server (mcp/): the input is a session, one message per
 * line, fed to ob_mcp_handle in order, as `omnibase mcp` reads stdin. Every
 * message must be answered with one line of valid UTF-8 JSON-RPC 2.0 (exactly one of
 * result and error; an error with an integer code and a message), or not at
 * all (a notification, a response). The caller is an observer on a scratch
 * state directory, so tools/call reaches the operations that only read
 * (the table refuses the others before they run) and nothing starts a
 * sandbox. */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/utf8.h"
#include "mcp/mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_response(const char *text)
{
        cJSON *r = cJSON_Parse(text), *v, *res, *err;

        if (!r || strchr(text, '\n') || !ob_utf8_valid(text, strlen(text)))
                abort();
        v = cJSON_GetObjectItemCaseSensitive(r, "jsonrpc");
        if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0 ||
            !cJSON_GetObjectItemCaseSensitive(r, "id"))
                abort();
        res = cJSON_GetObjectItemCaseSensitive(r, "result");
        err = cJSON_GetObjectItemCaseSensitive(r, "error");
        if (!res == !err)
                abort();
        if (err && (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(err, "code")) ||
                    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "message"))))
                abort();
        if (res && !cJSON_IsObject(res))
                abort();
        cJSON_Delete(r);
}

static char state_dir[] = "/tmp/ob-fuzz-mcp-XXXXXX";

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        return remove(path);
}

/* The scratch state directory goes when the process does. */
static void remove_state_dir(void)
{
        nftw(state_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ob_api_ctx ctx;
        ob_mcp_session s = {0};
        const char *p = (const char *)data, *end = p + size;

        if (!ctx.state_dir) {
                if (!mkdtemp(state_dir))
                        abort();
                atexit(remove_state_dir);
                ctx.state_dir = state_dir;
                snprintf(ctx.caller.name, sizeof(ctx.caller.name), "fuzz");
                ctx.caller.role = OB_API_OBSERVER;
        }
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                char *resp = NULL;

                if (len && ob_mcp_handle(&s, &ctx, p, len, &resp) < 0)
                        abort(); /* only out of memory may fail */
                if (resp)
                        check_response(resp);
                free(resp);
                p += len + 1;
        }
        return 0;
}
