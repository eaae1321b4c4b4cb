/* SPDX-License-Identifier: Apache-2.0 */
/* Evaluator: Cedar's decisions, reasons and errors, operator by operator. */
#define _GNU_SOURCE 1
#include "policy_test.h"

#include <errno.h>

#include "policy/policy-internal.h"

/* Decides a request against a one-policy set with the given when body.
 * Returns 1 satisfied, 0 not, -1 errored (the error list names "p"). */
static int eval_body(const char *body, ob_cap_kind kind, const char *target)
{
        ob_policy_set *set = parse_body("permit", body);
        ob_policy_response resp = {0};
        int r;

        assert_int_equal(ob_policy_is_authorized(set, P1, kind, target, &resp), 0);
        if (resp.n_errors) {
                assert_int_equal(resp.n_errors, 1);
                assert_string_equal(resp.error_ids[0], "p");
                assert_false(resp.allow);
                r = -1;
        } else {
                r = resp.allow;
        }
        ob_policy_response_done(&resp);
        ob_policy_set_free(set);
        return r;
}

#define FILE_(b, path) eval_body(b, OB_CAP_FILE_READ, path)
#define NET(b, target) eval_body(b, OB_CAP_NETWORK_CONNECT, target)
#define V(x)           "{\"Value\":" x "}"
#define BIN(op, l, r)  "{\"" op "\":{\"left\":" l ",\"right\":" r "}}"
#define ENT(t, id)     V("{\"__entity\":{\"type\":\"" t "\",\"id\":\"" id "\"}}")
#define VAR(v)         "{\"Var\":\"" v "\"}"

static void test_decisions(void **state)
{
        const char *t =
            "{\"staticPolicies\":{"
            "\"allow-data\":{\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[{\"kind\":"
            "\"when\",\"body\":{\"like\":{\"left\":" RES_PATH ",\"pattern\":[{\"Literal\":"
            "\"/data/\"},\"Wildcard\"]}}}]},"
            "\"allow-all\":{\"effect\":\"permit\",\"principal\":{\"op\":\"==\",\"entity\":{"
            "\"type\":\"Component\",\"id\":\"" P2 "\"}},\"action\":{\"op\":\"All\"},"
            "\"resource\":{\"op\":\"All\"},\"conditions\":[]},"
            "\"deny-secret\":{\"effect\":\"forbid\"," SCOPE_ALL ",\"conditions\":[{\"kind\":"
            "\"when\",\"body\":{\"like\":{\"left\":" RES_PATH ",\"pattern\":[\"Wildcard\","
            "{\"Literal\":\"secret\"},\"Wildcard\"]}}}]},"
            "\"broken-forbid\":{\"effect\":\"forbid\"," SCOPE_ALL ",\"conditions\":[{\"kind\":"
            "\"unless\",\"body\":" BIN("==", RES_HOST, V("\"x\"")) "}]}}}";
        ob_policy_set *set = parse_ok(t);
        ob_policy_response r = {0};

        /* Allow by one permit; the erroring forbid is skipped and reported. */
        assert_int_equal(ob_policy_is_authorized(set, P1, OB_CAP_FILE_READ, "/data/x", &r), 0);
        assert_true(r.allow);
        assert_int_equal(r.n_reasons, 1);
        assert_string_equal(r.reasons[0], "allow-data");
        assert_int_equal(r.n_errors, 1);
        assert_string_equal(r.error_ids[0], "broken-forbid");
        assert_non_null(strstr(r.errors[0], "broken-forbid: 1:"));
        assert_non_null(strstr(r.errors[0], "does not have the attribute \"host\""));
        ob_policy_response_done(&r);
        /* Forbid overrides; reasons are the forbids only. */
        assert_int_equal(ob_policy_is_authorized(set, P2, OB_CAP_FILE_READ, "/data/secret", &r), 0);
        assert_false(r.allow);
        assert_int_equal(r.n_reasons, 1);
        assert_string_equal(r.reasons[0], "deny-secret");
        ob_policy_response_done(&r);
        /* Two permits. */
        assert_int_equal(ob_policy_is_authorized(set, P2, OB_CAP_FILE_READ, "/data/y", &r), 0);
        assert_true(r.allow);
        assert_int_equal(r.n_reasons, 2);
        ob_policy_response_done(&r);
        /* Default deny: no reasons. */
        assert_int_equal(ob_policy_is_authorized(set, P1, OB_CAP_FILE_READ, "/etc/x", &r), 0);
        assert_false(r.allow);
        assert_int_equal(r.n_reasons, 0);
        ob_policy_response_done(&r);
        /* The network request: the forbid's unless is false → it applies. */
        assert_int_equal(ob_policy_is_authorized(set, P2, OB_CAP_NETWORK_CONNECT, "y:1", &r), 0);
        assert_false(r.allow);
        assert_string_equal(r.reasons[0], "broken-forbid");
        assert_int_equal(r.n_errors, 2); /* resource.path of an Endpoint */
        assert_string_equal(r.error_ids[0], "allow-data");
        assert_string_equal(r.error_ids[1], "deny-secret");
        ob_policy_response_done(&r);
        ob_policy_response_done(&r); /* idempotent on a zeroed response */
        ob_policy_response_done(NULL);
        ob_policy_set_free(set);
}

static void test_equality(void **state)
{
        assert_int_equal(FILE_(BIN("==", V("1"), V("\"1\"")), "/a"), 0);
        assert_int_equal(FILE_(BIN("!=", V("1"), V("\"1\"")), "/a"), 1);
        assert_int_equal(FILE_(BIN("==", V("[1,2,2]"), V("[2,1]")), "/a"), 1);
        assert_int_equal(FILE_(BIN("==", V("[1,2]"), V("[2]")), "/a"), 0);
        assert_int_equal(FILE_(BIN("==", V("[[1],\"a\"]"), V("[\"a\",[1]]")), "/a"), 1);
        assert_int_equal(FILE_(BIN("==", VAR("resource"), ENT("File", "/a")), "/a"), 1);
        assert_int_equal(FILE_(BIN("==", VAR("resource"), ENT("Endpoint", "/a")), "/a"), 0);
        assert_int_equal(FILE_(BIN("==", VAR("context"), VAR("context")), "/a"), 1);
        assert_int_equal(FILE_(BIN("==", VAR("principal"), ENT("Component", P1)), "/a"), 1);
        assert_int_equal(FILE_(BIN("==", VAR("action"), ENT("Action", "FILE_READ")), "/a"), 1);
        assert_int_equal(FILE_(BIN("==", V("true"), V("true")), "/a"), 1);
        assert_int_equal(FILE_(BIN("==", V("false"), V("true")), "/a"), 0);
}

static void test_logic(void **state)
{
        const char *err = BIN("<", V("1"), V("\"a\""));
        assert_int_equal(FILE_(BIN("&&", V("false"), BIN("<", V("1"), V("\"a\""))), "/a"), 0);
        assert_int_equal(FILE_(BIN("||", V("true"), BIN("<", V("1"), V("\"a\""))), "/a"), 1);
        assert_int_equal(FILE_(BIN("&&", V("true"), BIN("<", V("1"), V("\"a\""))), "/a"), -1);
        assert_int_equal(FILE_(BIN("||", V("false"), V("false")), "/a"), 0);
        assert_int_equal(FILE_(BIN("&&", V("1"), V("true")), "/a"), -1);
        assert_int_equal(FILE_(BIN("&&", V("true"), V("1")), "/a"), -1);
        assert_int_equal(FILE_(BIN("||", V("false"), V("\"x\"")), "/a"), -1);
        assert_int_equal(FILE_("{\"!\":{\"arg\":" V("false") "}}", "/a"), 1);
        assert_int_equal(FILE_("{\"!\":{\"arg\":" V("1") "}}", "/a"), -1);
        assert_int_equal(FILE_(V("1"), "/a"), -1); /* a non-bool condition */
        (void)err;
}

static void test_comparisons(void **state)
{
        assert_int_equal(NET(BIN("<", RES_PORT, V("443")), "h:80"), 1);
        assert_int_equal(NET(BIN("<=", RES_PORT, V("80")), "h:80"), 1);
        assert_int_equal(NET(BIN(">", RES_PORT, V("80")), "h:80"), 0);
        assert_int_equal(NET(BIN(">=", RES_PORT, V("81")), "h:80"), 0);
        assert_int_equal(NET(BIN("<", RES_HOST, V("1")), "h:80"), -1);
        assert_int_equal(NET(BIN("<", V("1"), V("[]")), "h:80"), -1);
        assert_int_equal(NET(BIN("==", RES_HOST, V("\"h\"")), "H:80"), 1); /* canonical host */
        assert_int_equal(NET(BIN("==", RES_HOST, V("\"::1\"")), "[::1]:80"), 1);
        /* IPv6 in canonical text; IPv4-mapped addresses are the IPv4 address */
        assert_int_equal(NET(BIN("==", RES_HOST, V("\"2001:db8::5\"")), "[2001:DB8:0::5]:80"), 1);
        assert_int_equal(NET(BIN("==", RES_HOST, V("\"10.0.0.5\"")), "[::ffff:10.0.0.5]:80"), 1);
        assert_int_equal(
            NET(BIN("==", VAR("resource"), ENT("Endpoint", "10.0.0.5:80")), "[::ffff:10.0.0.5]:80"),
            1);
        assert_int_equal(NET(BIN("==", VAR("resource"), ENT("Endpoint", "[::1]:80")), "[::1]:80"),
                         1);
}

static void test_attributes(void **state)
{
        const char *has_path = "{\"has\":{\"left\":" VAR("resource") ",\"attr\":\"path\"}}";
        assert_int_equal(FILE_(has_path, "/a"), 1);
        assert_int_equal(NET(has_path, "h:1"), 0);
        assert_int_equal(FILE_("{\"has\":{\"left\":" VAR("principal") ",\"attr\":\"x\"}}", "/a"),
                         0);
        assert_int_equal(FILE_("{\"has\":{\"left\":" VAR("action") ",\"attr\":\"x\"}}", "/a"), 0);
        assert_int_equal(FILE_("{\"has\":{\"left\":" VAR("context") ",\"attr\":\"x\"}}", "/a"), 0);
        assert_int_equal(
            FILE_("{\"has\":{\"left\":" ENT("File", "/b") ",\"attr\":\"path\"}}", "/a"), 0);
        assert_int_equal(FILE_("{\"has\":{\"left\":" V("1") ",\"attr\":\"x\"}}", "/a"), -1);
        assert_int_equal(
            FILE_(BIN("==", "{\".\":{\"left\":" ENT("File", "/a") ",\"attr\":\"path\"}}",
                      V("\"/a\"")),
                  "/a"),
            1);
        assert_int_equal(
            FILE_(BIN("==", "{\".\":{\"left\":" ENT("File", "/b") ",\"attr\":\"path\"}}",
                      V("\"/a\"")),
                  "/a"),
            -1); /* no such entity */
        assert_int_equal(
            FILE_(BIN("==", "{\".\":{\"left\":" VAR("principal") ",\"attr\":\"x\"}}", V("1")),
                  "/a"),
            -1);
        assert_int_equal(
            FILE_(BIN("==", "{\".\":{\"left\":" VAR("context") ",\"attr\":\"x\"}}", V("1")), "/a"),
            -1);
        assert_int_equal(
            FILE_(BIN("==", "{\".\":{\"left\":" V("\"s\"") ",\"attr\":\"x\"}}", V("1")), "/a"), -1);
        assert_int_equal(NET(BIN("==", RES_PORT, V("8080")), "h:8080"), 1);
}

static void test_sets_in_is_like(void **state)
{
        assert_int_equal(FILE_(BIN("contains", V("[1,\"/a\"]"), RES_PATH), "/a"), 1);
        assert_int_equal(FILE_(BIN("contains", V("[]"), RES_PATH), "/a"), 0);
        assert_int_equal(FILE_(BIN("contains", V("\"/a\""), RES_PATH), "/a"), -1);
        assert_int_equal(FILE_(BIN("contains", "{\"Set\":[" RES_PATH "]}", V("\"/a\"")), "/a"), 1);
        assert_int_equal(FILE_(BIN("in", VAR("principal"), ENT("Component", P1)), "/a"), 1);
        assert_int_equal(FILE_(BIN("in", VAR("resource"),
                                   "{\"Set\":[" ENT("File", "/b") "," ENT("File", "/a") "]}"),
                               "/a"),
                         1);
        assert_int_equal(FILE_(BIN("in", VAR("resource"), V("[]")), "/a"), 0);
        assert_int_equal(FILE_(BIN("in", VAR("resource"), V("[1]")), "/a"), -1);
        assert_int_equal(FILE_(BIN("in", V("1"), VAR("resource")), "/a"), -1);
        assert_int_equal(FILE_(BIN("in", VAR("resource"), V("\"/a\"")), "/a"), -1);
        assert_int_equal(
            FILE_("{\"is\":{\"left\":" VAR("resource") ",\"entity_type\":\"File\"}}", "/a"), 1);
        assert_int_equal(FILE_("{\"is\":{\"left\":" V("1") ",\"entity_type\":\"File\"}}", "/a"),
                         -1);
        assert_int_equal(FILE_("{\"like\":{\"left\":" V("1") ",\"pattern\":[]}}", "/a"), -1);
        assert_int_equal(FILE_("{\"like\":{\"left\":" V("\"\"") ",\"pattern\":[]}}", "/a"), 1);
        assert_int_equal(FILE_("{\"Set\":[" V("1") "]}", "/a"), -1);
        assert_int_equal(
            FILE_(BIN("==", "{\"Set\":[" BIN("<", V("1"), V("\"a\"")) "]}", V("[]")), "/a"), -1);
}

static bool like(const char *subject, size_t n, ...)
{
        pol_pat_elem pat[8];
        va_list ap;
        va_start(ap, n);
        for (size_t i = 0; i < n; i++) {
                char *s = va_arg(ap, char *);
                pat[i] = (pol_pat_elem){.wildcard = s == NULL, .lit = s};
        }
        va_end(ap);
        return pol_like(pat, n, subject);
}

static void test_like(void **state)
{
        assert_true(like("", 0));
        assert_false(like("a", 0));
        assert_true(like("abc", 1, "abc"));
        assert_false(like("abcd", 1, "abc"));
        assert_true(like("anything/at/all", 1, NULL));
        assert_true(like("/data/x", 2, "/data/", NULL));
        assert_false(like("/data", 2, "/data/", NULL));
        assert_true(like("/a/b/c.txt", 3, "/a/", NULL, ".txt"));
        assert_false(like("/a.txt", 3, "/a/", NULL, ".txt"));
        assert_true(like("/a/.txt", 3, "/a/", NULL, ".txt"));
        assert_true(like("xaxbx", 5, NULL, "a", NULL, "b", NULL));
        assert_false(like("xbxax", 5, NULL, "a", NULL, "b", NULL));
        assert_true(like("aXa", 3, "a", NULL, "a"));
        assert_false(like("a", 3, "a", NULL, "a")); /* prefix and suffix may not overlap */
        assert_true(like("a*b", 1, "a*b"));         /* literal star */
        assert_false(like("axb", 1, "a*b"));
        assert_true(like("ünï", 3, "ü", NULL, "ï"));
}

static void test_requests(void **state)
{
        ob_policy_set *set = parse_body("permit", BIN("==", RES_PATH, V("\"/data/x\"")));
        ob_policy_response r = {0};
        static const char *const bad_net[] = {
            "h",     "h:",   ":80",     "h:0",   "h:65536",     "h:080",    "::1:80",
            "[]:80", "h:8a", "[::1:80", "a/b:1", "[1.2.3.4]:1", "h:123456", "[zz::1]:80"};

        assert_int_equal(ob_policy_is_authorized(set, P1, OB_CAP_FILE_READ, "/data/./y/../x", &r),
                         0);
        assert_true(r.allow);
        ob_policy_response_done(&r);
        assert_int_equal(ob_policy_is_authorized(set, P1, OB_CAP_FILE_READ, "data/x", &r), -EINVAL);
        for (size_t i = 0; i < sizeof(bad_net) / sizeof(bad_net[0]); i++)
                if (ob_policy_is_authorized(set, P1, OB_CAP_NETWORK_CONNECT, bad_net[i], &r) !=
                    -EINVAL)
                        fail_msg("accepted %s", bad_net[i]);
        assert_int_equal(ob_policy_is_authorized(set, P1, OB_CAP_KIND_MAX, "/a", &r), -EINVAL);
        assert_int_equal(ob_policy_is_authorized(NULL, P1, OB_CAP_FILE_READ, "/a", &r), -EINVAL);
        assert_int_equal(ob_policy_is_authorized(set, P1, OB_CAP_NETWORK_CONNECT, "h:65535", &r),
                         0);
        ob_policy_response_done(&r);
        ob_policy_set_free(set);
}

static void test_scope_matching(void **state)
{
        const char *t =
            "{\"staticPolicies\":{\"p\":{\"effect\":\"permit\","
            "\"principal\":{\"op\":\"in\",\"entity\":{\"type\":\"Component\",\"id\":\"" P1
            "\"}},\"action\":{\"op\":\"in\",\"entity\":{\"type\":\"Action\",\"id\":"
            "\"NETWORK_CONNECT\"}},\"resource\":{\"op\":\"is\",\"entity_type\":"
            "\"Endpoint\",\"in\":{\"entity\":{\"type\":\"Endpoint\",\"id\":\"h:1\"}}},"
            "\"conditions\":[]}}}";
        ob_policy_set *set = parse_ok(t);
        ob_policy_response r = {0};

        assert_int_equal(ob_policy_is_authorized(set, P1, OB_CAP_NETWORK_CONNECT, "h:1", &r), 0);
        assert_true(r.allow);
        ob_policy_response_done(&r);
        assert_int_equal(ob_policy_is_authorized(set, P1, OB_CAP_NETWORK_CONNECT, "h:2", &r), 0);
        assert_false(r.allow);
        ob_policy_response_done(&r);
        assert_int_equal(ob_policy_is_authorized(set, P2, OB_CAP_NETWORK_CONNECT, "h:1", &r), 0);
        assert_false(r.allow);
        ob_policy_response_done(&r);
        assert_int_equal(ob_policy_is_authorized(set, P1, OB_CAP_FILE_READ, "/h:1", &r), 0);
        assert_false(r.allow);
        ob_policy_response_done(&r);
        ob_policy_set_free(set);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_decisions),      cmocka_unit_test(test_equality),
            cmocka_unit_test(test_logic),          cmocka_unit_test(test_comparisons),
            cmocka_unit_test(test_attributes),     cmocka_unit_test(test_sets_in_is_like),
            cmocka_unit_test(test_like),           cmocka_unit_test(test_requests),
            cmocka_unit_test(test_scope_matching),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
