/* SPDX-License-Identifier: Apache-2.0 */
/* Where a run's capability set comes from (docs/policy.md): a capability
 * file, a policy file compiled for a principal, or a registry's policy of a
 * principal. The CLI, and the server and MCP to come, load it here. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/capabilities.h>
#include <omnibase/policy.h>

#include "common/error.h"

/* err's message with the file and, when known, line:column in front. */
static int located(ob_error *err, const char *file, int r)
{
        char msg[sizeof(err->message)];

        if (!err)
                return r;
        snprintf(msg, sizeof(msg), "%s", err->message[0] ? err->message : strerror(-r));
        if (err->line)
                snprintf(err->message, sizeof(err->message), "%.256s:%u:%u: %.240s", file,
                         err->line, err->column, msg);
        else
                snprintf(err->message, sizeof(err->message), "%.256s: %.240s", file, msg);
        return r;
}

int ob_capset_from_source(const ob_capability_source *src, ob_capset **ret, ob_error *err)
{
        ob_policy_set *set = NULL;
        char *path = NULL;
        const char *file;
        int r;

        if (!src || !ret || !!src->capabilities_file + !!src->policy_file + !!src->registry != 1)
                return ob_error_set(err, 0, 0, EINVAL,
                                    "give exactly one of a capability file, a policy file or "
                                    "a registry");
        if (src->capabilities_file) {
                r = ob_capset_load(src->capabilities_file, ret, err);
                return r < 0 ? located(err, src->capabilities_file, r) : r;
        }
        if (!src->principal)
                return ob_error_set(err, 0, 0, EINVAL, "a policy needs a principal");
        file = src->policy_file;
        if (src->registry) {
                r = ob_policy_registry_path(src->registry, src->principal, &path);
                if (r < 0)
                        return ob_error_set(err, 0, 0, r, "registry: invalid principal \"%s\"",
                                            src->principal);
                file = path;
        }
        r = ob_policy_load(file, &set, err);
        if (r >= 0)
                r = ob_policy_compile(set, src->principal, ret, err);
        ob_policy_set_free(set);
        if (r < 0)
                (void)located(err, file, r);
        free(path);
        return r;
}
