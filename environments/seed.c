/* SPDX-License-Identifier: Apache-2.0 */
/* Seed profiles: finding a bundle, checking it against its MANIFEST of
 * SHA-256 sums (OpenSSL EVP) and installing it byte for byte with fixed
 * modes and mtimes (docs/environments-templates.md §Seeds). */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "environments/seed.h"
#include "environments/seed_internal.h"

#define SEED_MANIFEST_MAX (1024 * 1024)

static bool valid_part(const char *s, size_t n, bool version)
{
        size_t i = version ? 1 : 0;

        if (version ? (n < 2 || n > 7 || s[0] != 'v') : (n < 1 || n > 63))
                return false;
        if (!version && !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
                return false;
        for (; i < n; i++) {
                bool ok = isdigit((unsigned char)s[i]) ||
                          (!version && (islower((unsigned char)s[i]) || s[i] == '-'));
                if (!ok)
                        return false;
        }
        return true;
}

/* Splits "name:version". */
int ob_seed_parse_ref(const char *ref, char **ret_name, char **ret_version, ob_error *err)
{
        const char *colon = ref ? strchr(ref, ':') : NULL;
        char *name, *version;

        if (err)
                err->code = NULL;
        if (!colon || !valid_part(ref, (size_t)(colon - ref), false) ||
            !valid_part(colon + 1, strlen(colon + 1), true))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "invalid seed \"%s\" (expected NAME:vN, e.g. "
                                         "synthetic:v1)",
                                         ref ? ref : "");
        name = strndup(ref, (size_t)(colon - ref));
        version = strdup(colon + 1);
        if (!name || !version) {
                free(name);
                free(version);
                return -ENOMEM;
        }
        *ret_name = name;
        *ret_version = version;
        return 0;
}

static void seed_dirs(const char *ret[2])
{
        const char *env = getenv("OMNIBASE_SEED_DIR");

        ret[0] = env && env[0] ? env : OB_SOURCE_SEED_DIR;
        ret[1] = OB_INSTALLED_SEED_DIR;
}

/* The bundle's directory: the first seeds/<name>/<version> that is one. */
int ob_seed_find(const char *ref, char **ret_dir, ob_error *err)
{
        _cleanup_free_ char *name = NULL, *version = NULL;
        const char *dirs[2];
        int r;

        r = ob_seed_parse_ref(ref, &name, &version, err);
        if (r < 0)
                return r;
        seed_dirs(dirs);
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                struct stat st;
                char *path;
                if (asprintf(&path, "%s/%s/%s", dirs[i], name, version) < 0)
                        return -ENOMEM;
                if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                        *ret_dir = path;
                        return 0;
                }
                free(path);
        }
        return ob_error_set_code(err, "not_found", ENOENT, "seed %s not found in %s, %s", ref,
                                 dirs[0], dirs[1]);
}

int ob_seed_manifest_sha256(const char *ref, char hex[65], ob_error *err)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        _cleanup_close_ int fd = -1;
        uint8_t md[32];
        uint64_t total = 0;
        int r = ob_seed_find(ref, &dir, err);

        if (r >= 0)
                r = ob_seed_verify(dir, ref, err);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/MANIFEST", dir) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || (r = seed_hash_fd(fd, -1, md, &total)) < 0)
                return seed_corrupt(err, ref, "MANIFEST", "cannot read: %s",
                                    strerror(fd < 0 ? errno : -r));
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return 0;
}

int seed_corrupt(ob_error *err, const char *ref, const char *file, const char *fmt, ...)
{
        if (err) {
                char why[256];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(why, sizeof(why), fmt, ap);
                va_end(ap);
                ob_error_set_code(err, "seed_corrupt", EBADMSG, "seed %s: %s: %s", ref, file, why);
        }
        return -EBADMSG;
}

void seed_bundle_done(seed_bundle *b)
{
        for (size_t i = 0; i < b->n; i++)
                free(b->entries[i].path);
        free(b->entries);
        free(b->manifest);
        *b = (seed_bundle){0};
}

/* A bundle path: relative, no empty, "." or ".." component, no "MANIFEST"
 * at the top, printable ASCII without spaces. */
static bool valid_path(const char *p)
{
        const char *c = p;

        if (!*p || strlen(p) >= PATH_MAX / 2 || streq(p, "MANIFEST"))
                return false;
        for (const char *s = p; *s; s++)
                if (*s <= ' ' || *s >= 0x7f || *s == '\\')
                        return false;
        while (*c) {
                size_t n = strcspn(c, "/");
                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                c += n;
                if (*c == '/' && !*++c)
                        return false;
        }
        return true;
}

static int hex_digest(const char *s, uint8_t out[32])
{
        for (int i = 0; i < 32; i++) {
                int v = 0;
                for (int k = 0; k < 2; k++) {
                        char ch = s[2 * i + k];
                        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                                         : -1;
                        if (d < 0)
                                return -EINVAL;
                        v = v * 16 + d;
                }
                out[i] = (uint8_t)v;
        }
        return 0;
}

static int manifest_line(seed_bundle *b, char *line, size_t lineno, const char *ref, ob_error *err)
{
        seed_entry *e;

        if (strlen(line) < 67 || line[64] != ' ' || line[65] != ' ' || !valid_path(line + 66))
                return seed_corrupt(err, ref, "MANIFEST", "line %zu: expected \"<64 hex>  <path>\"",
                                    lineno);
        if (b->n >= OB_SEED_MAX_FILES)
                return seed_corrupt(err, ref, "MANIFEST", "more than %d files", OB_SEED_MAX_FILES);
        if (b->n > 0 && strcmp(b->entries[b->n - 1].path, line + 66) >= 0)
                return seed_corrupt(err, ref, "MANIFEST",
                                    "line %zu: not sorted by path or a "
                                    "duplicate",
                                    lineno);
        e = &b->entries[b->n];
        if (hex_digest(line, e->sha) < 0)
                return seed_corrupt(err, ref, "MANIFEST",
                                    "line %zu: expected 64 lowercase hex digits", lineno);
        e->path = strdup(line + 66);
        if (!e->path)
                return -ENOMEM;
        b->n++;
        return 0;
}

/* Reads and parses dirfd's MANIFEST into *b. */
int seed_manifest_read(int dirfd, const char *ref, seed_bundle *b, ob_error *err)
{
        _cleanup_free_ char *copy = NULL;
        _cleanup_close_ int fd = -1;
        char *line, *save = NULL;
        size_t lineno = 0, lines = 0;
        char path[32];
        int r;

        fd = openat(dirfd, "MANIFEST", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return seed_corrupt(err, ref, "MANIFEST", "cannot open: %s", strerror(errno));
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        r = ob_read_file(path, SEED_MANIFEST_MAX, &b->manifest, &b->manifest_len);
        if (r < 0)
                return seed_corrupt(err, ref, "MANIFEST", "cannot read: %s", strerror(-r));
        if (b->manifest_len == 0 || b->manifest[b->manifest_len - 1] != '\n' ||
            strlen(b->manifest) != b->manifest_len)
                return seed_corrupt(err, ref, "MANIFEST", "expected lines ending in a newline");
        for (size_t i = 0; i < b->manifest_len; i++)
                lines += b->manifest[i] == '\n';
        b->entries = calloc(lines, sizeof(seed_entry));
        copy = strdup(b->manifest);
        if (!b->entries || !copy)
                return -ENOMEM;
        for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                r = manifest_line(b, line, ++lineno, ref, err);
                if (r < 0)
                        return r;
        }
        if (lineno != lines)
                return seed_corrupt(err, ref, "MANIFEST", "empty line");
        return 0;
}

/* Hashes fd to its end, writing the bytes to out_fd too when >= 0. */
int seed_hash_fd(int fd, int out_fd, uint8_t md[32], uint64_t *total)
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned int mdlen = 0;
        char buf[65536];
        int r = 0;

        if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(ctx);
                return -ENOMEM;
        }
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? negative_errno() : 0;
                        break;
                }
                *total += (uint64_t)n;
                if (*total > OB_SEED_MAX_BYTES) {
                        r = -EFBIG;
                        break;
                }
                if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
                        r = -EIO;
                        break;
                }
                for (ssize_t off = 0; out_fd >= 0 && off < n;) {
                        ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0) {
                                r = negative_errno();
                                break;
                        }
                        off += w;
                }
                if (r < 0)
                        break;
        }
        if (r == 0 && (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32))
                r = -EIO;
        EVP_MD_CTX_free(ctx);
        return r;
}
