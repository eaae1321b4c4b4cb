/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the runner lands (issue 3). */
#include "cli/commands.h"

int ob_cmd_sandbox(int argc, char **argv)
{
        ob_cli_error("sandbox: not built yet");
        return OB_EXIT_FAILURE;
}

int ob_cmd_gc(int argc, char **argv)
{
        ob_cli_error("gc: not built yet");
        return OB_EXIT_FAILURE;
}
