/* SPDX-License-Identifier: Apache-2.0 */
/* The warm pool through the operation table, with real runsc: only an admin
 * starts or stops it, anyone who may read sees its status; an owner's
 * sandbox_run within the pool's template with warm takes a pooled sandbox
 * (and is denied what the template does not grant, as cold); the pool
 * stopped leaves no sandbox. Needs root and runsc (else skip 77). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "runner/runner.h"
#include "test_util.h"

static char state[64];

static ob_api_ctx as(const char *name, ob_api_role role)
{
        ob_api_ctx c = {.state_dir = state, .caller = {.role = role}};
        snprintf(c.caller.name, sizeof(c.caller.name), "%s", name);
        return c;
}

static int call(const ob_api_ctx *ctx, const char *op, const char *args, cJSON **ret, ob_error *err)
{
        cJSON *a = args ? cJSON_Parse(args) : NULL, *out = NULL;
        int r;

        memset(err, 0, sizeof(*err));
        r = ob_api_call(ctx, ob_api_find(op), a, &out, err);
        cJSON_Delete(a);
        if (ret)
                *ret = out;
        else
                cJSON_Delete(out);
        return r;
}

/* Entries of a directory (none when it does not exist). */
static int entries(const char *path)
{
        DIR *d = opendir(path);
        int n = 0;

        if (!d)
                return 0;
        for (struct dirent *e; (e = readdir(d));)
                n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        closedir(d);
        return n;
}

static const cJSON *get(const cJSON *o, const char *k)
{
        return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void test_pool_through_the_table(void **unused)
{
        ob_api_ctx admin = as("root", OB_API_ADMIN), owner = as("alice", OB_API_OWNER),
                   observer = as("olga", OB_API_OBSERVER);
        cJSON *out = NULL;
        ob_error err;

        (void)unused;
        /* nothing runs yet: status says so, stop is not_found */
        assert_int_equal(call(&observer, "pool_status", NULL, &out, &err), 0);
        assert_true(cJSON_IsFalse(get(out, "running")));
        cJSON_Delete(out);
        assert_int_equal(call(&admin, "pool_stop", NULL, NULL, &err), -ENOENT);
        assert_string_equal(err.code, "not_found");
        /* only an admin starts it */
        assert_int_equal(call(&owner, "pool_start", "{\"template\": \"python-agent\"}", NULL, &err),
                         -EPERM);
        assert_string_equal(err.code, "forbidden");
        assert_true(call(&admin, "pool_start", "{\"template\": \"python-agent\", \"size\": 99}",
                         NULL, &err) < 0);
        assert_string_equal(err.code, "invalid");
        if (call(&admin, "pool_start", "{\"template\": \"python-agent\", \"size\": 1}", &out,
                 &err) < 0)
                fail_msg("pool_start: %s", err.message);
        assert_true(cJSON_IsTrue(get(out, "running")));
        assert_int_equal(cJSON_GetNumberValue(get(out, "size")), 1);
        cJSON_Delete(out);
        assert_int_equal(call(&admin, "pool_start", "{\"template\": \"python-agent\"}", NULL, &err),
                         -EEXIST);
        assert_string_equal(err.code, "conflict");

        /* an owner's run within the template takes the pooled sandbox */
        if (call(&owner, "sandbox_run",
                 "{\"template\": \"python-agent\", \"warm\": true, \"argv\": [\"/bin/sh\", \"-c\", "
                 "\"echo warm-hello; cat /etc/shadow\"]}",
                 &out, &err) < 0)
                fail_msg("sandbox_run warm: %s", err.message);
        assert_true(cJSON_IsTrue(get(out, "warm")));
        assert_string_equal(get(out, "stdout")->valuestring, "warm-hello\n");
        assert_string_equal(get(out, "status")->valuestring, "violation");
        assert_string_equal(
            get(cJSON_GetArrayItem(get(out, "violations"), 0), "target")->valuestring,
            "/etc/shadow");
        /* the pooled run's events say who ran it: the request carried the owner */
        {
                char id[64];
                cJSON *events = NULL, *e;
                unsigned long long last = 0;
                int n = 0;

                snprintf(id, sizeof(id), "%s", get(out, "sandbox_id")->valuestring);
                assert_int_equal(
                    ob_api_events_query(&owner, NULL, NULL, 0, 1000, &events, &last, &err), 0);
                cJSON_ArrayForEach (e, events) {
                        const char *sb = cJSON_GetStringValue(get(e, "sandbox_id"));
                        if (!sb || strcmp(sb, id) != 0)
                                continue;
                        assert_string_equal(cJSON_GetStringValue(get(e, "owner")), "alice");
                        n++;
                }
                assert_true(n >= 3); /* SandboxStart, CapabilityDenied, SandboxExit */
                cJSON_Delete(events);
        }
        cJSON_Delete(out);

        /* stop: only an admin; then nothing of it is left */
        assert_int_equal(call(&owner, "pool_stop", NULL, NULL, &err), -EPERM);
        if (call(&admin, "pool_stop", NULL, &out, &err) < 0)
                fail_msg("pool_stop: %s", err.message);
        assert_true(cJSON_IsFalse(get(out, "running")));
        cJSON_Delete(out);
        char runs[128];
        snprintf(runs, sizeof(runs), "%s/runs", state);
        assert_int_equal(entries(runs), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_pool_through_the_table)};
        int r;

        if (geteuid() != 0 || system("command -v runsc >/dev/null 2>&1") != 0)
                ob_test_skip("the warm pool boots runsc sandboxes: run as root with runsc");
        strcpy(state, "/var/tmp/ob-api-pool-XXXXXX");
        if (!mkdtemp(state))
                return 1;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        ob_pool_stop(state, &(ob_error){0});
        ob_rm_rf(state);
        return r;
}
