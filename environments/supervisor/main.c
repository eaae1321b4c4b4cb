/* SPDX-License-Identifier: Apache-2.0 */
/* omnibase-supervisor STATE_DIR ENV_ID: the supervisor of one environment
 * (environments/supervisor.c), started by ob_env_supervisor_spawn() with
 * its notify pipe as fd 3. A program of its own, exec'd fresh: a process
 * that holds an SQLite connection must not carry it across a fork. */
#include <stdio.h>
#include <string.h>

#include "environments/env.h"

int main(int argc, char **argv)
{
        if (argc != 3 || strncmp(argv[2], "env-", 4) != 0) {
                fprintf(stderr, "usage: omnibase-supervisor STATE_DIR ENV_ID (started by "
                                "omnibase env create/start, not by hand)\n");
                return 2;
        }
        return ob_env_supervise(argv[1], argv[2], 3);
}
