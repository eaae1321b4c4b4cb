/* SPDX-License-Identifier: Apache-2.0 */
/* `omnibase template list | show | check` over environments/template.h
 * (docs/environments-templates.md). Invalid input: one line
 * `omnibase: FILE:LINE:COL: msg` on stderr and exit 125. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capabilities/limits.h"
#include "cli/commands.h"
#include "common/macros.h"
#include "environments/template.h"

static const char usage_text[] =
    "usage: omnibase template list [--json]\n"
    "       omnibase template show NAME|FILE [--json]\n"
    "       omnibase template check FILE\n"
    "       omnibase template render NAME --backend kubernetes [--pool N] [--format yaml|json]\n"
    "\n"
    "Environment templates: approved JSON files naming a profile, a capability set,\n"
    "TTLs, a default seed and feature flags. NAME is looked up as NAME.json in\n"
    "$OMNIBASE_TEMPLATE_DIR (else the source tree's templates/), then the installed\n"
    "templates.\n"
    "\n"
    "  list   the templates found, one per line (--json: an array of objects)\n"
    "  show   one template, resolved (--json: the template as JSON)\n"
    "  check  validate FILE: exit 0 and \"FILE: ok\", or 125 and FILE:LINE:COL: why\n"
    "\n"
    "See docs/environments-templates.md for the keys.\n";

static void print_error(const char *file, const ob_error *err)
{
        if (err->line > 0)
                ob_cli_error("%s:%u:%u: %s", file, err->line, err->column, err->message);
        else
                ob_cli_error("%s", err->message);
}

/* Loads NAME or a path; prints the error (with the file) on failure. */
static int load(const char *name_or_path, bool path, ob_template **ret)
{
        _cleanup_free_ char *file = NULL;
        ob_error err = {0};
        int r;

        if (path || strchr(name_or_path, '/'))
                r = asprintf(&file, "%s%s", strchr(name_or_path, '/') ? "" : "./", name_or_path) < 0
                        ? -ENOMEM
                        : 0;
        else
                r = ob_template_find(name_or_path, &file, &err);
        if (r >= 0)
                r = ob_template_load(file, ret, &err);
        if (r == -ENOMEM && !err.message[0])
                snprintf(err.message, sizeof(err.message), "out of memory");
        if (r < 0)
                print_error(path ? name_or_path : file ? file : name_or_path, &err);
        return r;
}

static void duration(int64_t s, char *buf, size_t len)
{
        static const struct {
                int64_t n;
                char u;
        } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};

        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (s % units[i].n == 0) {
                        snprintf(buf, len, "%lld%c", (long long)(s / units[i].n), units[i].u);
                        return;
                }
}

static void print_flags(const char *label, char **v)
{
        printf("%-20s", label);
        if (!v || !v[0])
                fputs(" (none)", stdout);
        for (size_t i = 0; v && v[i]; i++)
                printf("%s%s", i ? ", " : " ", v[i]);
        putchar('\n');
}

static void print_caps(const ob_template *t)
{
        const ob_limits *l = ob_capset_limits_const(t->caps);

        for (int deny = 0; deny <= 1; deny++)
                for (size_t i = 0; i < ob_capset_count(t->caps, deny); i++) {
                        const ob_capability *c = ob_capset_get(t->caps, deny, i);
                        printf("%-20s %s %s\n",
                               deny ? "deny:" : "grant:", ob_cap_kind_to_string(c->kind),
                               c->target);
                }
        printf("%-20s", "limits:");
        for (size_t i = 0; i < OB_LIMIT_COUNT; i++) {
                const ob_limit_info *d = &ob_limit_table[i];
                int64_t v = ob_limit_get(l, d);
                if (v == OB_LIMIT_UNSET)
                        continue;
                if (d->fractional)
                        printf(" %s=%g", d->key, (double)v / 1000.0);
                else
                        printf(" %s=%lld", d->key, (long long)v);
        }
        putchar('\n');
}

static void print_text(const ob_template *t)
{
        char def[24], max[24];

        duration(t->default_ttl_s, def, sizeof(def));
        duration(t->max_ttl_s, max, sizeof(max));
        printf("%-20s %s\n%-20s %s\n%-20s %s\n", "name:", t->name, "file:", t->file,
               "description:", t->description);
        if (t->approved)
                printf("%-20s yes, by %s\n", "approved:", t->approved_by);
        else
                printf("%-20s no (environments cannot be created from it)\n", "approved:");
        printf("%-20s %s\n%-20s %s\n", "data classification:", t->data_classification,
               "profile:", t->profile);
        printf("%-20s default %s, max %s\n", "ttl:", def, max);
        printf("%-20s %s\n", "default seed:", t->default_seed ? t->default_seed : "(none)");
        print_flags("flags available:", t->flags_available);
        print_flags("flags default:", t->flags_default);
        printf("%-20s %lld MiB\n", "workspace:", (long long)t->workspace_mb);
        print_caps(t);
}

static int show(const char *name, bool json)
{
        _cleanup_free_ char *text = NULL;
        ob_template *t = NULL;

        if (load(name, false, &t) < 0)
                return OB_EXIT_FAILURE;
        if (json && ob_template_to_json(t, &text) < 0) {
                ob_template_free(t);
                ob_cli_error("template show: out of memory");
                return OB_EXIT_FAILURE;
        }
        if (json)
                fputs(text, stdout);
        else
                print_text(t);
        ob_template_free(t);
        return 0;
}

/* Prints every template; an invalid one is an error line and exit 125
 * once all are listed. */
static int list(bool json)
{
        cJSON *arr = cJSON_CreateArray();
        char **names = NULL, *text;
        ob_error err = {0};
        int status = 0;

        if (!arr || ob_template_list(&names, &err) < 0) {
                cJSON_Delete(arr);
                ob_cli_error("template list: %s", arr ? err.message : "out of memory");
                return OB_EXIT_FAILURE;
        }
        for (size_t i = 0; names[i]; i++) {
                ob_template *t = NULL;
                if (load(names[i], false, &t) < 0) {
                        status = OB_EXIT_FAILURE;
                        continue;
                }
                if (json)
                        cJSON_AddItemToArray(arr, ob_template_summary_json(t));
                else
                        printf("%-24s %-10s %s\n", t->name, t->approved ? "approved" : "unapproved",
                               t->profile);
                ob_template_free(t);
        }
        for (size_t i = 0; names[i]; i++)
                free(names[i]);
        free(names);
        if (json && (text = cJSON_Print(arr))) {
                puts(text);
                free(text);
        }
        cJSON_Delete(arr);
        return status;
}

static int check(const char *file)
{
        ob_template *t = NULL;

        if (load(file, true, &t) < 0)
                return OB_EXIT_FAILURE;
        printf("%s: ok\n", file);
        ob_template_free(t);
        return 0;
}

/* Options and operands: -1 on a usage error (printed), 1 after --help. */
static int parse_args(int argc, char **argv, bool *json, const char **operand)
{
        static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(usage_text, stdout);
                        return 1;
                }
                if (c != 'j') {
                        ob_cli_error("template %s: unknown option \"%s\" (try --help)", argv[0],
                                     argv[optind - 1]);
                        return -1;
                }
                *json = true;
        }
        if (optind < argc)
                *operand = argv[optind++];
        if (optind < argc) {
                ob_cli_error("template %s: unexpected argument \"%s\"", argv[0], argv[optind]);
                return -1;
        }
        return 0;
}

int ob_cmd_template(int argc, char **argv)
{
        const char *operand = NULL, *sub;
        bool json = false;
        int r;

        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h") ||
            streq(argv[1], "help")) {
                fputs(usage_text, argc < 2 ? stderr : stdout);
                return argc < 2 ? OB_EXIT_FAILURE : 0;
        }
        sub = argv[1];
        if (streq(sub, "render"))
                return ob_cmd_template_render(argc - 1, argv + 1);
        r = parse_args(argc - 1, argv + 1, &json, &operand);
        if (r != 0)
                return r > 0 ? 0 : OB_EXIT_FAILURE;
        if (streq(sub, "list") && !operand)
                return list(json);
        if (streq(sub, "show") && operand)
                return show(operand, json);
        if (streq(sub, "check") && operand && !json)
                return check(operand);
        if (streq(sub, "list") || streq(sub, "show") || streq(sub, "check"))
                ob_cli_error("template %s: wrong arguments (try 'omnibase template --help')", sub);
        else
                ob_cli_error("template: unknown subcommand \"%s\" (try 'omnibase template --help')",
                             sub);
        return OB_EXIT_FAILURE;
}
