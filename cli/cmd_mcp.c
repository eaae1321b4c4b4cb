/* SPDX-License-Identifier: Apache-2.0 */
/* omnibase mcp: the MCP server over stdio (docs/mcp.md). Newline-delimited
 * JSON-RPC messages in on stdin, one response per line out on stdout and
 * nothing else there: the protocol's fds are private copies (close-on-exec)
 * and fds 0 and 1 are pointed at /dev/null and stderr, so that nothing the
 * operations start (a supervisor, runsc) can read a message or write into
 * the stream. Diagnostics go to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "cli/commands.h"
#include "common/fs.h"
#include "common/macros.h"
#include "mcp/mcp.h"

static const char mcp_usage[] =
    "usage: omnibase mcp\n"
    "\n"
    "Serves the Model Context Protocol (revision " OB_MCP_PROTOCOL_VERSION ") on stdin and\n"
    "stdout: one JSON-RPC message per line, for an MCP client that starts this\n"
    "command (Claude Desktop, an agent framework, the official SDK's stdio\n"
    "transport). Every CLI operation is a tool (env_create, env_exec, ...;\n"
    "tools/list names them with their schemas). Calls act as the user running\n"
    "this command, with that user's role (root: admin). A message is at most\n"
    "4 MiB. Exits 0 when stdin closes. See docs/mcp.md.\n";

/* Newline-delimited input with a bound: a line over OB_MCP_MAX_MESSAGE is
 * skipped up to its newline and reported by its length alone. */
typedef struct line_reader {
        int fd;
        char *buf;
        size_t len; /* bytes in buf */
        size_t cap;
        bool skipping; /* inside a line that is too long */
} line_reader;

/* 1 and the line in *ret_line, *ret_len (without "\n", valid until the next call;
 * *ret_len > OB_MCP_MAX_MESSAGE for one that was too long), 0 at the end of
 * the input, or -errno. */
static int read_line(line_reader *rd, size_t *consumed, char **ret_line, size_t *ret_len)
{
        if (*consumed) {
                memmove(rd->buf, rd->buf + *consumed, rd->len - *consumed);
                rd->len -= *consumed;
                *consumed = 0;
        }
        for (;;) {
                char *nl = rd->len ? memchr(rd->buf, '\n', rd->len) : NULL;
                ssize_t n;

                if (nl) {
                        size_t l = (size_t)(nl - rd->buf);
                        *consumed = l + 1;
                        if (rd->skipping) {
                                rd->skipping = false;
                                *ret_line = rd->buf;
                                *ret_len = OB_MCP_MAX_MESSAGE + 1;
                                return 1;
                        }
                        *ret_line = rd->buf;
                        *ret_len = l;
                        return 1;
                }
                if (rd->len > OB_MCP_MAX_MESSAGE) {
                        rd->skipping = true;
                        rd->len = 0;
                }
                if (rd->len == rd->cap) {
                        size_t cap = rd->cap ? rd->cap * 2 : 64 * 1024;
                        char *b;
                        if (cap > OB_MCP_MAX_MESSAGE + 2)
                                cap = OB_MCP_MAX_MESSAGE + 2;
                        b = realloc(rd->buf, cap);
                        if (!b)
                                return -ENOMEM;
                        rd->buf = b;
                        rd->cap = cap;
                }
                n = read(rd->fd, rd->buf + rd->len, rd->cap - rd->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0) {
                        /* a last message without its newline still counts */
                        if (rd->len && !rd->skipping) {
                                *ret_line = rd->buf;
                                *ret_len = rd->len;
                                *consumed = rd->len;
                                return 1;
                        }
                        return 0;
                }
                rd->len += (size_t)n;
        }
}

static int send_line(int fd, const char *text)
{
        size_t len = strlen(text);
        int r = ob_write_all(fd, text, len);
        return r < 0 ? r : ob_write_all(fd, "\n", 1);
}

/* Private close-on-exec copies of stdin and stdout for the protocol; 0 and
 * 1 become /dev/null and a copy of stderr. */
static int take_stdio(int *ret_in, int *ret_out)
{
        _cleanup_close_ int in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
        _cleanup_close_ int out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        _cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (in < 0 || out < 0 || null < 0)
                return negative_errno();
        if (dup2(null, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
                return negative_errno();
        *ret_in = TAKE_FD(in);
        *ret_out = TAKE_FD(out);
        return 0;
}

static int serve(const ob_api_ctx *ctx, int in, int out)
{
        line_reader rd = {.fd = in};
        ob_mcp_session session = {0};
        size_t consumed = 0;
        char *line;
        size_t len;
        int r;

        while ((r = read_line(&rd, &consumed, &line, &len)) > 0) {
                _cleanup_free_ char *resp = NULL;

                if (len <= OB_MCP_MAX_MESSAGE && len && line[len - 1] == '\r')
                        len--;
                if (len == 0)
                        continue;
                r = ob_mcp_handle(&session, ctx, line, len, &resp);
                if (r < 0) {
                        ob_cli_error("mcp: %s", strerror(-r));
                        resp = ob_mcp_error_response(NULL, OB_MCP_INTERNAL_ERROR, strerror(-r));
                }
                if (resp && (r = send_line(out, resp)) < 0)
                        break;
        }
        free(rd.buf);
        if (r == -EPIPE)
                return 0; /* the client went away */
        if (r < 0) {
                ob_cli_error("mcp: %s", strerror(-r));
                return OB_EXIT_FAILURE;
        }
        return 0;
}

int ob_cmd_mcp(int argc, char **argv)
{
        static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {}};
        _cleanup_close_ int in = -1, out = -1;
        ob_api_ctx ctx = {0};
        ob_error err = {0};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(mcp_usage, stdout);
                        return 0;
                }
                ob_cli_error("mcp: unknown option \"%s\" (try 'omnibase mcp --help')",
                             argv[optind - 1]);
                return OB_EXIT_FAILURE;
        }
        if (optind < argc) {
                ob_cli_error("mcp: unexpected argument \"%s\" (try 'omnibase mcp --help')",
                             argv[optind]);
                return OB_EXIT_FAILURE;
        }
        r = ob_api_caller_from_uid(getuid(), &ctx.caller, &err);
        if (r < 0) {
                ob_cli_error("mcp: %s", err.message[0] ? err.message : strerror(-r));
                return OB_EXIT_FAILURE;
        }
        r = take_stdio(&in, &out);
        if (r < 0) {
                ob_cli_error("mcp: stdin/stdout: %s", strerror(-r));
                return OB_EXIT_FAILURE;
        }
        signal(SIGPIPE, SIG_IGN);
        return serve(&ctx, in, out);
}
