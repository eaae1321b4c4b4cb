/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the policy CLI lands (issue 2). */
#include "cli/commands.h"

int ob_cmd_policy(int argc, char **argv)
{
        ob_cli_error("policy: not built yet");
        return OB_EXIT_FAILURE;
}

