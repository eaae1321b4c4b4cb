/* SPDX-License-Identifier: Apache-2.0 */
/* The mount mask: every path visible inside the sandbox is an explicit bind
 * mount. Grants are expanded here, at launch, against the host as it is. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "runner/runner.h"

void ob_mount_plan_log(ob_mount_plan *plan, const char *fmt, ...)
{
        char line[PATH_MAX * 2 + 256];
        va_list ap;

        if (!plan->log)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        plan->log(line, plan->userdata);
}

void ob_mount_plan_done(ob_mount_plan *plan)
{
        for (size_t i = 0; i < plan->n; i++) {
                free(plan->v[i].source);
                free(plan->v[i].destination);
                free(plan->v[i].why);
        }
        free(plan->v);
        plan->v = NULL;
        plan->n = 0;
}

/* Reserved destinations: runsc provides them, or the runner does. */
static bool reserved_destination(const char *dest)
{
        static const char *const reserved[] = {"/proc", "/dev", "/sys", OB_SCRIPT_DIR};
        if (streq(dest, "/") || streq(dest, "/tmp"))
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
                size_t n = strlen(reserved[i]);
                if (strncmp(dest, reserved[i], n) == 0 && (dest[n] == '\0' || dest[n] == '/'))
                        return true;
        }
        return false;
}

int ob_mount_plan_add(ob_mount_plan *plan, const char *source, const char *destination,
                      bool writable, bool is_dir, const char *why)
{
        ob_mount *m, *nv;

        for (size_t i = 0; i < plan->n; i++)
                if (streq(plan->v[i].destination, destination)) {
                        plan->v[i].writable |= writable;
                        return 0;
                }
        if (plan->n >= OB_SANDBOX_MAX_MOUNTS)
                return -E2BIG;
        nv = realloc(plan->v, (plan->n + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        plan->v = nv;
        m = &plan->v[plan->n];
        *m = (ob_mount){.writable = writable, .is_dir = is_dir};
        m->source = strdup(source);
        m->destination = strdup(destination);
        m->why = strdup(why);
        plan->n++;
        if (!m->source || !m->destination || !m->why)
                return -ENOMEM;
        return 0;
}

int ob_mount_plan_add_profile(ob_mount_plan *plan, const ob_profile *profile)
{
        for (size_t i = 0; i < profile->n_paths; i++) {
                const char *p = profile->paths[i];
                char real[PATH_MAX];
                struct stat st;
                int r;

                if (!realpath(p, real) || stat(real, &st) < 0) {
                        ob_mount_plan_log(plan,
                                          "profile %s: %s does not exist on this host, skipped",
                                          profile->name, p);
                        continue;
                }
                r = ob_mount_plan_add(plan, real, p, false, S_ISDIR(st.st_mode), "profile");
                if (r < 0)
                        return r;
        }
        return 0;
}

int ob_pattern_literal_prefix(const char *pattern, char **ret, bool *ret_wild)
{
        size_t n = strlen(pattern), j = 0;
        char *out = malloc(n + 1);
        bool wild = false;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (pattern[i] == '\\' && pattern[i + 1] == '*') {
                        out[j++] = '*';
                        i++;
                } else if (pattern[i] == '*') {
                        wild = true;
                        break;
                } else {
                        out[j++] = pattern[i];
                }
        }
        out[j] = '\0';
        *ret = out;
        *ret_wild = wild;
        return 0;
}

typedef struct grant_ctx {
        ob_mount_plan *plan;
        const ob_capset *caps;
        const ob_capability *grant;
        bool writable;
        char why[PATH_MAX + 96];
        const char *prefix; /* literal prefix of the grant's pattern */
        unsigned entries;
} grant_ctx;

/* Can something under dir still match a pattern with this literal prefix? */
static bool may_match_under(const char *prefix, const char *dir)
{
        size_t dl = strlen(dir), pl = strlen(prefix);
        if (pl <= dl)
                return strncmp(dir, prefix, pl) == 0;
        return strncmp(prefix, dir, dl) == 0 && prefix[dl] == '/';
}

/* Which denials keep a file out of this grant's mount (threat model F7):
 * every mount lets its files be read, so a FILE_READ denial keeps a file out
 * of all of them; a read-write mount lets them be written, renamed and
 * linked (to a name a FILE_EXEC grant covers), so FILE_WRITE and FILE_EXEC
 * denials keep a file out of it too; a FILE_EXEC grant's mount is
 * executable, so FILE_EXEC denials keep a file out of it. A FILE_WRITE
 * denial does not keep a file out of a read-only mount, nor a FILE_EXEC
 * denial out of a read-only noexec one: those mounts give neither. */
static bool denial_applies(const grant_ctx *g, ob_cap_kind denied)
{
        switch (denied) {
        case OB_CAP_FILE_READ:
                return true;
        case OB_CAP_FILE_WRITE:
                return g->writable;
        case OB_CAP_FILE_EXEC:
                return g->writable || g->grant->kind == OB_CAP_FILE_EXEC;
        default:
                return false;
        }
}

/* Is the host path (lexical and resolved) allowed for this grant's kind,
 * with no denial that applies to its mount (denial_applies) matching it? */
static bool allowed_here(grant_ctx *g, const char *path)
{
        ob_decision d;
        if (ob_capset_check(g->caps, g->grant->kind, path, &d) < 0 || !d.allowed)
                return false;
        for (ob_cap_kind k = OB_CAP_FILE_READ; k <= OB_CAP_FILE_EXEC; k++) {
                if (k == g->grant->kind || !denial_applies(g, k))
                        continue;
                if (ob_capset_check(g->caps, k, path, &d) < 0 || d.denied_by_rule)
                        return false;
        }
        return true;
}

/* Could some denial that applies to this grant's mount match a path under dir? */
static bool denial_under(grant_ctx *g, const char *dir)
{
        size_t n = ob_capset_count(g->caps, true), dl = strlen(dir);

        for (size_t i = 0; i < n; i++) {
                const ob_capability *d = ob_capset_get(g->caps, true, i);
                _cleanup_free_ char *prefix = NULL;
                bool wild;
                if (d->kind != g->grant->kind && !denial_applies(g, d->kind))
                        continue;
                if (ob_pattern_literal_prefix(d->target, &prefix, &wild) < 0)
                        return true;
                /* the denial reaches under dir, or dir lies under the denial's prefix */
                if (strncmp(prefix, dir, dl) == 0 && (prefix[dl] == '/' || prefix[dl] == '\0'))
                        return true;
                if (strncmp(dir, prefix, strlen(prefix)) == 0 && wild)
                        return true;
        }
        return false;
}

static bool ends_with_star(const char *p)
{
        size_t n = strlen(p);
        return n > 0 && p[n - 1] == '*' && (n < 2 || p[n - 2] != '\\');
}

/* Does the grant cover everything under directory d, with no denial there? */
static bool dir_fully_granted(grant_ctx *g, const char *d)
{
        _cleanup_free_ char *slash = NULL;

        if (asprintf(&slash, "%s/", streq(d, "/") ? "" : d) < 0)
                return false;
        return ends_with_star(g->grant->target) && ob_pattern_match(g->grant->target, slash) &&
               !denial_under(g, d);
}

/* Does the tree under dir hold a regular file with more than one link (a
 * hard link: the same inode may be a file outside the grant or a denied
 * one, threat model F1)? *budget bounds the entries looked at; a tree over
 * it counts as yes (fail closed: it is then searched, not mounted whole). */
static bool has_hard_links(int dirfd, unsigned depth, unsigned *budget)
{
        DIR *d = fdopendir(dirfd);
        struct dirent *de;
        bool found = depth > OB_WALK_MAX_DEPTH;

        if (!d) {
                close(dirfd);
                return true;
        }
        while (!found && (de = readdir(d))) {
                struct stat st;
                int sub;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if ((*budget)-- == 0 || fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        found = true;
                        break;
                }
                if (S_ISREG(st.st_mode) && st.st_nlink > 1)
                        found = true;
                else if (S_ISDIR(st.st_mode)) {
                        sub = openat(dirfd, de->d_name,
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        found = sub < 0 || has_hard_links(sub, depth + 1, budget);
                }
        }
        closedir(d);
        return found;
}

/* A directory mounted whole must hold no hard-linked file. */
static bool dir_free_of_hard_links(grant_ctx *g, const char *dir)
{
        unsigned budget = OB_WALK_MAX_ENTRIES;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd >= 0 && !has_hard_links(fd, 0, &budget))
                return true;
        ob_mount_plan_log(g->plan,
                          "%s: %s holds hard-linked files (or too many to check): searching it",
                          g->why, dir);
        return false;
}

/* A grant's mount is noexec unless a FILE_EXEC grant mounts it (F2): the
 * same destination added again by FILE_EXEC becomes executable. */
static int add_grant_mount(grant_ctx *g, const char *real, const char *path, bool is_dir)
{
        size_t n = g->plan->n;
        bool exec = g->grant->kind == OB_CAP_FILE_EXEC;
        int r = ob_mount_plan_add(g->plan, real, path, g->writable, is_dir, g->why);

        if (r < 0)
                return r;
        for (size_t i = 0; i < g->plan->n; i++)
                if (streq(g->plan->v[i].destination, path)) {
                        g->plan->v[i].grant_write |= g->writable;
                        if (g->plan->n > n)
                                g->plan->v[i].noexec = !exec;
                        else if (exec)
                                g->plan->v[i].noexec = false;
                }
        return 0;
}

/* Mounts path when it and its host resolution are allowed by the grant.
 * Returns 1 for a directory that can only be searched, not mounted whole. */
static int consider(grant_ctx *g, const char *path, bool whole_dir_ok)
{
        char real[PATH_MAX];
        struct stat st;

        if (!realpath(path, real) || stat(real, &st) < 0) {
                ob_mount_plan_log(g->plan, "%s: %s does not exist, not mounted", g->why, path);
                return 0;
        }
        if (S_ISDIR(st.st_mode)) {
                if (!streq(real, path) && !dir_fully_granted(g, real) &&
                    !ob_pattern_match(g->grant->target, real)) {
                        ob_mount_plan_log(g->plan,
                                          "%s: %s resolves to %s, outside the grant: not mounted",
                                          g->why, path, real);
                        return 0;
                }
                if (!whole_dir_ok || !dir_fully_granted(g, path) || !dir_fully_granted(g, real))
                        return 1; /* search it instead */
        } else if (!S_ISREG(st.st_mode)) {
                ob_mount_plan_log(g->plan, "%s: %s is not a regular file or directory, not mounted",
                                  g->why, path);
                return 0;
        } else if (!streq(real, path) &&
                   (!ob_pattern_match(g->grant->target, real) || !allowed_here(g, real))) {
                ob_mount_plan_log(g->plan, "%s: %s resolves to %s, outside the grant: not mounted",
                                  g->why, path, real);
                return 0;
        } else if (!allowed_here(g, path)) {
                ob_mount_plan_log(g->plan, "%s: %s is denied, not mounted", g->why, path);
                return 0;
        } else if (st.st_nlink > 1 && !streq(path, g->grant->target)) {
                /* (a grant that names the file itself grants that inode) */
                ob_mount_plan_log(
                    g->plan,
                    "%s: %s has %ju hard links (the same file under another name may be "
                    "outside the grant or denied): not mounted",
                    g->why, path, (uintmax_t)st.st_nlink);
                return 0;
        }
        if (reserved_destination(path)) {
                ob_mount_plan_log(g->plan, "%s: %s is reserved inside the sandbox, not mounted",
                                  g->why, path);
                return 0;
        }
        if (S_ISDIR(st.st_mode) && !dir_free_of_hard_links(g, real))
                return 1; /* search it instead: each hard-linked file is left out */
        ob_mount_plan_log(g->plan, "%s: mount %s%s%s (%s)", g->why, path,
                          streq(real, path) ? "" : " -> ", streq(real, path) ? "" : real,
                          g->writable ? "rw" : "ro");
        return add_grant_mount(g, real, path, S_ISDIR(st.st_mode));
}

static int walk(grant_ctx *g, const char *dir, unsigned depth)
{
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth > OB_WALK_MAX_DEPTH) {
                ob_mount_plan_log(g->plan, "%s: %s is deeper than %d levels, not searched", g->why,
                                  dir, OB_WALK_MAX_DEPTH);
                return 0;
        }
        d = opendir(dir);
        if (!d)
                return 0;
        while (r >= 0 && (de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (++g->entries > OB_WALK_MAX_ENTRIES) {
                        if (g->entries == OB_WALK_MAX_ENTRIES + 1)
                                ob_mount_plan_log(g->plan,
                                                  "%s: more than %d entries searched, stopped",
                                                  g->why, OB_WALK_MAX_ENTRIES);
                        r = -ECANCELED;
                        break;
                }
                if (asprintf(&path, "%s/%s", streq(dir, "/") ? "" : dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (lstat(path, &st) < 0)
                        continue;
                if (ob_pattern_match(g->grant->target, path))
                        r = consider(g, path, true);
                else
                        r = S_ISDIR(st.st_mode) ? 1 : 0;
                if (r == 1 && S_ISDIR(st.st_mode) && may_match_under(g->prefix, path))
                        r = walk(g, path, depth + 1);
        }
        closedir(d);
        return r == -ECANCELED ? 0 : r; /* the search bound is not an error */
}

static int expand_grant(grant_ctx *g)
{
        _cleanup_free_ char *prefix = NULL, *dir = NULL;
        const char *target = g->grant->target;
        size_t tl = strlen(target);
        bool wild;
        int r;

        r = ob_pattern_literal_prefix(target, &prefix, &wild);
        if (r < 0)
                return r;
        g->prefix = prefix;
        if (prefix[0] != '/') {
                ob_mount_plan_log(g->plan, "%s: not an absolute path pattern, not mounted", g->why);
                return 0;
        }
        if (!wild) {
                r = consider(g, prefix, true);
                return r == 1 ? walk(g, prefix, 0) : r;
        }
        /* "/dir/<star>" with nothing else wild: the directory itself */
        if (tl >= 2 && streq(target + tl - 2, "/*") && strlen(prefix) == tl - 1) {
                prefix[tl - 2] = '\0';
                r = consider(g, prefix[0] ? prefix : "/", true);
                if (r != 1)
                        return r;
                ob_mount_plan_log(g->plan, "%s: a denial reaches under %s: searching it", g->why,
                                  prefix[0] ? prefix : "/");
                return walk(g, prefix[0] ? prefix : "/", 0);
        }
        /* other wildcards: walk the directory part of the literal prefix */
        dir = strdup(prefix);
        if (!dir)
                return -ENOMEM;
        *(strrchr(dir, '/') + 1) = '\0';
        if (strlen(dir) > 1)
                dir[strlen(dir) - 1] = '\0';
        ob_mount_plan_log(g->plan, "%s: searching %s", g->why, dir);
        return walk(g, dir, 0);
}

int ob_mount_plan_add_grants(ob_mount_plan *plan, const ob_capset *caps)
{
        size_t n = ob_capset_count(caps, false);

        for (size_t i = 0; i < n; i++) {
                const ob_capability *c = ob_capset_get(caps, false, i);
                grant_ctx g = {.plan = plan, .caps = caps, .grant = c};
                int r;

                if (c->kind == OB_CAP_NETWORK_CONNECT) {
                        ob_mount_plan_log(plan,
                                          "NETWORK_CONNECT %s: not a mount (the egress allowlist, "
                                          "docs/network.md)",
                                          c->target);
                        continue;
                }
                g.writable = c->kind == OB_CAP_FILE_WRITE;
                snprintf(g.why, sizeof(g.why), "%s %s%s%s%s", ob_cap_kind_to_string(c->kind),
                         c->target, c->policy_id ? " (policy " : "",
                         c->policy_id ? c->policy_id : "", c->policy_id ? ")" : "");
                r = expand_grant(&g);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int cmp_mount(const void *a, const void *b)
{
        const ob_mount *x = a, *y = b;
        return strcmp(x->destination, y->destination);
}

void ob_mount_plan_sort(ob_mount_plan *plan)
{
        /* strcmp order puts "/a" before "/a/b"; '/' sorts before letters but
         * after some punctuation, which does not matter for parent-first */
        if (plan->n > 1)
                qsort(plan->v, plan->n, sizeof(*plan->v), cmp_mount);
}
