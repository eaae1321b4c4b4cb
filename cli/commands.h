/* SPDX-License-Identifier: Apache-2.0 */
/* One entry point per `omnibase` command group. Each gets argv starting at
 * the group's name (argv[0] == "policy", ...) and returns the exit status. */
#pragma once

/* Exit statuses shared by every command (DESIGN §4). */
#define OB_EXIT_TIMEOUT   124
#define OB_EXIT_FAILURE   125 /* omnibase failed or the input was invalid */
#define OB_EXIT_VIOLATION 126
#define OB_EXIT_KILLED    137

int ob_cmd_policy(int argc, char **argv);
int ob_cmd_sandbox(int argc, char **argv);
int ob_cmd_gc(int argc, char **argv);
int ob_cmd_pool(int argc, char **argv);
int ob_cmd_events(int argc, char **argv);
int ob_cmd_env(int argc, char **argv);
int ob_cmd_template(int argc, char **argv);
int ob_cmd_mcp(int argc, char **argv);
/* env render / template render (cmd_render.c): argv starts at "render". */
int ob_cmd_env_render(int argc, char **argv);
int ob_cmd_template_render(int argc, char **argv);

/* Prints "omnibase: <message>" to stderr (one line). */
void ob_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
