/* SPDX-License-Identifier: Apache-2.0 */
/* Seed bundles: references, lookup, verification of the shipped bundle and
 * of tampered copies (changed byte, added, removed, symlinked file), and
 * deterministic installs (byte-identical, modes, owners, mtimes 0) that
 * leave nothing behind when they fail. Under /var/tmp, removed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "environments/seed.h"
#include "test_util.h"

static char tmpdir[] = "/var/tmp/ob-seed-XXXXXX";

/* tmpdir/name, malloc'd. */
static char *sub(const char *name)
{
        char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

static __attribute__((format(printf, 1, 2))) void sh(const char *fmt, ...)
{
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        assert_true(n > 0);
        if (system(cmd) != 0)
                fail_msg("failed: %s", cmd);
}

/* A fresh copy of the shipped bundle at tmpdir/seeds/synthetic/v1, and
 * $OMNIBASE_SEED_DIR pointing at tmpdir/seeds. Returns the bundle's dir. */
static char *fresh_copy(void)
{
        _cleanup_free_ char *seeds = sub("seeds"), *src = NULL;
        const char *top = getenv("OMNIBASE_SOURCE_DIR");
        char *v1 = sub("seeds/synthetic/v1");

        if (!top)
                ob_test_skip("OMNIBASE_SOURCE_DIR is not set (run under ctest)");
        assert_true(asprintf(&src, "%s/seeds/synthetic/v1/.", top) > 0);
        sh("rm -rf '%s' && mkdir -p '%s' && cp -r '%s' '%s'", seeds, v1, src, v1);
        setenv("OMNIBASE_SEED_DIR", seeds, 1);
        return v1;
}

static void test_ref(void **state)
{
        char *name = NULL, *version = NULL, *dir = NULL;
        static const char *const bad[] = {"synthetic",     "synthetic:",
                                          ":v1",           "synthetic:1",
                                          "Synthetic:v1",  "syn/thetic:v1",
                                          "synthetic:v1x", "synthetic:v1234567",
                                          "a:v1:v2",       ""};
        ob_error err = {0};

        assert_int_equal(ob_seed_parse_ref("synthetic:v1", &name, &version, &err), 0);
        assert_string_equal(name, "synthetic");
        assert_string_equal(version, "v1");
        free(name);
        free(version);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err.code = NULL;
                if (ob_seed_parse_ref(bad[i], &name, &version, &err) != -EINVAL)
                        fail_msg("accepted \"%s\"", bad[i]);
                assert_string_equal(err.code, "invalid");
        }
        unsetenv("OMNIBASE_SEED_DIR");
        assert_int_equal(ob_seed_find("synthetic:v1", &dir, &err), 0);
        assert_non_null(strstr(dir, "/seeds/synthetic/v1"));
        assert_int_equal(ob_seed_verify(dir, "synthetic:v1", &err), 0);
        free(dir);
        dir = NULL;
        assert_int_equal(ob_seed_find("synthetic:v9", &dir, &err), -ENOENT);
        assert_string_equal(err.code, "not_found");
        assert_non_null(strstr(err.message, "seed synthetic:v9 not found in"));
        assert_null(dir);
}

/* The bundle at v1 is refused as corrupt, naming file. */
static void refused(const char *v1, const char *file)
{
        ob_error err = {0};

        assert_int_equal(ob_seed_verify(v1, "synthetic:v1", &err), -EBADMSG);
        assert_string_equal(err.code, "seed_corrupt");
        if (!strstr(err.message, file) || strncmp(err.message, "seed synthetic:v1: ", 19) != 0)
                fail_msg("want %s named: %s", file, err.message);
}

static void test_tampered(void **state)
{
        _cleanup_free_ char *v1 = fresh_copy();
        ob_error err = {0};

        assert_int_equal(ob_seed_verify(v1, "synthetic:v1", &err), 0);
        /* One byte changed. */
        sh("cd '%s' && printf X | dd of=users.csv bs=1 seek=100 conv=notrunc status=none", v1);
        refused(v1, "users.csv: SHA-256 mismatch");
        free(fresh_copy());
        /* A file added, in a subdirectory too. */
        sh("cd '%s' && echo extra > extra.txt", v1);
        refused(v1, "extra.txt: not listed in MANIFEST");
        free(fresh_copy());
        sh("cd '%s' && mkdir sub && echo x > sub/zz.csv", v1);
        refused(v1, "sub/zz.csv: not listed");
        free(fresh_copy());
        /* A file removed. */
        sh("cd '%s' && rm roles.csv", v1);
        refused(v1, "roles.csv: listed in MANIFEST but missing");
        free(fresh_copy());
        /* A symlink in place of a file (to an identical copy), and an added one. */
        sh("cd '%s' && mv users.csv ../users.csv && ln -s ../users.csv users.csv", v1);
        refused(v1, "users.csv: a symlink");
        free(fresh_copy());
        sh("cd '%s' && ln -s /etc/passwd link.csv", v1);
        refused(v1, "link.csv: a symlink");
        free(fresh_copy());
        /* A MANIFEST edited out of order. */
        sh("cd '%s' && sort -r -o MANIFEST MANIFEST", v1);
        refused(v1, "MANIFEST: line 2: not sorted");
        free(fresh_copy());
        /* A truncated file. */
        sh("truncate -s 0 '%s/%s'", v1, "billing_events.csv");
        refused(v1, "billing_events.csv: SHA-256 mismatch");
        free(fresh_copy());
}

/* Files of a tree, for comparing installs: path, mode, owner, mtime and
 * content of each entry. */
static char listing[1 << 16];
static size_t listing_len;
static const char *listing_root;

static int add_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int n;

        (void)ftw;
        if (flag == FTW_F)
                assert_int_equal(ob_read_file(path, 1 << 24, &text, &len), 0);
        if (S_ISDIR(st->st_mode) || S_ISREG(st->st_mode))
                assert_int_equal(st->st_mtim.tv_sec, 0);
        n = snprintf(listing + listing_len, sizeof(listing) - listing_len,
                     "%s %o %u:%u %lld %zu %08x\n", path + strlen(listing_root),
                     (unsigned)st->st_mode, (unsigned)st->st_uid, (unsigned)st->st_gid,
                     (long long)st->st_mtim.tv_sec, len, text ? (unsigned)strlen(text) : 0u);
        listing_len += (size_t)n;
        return 0;
}

static char *tree_listing(const char *root)
{
        listing_len = 0;
        listing_root = root;
        assert_int_equal(nftw(root, add_entry, 16, FTW_PHYS), 0);
        return strndup(listing, listing_len);
}

static bool same_bytes(const char *a, const char *b)
{
        _cleanup_free_ char *cmd = NULL;

        assert_true(asprintf(&cmd, "diff -r '%s' '%s' >/dev/null", a, b) > 0);
        return system(cmd) == 0;
}

static void test_install(void **state)
{
        _cleanup_free_ char *v1 = fresh_copy(), *d1 = sub("ws1"), *d2 = sub("ws2");
        _cleanup_free_ char *s1 = NULL, *s2 = NULL, *l1 = NULL, *l2 = NULL;
        uid_t uid = geteuid() == 0 ? 4242 : geteuid();
        gid_t gid = geteuid() == 0 ? 4343 : getegid();
        ob_error err = {0};
        struct stat st;

        assert_int_equal(mkdir(d1, 0755), 0);
        assert_int_equal(mkdir(d2, 0700), 0);
        assert_true(asprintf(&s1, "%s/seed", d1) > 0 && asprintf(&s2, "%s/seed", d2) > 0);
        assert_int_equal(ob_seed_install("synthetic:v1", d1, uid, gid, &err), 0);
        sleep(1); /* a second install at another time must not differ */
        assert_int_equal(ob_seed_install("synthetic:v1", d2, uid, gid, &err), 0);
        l1 = tree_listing(s1);
        l2 = tree_listing(s2);
        assert_string_equal(l1, l2);
        assert_true(same_bytes(s1, s2));
        assert_true(same_bytes(s1, v1));
        assert_int_equal(lstat(s1, &st), 0);
        assert_int_equal(st.st_mode, S_IFDIR | 0755);
        assert_int_equal(st.st_uid, uid);
        assert_int_equal(st.st_mtim.tv_sec, 0);
        free(s2);
        assert_true(asprintf(&s2, "%s/users.csv", s1) > 0);
        assert_int_equal(lstat(s2, &st), 0);
        assert_int_equal(st.st_mode, S_IFREG | 0644);
        assert_int_equal(st.st_gid, gid);
        assert_non_null(strstr(l1, "/MANIFEST 100644"));

        /* The destination's seed/ exists: refused, left as it was. */
        assert_int_equal(ob_seed_install("synthetic:v1", d1, uid, gid, &err), -EEXIST);
        assert_non_null(strstr(err.message, "already exists"));
        free(l2);
        l2 = tree_listing(s1);
        assert_string_equal(l1, l2);
}

/* Only "." and ".." in dir. */
static void assert_empty_dir(const char *dir)
{
        _cleanup_free_ char *cmd = NULL;

        assert_true(asprintf(&cmd, "test -z \"$(ls -A '%s')\"", dir) > 0);
        if (system(cmd) != 0)
                fail_msg("%s is not empty", dir);
}

static void test_failed_install(void **state)
{
        _cleanup_free_ char *v1 = fresh_copy(), *d = sub("ws3");
        ob_error err = {0};

        assert_int_equal(mkdir(d, 0755), 0);
        sh("cd '%s' && printf Y | dd of=roles.csv bs=1 seek=10 conv=notrunc status=none", v1);
        assert_int_equal(ob_seed_install("synthetic:v1", d, 0, 0, &err), -EBADMSG);
        assert_string_equal(err.code, "seed_corrupt");
        assert_non_null(strstr(err.message, "roles.csv"));
        assert_empty_dir(d);
        free(fresh_copy());
        sh("cd '%s' && ln -s /etc/hostname z-link", v1);
        assert_int_equal(ob_seed_install("synthetic:v1", d, 0, 0, &err), -EBADMSG);
        assert_empty_dir(d);
        assert_int_equal(ob_seed_install("synthetic:v9", d, 0, 0, &err), -ENOENT);
        assert_string_equal(err.code, "not_found");
        assert_empty_dir(d);
        /* A destination that cannot be written: nothing made. */
        free(fresh_copy());
        if (geteuid() != 0) {
                assert_int_equal(chmod(d, 0555), 0);
                assert_true(ob_seed_install("synthetic:v1", d, getuid(), getgid(), &err) < 0);
                assert_int_equal(chmod(d, 0755), 0);
                assert_empty_dir(d);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ref),
            cmocka_unit_test(test_tampered),
            cmocka_unit_test(test_install),
            cmocka_unit_test(test_failed_install),
        };
        int r;

        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        sh("rm -rf '%s'", tmpdir);
        return r;
}
