/* SPDX-License-Identifier: Apache-2.0 */
/* omnibase pool start|status|stop: the warm pool (docs/runner.md §10). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/capabilities.h>
#include <omnibase/sandbox.h>

#include "cli/commands.h"
#include "common/macros.h"
#include "environments/template.h"

static const char pool_usage[] =
    "usage: omnibase pool start [--size N] [--profile P] (--capabilities FILE | --template NAME)\n"
    "       omnibase pool status [--json]\n"
    "       omnibase pool stop\n"
    "\n"
    "Keeps N (default 2, at most 16) sandboxes booted for one profile, capability set\n"
    "and its limits; `omnibase sandbox run ... --warm` with exactly that set takes one\n"
    "(used once, then destroyed and replaced). The daemon outlives this command;\n"
    "`pool stop` (or `omnibase gc` after it was killed) removes everything it made.\n";

typedef struct start_args {
        const char *caps_file, *template, *profile;
        long size;
} start_args;

static int parse_start(int argc, char **argv, start_args *a)
{
        for (int i = 2; i < argc; i++) {
                const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                char *end;
                if (!v) {
                        ob_cli_error("pool start: %s needs a value (try --help)", o);
                        return -EINVAL;
                }
                if (streq(o, "--capabilities"))
                        a->caps_file = v;
                else if (streq(o, "--template"))
                        a->template = v;
                else if (streq(o, "--profile"))
                        a->profile = v;
                else if (streq(o, "--size")) {
                        errno = 0;
                        a->size = strtol(v, &end, 10);
                        if (errno || *end || end == v || a->size < 1 ||
                            a->size > OB_POOL_MAX_SIZE) {
                                ob_cli_error("pool start: --size %s: a number from 1 to %d", v,
                                             OB_POOL_MAX_SIZE);
                                return -EINVAL;
                        }
                } else {
                        ob_cli_error("pool start: unknown option \"%s\" (try --help)", o);
                        return -EINVAL;
                }
                i++;
        }
        if (!a->caps_file == !a->template) {
                ob_cli_error("pool start: give --capabilities FILE or --template NAME");
                return -EINVAL;
        }
        return 0;
}

static int pool_start(int argc, char **argv)
{
        start_args a = {.size = 2};
        ob_pool_options o;
        ob_template *tpl = NULL;
        ob_capset *caps = NULL;
        ob_error err = {0};
        int pid = 0, r;

        ob_pool_options_init(&o);
        if (parse_start(argc, argv, &a) < 0)
                return OB_EXIT_FAILURE;
        if (a.template) {
                r = ob_template_load(a.template, &tpl, &err);
                if (r >= 0)
                        r = ob_template_require_approved(tpl, &err);
        } else
                r = ob_capset_load(a.caps_file, &caps, &err);
        if (r < 0) {
                if (err.line)
                        ob_cli_error("%s:%u:%u: %s", a.caps_file, err.line, err.column,
                                     err.message);
                else
                        ob_cli_error("%s", err.message);
                ob_template_free(tpl);
                return OB_EXIT_FAILURE;
        }
        o.caps = tpl ? tpl->caps : caps;
        o.profile = a.profile ? a.profile : tpl && tpl->profile ? tpl->profile : NULL;
        o.size = (size_t)a.size;
        r = ob_pool_start(&o, &pid, &err);
        if (r < 0)
                ob_cli_error("%s", err.message);
        else
                printf("pool: started, pid %d, %zu sandbox%s\n", pid, o.size,
                       o.size == 1 ? "" : "es");
        ob_template_free(tpl);
        ob_capset_free(caps);
        return r < 0 ? OB_EXIT_FAILURE : 0;
}

static double num(const cJSON *o, const char *k)
{
        return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int pool_status(int argc, char **argv)
{
        bool json = argc > 2 && streq(argv[2], "--json");
        _cleanup_free_ char *line = NULL;
        ob_error err = {0};
        cJSON *o;

        if (argc > (json ? 3 : 2)) {
                ob_cli_error("pool status: unexpected argument \"%s\"", argv[json ? 3 : 2]);
                return OB_EXIT_FAILURE;
        }
        if (ob_pool_status(NULL, &line, &err) < 0) {
                ob_cli_error("%s", err.message);
                return OB_EXIT_FAILURE;
        }
        if (json) {
                puts(line);
                return 0;
        }
        o = cJSON_Parse(line);
        printf("pool: pid %.0f, profile %s, size %.0f: %.0f ready, %.0f booting, %.0f busy, %.0f "
               "being destroyed; "
               "%.0f taken, %.0f sent cold, %.0f boot failures; key sha256 %s\n",
               num(o, "pid"), cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "profile")),
               num(o, "size"), num(o, "ready"), num(o, "booting"), num(o, "busy"),
               num(o, "destroying"), num(o, "taken"), num(o, "cold_refusals"),
               num(o, "boot_failures"),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "key_sha256")));
        cJSON_Delete(o);
        return 0;
}

static int pool_stop(int argc, char **argv)
{
        ob_error err = {0};

        if (argc > 2) {
                ob_cli_error("pool stop: unexpected argument \"%s\"", argv[2]);
                return OB_EXIT_FAILURE;
        }
        if (ob_pool_stop(NULL, &err) < 0) {
                ob_cli_error("%s", err.message);
                return OB_EXIT_FAILURE;
        }
        puts("pool: stopped");
        return 0;
}

int ob_cmd_pool(int argc, char **argv)
{
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                fputs(pool_usage, stdout);
                return 0;
        }
        if (argc >= 2 && streq(argv[1], "start"))
                return pool_start(argc, argv);
        if (argc >= 2 && streq(argv[1], "status"))
                return pool_status(argc, argv);
        if (argc >= 2 && streq(argv[1], "stop"))
                return pool_stop(argc, argv);
        ob_cli_error("pool: expected start, status or stop (try 'omnibase pool --help')");
        return OB_EXIT_FAILURE;
}
