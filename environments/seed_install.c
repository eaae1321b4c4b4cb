/* SPDX-License-Identifier: Apache-2.0 */
/* Seed bundles: walking a bundle, verifying it against its MANIFEST and
 * installing it into a workspace (*at() calls, O_NOFOLLOW, fixed modes,
 * owners and mtimes; nothing left behind on failure). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "environments/seed.h"
#include "environments/seed_internal.h"

#define SEED_MAX_DEPTH 16

typedef struct walk_item {
        char *path;
        bool bad; /* a symlink or a special file */
} walk_item;

typedef struct walk_list {
        walk_item *items;
        size_t n, cap;
} walk_list;

static void walk_list_done(walk_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i].path);
        free(l->items);
}

static int walk_add(walk_list *l, const char *prefix, const char *name, bool bad)
{
        char *p;

        if (l->n >= OB_SEED_MAX_FILES + 1)
                return -E2BIG;
        if (l->n == l->cap) {
                size_t nc = l->cap ? l->cap * 2 : 64;
                walk_item *ni = realloc(l->items, nc * sizeof(*ni));
                if (!ni)
                        return -ENOMEM;
                l->items = ni;
                l->cap = nc;
        }
        if (asprintf(&p, "%s%s%s", prefix, prefix[0] ? "/" : "", name) < 0)
                return -ENOMEM;
        l->items[l->n++] = (walk_item){p, bad};
        return 0;
}

/* Collects every entry under dfd (which it closes) but the top MANIFEST. */
static int walk(int dfd, const char *prefix, int depth, walk_list *l)
{
        DIR *d = fdopendir(dfd);
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = negative_errno();
                close(dfd);
                return r;
        }
        while (r >= 0 && (de = readdir(d))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
                    (!prefix[0] && streq(de->d_name, "MANIFEST")))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = negative_errno();
                        break;
                }
                if (S_ISDIR(st.st_mode) && depth < SEED_MAX_DEPTH) {
                        _cleanup_free_ char *sub = NULL;
                        int fd = openat(dirfd(d), de->d_name,
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0 || asprintf(&sub, "%s%s%s", prefix, prefix[0] ? "/" : "",
                                               de->d_name) < 0) {
                                r = fd < 0 ? negative_errno() : -ENOMEM;
                                if (fd >= 0)
                                        close(fd);
                                break;
                        }
                        r = walk(fd, sub, depth + 1, l);
                } else {
                        r = walk_add(l, prefix, de->d_name, !S_ISREG(st.st_mode));
                }
        }
        closedir(d);
        return r;
}

static int cmp_item(const void *a, const void *b)
{
        return strcmp(((const walk_item *)a)->path, ((const walk_item *)b)->path);
}

static int hash_file(int dfd, const char *path, int out_fd, uint8_t md[32], uint64_t *total)
{
        _cleanup_close_ int fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        struct stat st;

        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -ELOOP;
        return seed_hash_fd(fd, out_fd, md, total);
}

/* Merges the walk with the MANIFEST in path order: the first difference
 * names its file. */
static int compare(int dfd, const char *ref, const seed_bundle *b, walk_list *l, ob_error *err)
{
        size_t i = 0, j = 0;
        uint64_t total = 0;

        qsort(l->items, l->n, sizeof(walk_item), cmp_item);
        while (i < l->n || j < b->n) {
                int c = i >= l->n   ? 1
                        : j >= b->n ? -1
                                    : strcmp(l->items[i].path, b->entries[j].path);
                uint8_t md[32];
                int r;
                if (i < l->n && c <= 0 && l->items[i].bad)
                        return seed_corrupt(err, ref, l->items[i].path,
                                            "a symlink or special file (only regular files "
                                            "are allowed)");
                if (c < 0)
                        return seed_corrupt(err, ref, l->items[i].path, "not listed in MANIFEST");
                if (c > 0)
                        return seed_corrupt(err, ref, b->entries[j].path,
                                            "listed in MANIFEST but missing");
                r = hash_file(dfd, b->entries[j].path, -1, md, &total);
                if (r == -EFBIG)
                        return seed_corrupt(err, ref, b->entries[j].path,
                                            "the bundle is larger than %d bytes",
                                            OB_SEED_MAX_BYTES);
                if (r < 0)
                        return seed_corrupt(err, ref, b->entries[j].path, "cannot read: %s",
                                            strerror(-r));
                if (memcmp(md, b->entries[j].sha, 32) != 0)
                        return seed_corrupt(err, ref, b->entries[j].path, "SHA-256 mismatch");
                i++, j++;
        }
        return 0;
}

/* Opens dir, reads its MANIFEST into *b and checks every file. *ret_fd is
 * the bundle's directory. */
static int seed_check(const char *dir, const char *ref, seed_bundle *b, int *ret_fd, ob_error *err)
{
        _cleanup_close_ int dfd = -1;
        walk_list l = {0};
        int r, fd;

        if (err)
                err->code = NULL;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return ob_error_set_code(err, "not_found", errno == ENOENT ? ENOENT : errno,
                                         "seed %s: cannot open %s: %s", ref, dir, strerror(errno));
        r = seed_manifest_read(dfd, ref, b, err);
        if (r < 0)
                return r;
        fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        r = walk(fd, "", 0, &l);
        if (r == -E2BIG)
                r = seed_corrupt(err, ref, dir, "more than %d files", OB_SEED_MAX_FILES);
        else if (r < 0)
                r = seed_corrupt(err, ref, dir, "cannot read the bundle: %s", strerror(-r));
        else
                r = compare(dfd, ref, b, &l, err);
        walk_list_done(&l);
        if (r >= 0)
                *ret_fd = TAKE_FD(dfd);
        return r;
}

/* Checks every file of the bundle at dir against its MANIFEST. */
int ob_seed_verify(const char *dir, const char *ref, ob_error *err)
{
        seed_bundle b = {0};
        int fd = -1, r;

        if (!dir)
                return ob_error_set_code(err, "invalid", EINVAL, "no seed directory");
        r = seed_check(dir, ref ? ref : dir, &b, &fd, err);
        seed_bundle_done(&b);
        if (fd >= 0)
                close(fd);
        return r;
}

/* Removes name under dfd and everything below it, following no symlink. */
static void rm_rf_at(int dfd, const char *name)
{
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (!d) {
                if (fd >= 0)
                        close(fd);
                (void)unlinkat(dfd, name, 0);
                return;
        }
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        rm_rf_at(dirfd(d), de->d_name);
        closedir(d);
        (void)unlinkat(dfd, name, AT_REMOVEDIR);
}

static const struct timespec epoch[2] = {{0, 0}, {0, 0}};

/* Mode, owner and mtime of something installed. */
static int finish_fd(int fd, mode_t mode, uid_t uid, gid_t gid)
{
        if (fchmod(fd, mode) < 0 || fchown(fd, uid, gid) < 0 || futimens(fd, epoch) < 0)
                return negative_errno();
        return 0;
}

static int finish_dir(int tfd, const char *rel, uid_t uid, gid_t gid)
{
        _cleanup_close_ int fd = openat(tfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        return fd < 0 ? negative_errno() : finish_fd(fd, 0755, uid, gid);
}

/* mkdirat() of every parent of path under tfd (op = 0), or finish_dir() of
 * each (op = 1). */
static int parents(int tfd, const char *path, int op, uid_t uid, gid_t gid)
{
        char buf[PATH_MAX];

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
                int r = 0;
                *s = '\0';
                if (op == 0 && mkdirat(tfd, buf, 0700) < 0 && errno != EEXIST)
                        r = negative_errno();
                if (op == 1)
                        r = finish_dir(tfd, buf, uid, gid);
                *s = '/';
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Copies one listed file, hashing what it copies (the bytes installed are
 * the bytes checked). */
static int copy_one(int src, int tfd, const seed_entry *e, uid_t uid, gid_t gid, uint64_t *total,
                    const char *ref, ob_error *err)
{
        _cleanup_close_ int out = -1;
        uint8_t md[32];
        int r;

        r = parents(tfd, e->path, 0, uid, gid);
        if (r >= 0) {
                out = openat(tfd, e->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                             0600);
                r = out < 0 ? negative_errno() : 0;
        }
        if (r < 0)
                return ob_error_set_code(err, "invalid", -r, "seed %s: cannot create %s: %s", ref,
                                         e->path, strerror(-r));
        r = hash_file(src, e->path, out, md, total);
        if (r < 0)
                return seed_corrupt(err, ref, e->path, "cannot copy: %s", strerror(-r));
        if (memcmp(md, e->sha, 32) != 0)
                return seed_corrupt(err, ref, e->path, "SHA-256 mismatch");
        r = finish_fd(out, 0644, uid, gid);
        if (r < 0)
                return ob_error_set_code(err, "invalid", -r, "seed %s: %s: %s", ref, e->path,
                                         strerror(-r));
        return 0;
}

/* Fills the temporary directory tmp under dst. */
static int fill(int src, int dst, const char *tmp, const seed_bundle *b, uid_t uid, gid_t gid,
                const char *ref, ob_error *err)
{
        _cleanup_close_ int tfd = openat(dst, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int mfd = -1;
        uint64_t total = 0;
        int r = 0;

        if (tfd < 0)
                return negative_errno();
        for (size_t i = 0; i < b->n && r >= 0; i++)
                r = copy_one(src, tfd, &b->entries[i], uid, gid, &total, ref, err);
        if (r < 0)
                return r;
        mfd = openat(tfd, "MANIFEST", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (mfd < 0 || (r = ob_write_all(mfd, b->manifest, b->manifest_len)) < 0 ||
            (r = finish_fd(mfd, 0644, uid, gid)) < 0)
                return ob_error_set_code(err, "invalid", mfd < 0 ? errno : -r,
                                         "seed %s: cannot write MANIFEST", ref);
        for (size_t i = 0; i < b->n && r >= 0; i++)
                r = parents(tfd, b->entries[i].path, 1, uid, gid);
        if (r >= 0)
                r = finish_fd(tfd, 0755, uid, gid);
        if (r < 0)
                return ob_error_set_code(err, "invalid", -r, "seed %s: cannot set modes: %s", ref,
                                         strerror(-r));
        return 0;
}

/* Verifies the bundle, then installs it at dest_dir/seed (which must not
 * exist) through a temporary directory renamed into place. */
int ob_seed_install(const char *ref, const char *dest_dir, uid_t uid, gid_t gid, ob_error *err)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int src = -1, dst = -1;
        seed_bundle b = {0};
        struct stat st;
        char tmp[64];
        int r;

        if (!dest_dir)
                return ob_error_set_code(err, "invalid", EINVAL, "no destination");
        r = ob_seed_find(ref, &dir, err);
        if (r < 0)
                return r;
        r = seed_check(dir, ref, &b, &src, err);
        if (r < 0)
                goto out;
        dst = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dst < 0) {
                r = ob_error_set_code(err, "invalid", errno, "seed %s: cannot open %s: %s", ref,
                                      dest_dir, strerror(errno));
                goto out;
        }
        if (fstatat(dst, "seed", &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) {
                r = ob_error_set_code(err, "invalid", EEXIST, "seed %s: %s/seed already exists",
                                      ref, dest_dir);
                goto out;
        }
        snprintf(tmp, sizeof(tmp), ".seed.tmp-%d", (int)getpid());
        if (mkdirat(dst, tmp, 0700) < 0) {
                r = ob_error_set_code(err, "invalid", errno, "seed %s: cannot create %s/%s: %s",
                                      ref, dest_dir, tmp, strerror(errno));
                goto out;
        }
        r = fill(src, dst, tmp, &b, uid, gid, ref, err);
        if (r >= 0 && renameat2(dst, tmp, dst, "seed", RENAME_NOREPLACE) < 0)
                r = ob_error_set_code(err, "invalid", errno,
                                      "seed %s: cannot rename into %s/seed: %s", ref, dest_dir,
                                      strerror(errno));
        if (r < 0)
                rm_rf_at(dst, tmp);
        else
                (void)utimensat(dst, "seed", epoch, AT_SYMLINK_NOFOLLOW);
out:
        seed_bundle_done(&b);
        return r;
}
