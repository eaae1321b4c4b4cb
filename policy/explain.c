/* SPDX-License-Identifier: Apache-2.0 */
/* The request and the answer of `policy explain` (policy/explain.h). */
#include <errno.h>
#include <string.h>

#include "policy/explain.h"

int ob_policy_request_parse(const char *req, ob_cap_kind *ret_kind, const char **ret_target,
                            ob_error *err)
{
        const char *colon = req ? strchr(req, ':') : NULL;
        char kind[32];

        if (!colon || (size_t)(colon - req) >= sizeof(kind))
                return ob_error_set_code(err, "invalid", EBADMSG,
                                         "request must be KIND:TARGET, e.g. FILE_READ:/data/x");
        memcpy(kind, req, (size_t)(colon - req));
        kind[colon - req] = '\0';
        if (ob_cap_kind_from_string(kind, ret_kind) < 0)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "unknown capability kind \"%s\" (FILE_READ, FILE_WRITE, "
                                         "FILE_EXEC, NETWORK_CONNECT)",
                                         kind);
        *ret_target = colon + 1;
        return 0;
}

cJSON *ob_policy_response_to_json(const ob_policy_response *resp)
{
        cJSON *o = cJSON_CreateObject(), *reasons, *errors;
        bool ok = o && cJSON_AddStringToObject(o, "decision", resp->allow ? "Allow" : "Deny") &&
                  (reasons = cJSON_AddArrayToObject(o, "reasons")) &&
                  (errors = cJSON_AddArrayToObject(o, "errors"));

        for (size_t i = 0; ok && i < resp->n_reasons; i++)
                ok = cJSON_AddItemToArray(reasons, cJSON_CreateString(resp->reasons[i]));
        for (size_t i = 0; ok && i < resp->n_errors; i++) {
                cJSON *e = cJSON_CreateObject();
                /* errors[i] is "<id>: <message>" */
                const char *msg = resp->errors[i] + strlen(resp->error_ids[i]) + 2;
                ok = e && cJSON_AddStringToObject(e, "policy_id", resp->error_ids[i]) &&
                     cJSON_AddStringToObject(e, "message", msg) && cJSON_AddItemToArray(errors, e);
                if (!ok)
                        cJSON_Delete(e);
        }
        if (!ok) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}
