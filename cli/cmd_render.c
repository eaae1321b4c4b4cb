/* SPDX-License-Identifier: Apache-2.0 */
/* omnibase env render / template render: an environment (stored, or a
 * plan made from a template that creates nothing) or a template as
 * Kubernetes objects (docs/kubernetes.md), on stdout as multi-document
 * YAML or a v1 List in JSON. Errors are one line and exit 125. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "common/macros.h"
#include "environments/env.h"
#include "environments/render_k8s.h"

#define MAX_FLAGS 64

static const char env_render_usage[] =
    "usage: omnibase env render ID|NAME --backend kubernetes [--format yaml|json] [--image REF]\n"
    "       omnibase env render --template NAME --owner OWNER [--ttl DURATION] [--seed S]\n"
    "               [--feature-flags a,b] --backend kubernetes [--format yaml|json] [--image REF]\n"
    "The second form is a plan: nothing is created or stored; its time is\n"
    "$SOURCE_DATE_EPOCH when set. See docs/kubernetes.md.\n";
static const char tpl_render_usage[] =
    "usage: omnibase template render NAME --backend kubernetes [--pool N] [--format yaml|json]\n"
    "               [--image REF]\n";

typedef struct render_args {
        const char *backend, *format, *template_name, *owner, *ttl, *seed, *image;
        char *flags_arg;
        const char *flags[MAX_FLAGS + 1];
        bool flags_given;
        int64_t pool;
        const char *positional;
} render_args;

static int fail(const ob_error *err, int r)
{
        ob_cli_error("%s", err->message[0] ? err->message : strerror(-r));
        return OB_EXIT_FAILURE;
}

static int split_flags(render_args *a, char *s)
{
        size_t n = 0;

        for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (n >= MAX_FLAGS)
                        return -E2BIG;
                a->flags[n++] = t;
        }
        a->flags[n] = NULL;
        a->flags_given = true;
        return 0;
}

static int check_args(const render_args *a);

/* A string option's slot in *a, or NULL. */
static const char **string_slot(render_args *a, int c)
{
        switch (c) {
        case 'b':
                return &a->backend;
        case 'F':
                return &a->format;
        case 't':
                return &a->template_name;
        case 'o':
                return &a->owner;
        case 'T':
                return &a->ttl;
        case 's':
                return &a->seed;
        case 'i':
                return &a->image;
        default:
                return NULL;
        }
}

/* --feature-flags and --pool: 0, or OB_EXIT_FAILURE (said). */
static int other_option(render_args *a, int c, char *arg)
{
        char *end;

        if (c == 'f' && split_flags(a, arg) < 0) {
                ob_cli_error("--feature-flags: more than %d flags", MAX_FLAGS);
                return OB_EXIT_FAILURE;
        }
        if (c == 'p') {
                a->pool = strtoll(arg, &end, 10);
                if (!*arg || *end || a->pool < 0 || a->pool > OB_K8S_MAX_POOL) {
                        ob_cli_error("--pool %s: a number 0..%d", arg, OB_K8S_MAX_POOL);
                        return OB_EXIT_FAILURE;
                }
        }
        return 0;
}

/* Options and operand into *a: an exit status (0 after --help, 125 said),
 * or -1 to go on. */
static int parse(int argc, char **argv, const char *usage, render_args *a)
{
        static const struct option opts[] = {{"backend", required_argument, NULL, 'b'},
                                             {"format", required_argument, NULL, 'F'},
                                             {"template", required_argument, NULL, 't'},
                                             {"owner", required_argument, NULL, 'o'},
                                             {"ttl", required_argument, NULL, 'T'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"feature-flags", required_argument, NULL, 'f'},
                                             {"image", required_argument, NULL, 'i'},
                                             {"pool", required_argument, NULL, 'p'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        const char **slot;
        int c;

        optind = 0; /* a full rescan (GNU): argv[0] is "render" */
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if ((slot = string_slot(a, c)))
                        *slot = optarg;
                else if (c == 'f' || c == 'p') {
                        if (other_option(a, c, optarg) != 0)
                                return OB_EXIT_FAILURE;
                } else {
                        fputs(usage, c == 'h' ? stdout : stderr);
                        return c == 'h' ? 0 : OB_EXIT_FAILURE;
                }
        }
        if (optind < argc)
                a->positional = argv[optind++];
        if (optind < argc) {
                ob_cli_error("render: unexpected argument \"%s\"", argv[optind]);
                return OB_EXIT_FAILURE;
        }
        return check_args(a);
}

/* --backend and --format: OB_EXIT_FAILURE (said), else -1 (go on). */
static int check_args(const render_args *a)
{
        if (!a->backend || !streq(a->backend, "kubernetes")) {
                ob_cli_error(
                    "render: --backend kubernetes is needed (the only backend that renders)");
                return OB_EXIT_FAILURE;
        }
        if (a->format && !streq(a->format, "yaml") && !streq(a->format, "json")) {
                ob_cli_error("render: --format %s: yaml or json", a->format);
                return OB_EXIT_FAILURE;
        }
        return -1; /* go on */
}

/* Prints the List as asked and frees it. */
static int emit(cJSON *list, const char *format)
{
        char *text = NULL;
        int r = 0;

        if (format && streq(format, "json"))
                text = cJSON_Print(list);
        else
                r = ob_k8s_yaml(list, &text);
        cJSON_Delete(list);
        if (r < 0 || !text) {
                ob_cli_error("render: out of memory");
                return OB_EXIT_FAILURE;
        }
        fputs(text, stdout);
        if (format && streq(format, "json"))
                fputc('\n', stdout);
        free(text);
        return fflush(stdout) == 0 ? 0 : OB_EXIT_FAILURE;
}

static int64_t plan_now(void)
{
        const char *s = getenv("SOURCE_DATE_EPOCH");
        char *end;
        long long v;

        if (s && *s) {
                v = strtoll(s, &end, 10);
                if (!*end && v >= 0)
                        return v;
        }
        return (int64_t)time(NULL);
}

/* The record to render: the stored one, or a plan from the options. */
static int get_record(render_args *a, ob_env_record *rec, ob_template **tpl, ob_error *err)
{
        ob_env_create_opts o = {.struct_size = sizeof(o),
                                .owner = a->owner,
                                .template_name = a->template_name,
                                .ttl = a->ttl,
                                .seed = a->seed,
                                .flags = a->flags_given ? a->flags : NULL};
        int r;

        if (a->template_name)
                return ob_env_plan(&o, plan_now(), rec, tpl, err);
        r = ob_env_get(NULL, a->positional, rec, err);
        if (r >= 0 && (rec->state == OB_ENV_DELETED || rec->state == OB_ENV_EXPIRED))
                r = ob_error_set_code(err, "not_found", ENOENT, "environment %s is %s", rec->id,
                                      ob_env_state_to_string(rec->state));
        if (r >= 0)
                r = ob_template_load(rec->template_name, tpl, err);
        return r;
}

int ob_cmd_env_render(int argc, char **argv)
{
        render_args a = {0};
        ob_env_record rec = {0};
        ob_env_config cfg;
        ob_template *tpl = NULL;
        ob_error err = {0};
        ob_k8s_opts o = {.struct_size = sizeof(o)};
        cJSON *list = NULL;
        int r = parse(argc, argv, env_render_usage, &a);

        if (r >= 0)
                return r;
        if (a.pool || !a.template_name == !a.positional ||
            (a.positional && (a.owner || a.ttl || a.seed || a.flags_given))) {
                ob_cli_error("env render: give an environment, or --template and --owner (a plan)");
                return OB_EXIT_FAILURE;
        }
        o.image = a.image;
        o.cfg = &cfg;
        r = ob_env_config_load(NULL, &cfg, &err);
        if (r >= 0)
                r = get_record(&a, &rec, &tpl, &err);
        if (r >= 0)
                r = ob_k8s_render_env(&rec, tpl, &o, &list, &err);
        ob_env_record_done(&rec);
        ob_template_free(tpl);
        if (r < 0)
                return fail(&err, r);
        return emit(list, a.format);
}

int ob_cmd_template_render(int argc, char **argv)
{
        render_args a = {0};
        ob_template *tpl = NULL;
        ob_error err = {0};
        ob_k8s_opts o = {.struct_size = sizeof(o)};
        cJSON *list = NULL;
        int r = parse(argc, argv, tpl_render_usage, &a);

        if (r >= 0)
                return r;
        if (!a.positional || a.template_name || a.owner || a.ttl || a.seed || a.flags_given) {
                ob_cli_error("template render: give a template name (and --pool N)");
                return OB_EXIT_FAILURE;
        }
        o.image = a.image;
        o.pool = a.pool;
        r = ob_template_load(a.positional, &tpl, &err);
        if (r >= 0)
                r = ob_template_require_approved(tpl, &err);
        if (r >= 0)
                r = ob_k8s_render_template(tpl, &o, &list, &err);
        ob_template_free(tpl);
        if (r < 0)
                return fail(&err, r);
        return emit(list, a.format);
}
