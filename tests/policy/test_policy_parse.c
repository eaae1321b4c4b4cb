/* SPDX-License-Identifier: Apache-2.0 */
/* Parser: both file shapes, every error path with its position, bounds. */
#define _GNU_SOURCE 1
#include "policy_test.h"

#include <errno.h>
#include <unistd.h>

#include "policy/policy-internal.h"

static void test_set_and_single(void **state)
{
        const char *set_text = "{\"staticPolicies\":{\"b\":{\"effect\":\"permit\"," SCOPE_ALL
                               ",\"conditions\":[]},\"a\":{\"effect\":\"forbid\"," SCOPE_ALL
                               ",\"conditions\":[],\"annotations\":{\"note\":\"x\",\"n\":null}}},"
                               "\"templates\":{},\"templateLinks\":[]}";
        const char *single = "{\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[]}";
        ob_policy_set *set = parse_ok(set_text);

        assert_int_equal(ob_policy_set_size(set), 2);
        assert_string_equal(ob_policy_set_id(set, 0), "b");
        assert_string_equal(ob_policy_set_id(set, 1), "a");
        assert_null(ob_policy_set_id(set, 2));
        assert_true(set->policies[1].forbid);
        ob_policy_set_free(set);

        set = parse_ok(single);
        assert_int_equal(ob_policy_set_size(set), 1);
        assert_string_equal(ob_policy_set_id(set, 0), "policy0");
        ob_policy_set_free(set);
        assert_null(ob_policy_set_free(NULL));
        assert_int_equal(ob_policy_set_size(NULL), 0);
}

static void test_scopes(void **state)
{
        const char *t =
            "{\"staticPolicies\":{\"p\":{\"effect\":\"permit\","
            "\"principal\":{\"op\":\"is\",\"entity_type\":\"Component\",\"in\":{\"entity\":"
            "{\"type\":\"Component\",\"id\":\"" P1 "\"}}},"
            "\"action\":{\"op\":\"in\",\"entities\":[{\"type\":\"Action\",\"id\":"
            "\"FILE_READ\"},{\"__entity\":{\"type\":\"Action\",\"id\":\"FILE_EXEC\"}}]},"
            "\"resource\":{\"op\":\"==\",\"entity\":{\"type\":\"File\",\"id\":\"/a\"}},"
            "\"conditions\":[]}}}";
        ob_policy_set *set = parse_ok(t);
        const pol_policy *p = &set->policies[0];

        assert_int_equal(p->principal.op, PS_IS);
        assert_string_equal(p->principal.is_type, "Component");
        assert_true(p->principal.has_entity);
        assert_int_equal(p->action.op, PS_IN_SET);
        assert_int_equal(p->action.n_entities, 2);
        assert_string_equal(p->action.entities[1].id, "FILE_EXEC");
        assert_int_equal(p->resource.op, PS_EQ);
        assert_string_equal(p->resource.entity.id, "/a");
        ob_policy_set_free(set);
}

static void test_pattern_normalised(void **state)
{
        ob_policy_set *set = parse_body(
            "permit", "{\"like\":{\"left\":" RES_PATH ",\"pattern\":[{\"Literal\":\"/a\"},"
                      "{\"Literal\":\"b\"},\"Wildcard\",\"Wildcard\",{\"Literal\":\"\"},"
                      "{\"Literal\":\"c\"}]}}");
        const pol_expr *e = set->policies[0].conds[0].body;

        assert_int_equal(e->kind, PE_LIKE);
        assert_int_equal(e->n_pat, 3);
        assert_string_equal(e->pat[0].lit, "/ab");
        assert_true(e->pat[1].wildcard);
        assert_string_equal(e->pat[2].lit, "c");
        ob_policy_set_free(set);
}

typedef struct bad_case {
        const char *text;
        const char *at; /* the text at the reported position (line 1) */
        const char *msg;
} bad_case;

#define POL(members) "{\"staticPolicies\":{\"p\":{" members "}}}"
#define BODY(b)                                                                                    \
        POL("\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[{\"kind\":\"when\",\"body\":" b   \
            "}]")

static const bad_case bad[] = {
    {"{\"staticPolicies\": x}", "x}", "invalid JSON"},
    {"[]", "[]", "must be an object"},
    {"{\"foo\":1}", "\"foo\"", "unknown key \"foo\" in policy set"},
    {"{}", "{}", "expected a policy set"},
    {"{\"staticPolicies\":[]}", "[]", "\"staticPolicies\" must be an object"},
    {"{\"staticPolicies\":{},\"templates\":{\"t\":{}}}", "\"templates\"",
     "unsupported in omnibase's Cedar subset: templates"},
    {"{\"staticPolicies\":{},\"templateLinks\":[{}]}", "\"templateLinks\"",
     "unsupported in omnibase's Cedar subset: templateLinks"},
    {"{\"staticPolicies\":{\"p\":1}}", "1}}", "policy must be an object"},
    {"{\"staticPolicies\":{\"\":{}}}", "\"\":", "policy id must be"},
    {"{\"staticPolicies\":{\"a\\u0001\":{}}}", "\"a\\u0001\"", "control character in policy id"},
    {POL(SCOPE_ALL ",\"conditions\":[]"), "{\"principal\"", "\"policy\" needs \"effect\""},
    {POL("\"effect\":\"allow\"," SCOPE_ALL ",\"conditions\":[]"), "\"allow\"",
     "\"effect\" must be"},
    {POL("\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[],\"foo\":1"), "\"foo\"",
     "unknown key \"foo\" in \"policy\""},
    {POL("\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[],\"annotations\":{\"a\":1}"), "1}",
     "annotation values must be strings"},
    {POL("\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[],\"annotations\":[]"), "[]}",
     "\"annotations\" must be an object"},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"like\"},\"action\":{\"op\":\"All\"},"
         "\"resource\":{\"op\":\"All\"},\"conditions\":[]"),
     "\"like\"", "unknown principal op \"like\""},
    {POL("\"effect\":\"permit\",\"principal\":[],\"action\":{\"op\":\"All\"},"
         "\"resource\":{\"op\":\"All\"},\"conditions\":[]"),
     "[],", "principal must be an object with a string \"op\""},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"==\",\"slot\":\"?principal\"},"
         "\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},\"conditions\":[]"),
     "\"slot\"", "unsupported in omnibase's Cedar subset: template slots"},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"All\",\"x\":1},"
         "\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},\"conditions\":[]"),
     "\"x\"", "unknown key \"x\" in principal"},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"==\"},"
         "\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},\"conditions\":[]"),
     "{\"op\":\"==\"}", "principal \"==\" needs \"entity\""},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"==\",\"entity\":{\"type\":\"a b\","
         "\"id\":\"x\"}},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},"
         "\"conditions\":[]"),
     "\"a b\"", "invalid entity type name \"a b\""},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"==\",\"entity\":{\"type\":\"if\","
         "\"id\":\"x\"}},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},"
         "\"conditions\":[]"),
     "\"if\"", "invalid entity type name \"if\""},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"==\",\"entity\":{\"type\":\"A\"}},"
         "\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},\"conditions\":[]"),
     "{\"type\":\"A\"}", "entity needs \"type\" and \"id\""},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"==\",\"entity\":{\"type\":\"A\","
         "\"id\":1}},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},"
         "\"conditions\":[]"),
     "1}}", "entity id must be a string, not number"},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"==\",\"entity\":{\"type\":\"A\","
         "\"id\":\"1\",\"z\":0}},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},"
         "\"conditions\":[]"),
     "\"z\"", "unknown key \"z\" in entity"},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"==\",\"entity\":\"A\"},"
         "\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},\"conditions\":[]"),
     "\"A\"}", "entity must be an object"},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"is\","
         "\"entity_type\":\"Action\"},\"resource\":{\"op\":\"All\"},\"conditions\":[]"),
     "\"is\"", "unknown action op \"is\""},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"in\","
         "\"entities\":{}},\"resource\":{\"op\":\"All\"},\"conditions\":[]"),
     "{}}", "\"entities\" must be an array"},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"All\"},"
         "\"resource\":{\"op\":\"is\"},\"conditions\":[]"),
     "{\"op\":\"is\"}", "\"is\" needs \"entity_type\""},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"All\"},"
         "\"resource\":{\"op\":\"is\",\"entity_type\":\"::\"},\"conditions\":[]"),
     "\"::\"", "invalid entity type name"},
    {POL("\"effect\":\"permit\",\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"All\"},"
         "\"resource\":{\"op\":\"is\",\"entity_type\":\"File\",\"in\":1},\"conditions\":[]"),
     "1}", "\"in\" of \"is\" must be {\"entity\": ...}"},
    {POL("\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":{}"), "{}",
     "\"conditions\" must be an array"},
    {POL("\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[{\"kind\":\"if\",\"body\":"
         "{\"Value\":true}}]"),
     "\"if\"", "condition \"kind\" must be \"when\" or \"unless\""},
    {POL("\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[{\"kind\":\"when\"}]"),
     "{\"kind\":\"when\"}", "\"condition\" needs \"body\""},
    {BODY("{\"Value\":true,\"Var\":\"x\"}"), "{\"Value\":true,",
     "expression must be an object with exactly one key"},
    {BODY("[]"), "[]}", "expression must be an object"},
    {BODY("{\"+\":{\"left\":{\"Value\":1},\"right\":{\"Value\":2}}}"), "\"+\"",
     "unsupported in omnibase's Cedar subset: expression \"+\""},
    {BODY("{\"if-then-else\":{}}"), "\"if-then-else\"",
     "unsupported in omnibase's Cedar subset: expression \"if-then-else\""},
    {BODY("{\"ip\":[{\"Value\":\"1.2.3.4\"}]}"), "\"ip\"",
     "unsupported in omnibase's Cedar subset: expression \"ip\""},
    {BODY("{\"Var\":\"user\"}"), "\"user\"", "\"Var\" must be"},
    {BODY("{\"Value\":1.5}"), "1.5", "unsupported in omnibase's Cedar subset: non-integer"},
    {BODY("{\"Value\":1e999}"), "1e999", "integer out of range"},
    {BODY("{\"Value\":-1e300}"), "-1e300", "integer out of range"},
    {BODY("{\"Value\":{\"a\":1}}"), "{\"a\"", "unsupported in omnibase's Cedar subset: record"},
    {BODY("{\"Value\":{\"__extn\":{\"fn\":\"ip\",\"arg\":\"1.2.3.4\"}}}"), "{\"__extn\"",
     "unsupported in omnibase's Cedar subset: extension values"},
    {BODY("{\"Value\":null}"), "null", "invalid value: null"},
    {BODY("{\"Value\":[1,null]}"), "null", "invalid value: null"},
    {BODY("{\"like\":{\"left\":" RES_PATH ",\"pattern\":\"a*\"}}"), "\"a*\"",
     "\"pattern\" must be an array"},
    {BODY("{\"like\":{\"left\":" RES_PATH ",\"pattern\":[\"Star\"]}}"), "\"Star\"",
     "pattern element must be"},
    {BODY("{\"==\":{\"left\":{\"Value\":1}}}"), "{\"left\":{\"Value\":1}}",
     "\"==\" needs \"right\""},
    {BODY("{\"==\":{\"left\":{\"Value\":1},\"right\":{\"Value\":1},\"x\":1}}"), "\"x\"",
     "unknown key \"x\" in \"==\""},
    {BODY("{\"==\":[]}"), "[]}", "\"==\" takes an object"},
    {BODY("{\"!\":{}}"), "{}}", "\"!\" needs \"arg\""},
    {BODY("{\"is\":{\"left\":{\"Var\":\"resource\"},\"entity_type\":\"File\",\"in\":"
          "{\"Var\":\"resource\"}}}"),
     "\"in\":{\"Var", "unsupported in omnibase's Cedar subset: \"is ... in\""},
    {BODY("{\"is\":{\"left\":{\"Var\":\"resource\"},\"entity_type\":\"9\"}}"), "\"9\"",
     "invalid entity type name"},
    {BODY("{\".\":{\"left\":{\"Var\":\"resource\"},\"attr\":1}}"), "1}}",
     "\"attr\" must be a string"},
    {BODY("{\"Set\":{}}"), "{}}", "\"Set\" takes an array"},
    {BODY("{\"Set\":[{\"Var\":\"x\"}]}"), "\"x\"", "\"Var\" must be"},
    {BODY("{\"Value\":{\"__entity\":{\"type\":\"File\"}}}"), "{\"type\":\"File\"}", "entity needs"},
    {"{\"a\":1,\"a\":2}", "\"a\":2", "duplicate key \"a\""},
};

static void test_errors(void **state)
{
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ob_policy_set *set = NULL;
                ob_error err = {0};
                const char *at = strstr(bad[i].text, bad[i].at);
                int r = ob_policy_parse(bad[i].text, strlen(bad[i].text), &set, &err);

                assert_non_null(at);
                if (r >= 0 || !strstr(err.message, bad[i].msg) || err.line != 1 ||
                    err.column != (unsigned)(at - bad[i].text) + 1)
                        fail_msg("case %zu: r=%d %u:%u \"%s\"; expected 1:%zu \"%s\"\n  in %s", i,
                                 r, err.line, err.column, err.message,
                                 (size_t)(at - bad[i].text) + 1, bad[i].msg, bad[i].text);
                assert_null(set);
        }
}

static void test_bounds(void **state)
{
#define ONE "\"p%zu\":{\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[]}"
        size_t n = OB_POLICY_MAX_POLICIES + 1, len = 0, cap = n * 200 + 64;
        char *text = malloc(cap), *deep;
        ob_policy_set *set = NULL;
        ob_error err = {0};

        assert_non_null(text);
        len = (size_t)sprintf(text, "{\"staticPolicies\":{");
        for (size_t i = 0; i < n; i++) {
                if (i)
                        text[len++] = ',';
                len += (size_t)snprintf(text + len, cap - len, ONE, i);
        }
        len += (size_t)snprintf(text + len, cap - len, "}}");
        assert_int_equal(ob_policy_parse(text, len, &set, &err), -E2BIG);
        assert_non_null(strstr(err.message, "too many policies"));
        assert_int_equal(ob_policy_parse(text, OB_POLICY_MAX_BYTES + 1, &set, &err), -EFBIG);
        free(text);

        deep = malloc(200 * 16 + 200);
        len = (size_t)sprintf(deep, "{\"effect\":\"permit\"," SCOPE_ALL
                                    ",\"conditions\":[{\"kind\":\"when\",\"body\":");
        for (int i = 0; i < 100; i++)
                len += (size_t)sprintf(deep + len, "{\"!\":{\"arg\":");
        len += (size_t)sprintf(deep + len, "{\"Value\":true}");
        for (int i = 0; i < 100; i++)
                len += (size_t)sprintf(deep + len, "}}");
        len += (size_t)sprintf(deep + len, "}]}");
        assert_true(ob_policy_parse(deep, len, &set, &err) < 0);
        assert_non_null(strstr(err.message, "deep"));
        free(deep);

        /* set literals are bounded (set equality is quadratic) */
        for (int form = 0; form < 2; form++) {
                len = (size_t)sprintf(text = malloc(20000),
                                      "{\"effect\":\"permit\"," SCOPE_ALL
                                      ",\"conditions\":[{\"kind\":\"when\",\"body\":{\"==\":{"
                                      "\"left\":%s[",
                                      form ? "{\"Set\":" : "{\"Value\":");
                for (int i = 0; i <= 1000; i++)
                        len += (size_t)sprintf(text + len, i ? ",%s" : "%s",
                                               form ? "{\"Value\":1}" : "1");
                len += (size_t)sprintf(text + len, "]},\"right\":{\"Value\":1}}}}]}");
                assert_int_equal(ob_policy_parse(text, len, &set, &err), -E2BIG);
                assert_non_null(strstr(err.message, "set too large (1001 elements, limit 1000)"));
                free(text);
        }

        assert_true(ob_policy_parse("{\"effect\":\"\xff\"}", 14, &set, &err) < 0);
        assert_non_null(strstr(err.message, "UTF-8"));
        assert_int_equal(err.column, 12);
        assert_int_equal(ob_policy_parse(NULL, 0, &set, &err), -EINVAL);
}

static void test_load_and_registry(void **state)
{
        char path[] = "/tmp/ob-policy-XXXXXX", *p = NULL;
        const char *t = "{\"effect\":\"permit\"," SCOPE_ALL ",\"conditions\":[]}";
        ob_policy_set *set = NULL;
        ob_error err = {0};
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
        close(fd);
        assert_int_equal(ob_policy_load(path, &set, &err), 0);
        assert_int_equal(ob_policy_set_size(set), 1);
        ob_policy_set_free(set);
        assert_int_equal(truncate(path, OB_POLICY_MAX_BYTES + 1), 0);
        assert_int_equal(ob_policy_load(path, &set, &err), -EFBIG);
        assert_non_null(strstr(err.message, "too large"));
        unlink(path);
        assert_int_equal(ob_policy_load(path, &set, &err), -ENOENT);
        assert_non_null(strstr(err.message, "cannot read"));

        assert_int_equal(ob_policy_registry_path("/reg", P1, &p), 0);
        assert_string_equal(p, "/reg/" P1 ".cedar.json");
        free(p);
        assert_int_equal(ob_policy_registry_path("/reg", "../etc/passwd", &p), -EINVAL);
        assert_int_equal(ob_policy_registry_path("/reg", P1 "0", &p), -EINVAL);
        assert_int_equal(
            ob_policy_registry_path("/reg", "3f2a9c1e-0000-4000-8000_000000000001", &p), -EINVAL);
        assert_int_equal(ob_policy_registry_path(NULL, P1, &p), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_set_and_single),
            cmocka_unit_test(test_scopes),
            cmocka_unit_test(test_pattern_normalised),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_bounds),
            cmocka_unit_test(test_load_and_registry),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
