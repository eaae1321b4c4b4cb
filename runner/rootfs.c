/* SPDX-License-Identifier: Apache-2.0 */
/* The empty rootfs: only mount points (made here, so that runsc never writes
 * into the rootfs) and the profile's symlinks. Every step is relative to the
 * rootfs fd and refuses to follow symlinks, so nothing lands outside it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "runner/runner.h"

/* Opens (making it when missing) the directory rel under dirfd, one
 * component at a time, never following a symlink. */
static int open_dirs(int rootfd, const char *rel, int *ret)
{
        char buf[PATH_MAX];
        int fd = dup(rootfd);
        char *save = NULL, *tok;

        if (fd < 0)
                return negative_errno();
        if (strlen(rel) >= sizeof(buf)) {
                close(fd);
                return -ENAMETOOLONG;
        }
        strcpy(buf, rel);
        for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
                int next;
                if (mkdirat(fd, tok, 0755) < 0 && errno != EEXIST) {
                        int r = negative_errno();
                        close(fd);
                        return r;
                }
                next = openat(fd, tok, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                close(fd);
                if (next < 0)
                        return errno == ENOTDIR || errno == ELOOP ? -ELOOP : negative_errno();
                fd = next;
        }
        *ret = fd;
        return 0;
}

/* Splits "/a/b/c" into the parent "a/b" (in buf) and the name "c". */
static int split(const char *path, char *buf, size_t size, const char **ret_name)
{
        const char *slash = strrchr(path, '/');
        size_t n;

        if (!slash || !slash[1])
                return -EINVAL;
        n = (size_t)(slash - path);
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(buf, path, n);
        buf[n] = '\0';
        *ret_name = slash + 1;
        return 0;
}

static int make_mount_point(int rootfd, const ob_mount *m)
{
        char parent[PATH_MAX];
        const char *name;
        _cleanup_close_ int dfd = -1;
        int r;

        r = split(m->destination, parent, sizeof(parent), &name);
        if (r < 0)
                return r;
        r = open_dirs(rootfd, parent, &dfd);
        if (r < 0)
                return r;
        if (m->is_dir) {
                if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
        } else {
                int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd < 0 && errno != EISDIR)
                        return negative_errno();
                if (fd >= 0)
                        close(fd);
        }
        return 0;
}

static int make_symlink(int rootfd, const ob_symlink *s)
{
        char parent[PATH_MAX];
        const char *name;
        _cleanup_close_ int dfd = -1;
        int r;

        r = split(s->path, parent, sizeof(parent), &name);
        if (r < 0)
                return r;
        r = open_dirs(rootfd, parent, &dfd);
        if (r < 0)
                return r;
        if (symlinkat(s->target, dfd, name) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

/* Links to the shared directories (ob_rootfs_etc) where programs look for
 * them, made when the directory (dir) is mounted and nothing else is there:
 * a grant of /etc/localtime keeps its mount. /etc/localtime is UTC whatever
 * the host's zone (the host's choice is not shown); OpenSSL's defaults
 * (Debian's OPENSSLDIR /usr/lib/ssl) point at the CA certificates. */
static const struct {
        ob_symlink link;
        const char *dir;
} shared_links[] = {
    {{"/etc/localtime", "/usr/share/zoneinfo/Etc/UTC"}, "/usr/share/zoneinfo"},
    {{"/usr/lib/ssl/certs", "/etc/ssl/certs"}, "/etc/ssl/certs"},
    {{"/usr/lib/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt"}, "/etc/ssl/certs"},
};

bool ob_rootfs_links_near(const char *dir)
{
        size_t dl = strlen(dir);

        for (size_t i = 0; i < ARRAY_SIZE(shared_links); i++) {
                const char *p = shared_links[i].link.path;
                size_t pl = strlen(p);
                if ((strncmp(p, dir, dl) == 0 && (p[dl] == '/' || p[dl] == '\0')) ||
                    (strncmp(dir, p, pl) == 0 && dir[pl] == '/'))
                        return true;
        }
        return false;
}

static bool plan_mounts(const ob_mount_plan *mounts, const char *destination)
{
        for (size_t i = 0; i < mounts->n; i++)
                if (streq(mounts->v[i].destination, destination))
                        return true;
        return false;
}

static const char *const runsc_dirs[] = {"dev", "proc", "sys", "tmp"};

/* Makes every mount point of the plan, the profile's symlinks and the links
 * to the shared directories the plan mounts. */
int ob_rootfs_prepare(const char *rootfs, const ob_mount_plan *mounts, const ob_profile *profile,
                      ob_error *err)
{
        _cleanup_close_ int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r;

        if (rootfd < 0)
                return ob_error_set(err, 0, 0, errno, "%s: %s", rootfs, strerror(errno));
        /* runsc's own mount points: without them it tries (and fails) to
         * make them in the read-only root, then falls back */
        for (size_t i = 0; i < ARRAY_SIZE(runsc_dirs); i++)
                if (mkdirat(rootfd, runsc_dirs[i], 0755) < 0 && errno != EEXIST)
                        return ob_error_set(err, 0, 0, errno, "%s/%s: %s", rootfs, runsc_dirs[i],
                                            strerror(errno));
        for (size_t i = 0; i < mounts->n; i++) {
                r = make_mount_point(rootfd, &mounts->v[i]);
                if (r < 0)
                        return ob_error_set(err, 0, 0, r, "cannot make mount point %s: %s",
                                            mounts->v[i].destination, strerror(-r));
        }
        for (size_t i = 0; profile && i < profile->n_symlinks; i++) {
                r = make_symlink(rootfd, &profile->symlinks[i]);
                if (r < 0)
                        return ob_error_set(err, 0, 0, r, "cannot make symlink %s: %s",
                                            profile->symlinks[i].path, strerror(-r));
        }
        for (size_t i = 0; i < ARRAY_SIZE(shared_links); i++) {
                if (!plan_mounts(mounts, shared_links[i].dir))
                        continue;
                r = make_symlink(rootfd, &shared_links[i].link);
                if (r < 0)
                        return ob_error_set(err, 0, 0, r, "cannot make symlink %s: %s",
                                            shared_links[i].link.path, strerror(-r));
        }
        return 0;
}

/* The sandbox's own /etc files, never the host's (docs/compatibility.md):
 * the sandbox user (uid/gid 65534, what the workload runs as) and root in
 * passwd and group, an nsswitch.conf that reads only files, /etc/hosts with
 * localhost, /etc/hostname with the sandbox's host name; and netbase's
 * public services and protocols tables (add_netbase). */
static const struct {
        const char *name, *text;
} etc_files[] = {
    {"passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n"
               "sandbox:x:65534:65534:sandbox:/tmp:/usr/sbin/nologin\n"},
    {"group", "root:x:0:\nsandbox:x:65534:\n"},
};

/* Public data of the host's packages, read-only, that ordinary programs
 * read: the time zone database in every run, the CA certificates in a
 * network run (docs/compatibility.md). A missing one is skipped. */
static const struct {
        const char *path, *why;
        bool network;
} shared_dirs[] = {
    {"/usr/share/zoneinfo", OB_MOUNT_WHY_ZONEINFO, false},
    {"/etc/ssl/certs", OB_MOUNT_WHY_CA, true},
    {"/usr/share/ca-certificates", OB_MOUNT_WHY_CA, true},
    /* the host's own CAs (update-ca-certificates): already in the bundle,
     * here so that their links in /etc/ssl/certs resolve */
    {"/usr/local/share/ca-certificates", OB_MOUNT_WHY_CA, true},
};

/* Public tables of Debian's netbase package, copied into the run's /etc
 * (not bound: /etc stays one bind, ob_rootfs_etc_group): service and
 * protocol names (getservbyname, getprotobyname). A missing one is
 * skipped. */
static const char *const netbase_files[] = {"services", "protocols"};
#define NETBASE_MAX (1024 * 1024)

static int add_netbase(const char *dir, ob_mount_plan *mounts)
{
        for (size_t i = 0; i < ARRAY_SIZE(netbase_files); i++) {
                _cleanup_free_ char *host = NULL, *src = NULL, *dst = NULL, *text = NULL;
                size_t len;
                int r;
                if (asprintf(&host, "/etc/%s", netbase_files[i]) < 0 ||
                    asprintf(&src, "%s/%s", dir, netbase_files[i]) < 0 ||
                    asprintf(&dst, "/etc/%s", netbase_files[i]) < 0)
                        return -ENOMEM;
                if (ob_read_file(host, NETBASE_MAX, &text, &len) < 0 || strlen(text) != len)
                        continue;
                r = ob_write_file(src, text);
                if (r >= 0)
                        (void)chmod(src, 0644);
                if (r >= 0)
                        r = ob_mount_plan_add(mounts, src, dst, false, false, OB_MOUNT_WHY_ETC);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_shared_dirs(bool network, ob_mount_plan *mounts)
{
        for (size_t i = 0; i < ARRAY_SIZE(shared_dirs); i++) {
                size_t n = mounts->n;
                struct stat st;
                int r;
                if ((shared_dirs[i].network && !network) || lstat(shared_dirs[i].path, &st) < 0 ||
                    !S_ISDIR(st.st_mode))
                        continue;
                r = ob_mount_plan_add(mounts, shared_dirs[i].path, shared_dirs[i].path, false, true,
                                      shared_dirs[i].why);
                if (r < 0)
                        return r;
                if (mounts->n > n) /* data only (a grant's own mount keeps its flags) */
                        mounts->v[n].noexec = true;
        }
        return 0;
}

int ob_rootfs_etc(const char *run_path, const char *hostname, const char *hosts_extra, bool network,
                  ob_mount_plan *mounts)
{
        char hosts[1024], nss[160], host[80];
        const struct {
                const char *name, *text;
        } gen[] = {{"hosts", hosts}, {"nsswitch.conf", nss}, {"hostname", host}};
        _cleanup_free_ char *dir = NULL;
        int r = 0;

        snprintf(hosts, sizeof(hosts),
                 "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s",
                 hosts_extra ? hosts_extra : "");
        snprintf(nss, sizeof(nss), "passwd: files\ngroup: files\nhosts: files%s\n",
                 network ? " dns" : "");
        snprintf(host, sizeof(host), "%s\n", hostname);
        if (asprintf(&dir, "%s/etc", run_path) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0)
                return negative_errno();
        for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(etc_files) + ARRAY_SIZE(gen); i++) {
                const char *name = i < ARRAY_SIZE(etc_files) ? etc_files[i].name
                                                             : gen[i - ARRAY_SIZE(etc_files)].name;
                const char *text = i < ARRAY_SIZE(etc_files) ? etc_files[i].text
                                                             : gen[i - ARRAY_SIZE(etc_files)].text;
                _cleanup_free_ char *src = NULL, *dst = NULL;
                if (asprintf(&src, "%s/%s", dir, name) < 0 || asprintf(&dst, "/etc/%s", name) < 0)
                        return -ENOMEM;
                r = ob_write_file(src, text);
                if (r >= 0)
                        (void)chmod(src, 0644);
                if (r >= 0)
                        r = ob_mount_plan_add(mounts, src, dst, false, false, OB_MOUNT_WHY_ETC);
        }
        if (r >= 0)
                r = add_netbase(dir, mounts);
        return r >= 0 ? add_shared_dirs(network, mounts) : r;
}

/* /etc as one read-only bind of the run's own etc directory instead of one
 * bind per file, when the plan mounts nothing else at, above or under /etc
 * and the profile makes no link there (a network run's CA certificates, a
 * grant under /etc keep the binds per file). The directory then holds the
 * files and the /etc/localtime link the rootfs would have had. */
int ob_rootfs_etc_group(const char *run_path, ob_mount_plan *mounts, const ob_profile *profile)
{
        _cleanup_free_ char *dir = NULL, *prefix = NULL;
        size_t n = 0, w = 0;
        int r;

        if (asprintf(&dir, "%s/etc", run_path) < 0 || asprintf(&prefix, "%s/", dir) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < mounts->n; i++) {
                const ob_mount *m = &mounts->v[i];
                bool under = strncmp(m->destination, "/etc", 4) == 0 &&
                             (m->destination[4] == '/' || m->destination[4] == '\0');
                if (!under)
                        continue;
                if (!streq(m->why, OB_MOUNT_WHY_ETC) || m->writable || m->is_dir ||
                    strncmp(m->source, prefix, strlen(prefix)) != 0)
                        return 0;
                n++;
        }
        for (size_t i = 0; profile && i < profile->n_symlinks; i++)
                if (strncmp(profile->symlinks[i].path, "/etc", 4) == 0 &&
                    (profile->symlinks[i].path[4] == '/' || profile->symlinks[i].path[4] == '\0'))
                        return 0;
        if (n == 0)
                return 0;
        for (size_t i = 0; i < ARRAY_SIZE(shared_links); i++) {
                const char *p = shared_links[i].link.path;
                _cleanup_free_ char *link = NULL;
                if (strncmp(p, "/etc/", 5) != 0 || !plan_mounts(mounts, shared_links[i].dir))
                        continue;
                if (asprintf(&link, "%s/%s", dir, p + 5) < 0)
                        return -ENOMEM;
                if (symlink(shared_links[i].link.target, link) < 0 && errno != EEXIST)
                        return negative_errno();
        }
        for (size_t i = 0; i < mounts->n; i++) {
                ob_mount *m = &mounts->v[i];
                if (streq(m->why, OB_MOUNT_WHY_ETC)) {
                        free(m->source);
                        free(m->destination);
                        free(m->why);
                } else {
                        mounts->v[w++] = *m;
                }
        }
        mounts->n = w;
        r = ob_mount_plan_add(mounts, dir, "/etc", false, true, OB_MOUNT_WHY_ETC);
        if (r < 0)
                return r;
        mounts->v[mounts->n - 1].noexec = true; /* data only */
        ob_mount_plan_sort(mounts);
        return 1;
}
