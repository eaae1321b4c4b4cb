/* SPDX-License-Identifier: Apache-2.0 */
/* The write bound: overlays over FILE_WRITE grants, their upper layers on a
 * write_mb image, committed to the host when the run ends (write_bound.h).
 *
 * $STATE/writes/<id>/
 *   workspace.img, workspace/   the image and its mount (runner/workspace.c)
 *   workspace/<n>/upper, work   overlay n's layers
 *   map                         "<n>\0<host directory>\0" per overlay, written
 *                               before any overlay exists: gc commits from it
 * run_path/wb/<n>               overlay n's mount point (on the run's tmpfs)
 *
 * The commit walks an upper layer with directory fds, never following a
 * link, and writes the host through fds opened with O_NOFOLLOW: the names
 * and links in the upper layer are the workload's, the host directory is
 * written as root. */
#define _GNU_SOURCE
#include "runner/write_bound.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/fs.h"
#include "runner/workspace.h"

#define MAX_OVERLAYS OB_SANDBOX_MAX_MOUNTS
#define MAX_DEPTH    4096 /* of a committed tree */

/* $STATE/writes/<id> from run_path = $STATE/runs/<id>. */
static char *writes_dir(const char *run_path, const char *id)
{
        size_t n = strlen(run_path), il = strlen(id);
        char *out = NULL;

        if (n < il + 6 || strncmp(run_path + n - il - 6, "/runs/", 6) != 0 ||
            strcmp(run_path + n - il, id) != 0)
                return NULL;
        if (asprintf(&out, "%.*s/writes/%s", (int)(n - il - 6), run_path, id) < 0)
                return NULL;
        return out;
}

/* The host directory an overlay must show for mount m. */
static int lower_of(const ob_mount *m, char *buf, size_t size)
{
        const char *slash;

        if (m->is_dir)
                return snprintf(buf, size, "%s", m->source) < (int)size ? 0 : -ENAMETOOLONG;
        slash = strrchr(m->source, '/');
        if (!slash)
                return -EINVAL;
        if (slash == m->source)
                return snprintf(buf, size, "/") < (int)size ? 0 : -ENAMETOOLONG;
        if ((size_t)(slash - m->source) >= size)
                return -ENAMETOOLONG;
        memcpy(buf, m->source, (size_t)(slash - m->source));
        buf[slash - m->source] = '\0';
        return 0;
}

static int overlay_mount(const char *lower, const char *layers, const char *mnt)
{
        _cleanup_close_ int lo = -1, up = -1, wk = -1;
        _cleanup_free_ char *upper = NULL, *work = NULL;
        char opts[256];
        struct stat st;

        if (asprintf(&upper, "%s/upper", layers) < 0 || asprintf(&work, "%s/work", layers) < 0)
                return -ENOMEM;
        lo = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lo < 0 || fstat(lo, &st) < 0)
                return negative_errno();
        if (mkdir(layers, 0700) < 0 || mkdir(upper, 0700) < 0 || mkdir(work, 0700) < 0)
                return negative_errno();
        /* the overlay's root is the upper layer's: it must look like the host's */
        up = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        wk = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (up < 0 || wk < 0 || fchown(up, st.st_uid, st.st_gid) < 0 ||
            fchmod(up, st.st_mode & 07777) < 0)
                return negative_errno();
        if (mkdir(mnt, 0700) < 0)
                return negative_errno();
        /* the layers by fd: a host path may hold the ',' and ':' the option
         * parser splits on. redirect_dir=off: a directory that existed
         * before the run is not renamed (EXDEV; mv copies), so the commit
         * needs no redirects; metacopy=off: the upper layer holds whole files */
        snprintf(opts, sizeof(opts),
                 "lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d,"
                 "redirect_dir=off,metacopy=off,index=off,xino=off",
                 lo, up, wk);
        if (mount("overlay", mnt, "overlay", MS_NOSUID | MS_NODEV, opts) < 0) {
                int r = negative_errno();
                (void)rmdir(mnt);
                return r;
        }
        return 0;
}

static int write_map(const char *wdir, char (*lowers)[PATH_MAX], size_t n)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        int r = 0;

        if (asprintf(&path, "%s/map", wdir) < 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char num[16];
                int k = snprintf(num, sizeof(num), "%zu", i);
                r = ob_write_all(fd, num, (size_t)k + 1);
                if (r >= 0)
                        r = ob_write_all(fd, lowers[i], strlen(lowers[i]) + 1);
        }
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        return r;
}

static void undo(const char *run_path, const char *wdir, size_t mounted)
{
        for (size_t i = 0; i < mounted; i++) {
                char mnt[PATH_MAX];
                snprintf(mnt, sizeof(mnt), "%s/wb/%zu", run_path, i);
                (void)umount2(mnt, MNT_DETACH);
                (void)rmdir(mnt);
        }
        (void)ob_workspace_destroy(wdir, NULL);
        (void)ob_rm_rf(wdir);
}

int ob_write_bound_setup(const char *run_path, const char *id, int64_t write_mb,
                         ob_mount_plan *plan, ob_error *err)
{
        _cleanup_free_ char *wdir = NULL, *wb = NULL;
        _cleanup_free_ char(*lowers)[PATH_MAX] = NULL;
        size_t n = 0, mounted = 0;
        int r;

        if (write_mb <= 0)
                return 0;
        lowers = calloc(MAX_OVERLAYS, sizeof(*lowers));
        if (!lowers)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n; i++) {
                char lower[PATH_MAX];
                size_t j;
                if (!plan->v[i].grant_write)
                        continue;
                r = lower_of(&plan->v[i], lower, sizeof(lower));
                if (r < 0)
                        return ob_error_set(err, 0, 0, -r, "write bound: %s: %s", plan->v[i].source,
                                            strerror(-r));
                for (j = 0; j < n && !streq(lowers[j], lower); j++)
                        ;
                if (j == n)
                        memcpy(lowers[n++], lower, sizeof(lower));
        }
        if (n == 0)
                return 0;
        wdir = writes_dir(run_path, id);
        if (!wdir || asprintf(&wb, "%s/wb", run_path) < 0)
                return -ENOMEM;
        r = ob_mkdir_p(wdir, 0700);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "write bound: %s: %s", wdir, strerror(-r));
        r = ob_workspace_create(wdir, write_mb, 0, 0, err);
        if (r >= 0)
                r = write_map(wdir, lowers, n);
        if (r >= 0 && mkdir(wb, 0700) < 0)
                r = negative_errno();
        for (; r >= 0 && mounted < n; mounted++) {
                char layers[PATH_MAX], mnt[PATH_MAX];
                snprintf(layers, sizeof(layers), "%s/workspace/%zu", wdir, mounted);
                snprintf(mnt, sizeof(mnt), "%s/%zu", wb, mounted);
                r = overlay_mount(lowers[mounted], layers, mnt);
                if (r < 0)
                        ob_error_set(err, 0, 0, -r, "write bound: an overlay over %s: %s",
                                     lowers[mounted], strerror(-r));
        }
        for (size_t i = 0; r >= 0 && i < plan->n; i++) {
                ob_mount *m = &plan->v[i];
                char lower[PATH_MAX];
                char *src = NULL;
                size_t j;
                if (!m->grant_write || lower_of(m, lower, sizeof(lower)) < 0)
                        continue;
                for (j = 0; j < n && !streq(lowers[j], lower); j++)
                        ;
                if (m->is_dir ? asprintf(&src, "%s/%zu", wb, j) < 0
                              : asprintf(&src, "%s/%zu%s", wb, j, strrchr(m->source, '/')) < 0) {
                        r = -ENOMEM;
                        break;
                }
                ob_mount_plan_log(plan,
                                  "write bound: %s is staged (%lld MiB for all writes), "
                                  "it lands in %s when the run ends",
                                  m->destination, (long long)write_mb, m->source);
                free(m->source);
                m->source = src;
        }
        if (r < 0) {
                if (!err->message[0])
                        ob_error_set(err, 0, 0, -r, "write bound: %s", strerror(-r));
                undo(run_path, wdir, mounted);
        }
        return r;
}

/* A name for a file being put in place beside its final name. */
static void temp_name(char buf[static 32])
{
        uint32_t rnd = 0;
        (void)getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK);
        snprintf(buf, 32, ".ob-commit-%08x", rnd);
}

/* Owner, mode (no set-id bits on a file) and times of st, on fd. */
static int set_attrs(int fd, const struct stat *st)
{
        mode_t mode = st->st_mode & 07777;
        struct timespec ts[2] = {st->st_atim, st->st_mtim};

        if (!S_ISDIR(st->st_mode))
                mode &= ~(mode_t)(S_ISUID | S_ISGID);
        if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, mode) < 0 || futimens(fd, ts) < 0)
                return negative_errno();
        return 0;
}

/* Puts tmp in place as name: a directory there goes first. */
static int replace_with(int host, const char *tmp, const char *name)
{
        struct stat st;
        int r;

        if (fstatat(host, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
                r = ob_remove_at(host, name, MAX_DEPTH);
                if (r < 0)
                        return r;
        }
        return renameat(host, tmp, host, name) < 0 ? negative_errno() : 0;
}

static int commit_file(int up, int host, const char *name, const struct stat *st)
{
        _cleanup_close_ int in = openat(up, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int out = -1;
        char tmp[32];
        off_t left = st->st_size;
        int r = 0;

        if (in < 0)
                return negative_errno();
        for (int tries = 0; out < 0 && tries < 16; tries++) { /* the name may be taken */
                temp_name(tmp);
                out = openat(host, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0 && errno != EEXIST)
                        break;
        }
        if (out < 0)
                return negative_errno();
        while (left > 0) {
                ssize_t k = sendfile(out, in, NULL, (size_t)(left > (1 << 30) ? 1 << 30 : left));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? negative_errno() : -EIO;
                        break;
                }
                left -= k;
        }
        if (r >= 0)
                r = set_attrs(out, st);
        if (r >= 0)
                r = replace_with(host, tmp, name);
        if (r < 0)
                (void)unlinkat(host, tmp, 0);
        return r;
}

static int commit_link(int up, int host, const char *name, const struct stat *st)
{
        char target[PATH_MAX], tmp[32];
        struct timespec ts[2] = {st->st_atim, st->st_mtim};
        ssize_t k = readlinkat(up, name, target, sizeof(target) - 1);
        int r = 0;

        if (k < 0)
                return negative_errno();
        target[k] = '\0';
        for (int tries = 0;; tries++) {
                temp_name(tmp);
                if (symlinkat(target, host, tmp) == 0)
                        break;
                if (errno != EEXIST || tries == 15)
                        return negative_errno();
        }
        if (fchownat(host, tmp, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            utimensat(host, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
                r = negative_errno();
        if (r >= 0)
                r = replace_with(host, tmp, name);
        if (r < 0)
                (void)unlinkat(host, tmp, 0);
        return r;
}

static bool opaque(int up, const char *name)
{
        _cleanup_close_ int fd = openat(up, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char v[4];
        ssize_t k = fd < 0 ? -1 : fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v));
        return k == 1 && v[0] == 'y';
}

/* Where an upper directory lands: the host directory, how deep it is. */
typedef struct commit_ctx {
        int host;
        unsigned depth;
} commit_ctx;

static int commit_entry(int up, const char *name, void *userdata);

/* Applies the upper directory up to the host directory host. */
static int commit_dir(int up, int host, unsigned depth)
{
        if (depth > MAX_DEPTH)
                return -ELOOP;
        return ob_dir_each(up, commit_entry, &(commit_ctx){host, depth});
}

static int commit_subdir(int up, int host, const char *name, const struct stat *st, unsigned depth)
{
        _cleanup_close_ int sub_up = -1, sub_host = -1;
        struct stat hs;
        bool have = fstatat(host, name, &hs, AT_SYMLINK_NOFOLLOW) == 0;
        int r;

        if (have && (!S_ISDIR(hs.st_mode) || opaque(up, name))) {
                r = ob_remove_at(host, name, MAX_DEPTH);
                if (r < 0)
                        return r;
                have = false;
        }
        if (!have && mkdirat(host, name, 0700) < 0)
                return negative_errno();
        sub_up = openat(up, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        sub_host = openat(host, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub_up < 0 || sub_host < 0)
                return negative_errno();
        r = commit_dir(sub_up, sub_host, depth + 1);
        return r < 0 ? r : set_attrs(sub_host, st);
}

static int commit_entry(int up, const char *name, void *userdata)
{
        const commit_ctx *c = userdata;
        struct stat st;

        if (fstatat(up, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        if (S_ISCHR(st.st_mode) && st.st_rdev == 0) /* a whiteout: removed */
                return ob_remove_at(c->host, name, MAX_DEPTH);
        if (S_ISDIR(st.st_mode))
                return commit_subdir(up, c->host, name, &st, c->depth);
        if (S_ISREG(st.st_mode))
                return commit_file(up, c->host, name, &st);
        if (S_ISLNK(st.st_mode))
                return commit_link(up, c->host, name, &st);
        return 0; /* fifos, sockets: the workload's own, not carried out */
}

/* Reads wdir/map into lowers; returns how many, or -errno. */
static int read_map(const char *wdir, char (*lowers)[PATH_MAX], size_t max)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char num[16];
        int n = 0;

        if (asprintf(&path, "%s/map", wdir) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        for (;;) {
                int c;
                size_t k = 0;
                while ((c = fgetc(f)) != EOF && c != '\0' && k < sizeof(num) - 1)
                        num[k++] = (char)c;
                if (c == EOF)
                        break;
                num[k] = '\0';
                if (strtoul(num, NULL, 10) != (unsigned long)n || (size_t)n >= max)
                        return -EBADMSG;
                k = 0;
                while ((c = fgetc(f)) != EOF && c != '\0' && k < PATH_MAX - 1)
                        lowers[n][k++] = (char)c;
                if (c != '\0')
                        return -EBADMSG;
                lowers[n][k] = '\0';
                n++;
        }
        return n;
}

int ob_write_bound_commit(const char *run_path, const char *id, ob_error *err)
{
        _cleanup_free_ char *wdir = writes_dir(run_path, id);
        _cleanup_free_ char(*lowers)[PATH_MAX] = NULL;
        struct stat st;
        int n, r = 0;

        if (!wdir)
                return -ENOMEM;
        if (lstat(wdir, &st) < 0)
                return errno == ENOENT ? 0
                                       : ob_error_set(err, 0, 0, errno, "write bound: %s: %s", wdir,
                                                      strerror(errno));
        lowers = calloc(MAX_OVERLAYS, sizeof(*lowers));
        if (!lowers)
                return -ENOMEM;
        n = read_map(wdir, lowers, MAX_OVERLAYS);
        if (n == -ENOENT) /* killed before the map: no overlay was made */
                n = 0;
        if (n < 0)
                return ob_error_set(err, 0, 0, -n,
                                    "write bound: %s/map: %s (the writes are kept "
                                    "in %s)",
                                    wdir, strerror(-n), wdir);
        for (int i = 0; i < n; i++) {
                char mnt[PATH_MAX];
                snprintf(mnt, sizeof(mnt), "%s/wb/%d", run_path, i);
                (void)umount2(mnt, MNT_DETACH);
        }
        if (n > 0 && ob_workspace_is_mounted(wdir) <= 0) /* after a reboot */
                r = ob_workspace_mount(wdir, err);
        for (int i = 0; r >= 0 && i < n; i++) {
                char upper[PATH_MAX];
                _cleanup_close_ int up = -1, host = -1;
                snprintf(upper, sizeof(upper), "%s/workspace/%d/upper", wdir, i);
                up = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                host = open(lowers[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (up < 0 || host < 0)
                        r = negative_errno();
                else
                        r = commit_dir(up, host, 0);
                if (r < 0)
                        ob_error_set(err, 0, 0, -r,
                                     "write bound: committing the run's writes to %s: %s (the "
                                     "writes are kept in %s)",
                                     lowers[i], strerror(-r), wdir);
        }
        if (r < 0)
                return r;
        r = ob_workspace_destroy(wdir, err);
        if (r >= 0)
                r = ob_rm_rf(wdir);
        if (r < 0 && !err->message[0])
                ob_error_set(err, 0, 0, -r, "write bound: removing %s: %s", wdir, strerror(-r));
        return r;
}

unsigned ob_write_bound_gc(const char *state_dir)
{
        _cleanup_free_ char *writes = NULL;
        unsigned done = 0;
        struct dirent *de;
        DIR *d;

        if (asprintf(&writes, "%s/writes", state_dir) < 0)
                return 0;
        d = opendir(writes);
        while (d && (de = readdir(d))) {
                _cleanup_free_ char *run = NULL;
                ob_error err = {0};
                struct stat st;
                if (strncmp(de->d_name, "ob-", 3) != 0 ||
                    asprintf(&run, "%s/runs/%s", state_dir, de->d_name) < 0)
                        continue;
                if (lstat(run, &st) == 0) /* a run's own: its runner, or gc_one, commits */
                        continue;
                if (ob_write_bound_commit(run, de->d_name, &err) < 0)
                        fprintf(stderr, "omnibase: gc: %s: %s\n", de->d_name, err.message);
                else
                        done++;
        }
        if (d)
                closedir(d);
        return done;
}
