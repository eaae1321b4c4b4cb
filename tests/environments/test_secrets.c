/* SPDX-License-Identifier: Apache-2.0 */
/* Sealed secrets against real files under /var/tmp: the host key's checks,
 * AES-256-GCM roundtrip and tamper detection, no plaintext on disk,
 * revocation, rotation, names and --secret arguments. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "environments/secrets.h"
#include "runner/runner.h"
#include "test_util.h"

static char tmpdir[] = "/var/tmp/ob-secrets-XXXXXX";
static const char value[] = "hunter2-plaintext-Zq9xW";

static const uint8_t *needle;
static size_t needle_len;
static int hits;

static int grep_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        char *buf = NULL;
        size_t len = 0;

        if (flag != FTW_F || !S_ISREG(st->st_mode))
                return 0;
        assert_int_equal(ob_read_file(path, 1 << 24, &buf, &len), 0);
        if (memmem(buf, len, needle, needle_len))
                hits++;
        free(buf);
        return 0;
}

/* How many files under dir contain the bytes. */
static int grep_tree(const char *dir, const void *bytes, size_t len)
{
        needle = bytes;
        needle_len = len;
        hits = 0;
        assert_int_equal(nftw(dir, grep_file, 16, FTW_PHYS), 0);
        return hits;
}

static char *sub(const char *name)
{
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

static void test_key(void **state)
{
        _cleanup_free_ char *dir = sub("keys"), *path = NULL;
        uint8_t k1[32], k2[32];
        ob_error err = {0};
        struct stat st;

        assert_int_equal(mkdir(dir, 0700), 0);
        assert_true(asprintf(&path, "%s/secrets.key", dir) > 0);
        assert_int_equal(ob_secret_key_load(dir, k1, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0400);
        assert_int_equal(st.st_size, 32);
        assert_int_equal(st.st_uid, geteuid());
        assert_int_equal(ob_secret_key_load(dir, k2, &err), 0);
        assert_memory_equal(k1, k2, 32);

        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(ob_secret_key_load(dir, k2, &err), -EPERM);
        assert_non_null(strstr(err.message, "group/other"));
        assert_int_equal(chmod(path, 0400), 0);
        if (geteuid() == 0) {
                assert_int_equal(chown(path, 1234, 1234), 0);
                assert_int_equal(ob_secret_key_load(dir, k2, &err), -EPERM);
                assert_non_null(strstr(err.message, "owned by uid 1234"));
                assert_int_equal(chown(path, 0, 0), 0);
        }
        /* Not a regular file: a symlink to it, and a directory. */
        (void)unlink(path);
        assert_int_equal(symlink("/etc/hostname", path), 0);
        assert_int_equal(ob_secret_key_load(dir, k2, &err), -EPERM);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_int_equal(ob_secret_key_load(dir, k2, &err), -EPERM);
        assert_non_null(strstr(err.message, "not a regular file"));
        assert_int_equal(rmdir(path), 0);
        /* A fresh key differs from the old one. */
        assert_int_equal(ob_secret_key_load(dir, k2, &err), 0);
        assert_memory_not_equal(k1, k2, 32);
}

static void test_roundtrip_and_tamper(void **state)
{
        _cleanup_free_ char *env = sub("env-a"), *blob_path = NULL, *blob = NULL;
        uint8_t key[32], *out = NULL;
        size_t len = 0, blob_len = 0;
        ob_error err = {0};
        struct stat st;

        assert_int_equal(ob_secret_key_load(tmpdir, key, &err), 0);
        assert_int_equal(mkdir(env, 0700), 0);
        assert_int_equal(ob_secrets_put(env, key, "env-a", "API_TOKEN", value, strlen(value), &err),
                         0);
        assert_int_equal(ob_secrets_get(env, key, "env-a", "API_TOKEN", &out, &len, &err), 0);
        assert_int_equal(len, strlen(value));
        assert_memory_equal(out, value, len);
        ob_secret_free(out, len);
        assert_int_equal(ob_secrets_get(env, key, "env-a", "NOPE", &out, &len, &err), -ENOENT);
        assert_string_equal(err.code, "not_found");

        assert_true(asprintf(&blob_path, "%s/secrets/API_TOKEN", env) > 0);
        assert_int_equal(stat(blob_path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(ob_read_file(blob_path, 1 << 20, &blob, &blob_len), 0);
        assert_int_equal(blob_len, 4 + 12 + strlen(value) + 16);
        assert_memory_equal(blob, "OBS1", 4);
        /* The plaintext is in no file under the state dir. */
        assert_int_equal(grep_tree(tmpdir, value, strlen(value)), 0);

        /* A flipped bit anywhere: magic, nonce, ciphertext, tag. */
        for (size_t i = 0; i < blob_len; i++) {
                blob[i] ^= 0x01;
                assert_int_equal(unlink(blob_path), 0);
                assert_int_equal(ob_write_file_mode(blob_path, blob, blob_len, 0600), 0);
                out = NULL;
                assert_int_equal(ob_secrets_get(env, key, "env-a", "API_TOKEN", &out, &len, &err),
                                 -EBADMSG);
                assert_null(out);
                blob[i] ^= 0x01;
        }
        /* Truncated. */
        assert_int_equal(unlink(blob_path), 0);
        assert_int_equal(ob_write_file_mode(blob_path, blob, blob_len - 1, 0600), 0);
        assert_int_equal(ob_secrets_get(env, key, "env-a", "API_TOKEN", &out, &len, &err),
                         -EBADMSG);
        assert_int_equal(unlink(blob_path), 0);
        assert_int_equal(ob_write_file_mode(blob_path, blob, blob_len, 0600), 0);
        assert_int_equal(ob_secrets_get(env, key, "env-a", "API_TOKEN", &out, &len, &err), 0);
        ob_secret_free(out, len);

        /* Moved to another name, or read as another environment. */
        _cleanup_free_ char *other = NULL;
        assert_true(asprintf(&other, "%s/secrets/OTHER", env) > 0);
        assert_int_equal(ob_write_file_mode(other, blob, blob_len, 0600), 0);
        assert_int_equal(ob_secrets_get(env, key, "env-a", "OTHER", &out, &len, &err), -EBADMSG);
        assert_string_equal(err.code, "invalid");
        assert_int_equal(ob_secrets_get(env, key, "env-b", "API_TOKEN", &out, &len, &err),
                         -EBADMSG);
        /* Another key. */
        key[0] ^= 1;
        assert_int_equal(ob_secrets_get(env, key, "env-a", "API_TOKEN", &out, &len, &err),
                         -EBADMSG);
        key[0] ^= 1;

        /* Revocation leaves nothing. */
        char **names = NULL;
        size_t n = 0;
        assert_int_equal(ob_secrets_list(env, &names, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_string_equal(names[0], "API_TOKEN");
        assert_string_equal(names[1], "OTHER");
        ob_strv_free_n(names, n);
        assert_int_equal(ob_secrets_revoke_all(env, &err), 0);
        assert_int_equal(access(blob_path, F_OK), -1);
        _cleanup_free_ char *sd = NULL;
        assert_true(asprintf(&sd, "%s/secrets", env) > 0);
        assert_int_equal(access(sd, F_OK), -1);
        assert_int_equal(grep_tree(tmpdir, blob + 16, blob_len - 16), 0);
        assert_int_equal(ob_secrets_revoke_all(env, &err), 0);
        assert_int_equal(ob_secrets_list(env, &names, &n, &err), 0);
        assert_int_equal(n, 0);
        /* Empty value works. */
        assert_int_equal(ob_secrets_put(env, key, "env-a", "EMPTY", "", 0, &err), 0);
        assert_int_equal(ob_secrets_get(env, key, "env-a", "EMPTY", &out, &len, &err), 0);
        assert_int_equal(len, 0);
        ob_secret_free(out, len);
        assert_int_equal(ob_secrets_revoke_all(env, &err), 0);
}

static void test_rotate(void **state)
{
        _cleanup_free_ char *env = sub("env-r"), *p1 = NULL, *p2 = NULL;
        char *b1 = NULL, *b2 = NULL, *a1 = NULL, *a2 = NULL;
        size_t l1, l2, m1, m2, len;
        uint8_t key[32], *out;
        char gen[33];
        ob_error err = {0};
        const char *generated[] = {"DB_PASSWORD"};

        assert_int_equal(ob_secret_key_load(tmpdir, key, &err), 0);
        assert_int_equal(mkdir(env, 0700), 0);
        assert_int_equal(ob_secret_generate(gen), 0);
        assert_int_equal(strlen(gen), 32);
        assert_int_equal(strspn(gen, "0123456789abcdef"), 32);
        assert_int_equal(ob_secrets_put(env, key, "env-r", "USER_KEY", value, strlen(value), &err),
                         0);
        assert_int_equal(ob_secrets_put(env, key, "env-r", "DB_PASSWORD", gen, 32, &err), 0);
        assert_true(asprintf(&p1, "%s/secrets/USER_KEY", env) > 0);
        assert_true(asprintf(&p2, "%s/secrets/DB_PASSWORD", env) > 0);
        assert_int_equal(ob_read_file(p1, 1 << 20, &b1, &l1), 0);
        assert_int_equal(ob_read_file(p2, 1 << 20, &b2, &l2), 0);

        assert_int_equal(ob_secrets_rotate(env, key, "env-r", generated, 1, &err), 0);
        assert_int_equal(ob_read_file(p1, 1 << 20, &a1, &m1), 0);
        assert_int_equal(ob_read_file(p2, 1 << 20, &a2, &m2), 0);
        assert_int_equal(l1, m1);
        assert_memory_not_equal(b1, a1, l1);
        assert_memory_not_equal(b2, a2, l2);
        assert_int_equal(ob_secrets_get(env, key, "env-r", "USER_KEY", &out, &len, &err), 0);
        assert_memory_equal(out, value, strlen(value));
        ob_secret_free(out, len);
        assert_int_equal(ob_secrets_get(env, key, "env-r", "DB_PASSWORD", &out, &len, &err), 0);
        assert_int_equal(len, 32);
        assert_memory_not_equal(out, gen, 32);
        ob_secret_free(out, len);

        /* A tampered blob stops the rotation before anything changes. */
        free(a2);
        assert_int_equal(ob_read_file(p2, 1 << 20, &a2, &m2), 0);
        a1[m1 - 1] ^= 1;
        assert_int_equal(unlink(p1), 0);
        assert_int_equal(ob_write_file_mode(p1, a1, m1, 0600), 0);
        assert_int_equal(ob_secrets_rotate(env, key, "env-r", generated, 1, &err), -EBADMSG);
        free(b2);
        assert_int_equal(ob_read_file(p2, 1 << 20, &b2, &l2), 0);
        assert_memory_equal(a2, b2, l2);
        assert_int_equal(ob_secrets_revoke_all(env, &err), 0);
        free(b1), free(b2), free(a1), free(a2);

        char fp[13], fp2[13];
        ob_secret_fingerprint(key, value, strlen(value), fp);
        assert_int_equal(strlen(fp), 12);
        key[5] ^= 1;
        ob_secret_fingerprint(key, value, strlen(value), fp2);
        assert_string_not_equal(fp, fp2);
}

static void test_names_and_args(void **state)
{
        const char *good[] = {
            "A",  "_",   "API_TOKEN",
            "X9", "LDX", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
        const char *bad[] = {
            "",      "a",
            "9A",    "A-B",
            "A B",   "PATH",
            "HOME",  "LANG",
            "USER",  "LOGNAME",
            "SHELL", "TERM",
            "PWD",   "LD_PRELOAD",
            "LD_",   "OMNIBASE_X",
            "Ä",     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
        ob_error err = {0};

        for (size_t i = 0; i < ARRAY_SIZE(good); i++)
                assert_int_equal(ob_secret_name_check(good[i], &err), 0);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                err = (ob_error){0};
                if (ob_secret_name_check(bad[i], &err) != -EINVAL)
                        fail_msg("name \"%s\" accepted", bad[i]);
                assert_string_equal(err.code, "invalid");
        }

        _cleanup_free_ char *file = sub("arg.txt"), *big = sub("big.txt"), *arg = NULL;
        char *name = NULL;
        uint8_t *v = NULL;
        size_t len = 0;
        assert_int_equal(ob_write_file_mode(file, value, strlen(value), 0600), 0);
        assert_true(asprintf(&arg, "TOK=@%s", file) > 0);
        assert_int_equal(ob_secret_read_arg(arg, &name, &v, &len, &err), 0);
        assert_string_equal(name, "TOK");
        assert_int_equal(len, strlen(value));
        assert_memory_equal(v, value, len);
        free(name);
        ob_secret_free(v, len);

        err = (ob_error){0};
        assert_int_equal(ob_secret_read_arg("FOO=@/x/y", &name, &v, &len, &err), -ENOENT);
        assert_string_equal(err.message, "secret FOO: /x/y: No such file or directory");
        assert_string_equal(err.code, "invalid");
        assert_int_equal(ob_secret_read_arg("FOO=@/var/tmp", &name, &v, &len, &err), -EISDIR);
        assert_int_equal(ob_secret_read_arg("FOO=bar", &name, &v, &len, &err), -EINVAL);
        assert_int_equal(ob_secret_read_arg("FOO", &name, &v, &len, &err), -EINVAL);
        assert_int_equal(ob_secret_read_arg("FOO=@", &name, &v, &len, &err), -EINVAL);
        assert_int_equal(ob_secret_read_arg("PATH=@/etc/hostname", &name, &v, &len, &err), -EINVAL);
        assert_int_equal(ob_secret_read_arg("FOO=@/dev/null", &name, &v, &len, &err), -EINVAL);
        _cleanup_free_ char *junk = calloc(1, OB_SECRET_MAX_BYTES + 1), *barg = NULL;
        assert_int_equal(ob_write_file_mode(big, junk, OB_SECRET_MAX_BYTES + 1, 0600), 0);
        assert_true(asprintf(&barg, "BIG=@%s", big) > 0);
        assert_int_equal(ob_secret_read_arg(barg, &name, &v, &len, &err), -EFBIG);
        assert_non_null(strstr(err.message, "secret BIG:"));
        /* Exactly the maximum is fine. */
        assert_int_equal(truncate(big, OB_SECRET_MAX_BYTES), 0);
        assert_int_equal(ob_secret_read_arg(barg, &name, &v, &len, &err), 0);
        assert_int_equal(len, OB_SECRET_MAX_BYTES);
        free(name);
        ob_secret_free(v, len);
}

static void test_limit(void **state)
{
        _cleanup_free_ char *env = sub("env-l");
        uint8_t key[32];
        ob_error err = {0};
        char name[16];

        assert_int_equal(ob_secret_key_load(tmpdir, key, &err), 0);
        assert_int_equal(mkdir(env, 0700), 0);
        for (int i = 0; i < OB_SECRET_MAX_NAMES; i++) {
                snprintf(name, sizeof(name), "S%d", i);
                assert_int_equal(ob_secrets_put(env, key, "e", name, "v", 1, &err), 0);
        }
        assert_int_equal(ob_secrets_put(env, key, "e", "S0", "w", 1, &err), 0); /* replace */
        assert_int_equal(ob_secrets_put(env, key, "e", "ONE_MORE", "v", 1, &err), -E2BIG);
        assert_int_equal(ob_secrets_revoke_all(env, &err), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_key),    cmocka_unit_test(test_roundtrip_and_tamper),
            cmocka_unit_test(test_rotate), cmocka_unit_test(test_names_and_args),
            cmocka_unit_test(test_limit),
        };
        int r;

        if (!mkdtemp(tmpdir))
                ob_test_skip("cannot make a directory under /var/tmp");
        r = cmocka_run_group_tests(tests, NULL, NULL);
        ob_rm_rf(tmpdir);
        return r;
}
