/* SPDX-License-Identifier: Apache-2.0 */
/* The snapshot's view of a directory tree: a walk that never follows a
 * symlink, SHA-256 of every file (OpenSSL EVP), the MANIFEST text (sorted,
 * so the tree hash is the same on every machine) and its strict parser. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "environments/snapshot-internal.h"

int ob_sha256_init(ob_sha256 *s)
{
        s->ctx = EVP_MD_CTX_new();
        if (!s->ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
                ob_sha256_done(s);
                return -EIO;
        }
        return 0;
}

int ob_sha256_update(ob_sha256 *s, const void *data, size_t len)
{
        return EVP_DigestUpdate(s->ctx, data, len) == 1 ? 0 : -EIO;
}

int ob_sha256_final(ob_sha256 *s, char ret[OB_SNAPSHOT_HASH_HEX])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        int ok = EVP_DigestFinal_ex(s->ctx, md, &n) == 1 && n == 32;

        ob_sha256_done(s);
        if (!ok)
                return -EIO;
        for (unsigned i = 0; i < 32; i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
        return 0;
}

void ob_sha256_done(ob_sha256 *s)
{
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
}

int ob_sha256_hex(const void *data, size_t len, char ret[OB_SNAPSHOT_HASH_HEX])
{
        ob_sha256 s;
        int r = ob_sha256_init(&s);

        if (r >= 0 && (r = ob_sha256_update(&s, data, len)) < 0)
                ob_sha256_done(&s);
        return r < 0 ? r : ob_sha256_final(&s, ret);
}

int ob_snap_corrupt(ob_error *err, const char *fmt, ...)
{
        if (err) {
                va_list ap;
                char msg[sizeof(err->message) - 32];
                va_start(ap, fmt);
                vsnprintf(msg, sizeof(msg), fmt, ap);
                va_end(ap);
                ob_error_set_code(err, "snapshot_corrupt", EBADMSG, "snapshot corrupt: %s", msg);
        }
        return -EBADMSG;
}

void ob_snap_tree_done(ob_snap_tree *t)
{
        for (size_t i = 0; i < t->n; i++) {
                free(t->v[i].path);
                free(t->v[i].target);
        }
        free(t->v);
        *t = (ob_snap_tree){0};
}

/* A new zeroed entry at the end of t; NULL when out of memory or over the bound. */
static ob_snap_entry *tree_add(ob_snap_tree *t)
{
        if (t->n >= OB_SNAPSHOT_MAX_FILES)
                return NULL;
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 64;
                ob_snap_entry *v = reallocarray(t->v, cap, sizeof(*v));
                if (!v)
                        return NULL;
                t->v = v;
                t->cap = cap;
        }
        t->v[t->n] = (ob_snap_entry){0};
        return &t->v[t->n++];
}

int ob_snap_hash_fd(int fd, int64_t *ret_size, char ret[OB_SNAPSHOT_HASH_HEX])
{
        char buf[65536];
        ob_sha256 s;
        int64_t size = 0;
        int r = ob_sha256_init(&s);

        while (r >= 0) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? negative_errno() : 0;
                        break;
                }
                size += n;
                r = ob_sha256_update(&s, buf, (size_t)n);
        }
        if (r < 0) {
                ob_sha256_done(&s);
                return r;
        }
        *ret_size = size;
        return ob_sha256_final(&s, ret);
}

static int scan_dir(int dfd, const char *prefix, int depth, ob_snap_tree *t, ob_error *err);

static int scan_link(int dfd, const char *name, ob_snap_entry *e, ob_error *err)
{
        char target[PATH_MAX];
        ssize_t n = readlinkat(dfd, name, target, sizeof(target));

        if (n < 0 || n >= (ssize_t)sizeof(target))
                return ob_error_set(err, 0, 0, n < 0 ? errno : ENAMETOOLONG,
                                    "snapshot: readlink %s", e->path);
        e->type = 'l';
        e->mode = 0777;
        e->target = strndup(target, (size_t)n);
        if (!e->target)
                return -ENOMEM;
        return ob_sha256_hex(target, (size_t)n, e->hash);
}

static int scan_file(int dfd, const char *name, ob_snap_entry *e, ob_snap_tree *t, ob_error *err)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        int r;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return ob_error_set(err, 0, 0, fd < 0 ? errno : EAGAIN,
                                    "snapshot: %s changed or unreadable", e->path);
        e->type = 'f';
        r = ob_snap_hash_fd(fd, &e->size, e->hash);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "snapshot: reading %s: %s", e->path,
                                    strerror(-r));
        t->bytes += e->size;
        if (t->bytes > OB_SNAPSHOT_MAX_BYTES)
                return ob_error_set(err, 0, 0, EFBIG, "snapshot: over %lld bytes",
                                    (long long)OB_SNAPSHOT_MAX_BYTES);
        return 0;
}

/* Records directory e and walks it (e may move: t grows). */
static int scan_subdir(int dfd, const char *name, ob_snap_entry *e, int depth, ob_snap_tree *t,
                       ob_error *err)
{
        _cleanup_free_ char *sub_prefix = NULL;
        int sub, r;

        e->type = 'd';
        r = ob_sha256_hex("", 0, e->hash);
        if (r < 0)
                return r;
        if (asprintf(&sub_prefix, "%s/", e->path) < 0)
                return -ENOMEM;
        sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: %s: %s", e->path, strerror(errno));
        return scan_dir(sub, sub_prefix, depth + 1, t, err); /* consumes sub */
}

/* Records one directory entry (and, for a directory, what is under it). */
static int scan_one(int dfd, const char *prefix, const char *name, int depth, ob_snap_tree *t,
                    ob_error *err)
{
        ob_snap_entry *e;
        struct stat st;
        char *path = NULL;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: %s%s: %s", prefix, name,
                                    strerror(errno));
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
                return 0; /* sockets, fifos, devices: nothing to keep */
        if (strchr(name, '\n'))
                return ob_error_set(err, 0, 0, EINVAL, "snapshot: a file name with a newline in %s",
                                    prefix[0] ? prefix : ".");
        if (asprintf(&path, "%s%s", prefix, name) < 0)
                return -ENOMEM;
        e = tree_add(t);
        if (!e) {
                free(path);
                return ob_error_set(err, 0, 0, E2BIG, "snapshot: over %d files or out of memory",
                                    OB_SNAPSHOT_MAX_FILES);
        }
        e->path = path;
        e->mode = st.st_mode & 0777;
        if (S_ISLNK(st.st_mode))
                return scan_link(dfd, name, e, err);
        if (S_ISDIR(st.st_mode))
                return scan_subdir(dfd, name, e, depth, t, err);
        return scan_file(dfd, name, e, t, err);
}

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

/* Walks dfd (consumed) whose entries' paths start with prefix. */
static int scan_dir(int dfd, const char *prefix, int depth, ob_snap_tree *t, ob_error *err)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        if (depth > OB_SNAP_MAX_DEPTH) {
                close(dfd);
                return ob_error_set(err, 0, 0, ELOOP, "snapshot: deeper than %d directories",
                                    OB_SNAP_MAX_DEPTH);
        }
        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return negative_errno();
        }
        errno = 0;
        while ((de = readdir(d))) {
                int r;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (depth == 0 && streq(de->d_name, OB_SNAP_LOST_FOUND))
                        continue;
                r = scan_one(dirfd(d), prefix, de->d_name, depth, t, err);
                if (r < 0)
                        return r;
                errno = 0;
        }
        return errno ? negative_errno() : 0;
}

static int entry_cmp(const void *a, const void *b)
{
        return strcmp(((const ob_snap_entry *)a)->path, ((const ob_snap_entry *)b)->path);
}

int ob_snap_tree_scan(int dirfd, ob_snap_tree *ret, ob_error *err)
{
        ob_snap_tree t = {0};
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: %s", strerror(errno));
        r = scan_dir(fd, "", 0, &t, err);
        if (r < 0) {
                ob_snap_tree_done(&t);
                return r;
        }
        if (t.n)
                qsort(t.v, t.n, sizeof(*t.v), entry_cmp);
        *ret = t;
        return 0;
}

int ob_snap_manifest(const ob_snap_tree *t, char **ret_text, size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < t->n; i++)
                fprintf(f, "%s  %04o  %c  %s\n", t->v[i].hash, (unsigned)t->v[i].mode, t->v[i].type,
                        t->v[i].path);
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        if (len > OB_SNAP_MANIFEST_MAX) {
                free(buf);
                return -E2BIG;
        }
        *ret_text = buf;
        *ret_len = len;
        return 0;
}

/* A relative path of non-empty components, none "." or "..", no control
 * characters. */
static bool path_ok(const char *p, size_t len)
{
        const char *c = p, *end = p + len;

        if (len == 0 || len >= PATH_MAX)
                return false;
        while (c < end) {
                const char *slash = memchr(c, '/', (size_t)(end - c));
                size_t n = slash ? (size_t)(slash - c) : (size_t)(end - c);
                if (n == 0 || n > NAME_MAX || (n == 1 && c[0] == '.') ||
                    (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
                                return false;
                c += n + (slash ? 1 : 0);
                if (slash && c == end)
                        return false; /* trailing '/' */
        }
        return true;
}

/* Whether the parent directory of e is listed, as a directory, before it. */
static bool parent_listed(const ob_snap_tree *t, const ob_snap_entry *e)
{
        const char *slash = strrchr(e->path, '/');
        size_t lo = 0, hi = t->n;

        if (!slash)
                return true;
        _cleanup_free_ char *parent = strndup(e->path, (size_t)(slash - e->path));
        if (!parent)
                return false;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(t->v[mid].path, parent);
                if (c == 0)
                        return t->v[mid].type == 'd';
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

/* Parses one line "<hash>  <mode>  <type>  <path>" (without its '\n'). */
static int parse_line(const char *l, size_t len, ob_snap_entry *e)
{
        const size_t fixed = 64 + 2 + 4 + 2 + 1 + 2;
        unsigned mode = 0;

        if (len <= fixed || memcmp(l + 64, "  ", 2) != 0 || memcmp(l + 70, "  ", 2) != 0 ||
            memcmp(l + 73, "  ", 2) != 0)
                return -EBADMSG;
        for (int i = 0; i < 64; i++)
                if (!strchr("0123456789abcdef", l[i]) || !l[i])
                        return -EBADMSG;
        for (int i = 66; i < 70; i++) {
                if (l[i] < '0' || l[i] > '7')
                        return -EBADMSG;
                mode = mode * 8 + (unsigned)(l[i] - '0');
        }
        if (mode > 0777 || !strchr("fdl", l[72]) || !l[72])
                return -EBADMSG;
        if (!path_ok(l + fixed, len - fixed) || memchr(l + fixed, '\0', len - fixed))
                return -EBADMSG;
        e->path = strndup(l + fixed, len - fixed);
        if (!e->path)
                return -ENOMEM;
        memcpy(e->hash, l, 64);
        e->hash[64] = '\0';
        e->mode = mode;
        e->type = l[72];
        return 0;
}

int ob_snap_manifest_parse(const char *text, size_t len, ob_snap_tree *ret, ob_error *err)
{
        ob_snap_tree t = {0};
        const char *p = text, *end = text + len;
        int r = 0;

        while (p < end && r >= 0) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                ob_snap_entry *e = tree_add(&t);
                if (!nl || !e) {
                        r = ob_snap_corrupt(err, "MANIFEST: %s",
                                            nl ? "too many entries" : "no final newline");
                        break;
                }
                r = parse_line(p, (size_t)(nl - p), e);
                if (r == -EBADMSG)
                        r = ob_snap_corrupt(err, "MANIFEST line %zu malformed", t.n);
                else if (r >= 0 && t.n > 1 && strcmp(t.v[t.n - 2].path, e->path) >= 0)
                        r = ob_snap_corrupt(err, "MANIFEST line %zu out of order or repeated", t.n);
                else if (r >= 0 && !parent_listed(&t, e))
                        r = ob_snap_corrupt(err,
                                            "MANIFEST line %zu: parent not a listed "
                                            "directory",
                                            t.n);
                p = nl + 1;
        }
        if (r < 0) {
                ob_snap_tree_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

int ob_snap_open_parent(int rootfd, const char *path, const char **ret_base)
{
        int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        const char *c = path;

        if (fd < 0)
                return negative_errno();
        for (const char *slash; (slash = strchr(c, '/')); c = slash + 1) {
                char name[NAME_MAX + 1];
                size_t n = (size_t)(slash - c);
                if (n == 0 || n > NAME_MAX) {
                        close(fd);
                        return -EINVAL;
                }
                memcpy(name, c, n);
                name[n] = '\0';
                int sub = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                close(fd);
                if (sub < 0)
                        return negative_errno();
                fd = sub;
        }
        *ret_base = c;
        return fd;
}
