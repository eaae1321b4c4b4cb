/* SPDX-License-Identifier: Apache-2.0 */
/* Resolving a tracee's path the way the kernel will: against its cwd or a
 * dirfd, "." and "..", symlinks (readlink from the sidecar, which shares the
 * tracee's root and mounts and holds CAP_DAC_READ_SEARCH, so that no
 * directory hides a link from it), /proc/self. It is a check-time view: the
 * kernel resolves again when the syscall runs (docs/sidecar.md, TOCTOU).
 * Every answer the sidecar cannot be sure of fails closed (F8). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/macros.h"
#include "sidecar/sidecar.h"

#define PATH_BUF    (OB_SIDECAR_MAX_PATH + 1)
#define CACHE_SLOTS 4096 /* power of two */
#define CACHE_MAX   (CACHE_SLOTS / 2)
#define REST_BUF    (2 * OB_SIDECAR_MAX_PATH + 2)

typedef struct walk {
        char out[PATH_BUF]; /* resolved so far, no trailing '/', "" is the root */
        size_t olen;
        char rest[REST_BUF]; /* what is left to walk */
        size_t pos;
        pid_t tid, tgid;
        int links;
        int fails; /* the errno the kernel will fail with at a component: the rest as written */
} walk;

/* Paths known not to be symlinks (readlink said EINVAL), so that a path
 * under /usr/lib/python3.11 costs one readlink (its last component), not
 * five. Only the workload can turn a non-link into a link inside the
 * sandbox, and only with symlink/link/rename, which invalidate the whole
 * cache before they run. Nothing under /proc is cached. */
static char *cache[CACHE_SLOTS];
static size_t cache_n;

static size_t cache_hash(const char *p)
{
        size_t h = 1469598103934665603ull;
        for (; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ull;
        return h & (CACHE_SLOTS - 1);
}

static bool cache_has(const char *p)
{
        for (size_t i = cache_hash(p);; i = (i + 1) & (CACHE_SLOTS - 1)) {
                if (!cache[i])
                        return false;
                if (streq(cache[i], p))
                        return true;
        }
}

void ob_resolve_invalidate(void)
{
        for (size_t i = 0; i < CACHE_SLOTS && cache_n > 0; i++)
                if (cache[i]) {
                        free(cache[i]);
                        cache[i] = NULL;
                        cache_n--;
                }
        cache_n = 0;
}

static void cache_add(const char *p)
{
        size_t i;

        if (strncmp(p, "/proc/", 6) == 0 || streq(p, "/proc"))
                return;
        if (cache_n >= CACHE_MAX)
                ob_resolve_invalidate();
        for (i = cache_hash(p); cache[i]; i = (i + 1) & (CACHE_SLOTS - 1))
                if (streq(cache[i], p))
                        return;
        cache[i] = strdup(p);
        if (cache[i])
                cache_n++;
}

static int read_link(const char *path, char **ret)
{
        char buf[PATH_BUF];
        ssize_t n = readlink(path, buf, sizeof(buf));

        if (n < 0)
                return negative_errno();
        if ((size_t)n >= sizeof(buf))
                return -ENAMETOOLONG;
        buf[n] = '\0';
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* What a failed readlink or lstat of a component means. ENOENT of the last
 * one is a new name (O_CREAT, mkdir). ENOENT of an earlier one (a missing
 * directory) and ENOTDIR (a file used as one) are what the kernel will fail
 * the call with: remembered, and the rest is taken as written, so that an
 * attempt outside the grants is still checked and reported. ELOOP and
 * ENAMETOOLONG are the kernel's answer too. Anything else (EACCES, EIO...)
 * leaves the sidecar unable to tell what the kernel will open: -EACCES,
 * which the caller denies and reports. */
static int lookup_error(walk *w, int error, bool last)
{
        switch (error) {
        case ENOENT:
        case ENOTDIR:
                if (!(last && error == ENOENT))
                        w->fails = error;
                return 0;
        case ELOOP:
        case ENAMETOOLONG:
                return -error;
        default:
                return -EACCES;
        }
}

/* Whether name (the text of a /proc magic link: a cwd, a dirfd) names the
 * object the link itself leads to. Not for a deleted one ("/d (deleted)",
 * which the workload can create as a link elsewhere) nor one renamed since:
 * 0 when it does, -EACCES when it does not or cannot be told. */
static int names_object(const char *magic, const char *name)
{
        struct stat a, b;

        if (stat(magic, &a) < 0 || stat(name, &b) < 0)
                return -EACCES;
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino ? 0 : -EACCES;
}

int ob_resolve_fd(pid_t tid, int fd, char **ret)
{
        _cleanup_free_ char *name = NULL;
        char path[64];
        int r;

        if (fd < 0)
                return -EBADF;
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)tid, fd);
        r = read_link(path, &name);
        if (r == -ENOENT)
                return -EBADF;
        if (r < 0)
                return r == -ENOMEM ? r : -EACCES;
        /* a file's name must be the file ("/f (deleted)" may be another) */
        if (name[0] == '/' && (r = names_object(path, name)) < 0)
                return r;
        *ret = TAKE_PTR(name);
        return 0;
}

/* Is path a link of a task's /proc directory (cwd, root, exe, fd/N,
 * task/T/...), whose target text is made up by the kernel? */
static bool is_magic(const char *path)
{
        const char *p = path + 6;

        if (strncmp(path, "/proc/", 6) != 0 || *p < '0' || *p > '9')
                return false;
        while (*p >= '0' && *p <= '9')
                p++;
        return *p == '/';
}

/* ".." is the parent of a directory; after anything else (a file, a
 * magic link to a pipe) the kernel fails the call with ENOTDIR. */
static int check_dir(walk *w)
{
        struct stat st;

        if (w->olen == 0 || w->fails)
                return 0; /* the root's parent is the root; failing: as written */
        if (lstat(w->out, &st) < 0)
                return lookup_error(w, errno, false);
        if (!S_ISDIR(st.st_mode))
                w->fails = ENOTDIR;
        return 0;
}

/* /proc/self and /proc/thread-self name the sidecar when it reads them: put
 * the tracee's own link target in buf instead. */
static bool proc_self_target(walk *w, char *buf, size_t size)
{
        bool self = streq(w->out, "/proc/self");

        if (!self && !streq(w->out, "/proc/thread-self"))
                return false;
        if (w->tgid == 0)
                w->tgid = ob_tracee_tgid(w->tid);
        if (self)
                snprintf(buf, size, "%d", (int)w->tgid);
        else if (streq(w->out, "/proc/thread-self"))
                snprintf(buf, size, "%d/task/%d", (int)w->tgid, (int)w->tid);
        return true;
}

/* Replaces the last component of out by the link target followed by the
 * unwalked rest. */
static int follow(walk *w, const char *target, size_t clen)
{
        char nrest[REST_BUF];
        int n;

        if (++w->links > OB_SIDECAR_MAX_LINKS)
                return -ELOOP;
        w->olen -= clen + 1;
        if (target[0] == '/')
                w->olen = 0;
        w->out[w->olen] = '\0';
        n = snprintf(nrest, sizeof(nrest), "%s/%s", target, w->rest + w->pos);
        if (n < 0 || (size_t)n >= sizeof(nrest))
                return -ENAMETOOLONG;
        memcpy(w->rest, nrest, (size_t)n + 1);
        w->pos = 0;
        return 0;
}

static int step(walk *w, const char *comp, size_t clen, bool follow_this, bool last)
{
        char target[PATH_BUF];
        ssize_t n;
        int r;

        if (clen == 1 && comp[0] == '.')
                return 0;
        if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
                r = check_dir(w);
                if (r < 0)
                        return r;
                while (w->olen > 0 && w->out[w->olen - 1] != '/')
                        w->olen--;
                if (w->olen > 0)
                        w->olen--;
                w->out[w->olen] = '\0';
                return 0;
        }
        if (w->olen + 1 + clen > OB_SIDECAR_MAX_PATH)
                return -ENAMETOOLONG;
        w->out[w->olen++] = '/';
        memcpy(w->out + w->olen, comp, clen);
        w->olen += clen;
        w->out[w->olen] = '\0';
        if (w->fails || !follow_this)
                return 0;
        if (proc_self_target(w, target, sizeof(target)))
                n = (ssize_t)strlen(target);
        else if (cache_has(w->out))
                return 0;
        else
                n = readlink(w->out, target, sizeof(target));
        if (n < 0) {
                if (errno != EINVAL)
                        return lookup_error(w, errno, last);
                cache_add(w->out); /* not a link */
                return 0;
        }
        if ((size_t)n >= sizeof(target))
                return -ENAMETOOLONG;
        target[n] = '\0';
        /* /proc/<pid>/fd/<n> of a pipe, socket, anon inode: not a path */
        if (target[0] != '/' && strchr(target, ':') && strncmp(w->out, "/proc/", 6) == 0)
                return 0;
        /* a magic link's text is only a name: it must name what the link leads to */
        if (is_magic(w->out) && (r = names_object(w->out, target)) < 0)
                return r;
        return follow(w, target, clen);
}

static int walk_path(walk *w, bool follow_last, char **ret)
{
        for (;;) {
                size_t start, clen, q;
                char comp[PATH_BUF];
                bool last, trailing;
                int r;

                while (w->rest[w->pos] == '/')
                        w->pos++;
                if (!w->rest[w->pos])
                        break;
                start = w->pos;
                while (w->rest[w->pos] && w->rest[w->pos] != '/')
                        w->pos++;
                clen = w->pos - start;
                for (q = w->pos; w->rest[q] == '/'; q++)
                        ;
                last = w->rest[q] == '\0';
                trailing = last && q > w->pos; /* "link/" follows the link */
                if (clen > OB_SIDECAR_MAX_PATH)
                        return -ENAMETOOLONG;
                memcpy(comp, w->rest + start, clen);
                r = step(w, comp, clen, !last || follow_last || trailing, last);
                if (r < 0)
                        return r;
        }
        *ret = strdup(w->olen ? w->out : "/");
        return *ret ? 0 : -ENOMEM;
}

int ob_resolve_path_fails(pid_t tid, int dirfd, const char *path, bool follow_last, char **ret,
                          int *ret_fails)
{
        _cleanup_free_ walk *w = NULL;
        _cleanup_free_ char *base = NULL;
        int r, n;

        if (!path[0])
                return -ENOENT;
        if (path[0] != '/') {
                char magic[64];
                if (dirfd == AT_FDCWD) {
                        snprintf(magic, sizeof(magic), "/proc/%d/cwd", (int)tid);
                        r = read_link(magic, &base);
                        r = r == -ENOMEM ? r : r < 0 ? -EACCES : 0;
                        /* a deleted cwd reads "/d (deleted)": that name is not it */
                        if (r == 0 && base[0] == '/')
                                r = names_object(magic, base);
                } else
                        r = ob_resolve_fd(tid, dirfd, &base); /* checked the same way */
                if (r < 0)
                        return r;
                if (base[0] != '/')
                        return -ENOTDIR;
        }
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->tid = tid;
        n = snprintf(w->rest, sizeof(w->rest), "%s/%s", base ? base : "", path);
        if (n < 0 || (size_t)n >= sizeof(w->rest))
                return -ENAMETOOLONG;
        r = walk_path(w, follow_last, ret);
        if (r >= 0)
                *ret_fails = w->fails;
        return r;
}

int ob_resolve_path(pid_t tid, int dirfd, const char *path, bool follow_last, char **ret)
{
        int fails;

        return ob_resolve_path_fails(tid, dirfd, path, follow_last, ret, &fails);
}
