/* SPDX-License-Identifier: Apache-2.0 */
/* An agent's session in an environment through the public C API
 * (<omnibase/environment.h>; docs/environments.md "The C API"): create one
 * from a template, run commands in it (their output goes to ours), turn a
 * feature flag on, show it, delete it.
 *
 *   ob_example_env_session OWNER TEMPLATE FLAG CMD...
 *
 * Each CMD is one shell command line run with /bin/sh -c in the
 * environment; the line "exit N" after each is the exit code `env exec`
 * would give (126: a capability was denied). Exits 0 when every step worked
 * (whatever the commands' codes), 2 with "ERROR: ..." otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include <omnibase/environment.h>

static int fail(const char *step, const ob_error *err)
{
        printf("ERROR: %s: %s%s%s\n", step, err->message, err->code ? " code " : "",
               err->code ? err->code : "");
        return 2;
}

int main(int argc, char **argv)
{
        ob_env_create_opts co;
        ob_env_exec_opts eo;
        ob_env_record rec = {0};
        ob_error err = {0};
        char id[OB_ENV_ID_LEN + 1], flag[80];
        const char *set[] = {flag, NULL};
        char *json = NULL;
        int rc = 0;

        if (argc < 5) {
                fprintf(stderr, "usage: %s OWNER TEMPLATE FLAG CMD...\n", argv[0]);
                return 2;
        }
        snprintf(flag, sizeof(flag), "%s=on", argv[3]);
        ob_env_create_opts_init(&co);
        co.owner = argv[1];
        co.template_name = argv[2];
        co.ttl = "1h";
        if (ob_env_create(NULL, &co, &rec, NULL, &err) < 0)
                return fail("create", &err);
        snprintf(id, sizeof(id), "%s", rec.id);
        printf("created %s (%s)\n", id, ob_env_state_to_string(rec.state));
        fflush(stdout);
        ob_env_record_done(&rec);

        ob_env_exec_opts_init(&eo);
        for (int i = 4; i < argc && rc == 0; i++) {
                const char *cmd[] = {"/bin/sh", "-c", argv[i], NULL};
                int code = 0;
                eo.argv = cmd;
                if (ob_env_exec(NULL, id, &eo, &json, &code, &err) < 0)
                        rc = fail("exec", &err);
                else
                        printf("exit %d\n", code);
                fflush(stdout);
                free(json);
                json = NULL;
        }
        if (rc == 0 && ob_env_flags(NULL, id, set, &rec, &err) < 0)
                rc = fail("flags", &err);
        else if (rc == 0) {
                printf("flags:");
                for (size_t i = 0; rec.flags && rec.flags[i]; i++)
                        printf(" %s", rec.flags[i]);
                printf("\n");
                ob_env_record_done(&rec);
        }
        if (rc == 0 && ob_env_get(NULL, id, &rec, &err) >= 0 &&
            ob_env_record_to_json(&rec, &json) >= 0)
                printf("%s\n", json);
        free(json);
        ob_env_record_done(&rec);
        /* always: what was made is removed even when a step failed */
        if (ob_env_delete(NULL, id, &err) < 0 && rc == 0)
                rc = fail("delete", &err);
        else if (rc == 0)
                printf("deleted %s\n", id);
        return rc;
}
