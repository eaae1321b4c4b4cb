/* SPDX-License-Identifier: Apache-2.0 */
/* The omnibase CLI: a thin dispatcher over libomnibase. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} commands[] = {
    {"sandbox", ob_cmd_sandbox, "run a script or command in a gVisor sandbox"},
    {"policy", ob_cmd_policy, "check, compile and explain Cedar JSON policies"},
    {"gc", ob_cmd_gc, "remove what killed runs left behind"},
    {"pool", ob_cmd_pool, "a warm pool of pre-booted sandboxes: start, status, stop"},
    {"events", ob_cmd_events, "verify, follow and rotate the audit log"},
    {"env", ob_cmd_env, "long-lived environments: create, exec, extend, delete"},
    {"template", ob_cmd_template, "list, show and check environment templates"},
    {"mcp", ob_cmd_mcp, "serve the Model Context Protocol on stdio (for agents)"},
};

void ob_cli_error(const char *fmt, ...)
{
        va_list ap;
        fputs("omnibase: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void usage(FILE *f)
{
        fputs("usage: omnibase COMMAND [ARGS...]\n\ncommands:\n", f);
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
        fputs("\nRun 'omnibase help COMMAND' (or 'omnibase COMMAND --help') for a command's "
              "options,\n'omnibase -V' for the version. See omnibase(1).\n",
              f);
}

/* omnibase help [COMMAND]: the overview, or COMMAND --help. */
static int help(int argc, char **argv)
{
        static char help_flag[] = "--help";
        char *args[3] = {NULL, help_flag, NULL};

        if (argc < 2) {
                usage(stdout);
                return 0;
        }
        if (argc > 2) {
                ob_cli_error("help: expected one COMMAND, got %d arguments", argc - 1);
                return OB_EXIT_FAILURE;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[1], commands[i].name) == 0) {
                        args[0] = argv[1];
                        return commands[i].run(2, args);
                }
        ob_cli_error("help: unknown command \"%s\" (try 'omnibase --help')", argv[1]);
        return OB_EXIT_FAILURE;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                return OB_EXIT_FAILURE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
                puts("omnibase " OB_VERSION);
                return 0;
        }
        if (strcmp(argv[1], "help") == 0)
                return help(argc - 1, argv + 1);
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);
        ob_cli_error("unknown command \"%s\" (try 'omnibase --help')", argv[1]);
        return OB_EXIT_FAILURE;
}
