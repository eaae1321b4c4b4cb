/* SPDX-License-Identifier: Apache-2.0 */
/* Runner pieces that need no runsc: profiles, pattern prefixes, the mount
 * plan against a real temporary tree, config.json, results. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "runner/runner.h"

static void test_profile_parse(void **state)
{
        const char *ok =
            "{\"version\": 1, \"description\": \"d\", \"interpreter\": [\"/bin/x\", "
            "\"-q\"], \"paths\": [\"/usr/lib\"], \"symlinks\": {\"/bin\": \"usr/bin\"}}";
        ob_profile *p = NULL;
        ob_error err = {0};

        assert_int_equal(ob_profile_parse(ok, strlen(ok), "ok.json", &p, &err), 0);
        assert_string_equal(p->interpreter[1], "-q");
        assert_int_equal(p->n_paths, 1);
        assert_string_equal(p->symlinks[0].target, "usr/bin");
        ob_profile_free(p);

        const char *bad[][2] = {
            {"{\"version\": 1, \"interpreter\": [\"/x\"], \"paths\": [], \"extra\": 1}",
             "b.json:1:52: unknown key \"extra\""},
            {"{\"version\": 2, \"interpreter\": [\"/x\"], \"paths\": []}",
             "b.json:1:13: \"version\" must be 1"},
            {"{\"interpreter\": [\"/x\"], \"paths\": [\"/a/../b\"]}", "b.json:1:35: expected"},
            {"{\"interpreter\": [\"x\"], \"paths\": []}", "b.json:1:1: the interpreter"},
            {"{\"paths\": []}", "b.json:1:1: a profile needs"},
            {"{\"interpreter\": [\"/x\"], \"paths\": [], \"symlinks\": {\"/l\": \"../e\"}}",
             "b.json:1:57: symlink target"},
            {"[1]", "b.json:1:1: a profile is a JSON object"},
            {"{\"interpreter\": \"/x\", \"paths\": []}",
             "b.json:1:17: \"interpreter\" must be an array"},
            {"{\"interpreter\": [\"\"], \"paths\": []}",
             "b.json:1:18: expected a non-empty string"},
            {"{\"interpreter\": [\"/x\"], \"paths\": [], \"symlinks\": []}",
             "b.json:1:50: \"symlinks\" must be an object"},
            {"{\"interpreter\": [\"/x\"], \"paths\": [], \"symlinks\": {\"l\": \"x\"}}",
             "b.json:1:51: symlink path must be absolute"},
            {"{\"interpreter\": [\"/x\"], \"paths\": [], \"description\": 5}",
             "b.json:1:53: \"description\" must be a string"},
            {"{", "b.json:1:"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                p = NULL;
                err = (ob_error){0};
                assert_true(ob_profile_parse(bad[i][0], strlen(bad[i][0]), "b.json", &p, &err) < 0);
                assert_null(p);
                if (strncmp(err.message, bad[i][1], strlen(bad[i][1])) != 0)
                        fail_msg("case %zu: got \"%s\", want prefix \"%s\"", i, err.message,
                                 bad[i][1]);
        }
}

static void test_profile_load_builtin(void **state)
{
        ob_profile *p = NULL;
        ob_error err = {0};

        assert_int_equal(ob_profile_load("python-minimal", &p, &err), 0);
        assert_string_equal(p->name, "python-minimal");
        assert_string_equal(p->interpreter[0], "/usr/bin/python3");
        ob_profile_free(p);
        assert_int_equal(ob_profile_load("shell", &p, &err), 0);
        ob_profile_free(p);
        assert_int_equal(ob_profile_load("no-such", &p, &err), -ENOENT);
        assert_int_equal(ob_profile_load("a.b", &p, &err), -EINVAL);
}

static void test_literal_prefix(void **state)
{
        const char *cases[][3] = {
            {"/a/b", "/a/b", "0"},      {"/a/*", "/a/", "1"}, {"/a/x*y", "/a/x", "1"},
            {"/a/\\*b*", "/a/*b", "1"}, {"*", "", "1"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                char *p = NULL;
                bool wild;
                assert_int_equal(ob_pattern_literal_prefix(cases[i][0], &p, &wild), 0);
                assert_string_equal(p, cases[i][1]);
                assert_int_equal(wild, cases[i][2][0] == '1');
                free(p);
        }
}

static void test_utf8_sanitize(void **state)
{
        char *out = NULL;

        assert_int_equal(ob_utf8_sanitize("ok \xc3\xa9", 5, &out), 0);
        assert_string_equal(out, "ok \xc3\xa9");
        free(out);
        assert_int_equal(ob_utf8_sanitize("a\xff"
                                          "b\0c\xc0\xaf",
                                          7, &out),
                         0);
        assert_string_equal(out, "a\xef\xbf\xbd"
                                 "b\xef\xbf\xbd"
                                 "c\xef\xbf\xbd\xef\xbf\xbd");
        free(out);
        assert_int_equal(ob_utf8_sanitize("\xed\xa0\x80", 3, &out), 0); /* surrogate */
        assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        free(out);
}

static char tmpdir[64];

static void mkfile(const char *rel, const char *text)
{
        char path[256];
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static const ob_mount *find(const ob_mount_plan *m, const char *rel)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
        for (size_t i = 0; i < m->n; i++)
                if (streq(m->v[i].destination, path))
                        return &m->v[i];
        return NULL;
}

static void add(ob_capset *set, bool deny, ob_cap_kind k, const char *rel)
{
        char path[256];
        ob_error err = {0};
        snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
        assert_int_equal(ob_capset_add(set, deny, k, path, NULL, &err), 0);
}

static void test_mount_plan(void **state)
{
        ob_capset *set = NULL;
        ob_mount_plan m = {0};
        char path[256];

        strcpy(tmpdir, "/tmp/ob-unit-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        snprintf(path, sizeof(path), "%s/d", tmpdir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/d/sub", tmpdir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/w", tmpdir);
        mkdir(path, 0755);
        mkfile("d/a.txt", "a");
        mkfile("d/b.log", "b");
        mkfile("d/sub/c.txt", "c");
        mkfile("lit.txt", "l");
        snprintf(path, sizeof(path), "%s/d/esc.txt", tmpdir);
        assert_int_equal(symlink("/etc/hostname", path), 0);

        assert_int_equal(ob_capset_new(&set), 0);
        add(set, false, OB_CAP_FILE_READ, "d/*.txt");
        add(set, false, OB_CAP_FILE_READ, "lit.txt");
        add(set, false, OB_CAP_FILE_WRITE, "w/*");
        add(set, false, OB_CAP_FILE_READ, "missing");
        add(set, true, OB_CAP_FILE_READ, "d/sub/*");
        assert_int_equal(ob_mount_plan_add_grants(&m, set), 0);
        ob_mount_plan_sort(&m);

        assert_non_null(find(&m, "d/a.txt"));
        assert_null(find(&m, "d/b.log"));
        assert_null(find(&m, "d/sub/c.txt")); /* denied */
        assert_null(find(&m, "d/esc.txt"));   /* resolves outside */
        assert_null(find(&m, "missing"));
        assert_false(find(&m, "lit.txt")->writable);
        assert_true(find(&m, "w")->writable);
        assert_true(find(&m, "w")->is_dir);
        for (size_t i = 1; i < m.n; i++)
                assert_true(strcmp(m.v[i - 1].destination, m.v[i].destination) < 0);
        /* a second grant of the same path merges; write wins */
        assert_int_equal(
            ob_mount_plan_add(&m, "/x", find(&m, "lit.txt")->destination, true, false, "again"), 0);
        assert_true(find(&m, "lit.txt")->writable);
        ob_mount_plan_done(&m);
        ob_capset_free(set);
        assert_int_equal(ob_rm_rf(tmpdir), 0);
}

static void test_spec_and_limits(void **state)
{
        char *argv[] = {"/bin/true", NULL};
        ob_profile prof = {.name = "t"};
        ob_run_plan plan = {.argv = argv, .profile = &prof};
        ob_limits l = {.memory_mb = 50,
                       .cpus_milli = 1500,
                       .pids = 9,
                       .timeout_s = 3,
                       .tmpfs_mb = 4,
                       .output_kb = 1};
        cJSON *c = NULL, *res;

        strcpy(plan.id, "ob-0123456789abcdef");
        plan.limits = l;
        assert_int_equal(ob_mount_plan_add(&plan.mounts, "/usr/lib", "/usr/lib", false, true, "t"),
                         0);
        assert_int_equal(ob_spec_build(&plan, &c), 0);
        res = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "linux"), "resources");
        assert_int_equal(
            cJSON_GetObjectItem(cJSON_GetObjectItem(res, "memory"), "limit")->valuedouble,
            50 * 1024 * 1024);
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(res, "cpu"), "quota")->valuedouble,
                         150000);
        assert_string_equal(
            cJSON_GetObjectItem(cJSON_GetObjectItem(c, "linux"), "cgroupsPath")->valuestring,
            "/omnibase/ob-0123456789abcdef");
        assert_true(ob_host_pids_limit(9) > 9);
        cJSON_Delete(c);
        ob_mount_plan_done(&plan.mounts);
}

static void test_result_json(void **state)
{
        ob_sandbox_result r = {.status = OB_SANDBOX_LIMIT_EXCEEDED,
                               .exit_code = 137,
                               .limit = "output",
                               .stdout_buf = "a\xff",
                               .stdout_len = 2,
                               .stdout_truncated = true};
        char *json = NULL;

        strcpy(r.sandbox_id, "ob-1");
        assert_int_equal(ob_sandbox_result_to_json(&r, &json), 0);
        assert_non_null(strstr(json, "\"status\":\"limit_exceeded\""));
        assert_non_null(strstr(json, "\"stdout\":\"a\xef\xbf\xbd\""));
        assert_non_null(strstr(json, "\"limit\":\"output\""));
        assert_non_null(strstr(json, "\"violations\":[]"));
        assert_int_equal(json[strlen(json) - 1], '\n');
        free(json);
        assert_string_equal(ob_sandbox_status_to_string(OB_SANDBOX_TIMEOUT), "timeout");
        assert_string_equal(ob_sandbox_status_to_string(99), "error");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_profile_parse),  cmocka_unit_test(test_profile_load_builtin),
            cmocka_unit_test(test_literal_prefix), cmocka_unit_test(test_utf8_sanitize),
            cmocka_unit_test(test_mount_plan),     cmocka_unit_test(test_spec_and_limits),
            cmocka_unit_test(test_result_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
