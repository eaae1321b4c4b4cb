/* SPDX-License-Identifier: Apache-2.0 */
/* omnibased: the REST server over the operation table (docs/server.md).
 * This file only reads the options; the server is the rest of server/. */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "environments/env.h"
#include "server/server.h"

#define OB_SRV_DEFAULT_SOCKET "/run/omnibase/api.sock"

static const char usage_text[] =
    "usage: omnibased [--socket PATH] [--state-dir DIR]\n"
    "                 [--listen HOST:PORT --tls-cert FILE --tls-key FILE --token-file FILE]\n"
    "\n"
    "Serves omnibase's operations as REST (GET /openapi.json lists them) on a Unix\n"
    "socket (default " OB_SRV_DEFAULT_SOCKET ", mode 0660, group omnibase), and on\n"
    "TCP only with TLS and bearer tokens (lines \"TOKEN OWNER\" in a 0600 file).\n"
    "See docs/server.md.\n";

_printf_(1, 2) static int fail(const char *fmt, ...)
{
        va_list ap;

        fputs("omnibased: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_FAILURE;
}

/* What the options say together; sets the state directory. */
static int check(ob_srv_opts *o, const char *state_dir)
{
        if (o->listen && (!o->tls_cert || !o->tls_key || !o->token_file))
                return fail("--listen %s needs --tls-cert, --tls-key and --token-file (TCP is "
                            "served only over TLS with bearer tokens)",
                            o->listen);
        if (!o->listen && (o->tls_cert || o->tls_key || o->token_file))
                return fail("%s", "--tls-cert, --tls-key and --token-file go with --listen");
        if (!o->socket_path[0])
                return fail("%s", "--socket needs a path");
        if (state_dir && state_dir[0] != '/')
                return fail("--state-dir \"%s\": give an absolute path", state_dir);
        if (state_dir && (!state_dir[0] || setenv("OMNIBASE_STATE_DIR", state_dir, 1) < 0))
                return fail("--state-dir \"%s\": not a usable path", state_dir);
        o->state_dir = ob_env_state_dir(NULL);
        return 0;
}

/* The options into *o; > 0: exit with that status (help, version, errors). */
static int parse(int argc, char **argv, ob_srv_opts *o)
{
        static const struct option longopts[] = {
            {"socket", required_argument, NULL, 's'},
            {"listen", required_argument, NULL, 'l'},
            {"tls-cert", required_argument, NULL, 'c'},
            {"tls-key", required_argument, NULL, 'k'},
            {"token-file", required_argument, NULL, 't'},
            {"state-dir", required_argument, NULL, 'd'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {0},
        };
        const char *state_dir = NULL;
        int c;

        o->socket_path = OB_SRV_DEFAULT_SOCKET;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
                switch (c) {
                case 's':
                        o->socket_path = optarg;
                        break;
                case 'l':
                        o->listen = optarg;
                        break;
                case 'c':
                        o->tls_cert = optarg;
                        break;
                case 'k':
                        o->tls_key = optarg;
                        break;
                case 't':
                        o->token_file = optarg;
                        break;
                case 'd':
                        state_dir = optarg;
                        break;
                case 'h':
                        fputs(usage_text, stdout);
                        return -1;
                case 'V':
                        puts("omnibased " OB_VERSION);
                        return -1;
                default:
                        if (optopt && optopt != '?')
                                return fail("%s needs a value (try omnibased --help)",
                                            argv[optind - 1]);
                        return fail("unknown option \"%s\" (try omnibased --help)",
                                    argv[optind - 1]);
                }
        }
        if (optind < argc)
                return fail("unexpected argument \"%s\" (try omnibased --help)", argv[optind]);
        return check(o, state_dir);
}

int main(int argc, char **argv)
{
        ob_srv_opts o = {0};
        ob_error err = {0};
        int r = parse(argc, argv, &o);

        if (r != 0)
                return r < 0 ? EXIT_SUCCESS : r;
        r = ob_srv_run(&o, &err);
        if (r < 0) {
                fprintf(stderr, "omnibased: %s\n", err.message[0] ? err.message : strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
