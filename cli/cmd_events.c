/* SPDX-License-Identifier: Apache-2.0 */
/* omnibase events verify|follow|rotate: the operators' view of the audit log
 * (docs/events.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/audit.h>

#include "cli/commands.h"
#include "common/macros.h"

/* Exit status of `events verify` when the chain is broken (125 is reserved
 * for "the command itself failed"). */
#define OB_EXIT_VERIFY_FAILED 1

static const char events_usage[] =
    "usage: omnibase events verify [--continue] [LOG]\n"
    "       omnibase events follow [--type T] [--sandbox ID] [--since SEQ] [LOG]\n"
    "       omnibase events rotate [LOG]\n"
    "\n"
    "LOG defaults to $OMNIBASE_STATE_DIR/audit.jsonl (/var/lib/omnibase/audit.jsonl).\n"
    "verify exits 0 on an intact chain, 1 on a broken one (naming the first bad\n"
    "seq and line), 125 when the log cannot be read. See docs/events.md.\n";

/* One "omnibase: ..." line for what getopt_long() refused; the exit status. */
static int bad_option(char **argv)
{
        const char *opt = argv[optind - 1];

        if (optopt && strchr("tsS", optopt) && opt[0] == '-')
                ob_cli_error("events %s: %s needs a value", argv[0], opt);
        else
                ob_cli_error("events %s: unknown option \"%s\" (try 'omnibase events --help')",
                             argv[0], opt);
        return OB_EXIT_FAILURE;
}

/* The LOG operand (at most one) or the default path; *ret malloc'd. */
static int log_path(int argc, char **argv, char **ret)
{
        if (argc - optind > 1) {
                ob_cli_error("events: too many arguments (try 'omnibase events --help')");
                return -EINVAL;
        }
        if (argc - optind == 1)
                return (*ret = strdup(argv[optind])) ? 0 : -ENOMEM;
        return ob_audit_default_path(ret);
}

static int cmd_verify(int argc, char **argv)
{
        static const struct option opts[] = {
            {"continue", no_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {}};
        _cleanup_free_ char *path = NULL;
        ob_audit_verify_result res;
        unsigned flags = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'c')
                        flags |= OB_AUDIT_VERIFY_CONTINUE;
                else
                        return c == 'h' ? (fputs(events_usage, stdout), 0) : bad_option(argv);
        }
        if (log_path(argc, argv, &path) < 0)
                return OB_EXIT_FAILURE;
        r = ob_audit_verify(path, flags, &res);
        if (r < 0) {
                ob_cli_error("%s: %s", path, strerror(-r));
                return OB_EXIT_FAILURE;
        }
        if (!res.ok) {
                if (res.bad_column)
                        printf("bad: %s:%" PRIu64 ":%u: seq %" PRIu64 ": %s\n", path, res.bad_line,
                               res.bad_column, res.bad_seq, res.reason);
                else
                        printf("bad: %s:%" PRIu64 ": seq %" PRIu64 ": %s\n", path, res.bad_line,
                               res.bad_seq, res.reason);
                return OB_EXIT_VERIFY_FAILED;
        }
        printf("ok: %" PRIu64 " events, last seq %" PRIu64 ", last hash %s\n", res.n_events,
               res.last_seq, res.last_hash);
        return 0;
}

static volatile sig_atomic_t follow_stop;

static void on_stop_signal(int sig)
{
        follow_stop = 1;
}

static int print_line(const char *line, size_t len, void *userdata)
{
        if (follow_stop)
                return 1; /* SIGINT or SIGTERM: end cleanly, exit 0 */
        if (!line)
                return 0;
        if (fwrite(line, 1, len, stdout) != len || fputc('\n', stdout) == EOF ||
            fflush(stdout) == EOF)
                return 1; /* the reader went away: stop quietly */
        return 0;
}

static int parse_seq(const char *s, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int cmd_follow(int argc, char **argv)
{
        static const struct option opts[] = {{"type", required_argument, NULL, 't'},
                                             {"sandbox", required_argument, NULL, 's'},
                                             {"since", required_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        _cleanup_free_ char *path = NULL;
        ob_audit_filter filter = {0};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 't')
                        filter.type = optarg;
                else if (c == 's')
                        filter.sandbox_id = optarg;
                else if (c == 'S' && parse_seq(optarg, &filter.since_seq) < 0) {
                        ob_cli_error("events follow: --since wants a seq >= 1, not \"%s\"", optarg);
                        return OB_EXIT_FAILURE;
                } else if (c != 'S')
                        return c == 'h' ? (fputs(events_usage, stdout), 0) : bad_option(argv);
        }
        if (log_path(argc, argv, &path) < 0)
                return OB_EXIT_FAILURE;
        /* No SA_RESTART: the signal interrupts the wait, the next tick stops. */
        sigaction(SIGINT, &(struct sigaction){.sa_handler = on_stop_signal}, NULL);
        sigaction(SIGTERM, &(struct sigaction){.sa_handler = on_stop_signal}, NULL);
        r = ob_audit_follow(path, &filter, print_line, NULL);
        if (r < 0) {
                ob_cli_error("%s: %s", path, strerror(-r));
                return OB_EXIT_FAILURE;
        }
        return 0;
}

static int cmd_rotate(int argc, char **argv)
{
        _cleanup_free_ char *path = NULL;
        ob_audit_log *log = NULL;
        uint64_t last = 0;
        int r;

        static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {}};
        int c = getopt_long(argc, argv, "h", opts, NULL);

        if (c == 'h')
                return fputs(events_usage, stdout), 0;
        if (c != -1)
                return bad_option(argv);
        if (log_path(argc, argv, &path) < 0)
                return OB_EXIT_FAILURE;
        r = ob_audit_open(path, 0, &log);
        if (r >= 0)
                r = ob_audit_rotate(log, &last);
        ob_audit_close(log);
        if (r < 0) {
                ob_cli_error("%s: %s", path,
                             r == -EBADMSG
                                 ? "the last line is corrupt (see 'omnibase events verify')"
                                 : strerror(-r));
                return OB_EXIT_FAILURE;
        }
        if (last == 0)
                printf("empty: %s not rotated\n", path);
        else
                printf("rotated: %s.1 ends at seq %" PRIu64 "\n", path, last);
        return 0;
}

/* omnibase events verify|follow|rotate: returns the exit status. */
int ob_cmd_events(int argc, char **argv)
{
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                fputs(events_usage, argc < 2 ? stderr : stdout);
                return argc < 2 ? OB_EXIT_FAILURE : 0;
        }
        optind = 1;
        opterr = 0; /* bad_option() says it in our words */
        if (streq(argv[1], "verify"))
                return cmd_verify(argc - 1, argv + 1);
        if (streq(argv[1], "follow"))
                return cmd_follow(argc - 1, argv + 1);
        if (streq(argv[1], "rotate"))
                return cmd_rotate(argc - 1, argv + 1);
        ob_cli_error("events: unknown subcommand \"%s\" (try 'omnibase events --help')", argv[1]);
        return OB_EXIT_FAILURE;
}
