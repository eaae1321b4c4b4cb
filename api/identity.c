/* SPDX-License-Identifier: Apache-2.0 */
/* Who is calling (api.h): a Unix uid or a name, and the role
 * $OMNIBASE_CONFIG's "api" object gives it (docs/server.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "common/macros.h"

static bool listed(char (*names)[OB_K8S_GROUP_MAX + 1], size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (streq(names[i], name))
                        return true;
        return false;
}

int ob_api_caller_from_name(const char *name, ob_api_caller *ret, ob_error *err)
{
        ob_env_config cfg;
        ob_api_caller c = {.role = OB_API_OWNER};
        int r;

        r = ob_env_owner_check(name, err);
        if (r < 0)
                return ob_error_set_code(err, "forbidden", EPERM,
                                         "caller \"%.64s\" is not a valid owner name", name);
        r = ob_env_config_load(NULL, &cfg, err);
        if (r < 0)
                return r;
        if (listed(cfg.api_admins, cfg.n_api_admins, name))
                c.role = OB_API_ADMIN;
        else if (listed(cfg.api_observers, cfg.n_api_observers, name))
                c.role = OB_API_OBSERVER;
        strncpy(c.name, name, sizeof(c.name) - 1);
        *ret = c;
        return 0;
}

int ob_api_caller_from_uid(uid_t uid, ob_api_caller *ret, ob_error *err)
{
        struct passwd pw, *res = NULL;
        char buf[4096];
        int r;

        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
                return ob_error_set_code(err, "forbidden", EPERM,
                                         "uid %u has no user name: it cannot own environments",
                                         (unsigned)uid);
        r = ob_api_caller_from_name(res->pw_name, ret, err);
        if (r >= 0 && uid == 0)
                ret->role = OB_API_ADMIN;
        return r;
}
