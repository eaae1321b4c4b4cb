/* SPDX-License-Identifier: Apache-2.0 */
/* The sidecar's /etc/hosts reader (names an address has), its scratch
 * directories (what the workload made there is its own) and its bytecode
 * cache names (own.c), on real files. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sidecar/sidecar.h"

static char dir[64];

static int setup(void **state)
{
        (void)state;
        strcpy(dir, "/tmp/ob-hosts-scratch-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
        char cmd[128];
        (void)state;
        ob_scratch_clear();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *p, const char *text)
{
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static void names_of(const char *hosts, int family, const char *ip, const char *want)
{
        unsigned char addr[16];
        char **names = NULL, got[1024] = "";
        size_t n = 99;

        assert_int_equal(inet_pton(family, ip, addr), 1);
        assert_int_equal(ob_hosts_names(hosts, family, addr, &names, &n), 0);
        for (size_t i = 0; i < n; i++) {
                strcat(got, i ? " " : "");
                strcat(got, names[i]);
        }
        assert_string_equal(got, want);
        ob_hosts_names_free(names, n);
}

static void test_hosts_names(void **state)
{
        char hosts[128], many[2048] = "10.0.0.9";
        (void)state;

        snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
        write_file(hosts, "# the runner's hosts file\n"
                          "127.0.0.1\tlocalhost  # loopback\n"
                          "10.0.0.2 host.omnibase.internal api\r\n"
                          "not-an-address bogus\n"
                          "\n"
                          "   \n"
                          "::1 localhost ip6-localhost\n"
                          "10.0.0.2 again\n");
        names_of(hosts, AF_INET, "127.0.0.1", "localhost");
        names_of(hosts, AF_INET, "10.0.0.2", "host.omnibase.internal api again");
        names_of(hosts, AF_INET6, "::1", "localhost ip6-localhost");
        names_of(hosts, AF_INET, "10.0.0.3", "");
        /* at most OB_SIDECAR_MAX_HOST_NAMES names per address */
        for (int i = 0; i < 40; i++)
                snprintf(many + strlen(many), sizeof(many) - strlen(many), " n%d", i);
        strcat(many, "\n");
        write_file(hosts, many);
        names_of(hosts, AF_INET, "10.0.0.9",
                 "n0 n1 n2 n3 n4 n5 n6 n7 n8 n9 n10 n11 n12 n13 n14 n15");
}

static void test_hosts_unreadable(void **state)
{
        char missing[128];
        unsigned char addr[4] = {127, 0, 0, 1};
        char **names = (char **)1;
        size_t n = 1;
        (void)state;

        /* no hosts file: no names, not an error */
        snprintf(missing, sizeof(missing), "%s/none", dir);
        assert_int_equal(ob_hosts_names(missing, AF_INET, addr, &names, &n), 0);
        assert_null(names);
        assert_int_equal(n, 0);
        /* a directory where the file should be: an error, nothing returned */
        names = (char **)1;
        assert_true(ob_hosts_names(dir, AF_INET, addr, &names, &n) < 0);
        assert_null(names);
        assert_int_equal(n, 0);
}

static void test_scratch(void **state)
{
        char s[128], p[192], sub[192];
        (void)state;

        snprintf(s, sizeof(s), "%s/scratch", dir);
        assert_int_equal(mkdir(s, 0700), 0);
        assert_int_equal(ob_scratch_add("relative/dir"), -EINVAL);
        /* trailing slashes name the same directory */
        snprintf(p, sizeof(p), "%s///", s);
        assert_int_equal(ob_scratch_add(p), 0);
        snprintf(p, sizeof(p), "%s/made", s);
        write_file(p, "x");
        assert_true(ob_scratch_allows(p, false));
        /* the scratch directory itself, a sibling with the same prefix */
        assert_false(ob_scratch_allows(s, false));
        snprintf(p, sizeof(p), "%sx/f", s);
        assert_false(ob_scratch_allows(p, true));
        /* absent: only a create whose parent is there */
        snprintf(p, sizeof(p), "%s/new", s);
        assert_true(ob_scratch_allows(p, true));
        assert_false(ob_scratch_allows(p, false));
        snprintf(sub, sizeof(sub), "%s/no/such", s);
        assert_false(ob_scratch_allows(sub, true));
        /* at most OB_SIDECAR_MAX_SCRATCH directories */
        for (int i = 1; i < OB_SIDECAR_MAX_SCRATCH; i++)
                assert_int_equal(ob_scratch_add("/nonexistent-scratch"), 0);
        assert_int_equal(ob_scratch_add("/one-too-many"), -EINVAL);
        ob_scratch_clear();
        snprintf(p, sizeof(p), "%s/made", s);
        assert_false(ob_scratch_allows(p, false)); /* none left */
        assert_int_equal(ob_scratch_add("/"), 0);  /* "/" stays "/" */
        assert_false(ob_scratch_allows("/", false));
}

static void test_bytecode_cache_names(void **state)
{
        static const char *const caches[] = {
            "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc",
            "/usr/lib/python3.11/__pycache__/_compat_pickle.cpython-311.opt-1.pyc.140629589670064",
            "/d/__pycache__/m.pyc"};
        static const char *const others[] = {"/usr/lib/python3.11/os.py",
                                             "/usr/lib/python3.11/x.pyc",
                                             "/usr/lib/python3.11/__pycache__/x.txt",
                                             "/usr/lib/python3.11/__pycache__/.pyc",
                                             "/d/__pycache__/m.pyc.",
                                             "/d/__pycache__/m.pyc.12x",
                                             "/d/__pycache__/m.pyco",
                                             "/d/not__pycache__/m.pyc",
                                             "/__pycache__.pyc",
                                             "m.pyc"};
        (void)state;
        for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++)
                assert_true(ob_bytecode_cache_name(caches[i], false));
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
                assert_false(ob_bytecode_cache_name(others[i], false));
        assert_true(ob_bytecode_cache_name("/usr/lib/python3.11/json/__pycache__", true));
        assert_false(ob_bytecode_cache_name("/usr/lib/python3.11/json/pycache", true));
        assert_false(ob_bytecode_cache_name("/usr/lib/python3.11/json/__pycache__x", true));
        /* a directory on a read-write mount: no answer, the denial stands */
        assert_int_equal(ob_readonly_answer(dir, 65534, 65534), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_hosts_names, setup, teardown),
            cmocka_unit_test_setup_teardown(test_hosts_unreadable, setup, teardown),
            cmocka_unit_test_setup_teardown(test_scratch, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bytecode_cache_names, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
