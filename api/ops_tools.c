/* SPDX-License-Identifier: Apache-2.0 */
/* TEMPORARY (uncommitted): replaced by the real ops_tools.c from wt-tools. */
#include <errno.h>
#include "api/api.h"
const ob_api_op ob_api_tool_ops[] = {{0}};
const size_t ob_api_n_tool_ops = 0;
int ob_api_events_query(const ob_api_ctx *ctx, const char *types, const char *env_id,
                        unsigned long long after_seq, size_t limit, cJSON **ret_events,
                        unsigned long long *ret_last_seq, ob_error *err)
{
        (void)ctx;
        (void)types;
        (void)env_id;
        (void)limit;
        (void)err;
        *ret_events = cJSON_CreateArray();
        *ret_last_seq = after_seq;
        return 0;
}
