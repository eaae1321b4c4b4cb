/* SPDX-License-Identifier: Apache-2.0 */
#include "common/error.h"
#include "policy/policy-internal.h"

int ob_policy_compile(const ob_policy_set *set, const char *principal, ob_capset **ret,
                      ob_error *err)
{
        return -EOPNOTSUPP;
}
