/* SPDX-License-Identifier: Apache-2.0 */
/* The operation table itself (api/api.h): every operation is complete and
 * unique, its route's {parameters} are exactly its path parameters, its
 * output schema parses, the OpenAPI document has every route; arguments
 * are checked (unknown, mistyped, missing) and roles enforced before any
 * operation runs; error codes map to HTTP statuses. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"

static void test_ops_complete_and_unique(void **state)
{
        size_t n;
        const ob_api_op *ops = ob_api_ops(&n);

        (void)state;
        assert_true(n >= 15);
        for (size_t i = 0; i < n; i++) {
                const ob_api_op *op = &ops[i];
                assert_non_null(op->name);
                assert_non_null(op->cli);
                assert_non_null(op->title);
                assert_true(op->description && strlen(op->description) > 30);
                assert_non_null(op->call);
                assert_true(op->method &&
                            (strcmp(op->method, "GET") == 0 || strcmp(op->method, "POST") == 0 ||
                             strcmp(op->method, "DELETE") == 0));
                assert_true(op->route && op->route[0] == '/');
                assert_ptr_equal(ob_api_find(op->name), op);
                for (size_t j = i + 1; j < n; j++) {
                        assert_string_not_equal(op->name, ops[j].name);
                        assert_false(strcmp(op->method, ops[j].method) == 0 &&
                                     strcmp(op->route, ops[j].route) == 0);
                }
                /* a {param} in the route is a PATH parameter, and the other way round */
                for (const ob_api_param *p = op->params; p->name; p++) {
                        char brace[80];
                        snprintf(brace, sizeof(brace), "{%s}", p->name);
                        assert_int_equal(p->where == OB_API_PATH, strstr(op->route, brace) != NULL);
                        assert_true(p->where != OB_API_HEADER || p->header);
                        assert_non_null(p->description);
                }
                for (const char *b = strchr(op->route, '{'); b; b = strchr(b + 1, '{')) {
                        bool found = false;
                        for (const ob_api_param *p = op->params; p->name; p++)
                                found |= p->where == OB_API_PATH &&
                                         strncmp(b + 1, p->name, strlen(p->name)) == 0;
                        assert_true(found);
                }
                cJSON *out = cJSON_Parse(op->output_schema);
                if (!out)
                        fail_msg("%s: its output schema does not parse", op->name);
                assert_string_equal(cJSON_GetObjectItem(out, "type")->valuestring, "object");
                cJSON_Delete(out);
        }
        assert_null(ob_api_find("no_such_op"));
}

static void test_openapi_has_every_route(void **state)
{
        size_t n;
        const ob_api_op *ops = ob_api_ops(&n);
        cJSON *doc = ob_api_openapi();
        const cJSON *paths = cJSON_GetObjectItem(doc, "paths");

        (void)state;
        assert_string_equal(cJSON_GetObjectItem(doc, "openapi")->valuestring, "3.1.0");
        for (size_t i = 0; i < n; i++) {
                char method[8];
                size_t k = 0;
                for (; ops[i].method[k] && k < 7; k++)
                        method[k] = (char)(ops[i].method[k] | 0x20);
                method[k] = '\0';
                const cJSON *item = cJSON_GetObjectItem(paths, ops[i].route);
                const cJSON *op = cJSON_GetObjectItem(item, method);
                if (!op)
                        fail_msg("openapi.json lacks %s %s", ops[i].method, ops[i].route);
                assert_string_equal(cJSON_GetObjectItem(op, "operationId")->valuestring,
                                    ops[i].name);
        }
        cJSON_Delete(doc);
}

static int call(const char *name, ob_api_role role, const char *args, ob_error *err)
{
        ob_api_ctx ctx = {.state_dir = "/var/tmp/ob-api-table-never-made", .caller.role = role};
        cJSON *a = args ? cJSON_Parse(args) : NULL, *out = NULL;
        int r;

        strcpy(ctx.caller.name, "alice");
        memset(err, 0, sizeof(*err));
        r = ob_api_call(&ctx, ob_api_find(name), a, &out, err);
        cJSON_Delete(a);
        cJSON_Delete(out);
        return r;
}

static void test_arguments_checked(void **state)
{
        ob_error err;

        (void)state;
        assert_true(call("env_create", OB_API_OWNER, "{\"template\": \"x\", \"colour\": 1}", &err) <
                    0);
        assert_string_equal(err.code, "invalid");
        assert_non_null(strstr(err.message, "unknown argument \"colour\""));
        assert_true(call("env_create", OB_API_OWNER, "{\"template\": 7}", &err) < 0);
        assert_non_null(strstr(err.message, "\"template\" must be a string"));
        assert_true(call("env_create", OB_API_OWNER, "{}", &err) < 0);
        assert_non_null(strstr(err.message, "\"template\" is required"));
        assert_true(call("env_exec", OB_API_OWNER, "{\"id\": \"a\", \"argv\": [\"ls\", 3]}", &err) <
                    0);
        assert_non_null(strstr(err.message, "an array of strings"));
        assert_true(call("env_flags", OB_API_OWNER, "{\"id\": \"a\", \"set\": {\"x\": 1}}", &err) <
                    0);
        assert_non_null(strstr(err.message, "names to booleans"));
        assert_true(call("env_show", OB_API_OWNER, "[1]", &err) < 0);
        assert_non_null(strstr(err.message, "must be a JSON object"));
        assert_true(call("env_list", OB_API_OWNER, "{\"all\": \"yes\"}", &err) < 0);
        assert_string_equal(err.code, "invalid");
        /* integers beyond what a double holds exactly (F7: no overflowing cast) */
        static const char *const huge[] = {"1e300", "-1e300", "9007199254740994", "1.5"};
        for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
                char args[128];
                snprintf(args, sizeof(args), "{\"id\": \"a\", \"limit\": %s}", huge[i]);
                assert_true(call("env_logs", OB_API_OWNER, args, &err) < 0);
                assert_non_null(strstr(err.message, "\"limit\" must be an integer"));
        }
}

/* Captured output is JSON text: a NUL byte becomes U+FFFD, not the end. */
static void test_output_with_nul(void **state)
{
        int fd = ob_api_memfd("out", "a\0b", 3);
        cJSON *o = cJSON_CreateObject();

        (void)state;
        assert_true(fd >= 0);
        ob_api_add_output(o, "stdout", fd);
        assert_string_equal(cJSON_GetObjectItem(o, "stdout")->valuestring, "a\xef\xbf\xbd"
                                                                           "b");
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "stdout_truncated")));
        cJSON_Delete(o);
        close(fd);
}

static void test_roles_enforced_first(void **state)
{
        ob_error err;

        (void)state;
        /* an observer may not change anything, an owner may not sweep */
        assert_true(call("env_delete", OB_API_OBSERVER, "{\"id\": \"env-000000000000\"}", &err) <
                    0);
        assert_string_equal(err.code, "forbidden");
        assert_true(call("env_sweep", OB_API_OWNER, NULL, &err) < 0);
        assert_string_equal(err.code, "forbidden");
        /* an owner creates only for itself */
        assert_true(call("env_create", OB_API_OWNER, "{\"template\": \"x\", \"owner\": \"bob\"}",
                         &err) < 0);
        assert_string_equal(err.code, "forbidden");
        assert_true(call("env_list", OB_API_OWNER, "{\"owner\": \"bob\"}", &err) < 0);
        assert_string_equal(err.code, "forbidden");
}

static void test_http_status(void **state)
{
        (void)state;
        assert_int_equal(ob_api_http_status("invalid"), 400);
        assert_int_equal(ob_api_http_status("forbidden"), 403);
        assert_int_equal(ob_api_http_status("not_found"), 404);
        assert_int_equal(ob_api_http_status("not_running"), 409);
        assert_int_equal(ob_api_http_status("template_not_approved"), 422);
        assert_int_equal(ob_api_http_status("quota_exceeded"), 429);
        assert_int_equal(ob_api_http_status("internal"), 500);
        assert_int_equal(ob_api_http_status(NULL), 500);
}

static void test_input_schema(void **state)
{
        cJSON *s = ob_api_input_schema(ob_api_find("env_exec"));
        const cJSON *req = cJSON_GetObjectItem(s, "required");
        const cJSON *argv = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "properties"), "argv");

        (void)state;
        assert_string_equal(cJSON_GetObjectItem(argv, "type")->valuestring, "array");
        assert_int_equal(cJSON_GetArraySize(req), 2); /* id, argv */
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s, "additionalProperties")));
        cJSON_Delete(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ops_complete_and_unique),
            cmocka_unit_test(test_openapi_has_every_route),
            cmocka_unit_test(test_arguments_checked),
            cmocka_unit_test(test_roles_enforced_first),
            cmocka_unit_test(test_http_status),
            cmocka_unit_test(test_input_schema),
            cmocka_unit_test(test_output_with_nul),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
