/* SPDX-License-Identifier: Apache-2.0 */
/* `policy check`: what it accepts, what it refuses and where it says so. */
#define _GNU_SOURCE 1
#include "policy_test.h"

#include <errno.h>

#define V(x)          "{\"Value\":" x "}"
#define BIN(op, l, r) "{\"" op "\":{\"left\":" l ",\"right\":" r "}}"
#define ENT(t, id)    V("{\"__entity\":{\"type\":\"" t "\",\"id\":\"" id "\"}}")
#define VAR(v)        "{\"Var\":\"" v "\"}"
#define HAS(e, a)     "{\"has\":{\"left\":" e ",\"attr\":\"" a "\"}}"
#define ACT(k)        "\"action\":{\"op\":\"==\",\"entity\":{\"type\":\"Action\",\"id\":\"" k "\"}}"
#define SCOPE_ACT(k)  "\"principal\":{\"op\":\"All\"}," ACT(k) ",\"resource\":{\"op\":\"All\"}"

static int check_text(const char *text, ob_error *err)
{
        ob_policy_set *set = parse_ok(text);
        int r = ob_policy_check(set, err);
        ob_policy_set_free(set);
        return r;
}

static void accepts(const char *scope, const char *body)
{
        char *t = policy_text("forbid", scope, body);
        ob_error err = {0};
        if (check_text(t, &err) < 0)
                fail_msg("refused: %u:%u: %s\n  in %s", err.line, err.column, err.message, t);
        free(t);
}

/* Refuses, with a message holding msg, at the position of `at` in the text. */
static void refuses(const char *scope, const char *body, const char *at, const char *msg)
{
        char *t = policy_text("forbid", scope, body);
        const char *pos = strstr(t, at);
        size_t col = pos ? (size_t)(pos - t) + 1 : 0;
        ob_error err = {0};

        assert_true(col > 0);
        if (check_text(t, &err) != -EINVAL || !strstr(err.message, msg) || err.column != col)
                fail_msg("got %u:%u: %s; expected 1:%zu ...%s...\n  in %s", err.line, err.column,
                         err.message, col, msg, t);
        free(t);
}

static void test_accepts(void **state)
{
        accepts(SCOPE_ALL, NULL);
        accepts(SCOPE_ACT("FILE_READ"), "{\"like\":{\"left\":" RES_PATH ",\"pattern\":[]}}");
        accepts(SCOPE_ACT("NETWORK_CONNECT"), BIN("<", RES_PORT, V("1")));
        /* has guards, short-circuits and type tests make access safe */
        accepts(SCOPE_ALL, BIN("&&", HAS(VAR("resource"), "host"), BIN("==", RES_HOST, V("1"))));
        accepts(SCOPE_ALL, BIN("||", "{\"!\":{\"arg\":" HAS(VAR("resource"), "port") "}}",
                               BIN(">", RES_PORT, V("1"))));
        accepts(SCOPE_ALL,
                BIN("&&", "{\"is\":{\"left\":" VAR("resource") ",\"entity_type\":\"File\"}}",
                    BIN("==", RES_PATH, V("\"/a\""))));
        accepts(SCOPE_ALL, BIN("==", VAR("principal"), ENT("Component", P1)));
        accepts(SCOPE_ALL, BIN("in", VAR("resource"), "{\"Set\":[" ENT("File", "/a") "]}"));
        accepts(SCOPE_ALL, BIN("contains", V("[1,\"a\"]"), VAR("context")));
        accepts(SCOPE_ALL, HAS(ENT("File", "/a"), "path"));
        accepts(SCOPE_ALL, "{\"!\":{\"arg\":" HAS(VAR("context"), "x") "}}");
        accepts("\"principal\":{\"op\":\"All\"}," ACT("FILE_READ") ",\"resource\":{\"op\":\"is\","
                                                                   "\"entity_type\":\"File\"}",
                BIN("==", RES_PATH, V("\"/a\"")));
        accepts("\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":"
                "\"==\",\"entity\":{\"type\":\"Endpoint\",\"id\":\"h:1\"}}",
                BIN("==", RES_PORT, V("1")));
}

static void test_refuses(void **state)
{
        refuses(SCOPE_ALL, BIN("==", RES_PATH, V("\"/a\"")), "{\".\"",
                "can error when the action is NETWORK_CONNECT: Endpoint has no attribute \"path\"");
        refuses(SCOPE_ALL, BIN("==", RES_PORT, V("1")), "{\".\"",
                "when the action is FILE_READ: File has no attribute \"port\"");
        refuses(SCOPE_ALL,
                BIN("==", "{\".\":{\"left\":" VAR("principal") ",\"attr\":\"x\"}}", V("1")),
                "{\".\"", "Component has no attribute \"x\"");
        refuses(SCOPE_ALL,
                BIN("==", "{\".\":{\"left\":" VAR("context") ",\"attr\":\"x\"}}", V("1")), "{\".\"",
                "context has no attribute \"x\"");
        refuses(SCOPE_ALL,
                BIN("==", "{\".\":{\"left\":" ENT("File", "/a") ",\"attr\":\"path\"}}", V("1")),
                "{\".\"", "is an entity literal");
        refuses(SCOPE_ALL, BIN("==", "{\".\":{\"left\":" V("1") ",\"attr\":\"path\"}}", V("1")),
                "{\".\"", "type error: \".\" on a long");
        refuses(SCOPE_ALL, HAS(V("\"s\""), "x"), "{\"has\"", "type error: \"has\" on a string");
        refuses(SCOPE_ALL, BIN("<", V("1"), V("\"a\"")), "{\"Value\":\"a\"}",
                "type error: < expects long");
        refuses(SCOPE_ACT("NETWORK_CONNECT"), "{\"like\":{\"left\":" RES_PORT ",\"pattern\":[]}}",
                "{\".\"", "like expects string");
        refuses(SCOPE_ALL, "{\"!\":{\"arg\":" V("1") "}}", "{\"Value\":1}", "! expects bool");
        refuses(SCOPE_ALL, BIN("&&", V("true"), V("\"x\"")), "{\"Value\":\"x\"}",
                "&& expects bool");
        refuses(SCOPE_ALL, V("1"), "{\"Value\":1}", "when expects bool");
        refuses(SCOPE_ALL, BIN("contains", V("\"ab\""), V("\"a\"")), "{\"Value\":\"ab\"}",
                "contains expects set");
        refuses(SCOPE_ALL, BIN("in", VAR("principal"), V("[1]")), "{\"Value\":[1]}",
                "\"in\" expects an entity or a set of entities");
        refuses(SCOPE_ALL, BIN("in", V("1"), VAR("principal")), "{\"Value\":1}",
                "in expects entity");
        refuses(SCOPE_ALL, "{\"is\":{\"left\":" V("1") ",\"entity_type\":\"File\"}}",
                "{\"Value\":1}", "is expects entity");
        refuses(SCOPE_ALL, "{\"Set\":[" BIN("<", V("1"), V("\"a\"")) "]}", "{\"Value\":\"a\"}",
                "< expects long");
}

static void test_scope_errors(void **state)
{
        refuses(SCOPE_ACT("FILE_RAED"), NULL, "{\"op\":\"==\",\"entity\":{\"type\":\"Action\"",
                "unknown action \"FILE_RAED\"");
        refuses("\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"in\",\"entities\":[{\"type\":"
                "\"Act\",\"id\":\"FILE_READ\"}]},\"resource\":{\"op\":\"All\"}",
                NULL, "{\"op\":\"in\"", "actions are Action");
        refuses("\"principal\":{\"op\":\"==\",\"entity\":{\"type\":\"User\",\"id\":\"x\"}},"
                "\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"}",
                NULL, "{\"op\":\"==\",\"entity\":{\"type\":\"User\"", "principals are Component");
        refuses("\"principal\":{\"op\":\"is\",\"entity_type\":\"User\"},"
                "\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"}",
                NULL, "{\"op\":\"is\"", "principals are Component");
        refuses("\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":"
                "\"is\",\"entity_type\":\"Photo\"}",
                NULL, "{\"op\":\"is\"", "resources are File or Endpoint");
        refuses("\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":"
                "\"==\",\"entity\":{\"type\":\"Photo\",\"id\":\"x\"}}",
                NULL, "{\"op\":\"==\",\"entity\":{\"type\":\"Photo\"",
                "resources are File or Endpoint");
        refuses("\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":"
                "\"is\",\"entity_type\":\"File\",\"in\":{\"entity\":{\"type\":\"Endpoint\","
                "\"id\":\"h:1\"}}}",
                NULL, "{\"op\":\"is\"", "\"is\" and \"in\" name different types");
        refuses("\"principal\":{\"op\":\"All\"}," ACT("FILE_READ") ",\"resource\":{\"op\":\"is\","
                                                                   "\"entity_type\":\"Endpoint\"}",
                NULL, "{\"effect\"", "can never apply");
        refuses(SCOPE_ALL, V("false"), "{\"effect\"", "can never apply");
        refuses(SCOPE_ACT("FILE_READ"), HAS(VAR("resource"), "host"), "{\"effect\"",
                "can never apply");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_accepts),
            cmocka_unit_test(test_refuses),
            cmocka_unit_test(test_scope_errors),
        };
        assert_int_equal(ob_policy_check(NULL, NULL), -EINVAL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
