/* SPDX-License-Identifier: Apache-2.0 */
/* Compiler: the rules each shape becomes, what it refuses, and agreement of
 * the compiled set with the evaluator on a grid of requests. */
#define _GNU_SOURCE 1
#include "policy_test.h"

#include <errno.h>

#include "common/macros.h"

#define V(x)          "{\"Value\":" x "}"
#define BIN(op, l, r) "{\"" op "\":{\"left\":" l ",\"right\":" r "}}"
#define ENT(t, id)    V("{\"__entity\":{\"type\":\"" t "\",\"id\":\"" id "\"}}")
#define VAR(v)        "{\"Var\":\"" v "\"}"
#define LIKE(e, pat)  "{\"like\":{\"left\":" e ",\"pattern\":[" pat "]}}"
#define LIT(s)        "{\"Literal\":\"" s "\"}"
#define W             "\"Wildcard\""
#define NOT(e)        "{\"!\":{\"arg\":" e "}}"
#define ACT(k)        "\"action\":{\"op\":\"==\",\"entity\":{\"type\":\"Action\",\"id\":\"" k "\"}}"
#define FILES                                                                                      \
        "\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"in\",\"entities\":["                  \
        "{\"type\":\"Action\",\"id\":\"FILE_READ\"},{\"type\":\"Action\",\"id\":\"FILE_WRITE\"},"  \
        "{\"type\":\"Action\",\"id\":\"FILE_EXEC\"}]},\"resource\":{\"op\":\"All\"}"
#define SCOPE_ACT(k) "\"principal\":{\"op\":\"All\"}," ACT(k) ",\"resource\":{\"op\":\"All\"}"

static ob_capset *compile_ok(const char *effect, const char *scope, const char *body)
{
        char *t = policy_text(effect, scope, body);
        ob_policy_set *set = parse_ok(t);
        ob_capset *caps = NULL;
        ob_error err = {0};

        if (ob_policy_compile(set, P1, &caps, &err) < 0)
                fail_msg("compile: %u:%u: %s\n  in %s", err.line, err.column, err.message, t);
        ob_policy_set_free(set);
        free(t);
        return caps;
}

/* The rules of one side as "KIND target id;..." for compact comparison. */
static char *rules(const ob_capset *caps, bool deny)
{
        char *s = strdup(""), *n;
        for (size_t i = 0; i < ob_capset_count(caps, deny); i++) {
                const ob_capability *c = ob_capset_get(caps, deny, i);
                assert_true(asprintf(&n, "%s%s %s %s;", s, ob_cap_kind_to_string(c->kind),
                                     c->target, c->policy_id ? c->policy_id : "-") > 0);
                free(s);
                s = n;
        }
        return s;
}

static void expect(const char *effect, const char *scope, const char *body, const char *want)
{
        ob_capset *caps = compile_ok(effect, scope, body);
        char *got = rules(caps, streq(effect, "forbid"));
        if (!streq(got, want))
                fail_msg("got      %s\nexpected %s\n  for %s", got, want, body ? body : "-");
        assert_int_equal(ob_capset_count(caps, !streq(effect, "forbid")), 0);
        free(got);
        ob_capset_free(caps);
}

static void test_file_rules(void **state)
{
        expect("permit", SCOPE_ACT("FILE_READ"), LIKE(RES_PATH, LIT("/data/") "," W),
               "FILE_READ /data/* p;");
        expect("forbid", FILES, LIKE(RES_PATH, LIT("/data/") "," W "," LIT(".key")),
               "FILE_READ /data/*.key p;FILE_WRITE /data/*.key p;FILE_EXEC /data/*.key p;");
        expect("permit", SCOPE_ACT("FILE_EXEC"), BIN("==", RES_PATH, V("\"/bin/a*b\"")),
               "FILE_EXEC /bin/a\\*b p;");
        expect("permit", SCOPE_ACT("FILE_EXEC"), BIN("==", VAR("resource"), ENT("File", "/x")),
               "FILE_EXEC /x p;");
        expect("permit", SCOPE_ACT("FILE_READ"),
               BIN("||", BIN("==", RES_PATH, V("\"/a\"")), LIKE(RES_PATH, LIT("/b") "," W)),
               "FILE_READ /a p;FILE_READ /b* p;");
        expect(
            "permit", SCOPE_ACT("FILE_READ"),
            BIN("&&", LIKE(RES_PATH, LIT("/data/") "," W), BIN("==", RES_PATH, V("\"/data/x\""))),
            "FILE_READ /data/x p;");
        expect("permit", SCOPE_ACT("FILE_READ"),
               BIN("&&", LIKE(RES_PATH, LIT("/tmp/") "," W), BIN("==", RES_PATH, V("\"/data/x\""))),
               ""); /* unsatisfiable: no rule */
        expect("permit", SCOPE_ACT("FILE_READ"),
               BIN("&&", LIKE(RES_PATH, LIT("/a") "," W), LIKE(RES_PATH, LIT("/a") "," W)),
               "FILE_READ /a* p;");
        expect("permit", SCOPE_ACT("FILE_READ"), NULL, "FILE_READ /* p;");
        expect("permit", SCOPE_ACT("FILE_READ"),
               BIN("&&", "{\"has\":{\"left\":" VAR("resource") ",\"attr\":\"path\"}}",
                   BIN("in", VAR("resource"),
                       "{\"Set\":[" ENT("File", "/a") "," ENT("Endpoint", "h:1") "]}")),
               "FILE_READ /a p;");
        expect("permit", SCOPE_ACT("FILE_READ"), BIN("contains", V("[\"/a\",\"/b\",3]"), RES_PATH),
               "FILE_READ /a p;FILE_READ /b p;");
        expect("permit", SCOPE_ACT("FILE_READ"),
               BIN("==", BIN("==", RES_PATH, V("\"/a\"")), V("true")), "FILE_READ /a p;");
}

static void test_constant_folding(void **state)
{
        /* the principal and action are known: these fold away */
        expect("permit", SCOPE_ACT("FILE_READ"),
               BIN("&&", BIN("==", VAR("principal"), ENT("Component", P1)),
                   BIN("==", RES_PATH, V("\"/a\""))),
               "FILE_READ /a p;");
        expect("permit", SCOPE_ACT("FILE_READ"),
               BIN("&&", BIN("==", VAR("principal"), ENT("Component", P2)),
                   BIN("==", RES_PATH, V("\"/a\""))),
               "");
        expect("permit", FILES,
               BIN("&&", BIN("==", VAR("action"), ENT("Action", "FILE_WRITE")),
                   BIN("==", RES_PATH, V("\"/a\""))),
               "FILE_WRITE /a p;");
        expect("permit", SCOPE_ACT("FILE_READ"),
               BIN("||", "{\"has\":{\"left\":" VAR("context") ",\"attr\":\"x\"}}",
                   LIKE(V("\"abc\""), LIT("a") "," W)),
               "FILE_READ /* p;");
        expect("permit", SCOPE_ALL,
               BIN("&&", "{\"is\":{\"left\":" VAR("resource") ",\"entity_type\":\"Endpoint\"}}",
                   BIN("==", RES_PORT, V("1"))),
               "NETWORK_CONNECT *:1 p;");
        /* a policy for another principal gives nothing */
        expect("permit",
               "\"principal\":{\"op\":\"==\",\"entity\":{\"type\":\"Component\",\"id\":\"" P2
               "\"}}," ACT("FILE_READ") ",\"resource\":{\"op\":\"All\"}",
               NULL, "");
}

static void test_network_rules(void **state)
{
        expect("permit", SCOPE_ACT("NETWORK_CONNECT"),
               BIN("&&", BIN("==", RES_HOST, V("\"10.0.0.5\"")),
                   BIN("&&", BIN(">=", RES_PORT, V("8000")), BIN("<", RES_PORT, V("9000")))),
               "NETWORK_CONNECT 10.0.0.5:8000-8999 p;");
        expect("forbid", SCOPE_ACT("NETWORK_CONNECT"), NOT(BIN("==", RES_PORT, V("22"))),
               "NETWORK_CONNECT *:1-21 p;NETWORK_CONNECT *:23-65535 p;");
        expect("forbid", SCOPE_ACT("NETWORK_CONNECT"), BIN("!=", RES_PORT, V("1")),
               "NETWORK_CONNECT *:2-65535 p;");
        expect("permit", SCOPE_ACT("NETWORK_CONNECT"), BIN(">", V("1000"), RES_PORT),
               "NETWORK_CONNECT *:1-999 p;");
        expect("permit", SCOPE_ACT("NETWORK_CONNECT"), NOT(BIN("<=", RES_PORT, V("1000"))),
               "NETWORK_CONNECT *:1001-65535 p;");
        expect("permit", SCOPE_ACT("NETWORK_CONNECT"), BIN(">", RES_PORT, V("70000")), "");
        expect("permit", SCOPE_ACT("NETWORK_CONNECT"), LIKE(RES_HOST, W "," LIT(".example.com")),
               "NETWORK_CONNECT *.example.com:* p;");
        expect("permit", SCOPE_ACT("NETWORK_CONNECT"),
               BIN("==", VAR("resource"), ENT("Endpoint", "[::1]:443")),
               "NETWORK_CONNECT [::1]:443 p;");
        expect("permit", SCOPE_ACT("NETWORK_CONNECT"),
               BIN("==", VAR("resource"), ENT("Endpoint", "h:0443")), "");
        expect("permit", SCOPE_ACT("NETWORK_CONNECT"), NULL, "NETWORK_CONNECT *:* p;");
}

static void refuses(const char *effect, const char *scope, const char *body, const char *msg)
{
        char *t = policy_text(effect, scope, body);
        ob_policy_set *set = parse_ok(t);
        ob_capset *caps = NULL;
        ob_error err = {0};

        if (ob_policy_compile(set, P1, &caps, &err) != -EINVAL || !strstr(err.message, msg) ||
            err.line != 1)
                fail_msg("got %u:%u: %s; expected ...%s...\n  in %s", err.line, err.column,
                         err.message, msg, t);
        assert_null(caps);
        ob_policy_set_free(set);
        free(t);
}

static void test_refusals(void **state)
{
        const char *big = BIN("||", BIN("==", RES_PORT, V("1")), BIN("==", RES_PORT, V("2")));
        char *deep = NULL;

        refuses("permit", SCOPE_ACT("FILE_READ"), NOT(LIKE(RES_PATH, LIT("/a") "," W)),
                "policy \"p\" cannot be compiled for FILE_READ: a negated pattern");
        refuses("permit", SCOPE_ACT("NETWORK_CONNECT"), NOT(BIN("==", RES_HOST, V("\"h\""))),
                "a negated host pattern");
        refuses("permit", SCOPE_ACT("FILE_READ"),
                BIN("&&", LIKE(RES_PATH, LIT("/a") "," W), LIKE(RES_PATH, W "," LIT("b"))),
                "two different wildcard patterns");
        refuses("permit", SCOPE_ACT("FILE_READ"), LIKE(RES_PATH, W "," LIT("secret")),
                "does not start with \"/\"");
        refuses("permit", SCOPE_ACT("FILE_READ"), BIN("==", RES_PATH, V("\"/data//x\"")),
                "not in canonical form");
        refuses("permit", SCOPE_ACT("FILE_READ"), LIKE(RES_PATH, LIT("/a\\\\") "," W),
                "a literal backslash before a wildcard");
        refuses("permit", SCOPE_ACT("NETWORK_CONNECT"), BIN("==", RES_HOST, V("\"Example.com\"")),
                "can match no request");
        refuses("permit", SCOPE_ACT("NETWORK_CONNECT"), BIN("==", RES_HOST, V("\"10.0.0.0/8\"")),
                "can match no request");
        refuses("permit", SCOPE_ACT("NETWORK_CONNECT"), LIKE(RES_HOST, LIT("fe80::") "," W),
                "IPv6 host patterns");
        refuses("permit", SCOPE_ACT("FILE_READ"),
                BIN("contains", "{\"Set\":[" RES_PATH "]}", V("\"/a\"")),
                "a set holding a resource-dependent value");
        refuses("permit", SCOPE_ACT("FILE_READ"), BIN("==", RES_PATH, RES_PATH),
                "comparing two resource-dependent values");
        refuses("permit", SCOPE_ACT("NETWORK_CONNECT"), BIN("<", RES_PORT, RES_PORT),
                "between two resource-dependent values");
        refuses("permit", SCOPE_ALL, BIN("==", RES_PATH, V("\"/a\"")),
                "can error when the action is NETWORK_CONNECT"); /* check runs first */
        /* (a||b) && (c||d) && ... grows past the bound on alternatives */
        assert_true(asprintf(&deep, BIN("&&", "%s", "%s"), big, big) > 0);
        for (int i = 0; i < 7; i++) {
                char *n;
                assert_true(asprintf(&n, BIN("&&", "%s", "%s"), deep, big) > 0);
                free(deep);
                deep = n;
        }
        refuses("permit", SCOPE_ACT("NETWORK_CONNECT"), deep, "condition too complex");
        free(deep);
}

static void test_principal_and_order(void **state)
{
        const char *t = "{\"staticPolicies\":{"
                        "\"z\":{\"effect\":\"permit\"," SCOPE_ACT(
                            "FILE_READ") ",\"conditions\":[]},"
                                         "\"a\":{\"effect\":\"permit\"," SCOPE_ACT(
                                             "FILE_READ") ",\"conditions\":[]}}}";
        ob_policy_set *set = parse_ok(t);
        ob_capset *caps = NULL;
        ob_error err = {0};

        assert_int_equal(ob_policy_compile(set, "not-a-uuid", &caps, &err), -EINVAL);
        assert_non_null(strstr(err.message, "is not a UUID"));
        assert_int_equal(ob_policy_compile(NULL, P1, &caps, &err), -EINVAL);
        assert_int_equal(ob_policy_compile(set, P1, &caps, &err), 0);
        assert_string_equal(ob_capset_principal(caps), P1);
        assert_string_equal(ob_capset_get(caps, false, 0)->policy_id, "z");
        assert_string_equal(ob_capset_get(caps, false, 1)->policy_id, "a");
        assert_int_equal(ob_capset_limits(caps)->memory_mb, OB_LIMIT_UNSET);
        ob_capset_free(caps);
        ob_policy_set_free(set);
}

/* The compiled set decides every request of a grid as the evaluator does. */
static void test_agrees_with_evaluator(void **state)
{
        static const char *const paths[] = {
            "/", "/data", "/data/x", "/data/secret/k", "/data/x.key", "/tmp/a*b", "/etc/passwd"};
        static const char *const nets[] = {
            "10.0.0.5:8000",      "10.0.0.5:8999",       "10.0.0.5:9000", "10.0.0.6:8080",
            "api.example.com:22", "api.example.com:443", "[::1]:443"};
        const char *t =
            "{\"staticPolicies\":{"
            "\"r\":{\"effect\":\"permit\"," SCOPE_ACT(
                "FILE_READ") ",\"conditions\":[{\"kind\":"
                             "\"when\",\"body\":" LIKE(
                                 RES_PATH,
                                 LIT("/data") "," W) "}]},"
                                                     "\"x\":{\"effect\":\"forbid\"," SCOPE_ALL
                                                     ",\"conditions\":[{\"kind\":\"when\","
                                                     "\"body\":" BIN(
                                                         "&&",
                                                         "{\"has\":{\"left\":" VAR(
                                                             "resource") ",\"attr\":\"path\"}}",
                                                         BIN("||",
                                                             LIKE(RES_PATH,
                                                                  LIT("/") "," W "," LIT(".key")),
                                                             LIKE(
                                                                 RES_PATH,
                                                                 LIT("/data/secret/") "," W))) "}]}"
                                                                                               ","
                                                                                               "\"n"
                                                                                               "\":"
                                                                                               "{\""
                                                                                               "eff"
                                                                                               "ect"
                                                                                               "\":"
                                                                                               "\"p"
                                                                                               "erm"
                                                                                               "it"
                                                                                               "\""
                                                                                               "," SCOPE_ACT(
                                                                                                   "NETWORK_CONNECT") ",\"conditions\":[{"
                                                                                                                      "\"kind\":\"unless\",\"body\":" BIN(
                                                                                                                          "||",
                                                                                                                          BIN("<",
                                                                                                                              RES_PORT,
                                                                                                                              V("8000")),
                                                                                                                          BIN(">=",
                                                                                                                              RES_PORT, V("9000"))) "}]},"
                                                                                                                                                    "\"s\":{\"effect\":\"forbid\"," SCOPE_ACT(
                                                                                                                                                        "NETWORK_CONNECT") ",\"conditions\":[{"
                                                                                                                                                                           "\"kind\":\"when\",\"body\":" BIN("==",
                                                                                                                                                                                                             RES_HOST, V("\"10.0.0.6\"")) "}]},"
                                                                                                                                                                                                                                          "\"h\":{\"effect\":\"permit\"," SCOPE_ACT("NETWORK_CONNECT") ",\"conditions\":[{"
                                                                                                                                                                                                                                                                                                       "\"kind\":\"when\",\"body\":" LIKE(
                                                                                                                                                                                                                                                                                                           RES_HOST,
                                                                                                                                                                                                                                                                                                           W
                                                                                                                                                                                                                                                                                                           "," LIT(
                                                                                                                                                                                                                                                                                                               ".example.com")) "}]}}}";
        ob_policy_set *set = parse_ok(t);
        ob_capset *caps = NULL;
        ob_error err = {0};

        if (ob_policy_compile(set, P1, &caps, &err) < 0)
                fail_msg("%u:%u: %s", err.line, err.column, err.message);
        for (int k = 0; k < OB_CAP_KIND_MAX; k++) {
                bool net = k == OB_CAP_NETWORK_CONNECT;
                for (size_t i = 0; i < 7; i++) {
                        const char *target = net ? nets[i] : paths[i];
                        ob_policy_response resp = {0};
                        ob_decision d;
                        assert_int_equal(ob_policy_is_authorized(set, P1, k, target, &resp), 0);
                        assert_int_equal(ob_capset_check(caps, k, target, &d), 0);
                        if (d.allowed != resp.allow)
                                fail_msg("%s %s: compiled %d, evaluated %d",
                                         ob_cap_kind_to_string(k), target, d.allowed, resp.allow);
                        ob_policy_response_done(&resp);
                }
        }
        ob_capset_free(caps);
        ob_policy_set_free(set);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_file_rules),
            cmocka_unit_test(test_constant_folding),
            cmocka_unit_test(test_network_rules),
            cmocka_unit_test(test_refusals),
            cmocka_unit_test(test_principal_and_order),
            cmocka_unit_test(test_agrees_with_evaluator),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
