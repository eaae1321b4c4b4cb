/* SPDX-License-Identifier: Apache-2.0 */
/* The library cache (docs/runner.md §2): the read-only file binds of the
 * profile and of the sidecar's libraries that share a directory (python's
 * 26 libraries and the sidecar's 3 in /usr/lib/x86_64-linux-gnu) become one
 * bind of a directory holding copies of exactly those files. Each bind is a
 * mount of its own in the sentry and the gofer (~3 ms each at load here);
 * one directory is one.
 *
 * STATE/libcache/<key>/ is made by root, 0755 in a 0700 parent, files
 * mode & 0555. The key is the SHA-256 of the directory and of each file's
 * name, resolved source, device, inode, size, mode, mtime and ctime: an
 * upgraded library (a new inode, size or times; a write in place changes
 * the ctime, which no one can set back) makes a new entry, and no two
 * library sets share one. Before every use the parent and the entry must be
 * directories (never followed as symlinks) owned by root and writable by
 * no one else, holding exactly the expected names, each a regular file
 * owned by root, unwritable, of the expected size; otherwise the cache is
 * refused and the files are bound one by one as before. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "common/fs.h"
#include "runner/runner.h"

#define LIBCACHE_DIR  "libcache"
#define GROUP_MIN     2 /* one file gains nothing */
#define COPY_MAX_SIZE (512LL * 1024 * 1024)

typedef struct group_file {
        size_t index; /* in the plan */
        const char *name;
        struct stat st;
} group_file;

static bool eligible(const ob_mount *m)
{
        return !m->is_dir && !m->writable && !m->noexec &&
               (streq(m->why, "profile") || streq(m->why, "sidecar library"));
}

/* The directory part of an absolute path into buf ("/" for "/x"). */
static void parent_of(const char *path, char *buf, size_t size)
{
        const char *slash = strrchr(path, '/');
        size_t n = slash && slash != path ? (size_t)(slash - path) : 1;

        snprintf(buf, size, "%.*s", (int)n, path);
}

/* a is b, or lies under it */
static bool at_or_under(const char *a, const char *b)
{
        size_t n = strlen(b);

        if (streq(b, "/"))
                return true;
        return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* May dir be one bind of the group's files? Only when nothing else is
 * mounted at it, above it or below it, and no link the rootfs makes is at,
 * above or below it (a bind there would hide it, or need a mount point in
 * the shared cache). */
static bool dir_is_free(const ob_mount_plan *plan, const ob_profile *profile, const char *dir)
{
        char parent[PATH_MAX];

        if (streq(dir, "/") || ob_rootfs_links_near(dir))
                return false;
        for (size_t i = 0; i < plan->n; i++) {
                const ob_mount *m = &plan->v[i];
                parent_of(m->destination, parent, sizeof(parent));
                if (eligible(m) && streq(parent, dir))
                        continue; /* one of the group */
                if (at_or_under(m->destination, dir) || at_or_under(dir, m->destination))
                        return false;
        }
        for (size_t i = 0; profile && i < profile->n_symlinks; i++) {
                const char *p = profile->symlinks[i].path;
                if (at_or_under(p, dir) || at_or_under(dir, p))
                        return false;
        }
        return true;
}

static int cmp_file(const void *a, const void *b)
{
        return strcmp(((const group_file *)a)->name, ((const group_file *)b)->name);
}

static int group_key(const char *dir, const ob_mount_plan *plan, const group_file *f, size_t n,
                     char ret[OB_AUDIT_HASH_HEX + 1])
{
        size_t cap = 256 + strlen(dir), len;
        _cleanup_free_ char *text = NULL;
        int k;

        for (size_t i = 0; i < n; i++)
                cap += strlen(f[i].name) + strlen(plan->v[f[i].index].source) + 160;
        text = malloc(cap);
        if (!text)
                return -ENOMEM;
        len = (size_t)snprintf(text, cap, "omnibase libcache 1\n%s\n", dir);
        for (size_t i = 0; i < n; i++) {
                const struct stat *st = &f[i].st;
                k = snprintf(text + len, cap - len,
                             "%s\t%s\t%ju\t%ju\t%jd\t%o\t%jd.%09ld\t%jd.%09ld\n", f[i].name,
                             plan->v[f[i].index].source, (uintmax_t)st->st_dev,
                             (uintmax_t)st->st_ino, (intmax_t)st->st_size, (unsigned)st->st_mode,
                             (intmax_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                             (intmax_t)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
                if (k < 0 || (size_t)k >= cap - len)
                        return -EOVERFLOW;
                len += (size_t)k;
        }
        return ob_audit_sha256_hex(text, len, NULL, 0, ret);
}

/* A directory fd that is root's and writable by no one else. */
static int open_root_dir(int dirfd, const char *name)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return errno == ENOTDIR ? -ELOOP : negative_errno();
        if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022)) {
                close(fd);
                return -EPERM;
        }
        return fd;
}

int ob_libcache_open(const char *state_dir, bool create, char **ret_path)
{
        _cleanup_free_ char *path = NULL;
        int fd;

        if (asprintf(&path, "%s/%s", state_dir, LIBCACHE_DIR) < 0)
                return -ENOMEM;
        if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        fd = open_root_dir(AT_FDCWD, path);
        if (fd >= 0 && ret_path)
                *ret_path = TAKE_PTR(path);
        return fd;
}

/* Does the entry hold exactly the group's files, each root's, read-only
 * and of its source's size? */
static int entry_ok(int fd, const group_file *f, size_t n)
{
        _cleanup_close_ int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        DIR *d;
        struct dirent *de;
        size_t count = 0;

        for (size_t i = 0; i < n; i++) {
                struct stat st;
                if (fstatat(fd, f[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return negative_errno();
                if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0222) ||
                    st.st_size != f[i].st.st_size)
                        return -EPERM;
        }
        d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d)
                return -ENOMEM;
        dfd = -1;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        count++;
        closedir(d);
        return count == n ? 0 : -EPERM;
}

/* Copies source into dirfd/name; the source must still be the file the key
 * was made of. */
static int copy_one(int dirfd, const char *source, const group_file *f)
{
        _cleanup_close_ int in = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1;
        struct stat st;
        off_t left;

        if (in < 0)
                return negative_errno();
        if (fstat(in, &st) < 0)
                return negative_errno();
        if (st.st_dev != f->st.st_dev || st.st_ino != f->st.st_ino || st.st_size != f->st.st_size ||
            st.st_mtim.tv_sec != f->st.st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != f->st.st_mtim.tv_nsec ||
            st.st_ctim.tv_sec != f->st.st_ctim.tv_sec ||
            st.st_ctim.tv_nsec != f->st.st_ctim.tv_nsec || st.st_size > COPY_MAX_SIZE)
                return -ESTALE;
        out = openat(dirfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return negative_errno();
        for (left = st.st_size; left > 0;) {
                ssize_t w = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
                        char buf[65536];
                        ssize_t r = read(in, buf, sizeof(buf));
                        w = r > 0 ? write(out, buf, (size_t)r) : r;
                        if (w >= 0 && w != r)
                                return -EIO;
                }
                if (w <= 0)
                        return w < 0 ? negative_errno() : -EIO;
                left -= w;
        }
        if (fchmod(out, st.st_mode & 0555) < 0 || fsync(out) < 0)
                return negative_errno();
        /* written to while copied: the copy may be neither */
        if (fstat(in, &st) < 0 || st.st_ctim.tv_sec != f->st.st_ctim.tv_sec ||
            st.st_ctim.tv_nsec != f->st.st_ctim.tv_nsec)
                return -ESTALE;
        return 0;
}

/* Makes top/key from a private temporary directory renamed into place; a
 * concurrent runner that renamed first wins (ours is removed). */
static int build_entry(int top, const char *top_path, const char *key, const ob_mount_plan *plan,
                       const group_file *f, size_t n)
{
        _cleanup_free_ char *tmp = NULL, *tmp_path = NULL;
        _cleanup_close_ int fd = -1;
        int r = 0;

        if (asprintf(&tmp, "%s.tmp.%d", key, (int)getpid()) < 0 ||
            asprintf(&tmp_path, "%s/%s", top_path, tmp) < 0)
                return -ENOMEM;
        (void)ob_rm_rf(tmp_path); /* a crashed build of this pid's predecessor */
        if (mkdirat(top, tmp, 0700) < 0)
                return negative_errno();
        fd = openat(top, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                r = negative_errno();
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = copy_one(fd, plan->v[f[i].index].source, &f[i]);
        if (r >= 0 && (fchmod(fd, 0755) < 0 || fsync(fd) < 0))
                r = negative_errno();
        if (r >= 0 && renameat(top, tmp, top, key) < 0 && errno != EEXIST && errno != ENOTEMPTY)
                r = negative_errno();
        if (r >= 0)
                (void)fsync(top);
        (void)ob_rm_rf(tmp_path); /* gone after a rename; ours after a lost race */
        return r;
}

/* The entry's path for the group, made when missing; -errno when the
 * cache cannot be used (then the files keep their own binds). */
static int cache_entry(const char *state_dir, const char *dir, const ob_mount_plan *plan,
                       group_file *f, size_t n, char **ret_path, bool *ret_built)
{
        _cleanup_free_ char *top_path = NULL;
        _cleanup_close_ int top = -1, entry = -1;
        char key[OB_AUDIT_HASH_HEX + 1];
        int r;

        qsort(f, n, sizeof(*f), cmp_file);
        r = group_key(dir, plan, f, n, key);
        if (r < 0)
                return r;
        top = ob_libcache_open(state_dir, true, &top_path);
        if (top < 0)
                return top;
        *ret_built = false;
        entry = open_root_dir(top, key);
        if (entry == -ENOENT) {
                r = build_entry(top, top_path, key, plan, f, n);
                if (r < 0)
                        return r;
                *ret_built = true;
                entry = open_root_dir(top, key);
        }
        if (entry < 0)
                return entry;
        r = entry_ok(entry, f, n);
        if (r < 0)
                return r;
        /* used now: gc leaves an entry used within OB_LIBCACHE_KEEP_S alone */
        (void)futimens(entry, NULL);
        return asprintf(ret_path, "%s/%s", top_path, key) < 0 ? -ENOMEM : 0;
}

static void remove_group(ob_mount_plan *plan, const group_file *f, size_t n)
{
        size_t w = 0;

        for (size_t i = 0; i < plan->n; i++) {
                bool drop = false;
                for (size_t j = 0; j < n && !drop; j++)
                        drop = f[j].index == i;
                if (drop) {
                        free(plan->v[i].source);
                        free(plan->v[i].destination);
                        free(plan->v[i].why);
                } else {
                        plan->v[w++] = plan->v[i];
                }
        }
        plan->n = w;
}

/* One group: the eligible files directly in dir. 1 when replaced. */
static int apply_dir(ob_mount_plan *plan, const ob_profile *profile, const char *state_dir,
                     const char *dir)
{
        _cleanup_free_ group_file *f = calloc(plan->n, sizeof(*f));
        _cleanup_free_ char *path = NULL;
        char parent[PATH_MAX];
        size_t n = 0;
        bool built = false;
        int r;

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n; i++) {
                const ob_mount *m = &plan->v[i];
                parent_of(m->destination, parent, sizeof(parent));
                if (!eligible(m) || !streq(parent, dir))
                        continue;
                if (stat(m->source, &f[n].st) < 0 || !S_ISREG(f[n].st.st_mode))
                        return 0; /* not a plain file now: leave the group alone */
                f[n].index = i;
                f[n].name = strrchr(m->destination, '/') + 1;
                n++;
        }
        if (n < GROUP_MIN || !dir_is_free(plan, profile, dir))
                return 0;
        r = cache_entry(state_dir, dir, plan, f, n, &path, &built);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                ob_mount_plan_log(plan,
                                  "library cache: %s/%s refused or not made (%s): %zu binds in %s",
                                  state_dir, LIBCACHE_DIR, strerror(-r), n, dir);
                return 0;
        }
        ob_mount_plan_log(plan, "library cache: %s (%zu files) <- %s (%s)", dir, n, path,
                          built ? "made" : "reused");
        remove_group(plan, f, n);
        r = ob_mount_plan_add(plan, path, dir, false, true, OB_MOUNT_WHY_LIBCACHE);
        return r < 0 ? r : 1;
}

/* Was dir's group looked at already (an eligible mount before i in it)? */
static bool tried_before(const ob_mount_plan *plan, size_t i, const char *dir)
{
        char parent[PATH_MAX];

        for (size_t j = 0; j < i; j++) {
                parent_of(plan->v[j].destination, parent, sizeof(parent));
                if (eligible(&plan->v[j]) && streq(parent, dir))
                        return true;
        }
        return false;
}

int ob_libcache_apply(ob_mount_plan *plan, const ob_profile *profile, const char *state_dir)
{
        char dir[PATH_MAX];
        int r;

        /* each pass replaces at most one group; the plan shrinks each time */
        for (size_t i = 0; i < plan->n;) {
                const ob_mount *m = &plan->v[i];
                if (!eligible(m)) {
                        i++;
                        continue;
                }
                parent_of(m->destination, dir, sizeof(dir));
                if (tried_before(plan, i, dir)) {
                        i++;
                        continue;
                }
                r = apply_dir(plan, profile, state_dir, dir);
                if (r < 0)
                        return r;
                i = r > 0 ? 0 : i + 1;
        }
        ob_mount_plan_sort(plan);
        return 0;
}

/* Whether some process's mount namespace holds a bind of entry `key` (a
 * sandbox's gofer binds it in its own namespace: the host's mount table does
 * not show it): a mount whose root within its filesystem (mountinfo's 4th
 * field) ends in /libcache/<key>, keys being unique. A /proc that cannot be
 * read counts as yes. */
static bool entry_in_use(const char *key)
{
        DIR *proc = opendir("/proc");
        struct dirent *de;
        char suffix[128], line[PATH_MAX * 2 + 256];
        size_t sl;
        bool used = !proc;

        snprintf(suffix, sizeof(suffix), "/%s/%s", LIBCACHE_DIR, key);
        sl = strlen(suffix);
        while (!used && proc && (de = readdir(proc))) {
                char path[300], root[PATH_MAX];
                FILE *f;
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/mountinfo", de->d_name);
                f = fopen(path, "re");
                while (f && !used && fgets(line, sizeof(line), f)) {
                        size_t rl;
                        if (sscanf(line, "%*s %*s %*s %4095s", root) != 1)
                                continue;
                        ob_mountinfo_unescape(root);
                        rl = strlen(root);
                        used = rl >= sl && streq(root + rl - sl, suffix);
                }
                if (f)
                        fclose(f);
        }
        if (proc)
                closedir(proc);
        return used;
}

typedef struct gc_ctx {
        const char *top_path;
        time_t now;
        unsigned removed;
} gc_ctx;

static int gc_entry(int top, const char *name, void *userdata)
{
        gc_ctx *g = userdata;
        char path[PATH_MAX];
        const char *tmp = strstr(name, ".tmp.");
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", g->top_path, name);
        if (tmp) { /* a build in progress, or a crashed one's */
                long pid = strtol(tmp + 5, NULL, 10);
                if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                        return 0;
        } else if (strncmp(name, OB_SIDECAR_LIBS_PREFIX, strlen(OB_SIDECAR_LIBS_PREFIX)) == 0) {
                /* a sidecar binary's library list (runner/sidecar.c): each
                 * read touches it; an old one is a replaced binary's */
                if (fstatat(top, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
                    g->now - st.st_mtime < OB_LIBCACHE_KEEP_S)
                        return 0;
        } else if (fstatat(top, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                   g->now - st.st_mtime < OB_LIBCACHE_KEEP_S || entry_in_use(name)) {
                return 0;
        }
        if (ob_remove_at(top, name, 4) == 0)
                g->removed++;
        return 0;
}

unsigned ob_libcache_gc(const char *state_dir)
{
        _cleanup_free_ char *top_path = NULL;
        _cleanup_close_ int top = ob_libcache_open(state_dir, false, &top_path);
        gc_ctx g = {.now = time(NULL)};

        if (top < 0)
                return 0;
        g.top_path = top_path;
        (void)ob_dir_each(top, gc_entry, &g);
        return g.removed;
}
