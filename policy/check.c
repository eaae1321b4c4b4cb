/* SPDX-License-Identifier: Apache-2.0 */
#include "common/error.h"
#include "policy/policy-internal.h"

int ob_policy_check(const ob_policy_set *set, ob_error *err)
{
        return -EINVAL;
}
