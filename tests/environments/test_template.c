/* SPDX-License-Identifier: Apache-2.0 */
/* Environment templates: the shipped ones load and round-trip through
 * ob_template_to_json; every kind of bad template is refused at its
 * line:column; approval, lookup and listing. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "environments/template.h"
#include "test_util.h"

static const char base[] =
    "{\"name\": \"bad\", \"description\": \"d\", \"approved\": true, \"approved_by\": \"qa\", "
    "\"data_classification\": \"synthetic\", \"profile\": \"python-minimal\", "
    "\"capabilities\": {\"version\": 1, \"grants\": []}, "
    "\"ttl\": {\"default\": \"1h\", \"max\": \"2h\"}, "
    "\"feature_flags\": {\"available\": [\"a\", \"b\"], \"default\": [\"b\"]}}";

static char tmpdir[] = "/var/tmp/ob-template-XXXXXX";

/* base with the first occurrence of old replaced by new. */
static char *variant(const char *old, const char *new)
{
        const char *at = strstr(base, old);
        char *s = NULL;

        assert_non_null(at);
        assert_true(asprintf(&s, "%.*s%s%s", (int)(at - base), base, new, at + strlen(old)) > 0);
        return s;
}

static ob_template *parse_ok(const char *text, const char *file)
{
        ob_template *t = NULL;
        ob_error err = {0};

        if (ob_template_parse(text, strlen(text), file, &t, &err) < 0)
                fail_msg("%u:%u: %s", err.line, err.column, err.message);
        return t;
}

/* Refused at line:column (column 0: at the offset of `at` in text, 1-based)
 * with a message containing msg. */
static void parse_bad(const char *text, unsigned line, unsigned column, const char *at,
                      const char *msg)
{
        ob_template *t = NULL;
        ob_error err = {0};

        assert_true(ob_template_parse(text, strlen(text), "/x/bad.json", &t, &err) < 0);
        assert_null(t);
        if (!column)
                column = (unsigned)(strstr(text, at) - text) + 1;
        if (err.line != line || err.column != column || !strstr(err.message, msg))
                fail_msg("got %u:%u: %s; want %u:%u: ...%s", err.line, err.column, err.message,
                         line, column, msg);
        assert_string_equal(err.code, "invalid");
}

static void test_shipped(void **state)
{
        ob_template *t = NULL;
        ob_error err = {0};

        unsetenv("OMNIBASE_TEMPLATE_DIR");
        assert_int_equal(ob_template_load("feature-default", &t, &err), 0);
        assert_string_equal(t->name, "feature-default");
        assert_true(t->approved);
        assert_int_equal(ob_template_require_approved(t, &err), 0);
        assert_string_equal(t->profile, "workstation");
        assert_string_equal(t->default_seed, "synthetic:v1");
        assert_int_equal(t->default_ttl_s, 48 * 3600);
        assert_int_equal(t->max_ttl_s, 14 * 86400);
        assert_true(72 * 3600 <= t->max_ttl_s); /* seed 000: --ttl 72h */
        assert_string_equal(t->flags_available[0], "async-billing");
        assert_string_equal(t->flags_available[3], "onboarding");
        assert_null(t->flags_available[4]);
        assert_int_equal(ob_capset_limits_const(t->caps)->memory_mb, 512);
        for (size_t i = 0; i < ob_capset_count(t->caps, false); i++)
                assert_int_not_equal(ob_capset_get(t->caps, false, i)->kind,
                                     OB_CAP_NETWORK_CONNECT);
        ob_template_free(t);
        assert_int_equal(ob_template_load("python-agent", &t, &err), 0);
        assert_null(t->default_seed);
        assert_int_equal(ob_template_require_approved(t, &err), 0);
        ob_template_free(t);
}

static void test_round_trip(void **state)
{
        static const char *const names[] = {"feature-default", "python-agent"};

        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *a = NULL, *b = NULL;
                ob_template *t = NULL, *u;
                ob_error err = {0};
                assert_int_equal(ob_template_load(names[i], &t, &err), 0);
                assert_int_equal(ob_template_to_json(t, &a), 0);
                u = parse_ok(a, t->file);
                assert_int_equal(ob_template_to_json(u, &b), 0);
                assert_string_equal(a, b);
                assert_int_equal(u->max_ttl_s, t->max_ttl_s);
                assert_int_equal(u->workspace_mb, t->workspace_mb);
                ob_template_free(t);
                ob_template_free(u);
        }
}

static void test_unknown_key_wrong_type(void **state)
{
        _cleanup_free_ char *k = variant("\"ttl\"", "\"colour\": 1, \"ttl\"");
        _cleanup_free_ char *w = variant("\"approved\": true", "\"approved\": \"yes\"");
        _cleanup_free_ char *n = variant("\"ttl\"", "\"workspace_mb\": 64, \"ttl\"");
        _cleanup_free_ char *ws = variant("\"ttl\"", "\"workspace_mb\": 4, \"ttl\"");
        _cleanup_free_ char *d = variant("\"1h\"", "\"48x\"");

        parse_bad(k, 1, 0, "\"colour\"", "unknown key \"colour\"");
        parse_bad(w, 1, 0, "\"yes\"", "approved: expected true or false, got string");
        parse_bad(d, 1, 0, "\"48x\"", "ttl.default: duration \"48x\"");
        ob_template_free(parse_ok(n, "/x/bad.json"));
        parse_bad(ws, 1, 0, "4,", "workspace_mb: expected an integer 8-65536");
        parse_bad("[1]", 1, 1, "[", "a template is a JSON object");
        parse_bad("{\"name\": \"bad\",}", 1, 0, "}", "");
}

static void test_bad_capability(void **state)
{
        static const char text[] =
            "{\n"
            "  \"name\": \"bad\", \"description\": \"d\", \"approved\": false,\n"
            "  \"data_classification\": \"synthetic\", \"profile\": \"shell\",\n"
            "  \"ttl\": {\"default\": \"1h\", \"max\": \"1d\"},\n"
            "  \"capabilities\": {\n"
            "    \"version\": 1,\n"
            "    \"grants\": [\n"
            "      {\"capability\": \"FILE_RAED\", \"target\": \"/workspace/*\"}\n"
            "    ]\n"
            "  }\n"
            "}\n";
        _cleanup_free_ char *lim =
            variant("\"grants\": []", "\"grants\": [], \"limits\": {\"memory_mb\": 1}");

        parse_bad(text, 8, 22, NULL,
                  "capabilities: grants[0].capability: unknown capability \"FILE_RAED\"");
        parse_bad(lim, 1, 0, "1}", "capabilities: limits.");
}

static void test_name_profile_flags(void **state)
{
        _cleanup_free_ char *other = variant("\"bad\"", "\"other\"");
        _cleanup_free_ char *upper = variant("\"bad\"", "\"Bad\"");
        _cleanup_free_ char *prof = variant("\"python-minimal\"", "\"no-such-profile\"");
        _cleanup_free_ char *flags = variant("[\"b\"]", "[\"b\", \"c\"]");
        _cleanup_free_ char *dup = variant("[\"a\", \"b\"]", "[\"a\", \"a\"]");
        _cleanup_free_ char *by = variant(", \"approved_by\": \"qa\"", "");
        _cleanup_free_ char *seed =
            variant("\"ttl\"", "\"default_seed\": \"synthetic:v9\", \"ttl\"");
        _cleanup_free_ char *ttl = variant("\"2h\"", "\"30m\"");
        _cleanup_free_ char *miss = variant("\"profile\": \"python-minimal\", ", "");

        parse_bad(other, 1, 0, "\"other\"", "differs from the file's base name \"bad\"");
        parse_bad(upper, 1, 0, "\"Bad\"", "name: \"Bad\" is not");
        parse_bad(prof, 1, 0, "\"no-such-profile\"", "profile: unknown profile");
        parse_bad(flags, 1, 0, "\"c\"", "\"c\" is not in feature_flags.available");
        parse_bad(dup, 1, 0, "\"a\"]", "listed twice");
        parse_bad(by, 1, 0, "true", "approved: true needs \"approved_by\"");
        parse_bad(seed, 1, 0, "\"synthetic:v9\"", "default_seed: seed synthetic:v9 not found");
        parse_bad(ttl, 1, 0, "\"1h\"", "ttl.default is longer than ttl.max");
        parse_bad(miss, 1, 1, "{", "missing \"profile\"");
}

static void write_file(const char *dir, const char *name, const char *text)
{
        _cleanup_free_ char *p = NULL;
        FILE *f;

        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static void test_approval_lookup_list(void **state)
{
        _cleanup_free_ char *unappr = variant("\"approved\": true", "\"approved\": false");
        _cleanup_free_ char *named = NULL;
        ob_template *t = NULL;
        ob_error err = {0};
        char **names = NULL;

        assert_non_null(mkdtemp(tmpdir));
        assert_non_null(named = strdup(unappr));
        write_file(tmpdir, "bad.json", named);
        write_file(tmpdir, "not a template.json", "{}");
        setenv("OMNIBASE_TEMPLATE_DIR", tmpdir, 1);
        assert_non_null(strstr(ob_template_search_path(), tmpdir));
        assert_int_equal(ob_template_load("bad", &t, &err), 0);
        assert_false(t->approved);
        assert_int_equal(ob_template_require_approved(t, &err), -EPERM);
        assert_string_equal(err.code, "template_not_approved");
        ob_template_free(t);
        t = NULL;
        assert_int_equal(ob_template_load("feature-default", &t, &err), -ENOENT);
        assert_string_equal(err.code, "template_not_found");
        assert_null(t);
        assert_int_equal(ob_template_list(&names, &err), 0);
        assert_string_equal(names[0], "bad");
        assert_null(names[1]);
        free(names[0]);
        free(names);
        unsetenv("OMNIBASE_TEMPLATE_DIR");
        assert_int_equal(ob_template_load("no-such-template", &t, &err), -ENOENT);
        assert_string_equal(err.code, "template_not_found");
        assert_int_equal(ob_template_load("Bad_Name", &t, &err), -EINVAL);
        assert_int_equal(ob_template_list(&names, &err), 0);
        assert_string_equal(names[0], "feature-default");
        assert_string_equal(names[1], "python-agent");
        for (size_t i = 0; names[i]; i++)
                free(names[i]);
        free(names);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_shipped),
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_unknown_key_wrong_type),
            cmocka_unit_test(test_bad_capability),
            cmocka_unit_test(test_name_profile_flags),
            cmocka_unit_test(test_approval_lookup_list),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);

        if (!strstr(tmpdir, "XXXXXX")) { /* made: remove it */
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
                if (system(cmd) != 0)
                        r = 1;
        }
        return r;
}
