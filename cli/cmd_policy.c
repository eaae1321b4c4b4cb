/* SPDX-License-Identifier: Apache-2.0 */
/* `omnibase policy check | compile | explain` over libomnibase's policy API
 * (docs/policy.md). Invalid input: one line `omnibase: FILE:LINE:COL: msg`
 * on stderr and exit 125. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/policy.h>

#include "cli/commands.h"
#include "policy/explain.h"

typedef struct policy_args {
        const char *file, *principal, *registry, *request;
        bool json;
        char *registry_path;
} policy_args;

static const char usage_text[] =
    "usage: omnibase policy check FILE\n"
    "       omnibase policy compile FILE --principal UUID\n"
    "       omnibase policy explain FILE --principal UUID --request KIND:TARGET [--json]\n"
    "\n"
    "FILE is a Cedar JSON policy set ({\"staticPolicies\": {...}}) or one policy.\n"
    "In place of FILE, --registry DIR with --principal UUID reads DIR/<UUID>.cedar.json.\n"
    "\n"
    "  check    validate: exit 0 and \"ok: N policies\", or 125 and FILE:LINE:COL: why\n"
    "  compile  print the capability file the policies give the principal\n"
    "  explain  decide one request (KIND is FILE_READ, FILE_WRITE, FILE_EXEC or\n"
    "           NETWORK_CONNECT; TARGET a path or host:port): prints Allow or Deny,\n"
    "           then the determining policy ids and any evaluation errors;\n"
    "           --json prints {\"decision\", \"reasons\", \"errors\"}\n"
    "\n"
    "See docs/policy.md for the supported Cedar subset.\n";

static void print_error_prefix(const char *prefix, const char *file, const ob_error *err)
{
        if (err->line > 0)
                ob_cli_error("%s%s:%u:%u: %s", prefix, file, err->line, err->column, err->message);
        else
                ob_cli_error("%s%s: %s", prefix, file, err->message);
}

static void print_error(const char *file, const ob_error *err)
{
        print_error_prefix("", file, err);
}

static bool is_help(const char *s)
{
        return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

static int parse_args(int argc, char **argv, policy_args *a)
{
        static const struct option opts[] = {
            {"principal", required_argument, NULL, 'p'},
            {"registry", required_argument, NULL, 'r'},
            {"request", required_argument, NULL, 'q'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'p':
                        a->principal = optarg;
                        break;
                case 'r':
                        a->registry = optarg;
                        break;
                case 'q':
                        a->request = optarg;
                        break;
                case 'j':
                        a->json = true;
                        break;
                case 'h':
                        fputs(usage_text, stdout);
                        return 1;
                default:
                        ob_cli_error("policy %s: unknown or incomplete option \"%s\" (try "
                                     "--help)",
                                     argv[0], argv[optind - 1]);
                        return -1;
                }
        }
        if (optind < argc)
                a->file = argv[optind++];
        if (optind < argc) {
                ob_cli_error("policy %s: unexpected argument \"%s\"", argv[0], argv[optind]);
                return -1;
        }
        return 0;
}

/* Resolves FILE or --registry DIR + --principal into a path. */
static int resolve_file(policy_args *a, const char *cmd)
{
        if (a->registry) {
                if (a->file) {
                        ob_cli_error("policy %s: give FILE or --registry, not both", cmd);
                        return -1;
                }
                if (!a->principal) {
                        ob_cli_error("policy %s: --registry needs --principal UUID", cmd);
                        return -1;
                }
                if (ob_policy_registry_path(a->registry, a->principal, &a->registry_path) < 0) {
                        ob_cli_error("policy %s: principal \"%s\" is not a UUID", cmd,
                                     a->principal);
                        return -1;
                }
                a->file = a->registry_path;
        }
        if (!a->file) {
                ob_cli_error("policy %s: missing FILE (try --help)", cmd);
                return -1;
        }
        return 0;
}

static int load(const policy_args *a, ob_policy_set **ret)
{
        ob_error err = {0};
        if (ob_policy_load(a->file, ret, &err) < 0) {
                print_error(a->file, &err);
                return -1;
        }
        return 0;
}

static int cmd_check(const policy_args *a)
{
        ob_policy_set *set = NULL;
        ob_error err = {0};
        int r;

        if (load(a, &set) < 0)
                return OB_EXIT_FAILURE;
        r = ob_policy_check(set, &err);
        if (r < 0)
                print_error(a->file, &err);
        else
                printf("ok: %zu policies\n", ob_policy_set_size(set));
        ob_policy_set_free(set);
        return r < 0 ? OB_EXIT_FAILURE : 0;
}

static int cmd_compile(const policy_args *a)
{
        ob_policy_set *set = NULL;
        ob_capset *caps = NULL;
        ob_error err = {0};
        char *json = NULL;
        int r;

        if (!a->principal) {
                ob_cli_error("policy compile: --principal UUID is required");
                return OB_EXIT_FAILURE;
        }
        if (load(a, &set) < 0)
                return OB_EXIT_FAILURE;
        r = ob_policy_compile(set, a->principal, &caps, &err);
        if (r < 0)
                print_error(a->file, &err);
        else if ((r = ob_capset_to_json(caps, &json)) < 0)
                ob_cli_error("policy compile: %s", strerror(-r));
        else
                fputs(json, stdout);
        free(json);
        ob_capset_free(caps);
        ob_policy_set_free(set);
        return r < 0 ? OB_EXIT_FAILURE : 0;
}

static void print_response_json(const ob_policy_response *resp)
{
        cJSON *o = ob_policy_response_to_json(resp);
        char *s = o ? cJSON_PrintUnformatted(o) : NULL;

        if (s)
                puts(s);
        free(s);
        cJSON_Delete(o);
}

static void print_response(const ob_policy_response *resp)
{
        puts(resp->allow ? "Allow" : "Deny");
        for (size_t i = 0; i < resp->n_reasons; i++)
                printf("reason: %s\n", resp->reasons[i]);
        if (!resp->allow && resp->n_reasons == 0)
                puts("reason: default deny (no permit applies)");
        for (size_t i = 0; i < resp->n_errors; i++)
                printf("error: %s\n", resp->errors[i]);
}

static int parse_request(const char *req, ob_cap_kind *ret_kind, const char **ret_target)
{
        ob_error err = {0};
        int r = ob_policy_request_parse(req, ret_kind, ret_target, &err);

        if (r < 0)
                ob_cli_error("policy explain: %s%s", r == -EBADMSG ? "--" : "", err.message);
        return r < 0 ? -1 : 0;
}

static int cmd_explain(const policy_args *a)
{
        ob_policy_response resp = {0};
        ob_policy_set *set = NULL;
        const char *target;
        ob_cap_kind kind;
        ob_error err = {0};
        int r;

        if (!a->principal) {
                ob_cli_error("policy explain: --principal UUID is required");
                return OB_EXIT_FAILURE;
        }
        if (parse_request(a->request, &kind, &target) < 0 || load(a, &set) < 0)
                return OB_EXIT_FAILURE;
        /* Explain answers as Cedar would even for a set that check refuses
         * (that is when its errors list matters), but says so. */
        if (ob_policy_check(set, &err) < 0)
                print_error_prefix("warning: ", a->file, &err);
        r = ob_policy_is_authorized(set, a->principal, kind, target, &resp);
        if (r < 0)
                ob_cli_error("policy explain: invalid %s target \"%s\"%s",
                             ob_cap_kind_to_string(kind), target,
                             kind == OB_CAP_NETWORK_CONNECT ? " (expected host:port, port 1-65535)"
                                                            : " (expected an absolute path)");
        else if (a->json)
                print_response_json(&resp);
        else
                print_response(&resp);
        ob_policy_response_done(&resp);
        ob_policy_set_free(set);
        return r < 0 ? OB_EXIT_FAILURE : 0;
}

/* `omnibase policy SUBCOMMAND ...`: returns the exit status. */
int ob_cmd_policy(int argc, char **argv)
{
        policy_args a = {0};
        const char *cmd = argc > 1 ? argv[1] : NULL;
        int r;

        if (!cmd || is_help(cmd)) {
                fputs(usage_text, cmd ? stdout : stderr);
                return cmd ? 0 : OB_EXIT_FAILURE;
        }
        if (strcmp(cmd, "check") != 0 && strcmp(cmd, "compile") != 0 &&
            strcmp(cmd, "explain") != 0) {
                ob_cli_error("policy: unknown command \"%s\" (check, compile, explain)", cmd);
                return OB_EXIT_FAILURE;
        }
        r = parse_args(argc - 1, argv + 1, &a);
        if (r == 0)
                r = resolve_file(&a, cmd);
        if (r == 0)
                r = strcmp(cmd, "check") == 0     ? cmd_check(&a)
                    : strcmp(cmd, "compile") == 0 ? cmd_compile(&a)
                                                  : cmd_explain(&a);
        else
                r = r > 0 ? 0 : OB_EXIT_FAILURE;
        free(a.registry_path);
        return r;
}
