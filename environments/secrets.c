/* SPDX-License-Identifier: Apache-2.0 */
/* Sealed secrets: AES-256-GCM (OpenSSL EVP) under the host key. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "environments/secrets.h"

#define MAGIC      "OBS1"
#define MAGIC_LEN  4
#define NONCE_LEN  12
#define TAG_LEN    16
#define BLOB_MAX   (MAGIC_LEN + NONCE_LEN + OB_SECRET_MAX_BYTES + TAG_LEN)
#define ENV_ID_MAX 256

void ob_secret_free(void *p, size_t len)
{
        if (!p)
                return;
        explicit_bzero(p, len);
        free(p);
}

void ob_strv_free_n(char **v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static int fsync_dir(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return negative_errno();
        return 0;
}

/* Reads at most max bytes of fd into buf; -EFBIG when there is more. */
static int read_bounded(int fd, uint8_t *buf, size_t max, size_t *ret_len)
{
        size_t len = 0;

        for (;;) {
                uint8_t extra;
                ssize_t n = len < max ? read(fd, buf + len, max - len) : read(fd, &extra, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                if (len >= max)
                        return -EFBIG;
                len += (size_t)n;
        }
        *ret_len = len;
        return 0;
}

/* ---- the host key ---- */

static int key_check(int fd, const char *path, ob_error *err)
{
        struct stat st;

        if (fstat(fd, &st) < 0)
                return ob_error_set_code(err, "invalid", errno, "%s: %m", path);
        if (!S_ISREG(st.st_mode))
                return ob_error_set_code(err, "invalid", EPERM, "%s: not a regular file", path);
        if (st.st_uid != geteuid())
                return ob_error_set_code(err, "invalid", EPERM,
                                         "%s: owned by uid %u, not %u: refusing the key", path,
                                         (unsigned)st.st_uid, (unsigned)geteuid());
        if (st.st_mode & 077)
                return ob_error_set_code(err, "invalid", EPERM,
                                         "%s: mode %04o gives group/other access: refusing the "
                                         "key (it must be 0400)",
                                         path, (unsigned)(st.st_mode & 07777));
        if (st.st_size != OB_SECRET_KEY_BYTES)
                return ob_error_set_code(err, "invalid", EPERM, "%s: %lld bytes, not %d", path,
                                         (long long)st.st_size, OB_SECRET_KEY_BYTES);
        return 0;
}

/* Writes a new key under a temp name and link()s it into place: link fails
 * with EEXIST when a racing creator won, and nobody ever sees a partial key. */
static int key_create(const char *state_dir, const char *path, ob_error *err)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        uint8_t key[OB_SECRET_KEY_BYTES];
        int r;

        if (asprintf(&tmp, "%s/.secrets.key.XXXXXX", state_dir) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return ob_error_set_code(err, "invalid", errno, "%s: %m", state_dir);
        r = RAND_bytes(key, sizeof(key)) == 1 ? 0 : -EIO;
        if (r == 0)
                r = ob_write_all(fd, key, sizeof(key));
        explicit_bzero(key, sizeof(key));
        if (r == 0 && (fchmod(fd, 0400) < 0 || fsync(fd) < 0))
                r = negative_errno();
        if (r == 0 && link(tmp, path) < 0)
                r = negative_errno();
        (void)unlink(tmp);
        if (r == -EEXIST)
                return 0; /* somebody else's key is in place: use it */
        if (r < 0)
                return ob_error_set_code(err, "invalid", r, "%s: %s", path, strerror(-r));
        return fsync_dir(state_dir);
}

int ob_secret_key_load(const char *state_dir, uint8_t ret_key[32], ob_error *err)
{
        _cleanup_free_ char *path = NULL;
        uint8_t key[OB_SECRET_KEY_BYTES];
        size_t len = 0;
        int r;

        if (asprintf(&path, "%s/secrets.key", state_dir) < 0)
                return -ENOMEM;
        for (int attempt = 0;; attempt++) {
                _cleanup_close_ int fd =
                    open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
                if (fd < 0 && errno == ENOENT && attempt == 0) {
                        r = key_create(state_dir, path, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (fd < 0 && errno == ELOOP)
                        return ob_error_set_code(err, "invalid", EPERM,
                                                 "%s: a symlink, not a regular file", path);
                if (fd < 0)
                        return ob_error_set_code(err, "invalid", errno, "%s: %m", path);
                r = key_check(fd, path, err);
                if (r < 0)
                        return r;
                r = read_bounded(fd, key, sizeof(key), &len);
                if (r == 0 && len != sizeof(key))
                        r = -EIO;
                if (r < 0) {
                        explicit_bzero(key, sizeof(key));
                        return ob_error_set_code(err, "invalid", r, "%s: %s", path, strerror(-r));
                }
                break;
        }
        memcpy(ret_key, key, sizeof(key));
        explicit_bzero(key, sizeof(key));
        return 0;
}

/* ---- names, arguments, values ---- */

int ob_secret_name_check(const char *name, ob_error *err)
{
        static const char *const reserved[] = {"PATH",    "HOME",  "LANG", "USER",
                                               "LOGNAME", "SHELL", "TERM", "PWD"};
        size_t len = strlen(name);

        if (len == 0 || len > OB_SECRET_NAME_MAX || (name[0] >= '0' && name[0] <= '9'))
                goto bad;
        for (size_t i = 0; i < len; i++)
                if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
                      name[i] == '_'))
                        goto bad;
        for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
                if (streq(name, reserved[i]))
                        return ob_error_set_code(err, "invalid", EINVAL,
                                                 "secret %s: a reserved variable name", name);
        if (strncmp(name, "LD_", 3) == 0 || strncmp(name, "OMNIBASE_", 9) == 0)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "secret %s: LD_* and OMNIBASE_* names are reserved", name);
        return 0;
bad:
        return ob_error_set_code(err, "invalid", EINVAL,
                                 "secret name \"%.80s\": expected [A-Z_][A-Z0-9_]{0,63}", name);
}

int ob_secret_read_arg(const char *arg, char **ret_name, uint8_t **ret_value, size_t *ret_len,
                       ob_error *err)
{
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int fd = -1;
        const char *eq = strchr(arg, '='), *file;
        uint8_t *buf;
        struct stat st;
        size_t len = 0;
        int r;

        if (!eq || eq[1] != '@' || eq[2] == '\0')
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "secret \"%.80s\": expected NAME=@FILE", arg);
        name = strndup(arg, (size_t)(eq - arg));
        if (!name)
                return -ENOMEM;
        r = ob_secret_name_check(name, err);
        if (r < 0)
                return r;
        file = eq + 2;
        fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0)
                return ob_error_set_code(err, "invalid", errno, "secret %s: %s: %m", name, file);
        if (!S_ISREG(st.st_mode))
                return ob_error_set_code(err, "invalid", S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
                                         "secret %s: %s: not a regular file", name, file);
        if (st.st_size > OB_SECRET_MAX_BYTES)
                return ob_error_set_code(err, "invalid", EFBIG,
                                         "secret %s: %s: %lld bytes, more than %d", name, file,
                                         (long long)st.st_size, OB_SECRET_MAX_BYTES);
        buf = malloc(OB_SECRET_MAX_BYTES + 1);
        if (!buf)
                return -ENOMEM;
        r = read_bounded(fd, buf, OB_SECRET_MAX_BYTES, &len);
        if (r < 0) {
                ob_secret_free(buf, OB_SECRET_MAX_BYTES + 1);
                if (r == -EFBIG)
                        return ob_error_set_code(err, "invalid", EFBIG,
                                                 "secret %s: %s: more than %d bytes", name, file,
                                                 OB_SECRET_MAX_BYTES);
                return ob_error_set_code(err, "invalid", r, "secret %s: %s: %s", name, file,
                                         strerror(-r));
        }
        buf[len] = '\0';
        *ret_name = TAKE_PTR(name);
        *ret_value = buf;
        *ret_len = len;
        return 0;
}

int ob_secret_generate(char ret[33])
{
        uint8_t rnd[16];

        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
                return -EIO;
        for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(ret + 2 * i, 3, "%02x", rnd[i]);
        explicit_bzero(rnd, sizeof(rnd));
        return 0;
}

void ob_secret_fingerprint(const uint8_t key[32], const void *value, size_t len, char ret[13])
{
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;

        if (!HMAC(EVP_sha256(), key, OB_SECRET_KEY_BYTES, value, len, md, &md_len) || md_len < 6) {
                memcpy(ret, "????????????", 13);
                return;
        }
        for (size_t i = 0; i < 6; i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
}

/* ---- the sealed store ---- */

static int check_ids(const char *env_id, const char *name, ob_error *err)
{
        size_t n = strlen(env_id);

        if (n == 0 || n > ENV_ID_MAX)
                return ob_error_set_code(err, "invalid", EINVAL, "invalid environment id");
        return ob_secret_name_check(name, err);
}

static uint8_t *make_aad(const char *env_id, const char *name, size_t *ret_len)
{
        size_t a = strlen(env_id), b = strlen(name);
        uint8_t *aad = malloc(a + 1 + b);

        if (!aad)
                return NULL;
        memcpy(aad, env_id, a + 1); /* with its NUL: the separator */
        memcpy(aad + a + 1, name, b);
        *ret_len = a + 1 + b;
        return aad;
}

static void ctx_freep(EVP_CIPHER_CTX **c)
{
        EVP_CIPHER_CTX_free(*c);
}

/* GCM in one direction over in[0..len) into out; tag is written (encrypt)
 * or checked (decrypt). Returns 0, -EBADMSG on a failed tag, -EIO. */
static int gcm(bool enc, const uint8_t key[32], const uint8_t nonce[NONCE_LEN], const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[TAG_LEN])
{
        _cleanup_(ctx_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0, fin = 0;

        if (!c || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
            EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1 ||
            EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
                return -EIO;
        if (len > 0 && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
                return -EIO;
        if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
                return -EIO;
        if (EVP_CipherFinal_ex(c, out + n, &fin) != 1)
                return enc ? -EIO : -EBADMSG;
        if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
                return -EIO;
        return 0;
}

static int open_store(const char *env_dir, bool create, char **ret_path)
{
        _cleanup_free_ char *path = NULL;
        int fd;

        if (asprintf(&path, "%s/secrets", env_dir) < 0)
                return -ENOMEM;
        if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return fd;
}

static int count_names(int dfd, const char *except, size_t *ret)
{
        DIR *d;
        struct dirent *de;
        size_t n = 0;
        int nfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (nfd < 0 || !(d = fdopendir(nfd))) {
                if (nfd >= 0)
                        close(nfd);
                return negative_errno();
        }
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && !streq(de->d_name, except))
                        n++;
        closedir(d);
        *ret = n;
        return 0;
}

/* Writes blob as dfd/name through a temp name, fsynced, renamed, dir fsynced. */
static int store_blob(int dfd, const char *name, const uint8_t *blob, size_t len)
{
        char tmp[OB_SECRET_NAME_MAX + 32];
        uint8_t rnd[6];
        _cleanup_close_ int fd = -1;
        int r;

        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
                return -EIO;
        snprintf(tmp, sizeof(tmp), ".%s.%02x%02x%02x%02x%02x%02x", name, rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5]);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        r = ob_write_all(fd, blob, len);
        if (r == 0 && (fchmod(fd, 0600) < 0 || fsync(fd) < 0))
                r = negative_errno();
        if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
                r = negative_errno();
        if (r < 0) {
                (void)unlinkat(dfd, tmp, 0);
                return r;
        }
        return fsync(dfd) < 0 ? negative_errno() : 0;
}

static int seal_into(int dfd, const uint8_t key[32], const char *env_id, const char *name,
                     const void *value, size_t len)
{
        _cleanup_free_ uint8_t *aad = NULL, *blob = NULL;
        size_t aad_len = 0, blob_len = MAGIC_LEN + NONCE_LEN + len + TAG_LEN;
        uint8_t *nonce, *ct;
        int r;

        aad = make_aad(env_id, name, &aad_len);
        blob = malloc(blob_len);
        if (!aad || !blob)
                return -ENOMEM;
        memcpy(blob, MAGIC, MAGIC_LEN);
        nonce = blob + MAGIC_LEN;
        ct = nonce + NONCE_LEN;
        if (RAND_bytes(nonce, NONCE_LEN) != 1)
                return -EIO;
        r = gcm(true, key, nonce, aad, aad_len, value, len, ct, ct + len);
        if (r < 0)
                return r;
        return store_blob(dfd, name, blob, blob_len);
}

int ob_secrets_put(const char *env_dir, const uint8_t key[32], const char *env_id, const char *name,
                   const void *value, size_t len, ob_error *err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int dfd = -1;
        size_t others = 0;
        int r;

        r = check_ids(env_id, name, err);
        if (r < 0)
                return r;
        if (len > OB_SECRET_MAX_BYTES)
                return ob_error_set_code(err, "invalid", EFBIG, "secret %s: more than %d bytes",
                                         name, OB_SECRET_MAX_BYTES);
        dfd = open_store(env_dir, true, &path);
        if (dfd < 0)
                return ob_error_set_code(err, "invalid", -dfd, "%s/secrets: %s", env_dir,
                                         strerror(-dfd));
        r = count_names(dfd, name, &others);
        if (r == 0 && others >= OB_SECRET_MAX_NAMES)
                return ob_error_set_code(err, "invalid", E2BIG,
                                         "secret %s: an environment holds at most %d secrets", name,
                                         OB_SECRET_MAX_NAMES);
        if (r == 0)
                r = seal_into(dfd, key, env_id, name, value, len);
        if (r < 0)
                return ob_error_set_code(err, "invalid", r, "secret %s: %s: %s", name, path,
                                         strerror(-r));
        return 0;
}

static int open_from(int dfd, const uint8_t key[32], const char *env_id, const char *name,
                     uint8_t **ret_value, size_t *ret_len)
{
        _cleanup_free_ uint8_t *blob = NULL, *aad = NULL;
        _cleanup_close_ int fd = -1;
        size_t len = 0, aad_len = 0, ct_len;
        uint8_t *out;
        int r;

        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        blob = malloc(BLOB_MAX);
        aad = make_aad(env_id, name, &aad_len);
        if (!blob || !aad)
                return -ENOMEM;
        r = read_bounded(fd, blob, BLOB_MAX, &len);
        if (r < 0)
                return r == -EFBIG ? -EBADMSG : r;
        if (len < MAGIC_LEN + NONCE_LEN + TAG_LEN || memcmp(blob, MAGIC, MAGIC_LEN) != 0)
                return -EBADMSG;
        ct_len = len - MAGIC_LEN - NONCE_LEN - TAG_LEN;
        out = malloc(ct_len + 1);
        if (!out)
                return -ENOMEM;
        r = gcm(false, key, blob + MAGIC_LEN, aad, aad_len, blob + MAGIC_LEN + NONCE_LEN, ct_len,
                out, blob + len - TAG_LEN);
        if (r < 0) {
                ob_secret_free(out, ct_len + 1);
                return r;
        }
        out[ct_len] = '\0';
        *ret_value = out;
        *ret_len = ct_len;
        return 0;
}

int ob_secrets_get(const char *env_dir, const uint8_t key[32], const char *env_id, const char *name,
                   uint8_t **ret_value, size_t *ret_len, ob_error *err)
{
        _cleanup_close_ int dfd = -1;
        int r;

        r = check_ids(env_id, name, err);
        if (r < 0)
                return r;
        dfd = open_store(env_dir, false, NULL);
        r = dfd < 0 ? dfd : open_from(dfd, key, env_id, name, ret_value, ret_len);
        if (r == -ENOENT)
                return ob_error_set_code(err, "not_found", ENOENT, "secret %s: not set", name);
        if (r == -EBADMSG)
                return ob_error_set_code(err, "invalid", EBADMSG,
                                         "secret %s: fails authentication (tampered, moved or "
                                         "sealed under another key)",
                                         name);
        if (r < 0)
                return ob_error_set_code(err, "invalid", r, "secret %s: %s", name, strerror(-r));
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every name in the store (no temp files), sorted; with all, temp files too. */
static int list_dir(int dfd, bool all, char ***ret, size_t *ret_n)
{
        char **v = NULL;
        size_t n = 0;
        struct dirent *de;
        int nfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;
        DIR *d;

        if (nfd < 0 || !(d = fdopendir(nfd))) {
                if (nfd >= 0)
                        close(nfd);
                return negative_errno();
        }
        while ((de = readdir(d))) {
                char **nv;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (!all && (de->d_name[0] == '.' || ob_secret_name_check(de->d_name, NULL) < 0))
                        continue;
                if (n >= 4 * OB_SECRET_MAX_NAMES + 64) {
                        r = -E2BIG;
                        break;
                }
                nv = realloc(v, (n + 1) * sizeof(*v));
                if (!nv || !(nv[n] = strdup(de->d_name))) {
                        v = nv ? nv : v;
                        r = -ENOMEM;
                        break;
                }
                v = nv;
                n++;
        }
        closedir(d);
        if (r < 0) {
                ob_strv_free_n(v, n);
                return r;
        }
        if (n > 0)
                qsort(v, n, sizeof(*v), cmp_str);
        *ret = v;
        *ret_n = n;
        return 0;
}

int ob_secrets_list(const char *env_dir, char ***ret, size_t *ret_n, ob_error *err)
{
        _cleanup_close_ int dfd = open_store(env_dir, false, NULL);
        int r;

        if (dfd == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        r = dfd < 0 ? dfd : list_dir(dfd, false, ret, ret_n);
        if (r < 0)
                return ob_error_set_code(err, "invalid", r, "%s/secrets: %s", env_dir,
                                         strerror(-r));
        return 0;
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}

typedef struct opened {
        char *name;
        uint8_t *value;
        size_t len;
} opened;

static void opened_free(opened *o, size_t n)
{
        for (size_t i = 0; i < n; i++)
                ob_secret_free(o[i].value, o[i].len);
        free(o);
}

int ob_secrets_rotate(const char *env_dir, const uint8_t key[32], const char *env_id,
                      const char *const *generated, size_t n, ob_error *err)
{
        char **names = NULL;
        size_t n_names = 0, n_open = 0;
        opened *o = NULL;
        _cleanup_close_ int dfd = -1;
        int r;

        for (size_t i = 0; i < n; i++)
                if ((r = check_ids(env_id, generated[i], err)) < 0)
                        return r;
        dfd = open_store(env_dir, n > 0, NULL);
        if (dfd == -ENOENT)
                return 0; /* nothing held, nothing generated */
        r = dfd < 0 ? dfd : list_dir(dfd, false, &names, &n_names);
        if (r < 0)
                return ob_error_set_code(err, "invalid", r, "%s/secrets: %s", env_dir,
                                         strerror(-r));
        o = calloc(n_names + n + 1, sizeof(*o));
        if (!o) {
                ob_strv_free_n(names, n_names);
                return -ENOMEM;
        }
        /* Phase 1: open (or generate) everything, changing nothing. */
        for (size_t i = 0; i < n_names + n && r >= 0; i++) {
                const char *name = i < n_names ? names[i] : generated[i - n_names];
                bool gen = in_list(generated, n, name);
                if (i >= n_names && in_list((const char *const *)names, n_names, name))
                        continue; /* held and generated: done above */
                o[n_open].name = (char *)name;
                if (gen) {
                        o[n_open].value = malloc(33);
                        o[n_open].len = 32;
                        r = !o[n_open].value ? -ENOMEM
                                             : ob_secret_generate((char *)o[n_open].value);
                } else {
                        r = open_from(dfd, key, env_id, name, &o[n_open].value, &o[n_open].len);
                }
                n_open++;
                if (r < 0)
                        r = ob_error_set_code(err, "invalid", r, "secret %s: %s", name,
                                              r == -EBADMSG ? "fails authentication: nothing "
                                                              "rotated"
                                                            : strerror(-r));
        }
        /* Phase 2: seal each under a fresh nonce. */
        for (size_t i = 0; i < n_open && r >= 0; i++) {
                r = seal_into(dfd, key, env_id, o[i].name, o[i].value, o[i].len);
                if (r < 0)
                        r = ob_error_set_code(err, "invalid", r, "secret %s: %s", o[i].name,
                                              strerror(-r));
        }
        opened_free(o, n_open);
        ob_strv_free_n(names, n_names);
        return r < 0 ? r : 0;
}

static int wipe_one(int dfd, const char *name)
{
        _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        static const uint8_t zeros[4096];
        struct stat st;

        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
                for (off_t off = 0; off < st.st_size;) {
                        size_t k = (size_t)(st.st_size - off) < sizeof(zeros)
                                       ? (size_t)(st.st_size - off)
                                       : sizeof(zeros);
                        int r = ob_write_all(fd, zeros, k);
                        if (r < 0)
                                return r;
                        off += (off_t)k;
                }
                if (fsync(fd) < 0)
                        return negative_errno();
        }
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

int ob_secrets_revoke_all(const char *env_dir, ob_error *err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int dfd = open_store(env_dir, false, &path);
        char **names = NULL;
        size_t n = 0;
        int r;

        if (dfd == -ENOENT)
                return 0;
        r = dfd < 0 ? dfd : list_dir(dfd, true, &names, &n);
        for (size_t i = 0; i < n && r >= 0; i++)
                r = wipe_one(dfd, names[i]);
        ob_strv_free_n(names, n);
        if (r == 0 && fsync(dfd) < 0)
                r = negative_errno();
        if (r == 0 && rmdir(path) < 0 && errno != ENOENT)
                r = negative_errno();
        if (r < 0)
                return ob_error_set_code(err, "invalid", r, "%s/secrets: revoking: %s", env_dir,
                                         strerror(-r));
        (void)fsync_dir(env_dir); /* best effort: the removal itself is done */
        return 0;
}
