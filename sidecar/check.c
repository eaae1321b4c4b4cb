/* SPDX-License-Identifier: Apache-2.0 */
/* One trapped syscall → one verdict: read its arguments from the tracee,
 * resolve paths and addresses, map them to capabilities, check the set. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "capabilities/pattern.h"
#include "common/macros.h"
#include "common/utf8.h"
#include "sidecar/sidecar.h"

#define NEED_READ  1u
#define NEED_WRITE 2u
#define NEED_EXEC  4u
#define MAX_MMSG   1024 /* UIO_MAXIOV: the kernel's own cap on sendmmsg's vlen */

static void deny(ob_verdict *v, int error)
{
        v->allowed = false;
        v->error = error;
}

/* ob_capset_check(), where FILE_WRITE implies FILE_READ of the same path
 * (threat model F9): a FILE_WRITE grant is a read-write bind, which a
 * thread racing this check can read anyway, so a read is not refused where
 * a write is allowed. A FILE_READ denial still wins (and keeps the file out
 * of every mount: runner/mounts.c). */
static int decide_utf8(const ob_capset *caps, ob_cap_kind kind, const char *target,
                       ob_decision *ret)
{
        ob_decision w = {0};
        int r = ob_capset_check(caps, kind, target, ret);

        if (r == 0 && kind == OB_CAP_FILE_READ && !ret->allowed && !ret->denied_by_rule &&
            ob_capset_check(caps, OB_CAP_FILE_WRITE, target, &w) == 0 && w.allowed)
                *ret = w;
        return r;
}

/* decide_utf8() of target. A name that is not UTF-8 (a path is just bytes)
 * is one no grant can name: it is decided as spelled with U+FFFD for each
 * bad byte, so that a denial whose pattern covers it still refuses it, and
 * a grant never allows it: no rule decides, and only the scratch's own
 * rule can (check_cap: the workload's files in its /tmp). */
static int decide(const ob_capset *caps, ob_cap_kind kind, const char *target, ob_decision *ret)
{
        _cleanup_free_ char *spelled = NULL;
        size_t len = strlen(target);
        int r;

        if (ob_utf8_valid(target, len))
                return decide_utf8(caps, kind, target, ret);
        spelled = ob_utf8_sanitize_dup(target, len, false, NULL);
        if (!spelled)
                return -ENOMEM;
        r = decide_utf8(caps, kind, spelled, ret);
        if (r == 0 && !ret->denied_by_rule)
                *ret = (ob_decision){0};
        return r;
}

/* Checks one capability; on a denial fills v (taking target). */
static int check_cap(const ob_capset *caps, ob_cap_kind kind, char **target, bool creates,
                     int error, ob_verdict *v)
{
        ob_decision d = {0};
        int r = decide(caps, kind, *target, &d);

        if (r == 0 && d.allowed)
                return 0;
        /* no rule decided: the workload's own files in its scratch */
        if (r == 0 && !d.rule && kind != OB_CAP_FILE_EXEC && ob_scratch_allows(*target, creates))
                return 0;
        /* a target the set cannot even parse is denied by default */
        deny(v, error);
        v->capability = ob_cap_kind_to_string(kind);
        v->policy_id = r == 0 && d.rule && d.rule->policy_id ? d.rule->policy_id : "default-deny";
        v->target = TAKE_PTR(*target);
        return 1;
}

/* What an open needs. A read-only O_DIRECTORY open needs nothing: it can
 * only list names and serve as a dirfd (whose uses are checked), like stat
 * and getdents it shows only what the mount mask lets exist. */
static unsigned open_needs(uint64_t flags)
{
        unsigned need = 0;

        if ((flags & O_DIRECTORY) && (flags & O_ACCMODE) == O_RDONLY &&
            !(flags & (O_CREAT | O_TRUNC)) && (flags & __O_TMPFILE) != __O_TMPFILE)
                return 0;
        if (flags & O_PATH)
                return NEED_READ;
        switch (flags & O_ACCMODE) {
        case O_RDONLY:
                need = NEED_READ;
                break;
        case O_WRONLY:
                need = NEED_WRITE;
                break;
        default:
                need = NEED_READ | NEED_WRITE;
                break;
        }
        if ((flags & (O_CREAT | O_TRUNC)) || (flags & __O_TMPFILE) == __O_TMPFILE)
                need |= NEED_WRITE;
        return need;
}

static bool arg_follows(const ob_path_arg *p, uint64_t flags)
{
        switch (p->follow) {
        case OB_NOFOLLOW:
                return false;
        case OB_FOLLOW_UNLESS_AT:
                return !(flags & AT_SYMLINK_NOFOLLOW);
        case OB_NOFOLLOW_UNLESS_AT:
                return flags & AT_SYMLINK_FOLLOW;
        default:
                return true;
        }
}

/* The resolved path of one argument, the capabilities it needs and whether
 * its last component is followed. 0, or -errno to fail the syscall with. */
/* Does argument i of s make its path (a new name)? */
static bool arg_creates(const ob_syscall_info *s, size_t i, const ob_path_arg *p, uint64_t flags)
{
        static const char *const makers[] = {"creat",   "mkdir",   "mkdirat",  "mknod",
                                             "mknodat", "symlink", "symlinkat"};

        if (p->access == OB_ACCESS_OPEN || p->access == OB_ACCESS_OPENAT2)
                return flags & O_CREAT;
        if (i == 1) /* rename*, link*: the new name */
                return true;
        for (size_t k = 0; k < ARRAY_SIZE(makers); k++)
                if (streq(s->name, makers[k]))
                        return true;
        return false;
}

static int path_arg(pid_t tid, const ob_syscall_info *s, const ob_path_arg *p, const uint64_t a[6],
                    char **ret, unsigned *ret_need, bool *ret_creates, int *ret_fails,
                    uint64_t *ret_flags)
{
        char buf[OB_SIDECAR_MAX_PATH + 1];
        uint64_t flags = p->flags >= 0 ? a[p->flags] : 0;
        int dirfd = p->dirfd >= 0 ? (int)a[p->dirfd] : AT_FDCWD;
        bool follow = arg_follows(p, flags);
        unsigned need = p->access == OB_ACCESS_EXEC ? NEED_EXEC : NEED_WRITE;
        ssize_t n;

        if (p->access == OB_ACCESS_OPENAT2 && ob_tracee_read(tid, a[2], &flags, 8) < 0)
                return -EFAULT;
        if (p->access == OB_ACCESS_OPEN || p->access == OB_ACCESS_OPENAT2) {
                need = open_needs(flags);
                follow =
                    !(flags & O_NOFOLLOW) && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
        }
        *ret_need = need;
        *ret_flags = flags;
        *ret_creates = arg_creates(s, (size_t)(p - s->p), p, flags);
        *ret_fails = 0;
        if (need == 0) {
                *ret = NULL; /* nothing to check: do not even resolve */
                return 0;
        }
        if (a[p->path] == 0 && streq(s->name, "utimensat"))
                return ob_resolve_fd(tid, dirfd, ret); /* futimens() */
        n = ob_tracee_read_string(tid, a[p->path], buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        if (n == 0 && p->flags >= 0 && p->access != OB_ACCESS_OPEN &&
            p->access != OB_ACCESS_OPENAT2 && (flags & AT_EMPTY_PATH))
                return ob_resolve_fd(tid, dirfd, ret); /* fexecve(), linkat(fd, "") */
        return ob_resolve_path_fails(tid, dirfd, buf, follow, ret, ret_fails);
}

/* A path the sidecar could not resolve for sure (resolve.c: a component it
 * could not look at, a deleted cwd): denied with EACCES and reported, for
 * the first capability it needed, with the path as the tracee wrote it. */
static int unresolvable(pid_t tid, const ob_syscall_info *s, const ob_path_arg *p,
                        const uint64_t a[6], unsigned need, ob_verdict *v)
{
        char buf[OB_SIDECAR_MAX_PATH + 1];
        ssize_t n = a[p->path] ? ob_tracee_read_string(tid, a[p->path], buf, sizeof(buf)) : -1;

        deny(v, EACCES);
        v->capability = ob_cap_kind_to_string(need & NEED_READ    ? OB_CAP_FILE_READ
                                              : need & NEED_WRITE ? OB_CAP_FILE_WRITE
                                                                  : OB_CAP_FILE_EXEC);
        v->policy_id = "unresolvable-path";
        if (n > 0)
                v->target = strdup(buf);
        else if (p->dirfd >= 0 && asprintf(&v->target, "fd:%d", (int)a[p->dirfd]) < 0)
                v->target = NULL;
        else if (p->dirfd < 0)
                v->target = strdup("?");
        return v->target ? 0 : -ENOMEM;
}

/* Could the workload itself walk to path's last component: search
 * permission, as its fsuid/fsgid, on every directory up to the first one
 * that is missing or not a directory? Only then is the kernel's answer to
 * it ENOENT/ENOTDIR/EEXIST rather than EACCES. The sidecar looks with
 * CAP_DAC_READ_SEARCH: without this, a denied call would tell the workload
 * whether a name exists in a directory it may not search (/proc/1/fd).
 * Supplementary groups are not looked at: false is the safe answer (the
 * denial stands). */
static bool workload_reaches(const char *path, uid_t uid, gid_t gid)
{
        char buf[OB_SIDECAR_MAX_PATH + 1];
        size_t n = strlen(path);

        if (path[0] != '/' || n >= sizeof(buf) || uid == 0)
                return false;
        memcpy(buf, path, n + 1);
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                mode_t x;
                char c;
                if (path[i] != '/')
                        continue;
                c = buf[i + 1];
                buf[i + 1] = '\0'; /* "/", then "/a/", "/a/b/": the directories */
                if (stat(buf, &st) < 0) {
                        buf[i + 1] = c;
                        return errno == ENOENT || errno == ENOTDIR; /* the kernel stops here */
                }
                buf[i + 1] = c;
                if (!S_ISDIR(st.st_mode))
                        return true; /* ENOTDIR */
                x = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
                if (!(st.st_mode & x))
                        return false;
        }
        return true;
}

/* Does argument p of s make its name only when nothing is there (EEXIST
 * otherwise)? Not a rename, which replaces. */
static bool makes_exclusive(const ob_syscall_info *s, const ob_path_arg *p, uint64_t flags)
{
        if (p->access == OB_ACCESS_OPEN || p->access == OB_ACCESS_OPENAT2)
                return (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL);
        return strncmp(s->name, "rename", 6) != 0;
}

/* What the kernel would answer a call that the check denies, when the
 * sidecar can say it without running the call: EEXIST for a new name that
 * is already there; ENOENT/ENOTDIR for a target that is not there and that
 * the call does not create, where it is the workload's own under a scratch
 * directory (scratch.c) or as an exec (a PATH lookup). 0: the denial stands. The call does not
 * run, so whatever a thread changes afterwards it does nothing. Outside
 * scratch, a read or write of a missing path stays a denial: the mount mask
 * is what makes a host path missing in the sandbox, and an attempt on one
 * is reported (docs/sidecar.md). */
/* The kernel's answer to making path's last name when its directory is not
 * there (ENOENT) or is not a directory (ENOTDIR); 0 when it is one. */
static int parent_absent(const char *path)
{
        char parent[PATH_MAX];
        const char *slash = strrchr(path, '/');
        struct stat st;

        if (!slash || slash == path || (size_t)(slash - path) >= sizeof(parent))
                return 0;
        memcpy(parent, path, (size_t)(slash - path));
        parent[slash - path] = '\0';
        if (lstat(parent, &st) == 0)
                return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        return errno == ENOENT || errno == ENOTDIR ? errno : 0;
}

/* A path missing from gVisor's own /dev (own.c: no host path is mounted
 * there, so it is not one the mount mask left out: /dev/vsock, read by
 * socket tests) that no rule of the user's names for this kind: the
 * kernel's ENOENT, as under scratch. A user's denial stays reported. */
static bool dev_absent_unnamed(const ob_capset *caps, ob_cap_kind kind, const char *path)
{
        ob_decision d = {0};

        return ob_dev_owns_absent(path) && decide(caps, kind, path, &d) >= 0 && !d.rule;
}

static int kernel_answer(const ob_capset *caps, ob_cap_kind kind, pid_t tid,
                         const ob_syscall_info *s, const ob_path_arg *p, const char *path,
                         unsigned need, bool creates, int fails, uint64_t flags)
{
        struct stat st;
        bool exists;
        int absent = 0;
        uid_t uid;
        gid_t gid;

        if (lstat(path, &st) == 0)
                exists = true;
        else if (errno == ENOENT || errno == ENOTDIR)
                exists = false, absent = errno;
        else
                return 0;
        if (ob_tracee_fsids(tid, &uid, &gid) < 0 || !workload_reaches(path, uid, gid))
                return 0;
        if (exists)
                return creates && !fails && makes_exclusive(s, p, flags) ? EEXIST : 0;
        if (!(need & NEED_EXEC) && !ob_scratch_owns_absent(path, uid) &&
            !dev_absent_unnamed(caps, kind, path))
                return 0;
        if (fails)
                return fails;
        if (creates) /* it makes the last name: it fails where that cannot go */
                return absent == ENOTDIR ? ENOTDIR : parent_absent(path);
        return absent;
}

/* Does a rule of the set (a user's denial) decide FILE_WRITE of path? Then
 * a denial is the user's own word, and it stays reported. */
static bool rule_decides(const ob_capset *caps, const char *path)
{
        ob_decision d = {0};

        return decide(caps, OB_CAP_FILE_WRITE, path, &d) < 0 || d.rule;
}

/* A bytecode cache that an interpreter makes next to a module on a
 * read-only mount (`python -O` children writing `__pycache__/NAME.opt-1.pyc`
 * into the profile's /usr/lib/python3.11): importlib skips the cache on any
 * OSError, and the mount refuses the write whatever the sidecar says. Not a
 * capability question where the run may read the directory (a profile path
 * or a FILE_READ grant): the errno gVisor gives (own.c), nothing reported.
 * Any other write there stays a denial (docs/compatibility.md). */
static int bytecode_answer(const ob_capset *caps, pid_t tid, const ob_syscall_info *s,
                           const ob_path_arg *p, const char *path)
{
        bool dir = strncmp(s->name, "mkdir", 5) == 0;
        bool opens = p->access == OB_ACCESS_OPEN || p->access == OB_ACCESS_OPENAT2;
        const char *slash = strrchr(path, '/');
        char parent[OB_SIDECAR_MAX_PATH + 1];
        ob_decision d = {0};
        uid_t uid;
        gid_t gid;

        if ((!dir && !opens && !streq(s->name, "creat")) || !ob_bytecode_cache_name(path, dir) ||
            !slash || slash == path || (size_t)(slash - path) >= sizeof(parent))
                return 0;
        memcpy(parent, path, (size_t)(slash - path));
        parent[slash - path] = '\0';
        if (rule_decides(caps, path) || decide(caps, OB_CAP_FILE_READ, parent, &d) < 0 ||
            !d.allowed)
                return 0;
        if (ob_tracee_fsids(tid, &uid, &gid) < 0 || !workload_reaches(path, uid, gid))
                return 0;
        return ob_readonly_answer(parent, uid, gid);
}

/* Turns a denial into the kernel's answer e, with nothing to report. */
static void unreport(ob_verdict *v, int e)
{
        free(TAKE_PTR(v->target));
        *v = (ob_verdict){.layer = v->layer};
        deny(v, e);
}

/* Can this syscall put a symlink where there was none (see resolve.c)? */
static bool makes_links(const ob_syscall_info *s)
{
        return strncmp(s->name, "rename", 6) == 0 || strncmp(s->name, "link", 4) == 0 ||
               strncmp(s->name, "symlink", 7) == 0;
}

/* Denies (taking *old) with the capability a new name would have given. */
static void deny_new_name(ob_cap_kind kind, const ob_capability *rule, char **old, ob_verdict *v)
{
        deny(v, EACCES);
        v->capability = ob_cap_kind_to_string(kind);
        v->policy_id = rule && rule->policy_id ? rule->policy_id : "default-deny";
        v->target = TAKE_PTR(*old);
}

/* Does some file denial name a path strictly under dir (its literal prefix
 * starts with "dir/")? Returns that denial, or NULL. */
static const ob_capability *denial_under(const ob_capset *caps, const char *dir)
{
        size_t n = ob_capset_count(caps, true), dl = strlen(dir);
        char prefix[PATH_MAX + 1];

        for (size_t i = 0; i < n; i++) {
                const ob_capability *d = ob_capset_get(caps, true, i);
                size_t off = cap_pattern_wild_offset(d->target);
                if (d->kind == OB_CAP_NETWORK_CONNECT || off > PATH_MAX)
                        continue;
                cap_pattern_unescape(d->target, off, prefix);
                if (strncmp(prefix, dir, dl) == 0 && (prefix[dl] == '/' || streq(dir, "/")))
                        return d;
        }
        return NULL;
}

/* A rename or link moves a file to a new name: it must not give the file a
 * capability its old name did not have (threat model F7): FILE_READ where
 * the old name was not readable, or a capability a denial refuses the old
 * name; nor may a directory be renamed that a denial names a path under.
 * The mount mask is the boundary (a denied file is in no read-write mount);
 * this makes the attempt visible. 1 on a denial (v filled, *old taken). */
static int check_new_name(const ob_capset *caps, const ob_syscall_info *s, char **old,
                          const char *new, ob_verdict *v)
{
        static const ob_cap_kind kinds[] = {OB_CAP_FILE_READ, OB_CAP_FILE_EXEC};
        const ob_capability *under;

        for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
                ob_decision dn = {0}, d = {0};
                bool readable;
                if (decide(caps, kinds[k], new, &dn) < 0 || decide(caps, kinds[k], *old, &d) < 0) {
                        deny_new_name(kinds[k], NULL, old, v); /* fail closed */
                        return 1;
                }
                if (!dn.allowed &&
                    (kinds[k] != OB_CAP_FILE_READ || dn.rule || !ob_scratch_allows(new, true)))
                        continue; /* the new name gives nothing of this kind */
                readable = d.allowed || (!d.rule && ob_scratch_allows(*old, false));
                if (d.denied_by_rule || (kinds[k] == OB_CAP_FILE_READ && !readable)) {
                        deny_new_name(kinds[k], d.rule, old, v);
                        return 1;
                }
        }
        under = strncmp(s->name, "rename", 6) == 0 ? denial_under(caps, *old) : NULL;
        if (under) {
                deny_new_name(under->kind, under, old, v);
                return 1;
        }
        return 0;
}

static bool moves_names(const ob_syscall_info *s)
{
        return strncmp(s->name, "rename", 6) == 0 || strncmp(s->name, "link", 4) == 0;
}

static int check_path(const ob_capset *caps, pid_t tid, const ob_syscall_info *s,
                      const uint64_t a[6], ob_verdict *v)
{
        static const struct {
                unsigned need;
                ob_cap_kind kind;
        } order[] = {{NEED_READ, OB_CAP_FILE_READ},
                     {NEED_WRITE, OB_CAP_FILE_WRITE},
                     {NEED_EXEC, OB_CAP_FILE_EXEC}};
        _cleanup_free_ char *old = NULL, *new = NULL;

        for (size_t i = 0; i < 2 && s->p[i].path >= 0; i++) {
                _cleanup_free_ char *path = NULL;
                unsigned need = 0;
                bool creates = false;
                uint64_t flags = 0;
                int fails = 0;
                int r = path_arg(tid, s, &s->p[i], a, &path, &need, &creates, &fails, &flags);
                if (r == -EACCES)
                        return unresolvable(tid, s, &s->p[i], a, need, v);
                if (r < 0) {
                        deny(v, -r); /* what the kernel would say; nothing to report */
                        return 0;
                }
                if ((need & NEED_EXEC) && ob_loader_is(path)) {
                        /* whatever the grants: only ever a PT_INTERP (F11) */
                        deny(v, EACCES);
                        v->capability = "FILE_EXEC";
                        v->policy_id = "default-deny";
                        v->target = TAKE_PTR(path);
                        return 0;
                }
                for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
                        int e;
                        if (!(need & order[k].need))
                                continue;
                        if (!check_cap(caps, order[k].kind, &path, creates, EACCES, v))
                                continue;
                        e = kernel_answer(caps, order[k].kind, tid, s, &s->p[i], v->target, need,
                                          creates, fails, flags);
                        if (!e && order[k].kind == OB_CAP_FILE_WRITE && creates)
                                e = bytecode_answer(caps, tid, s, &s->p[i], v->target);
                        if (e) /* not a capability question: nothing to report */
                                unreport(v, e);
                        return 0;
                }
                /* allowed as written, but the kernel fails at a missing
                 * directory or a file: fail it here, so that no thread can
                 * make that component exist between this check and the call */
                if (fails) {
                        deny(v, fails);
                        return 0;
                }
                if (i == 0)
                        old = TAKE_PTR(path);
                else
                        new = TAKE_PTR(path);
        }
        if (moves_names(s) && old && new) {
                if (check_new_name(caps, s, &old, new, v))
                        return 0;
                /* renameat2(RENAME_EXCHANGE): the new name's file moves too */
                if (streq(s->name, "renameat2") && (a[4] & RENAME_EXCHANGE) &&
                    check_new_name(caps, s, &new, old, v))
                        return 0;
        }
        if (makes_links(s))
                ob_resolve_invalidate();
        return 0;
}

/* "ip:port" or "[ip6]:port" of an inet address; v4-mapped v6 as v4. */
static int inet_target(const struct sockaddr_storage *ss, char **ret)
{
        char ip[INET6_ADDRSTRLEN];
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        bool v6 = ss->ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
        unsigned port = ntohs(ss->ss_family == AF_INET ? in->sin_port : in6->sin6_port);

        if (ss->ss_family == AF_INET)
                inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        else if (!v6)
                inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof(ip));
        else
                inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        return asprintf(ret, v6 ? "[%s]:%u" : "%s:%u", ip, port) < 0 ? -ENOMEM : 0;
}

/* Decides ip:port, and name:port for every name /etc/hosts gives the
 * address: allowed when one of them is allowed and no denial matches any. */
static int check_inet(const ob_capset *caps, const struct sockaddr_storage *ss, int error,
                      ob_verdict *v)
{
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        bool mapped = ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
        int family = ss->ss_family == AF_INET || mapped ? AF_INET : AF_INET6;
        const void *addr = ss->ss_family == AF_INET ? (const void *)&in->sin_addr
                           : mapped                 ? (const void *)&in6->sin6_addr.s6_addr[12]
                                                    : (const void *)&in6->sin6_addr;
        unsigned port = ntohs(ss->ss_family == AF_INET ? in->sin_port : in6->sin6_port);
        _cleanup_free_ char *target = NULL;
        const ob_capability *deciding = NULL;
        char **names = NULL;
        size_t n = 0;
        ob_decision d = {0};
        bool allowed;
        int r;

        if (inet_target(ss, &target) < 0)
                return -ENOMEM;
        r = ob_capset_check(caps, OB_CAP_NETWORK_CONNECT, target, &d);
        allowed = r == 0 && d.allowed;
        deciding = r == 0 && d.denied_by_rule ? d.rule : NULL;
        if (!deciding && ob_hosts_names(OB_SIDECAR_HOSTS, family, addr, &names, &n) >= 0) {
                for (size_t i = 0; i < n && !deciding; i++) {
                        char hp[512];
                        ob_decision dn = {0};
                        snprintf(hp, sizeof(hp), "%.400s:%u", names[i], port);
                        if (ob_capset_check(caps, OB_CAP_NETWORK_CONNECT, hp, &dn) < 0)
                                continue;
                        allowed |= dn.allowed;
                        deciding = dn.denied_by_rule ? dn.rule : NULL;
                }
                ob_hosts_names_free(names, n);
        }
        if (allowed && !deciding)
                return 0;
        deny(v, error);
        v->capability = "NETWORK_CONNECT";
        v->policy_id = deciding && deciding->policy_id ? deciding->policy_id : "default-deny";
        v->target = TAKE_PTR(target);
        return 0;
}

/* A connect or send to a socket path that is not there, in the sandbox's
 * own space (a scratch directory, gVisor's own /dev: /dev/log of syslog
 * clients) and where the workload can walk to it: the kernel's ENOENT or
 * ENOTDIR, nothing reported. A missing host path elsewhere (a daemon's
 * socket the mount mask left out) stays a denial, as for open. */
static int absent_socket(const ob_capset *caps, pid_t tid, const char *path)
{
        struct stat st;
        uid_t uid;
        gid_t gid;
        int e;

        if (rule_decides(caps, path) || lstat(path, &st) == 0 ||
            (errno != ENOENT && errno != ENOTDIR))
                return 0;
        e = errno;
        if (ob_tracee_fsids(tid, &uid, &gid) < 0 || !workload_reaches(path, uid, gid))
                return 0;
        return ob_scratch_owns_absent(path, uid) || ob_dev_owns_absent(path) ? e : 0;
}

static int check_unix(const ob_capset *caps, pid_t tid, const struct sockaddr_un *un, size_t len,
                      bool is_bind, ob_verdict *v)
{
        char name[sizeof(un->sun_path) + 1] = {0};
        size_t plen = len - offsetof(struct sockaddr_un, sun_path);
        _cleanup_free_ char *path = NULL;
        int r, fails = 0;

        if (len <= offsetof(struct sockaddr_un, sun_path))
                return 0; /* unnamed / autobind */
        memcpy(name, un->sun_path, MIN(plen, sizeof(un->sun_path)));
        /* The abstract namespace is the sandbox's own: gVisor's sentry serves
         * every AF_UNIX socket itself, with --network=host too (hostinet is
         * for AF_INET/6 only), so an abstract name reaches only a socket a
         * process of the sandbox bound (measured: docs/compatibility.md;
         * tests/security/test_syscalls.py keeps a host's unreachable). */
        if (name[0] == '\0')
                return 0;
        r = ob_resolve_path_fails(tid, AT_FDCWD, name, !is_bind, &path, &fails);
        if (r == -EACCES) { /* could not be resolved for sure: deny, report */
                deny(v, EACCES);
                v->capability = "FILE_WRITE";
                v->policy_id = "unresolvable-path";
                v->target = strdup(name);
                return v->target ? 0 : -ENOMEM;
        }
        if (r < 0) {
                deny(v, -r);
                return 0;
        }
        if (!check_cap(caps, OB_CAP_FILE_WRITE, &path, is_bind, EACCES, v)) {
                if (fails) /* the kernel's answer, given before a thread can change it */
                        deny(v, fails);
                return 0;
        }
        if (!is_bind && (r = absent_socket(caps, tid, v->target)))
                unreport(v, r);
        return 0;
}

/* Checks one destination address; is_bind for bind(2). */
static int check_addr(const ob_capset *caps, pid_t tid, uint64_t addr, uint64_t len, bool is_bind,
                      int error, ob_verdict *v)
{
        struct sockaddr_storage ss = {0};

        if (addr == 0 || len < sizeof(sa_family_t))
                return 0; /* no address: the kernel decides (connected socket, EINVAL) */
        len = MIN(len, sizeof(ss));
        if (ob_tracee_read(tid, addr, &ss, (size_t)len) < 0) {
                deny(v, EFAULT);
                return 0;
        }
        switch (ss.ss_family) {
        case AF_UNSPEC:
        case AF_NETLINK:
                return 0; /* disconnect; the kernel's own sockets */
        case AF_UNIX:
                return check_unix(caps, tid, (struct sockaddr_un *)&ss, (size_t)len, is_bind, v);
        case AF_INET:
        case AF_INET6:
                if (is_bind)
                        return 0; /* listening is not connecting; the netns decides */
                return check_inet(caps, &ss, error, v);
        default:
                deny(v, EPERM);
                v->capability = "NETWORK_CONNECT";
                v->policy_id = "default-deny";
                return asprintf(&v->target, "family:%d", ss.ss_family) < 0 ? -ENOMEM : 0;
        }
}

static int check_msghdrs(const ob_capset *caps, pid_t tid, uint64_t addr, uint64_t n, size_t stride,
                         ob_verdict *v)
{
        for (uint64_t i = 0; i < MIN(n, (uint64_t)MAX_MMSG) && v->allowed; i++) {
                struct msghdr mh;
                if (ob_tracee_read(tid, addr + i * stride, &mh, sizeof(mh)) < 0) {
                        deny(v, EFAULT);
                        return 0;
                }
                int r =
                    check_addr(caps, tid, (uintptr_t)mh.msg_name, mh.msg_namelen, false, EPERM, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_net(const ob_capset *caps, pid_t tid, const ob_syscall_info *s,
                     const uint64_t a[6], ob_verdict *v)
{
        if (streq(s->name, "connect"))
                return check_addr(caps, tid, a[1], a[2], false, EPERM, v);
        if (streq(s->name, "bind"))
                return check_addr(caps, tid, a[1], a[2], true, EACCES, v);
        if (streq(s->name, "sendto"))
                return check_addr(caps, tid, a[4], a[5], false, EPERM, v);
        if (streq(s->name, "sendmsg"))
                return check_msghdrs(caps, tid, a[1], 1, sizeof(struct msghdr), v);
        return check_msghdrs(caps, tid, a[1], a[2], sizeof(struct mmsghdr), v);
}

/* mknod of a character or block device: dangerous whatever the path (a
 * device node is a door to a driver; gVisor lets an unprivileged task make
 * one on its tmpfs). */
static bool makes_device(const ob_syscall_info *s, const uint64_t a[6])
{
        uint64_t mode;

        if (streq(s->name, "mknod"))
                mode = a[1];
        else if (streq(s->name, "mknodat"))
                mode = a[2];
        else
                return false;
        return S_ISCHR(mode) || S_ISBLK(mode);
}

/* The mode argument of each syscall that sets one (-1: none), and the
 * open flags argument that makes it count (-1: always). */
static const struct {
        const char *name;
        int8_t mode, flags;
} mode_args[] = {{"chmod", 1, -1},   {"fchmod", 1, -1}, {"fchmodat", 2, -1}, {"fchmodat2", 2, -1},
                 {"creat", 1, -1},   {"open", 2, 1},    {"openat", 3, 2},    {"mkdir", 1, -1},
                 {"mkdirat", 2, -1}, {"mknod", 1, -1},  {"mknodat", 2, -1}};

/* A mode with set-user-ID, set-group-ID or sticky bits (F10): `nosuid`
 * holds only inside gVisor, the gofer would write the bits onto the host
 * file. The mode is a register, read at the stop: no other thread can
 * change it after the check (unlike a path in memory). *ret_mode: it. */
static bool sets_special_mode(const ob_syscall_info *s, const uint64_t a[6], uint64_t *ret_mode)
{
        for (size_t i = 0; i < ARRAY_SIZE(mode_args); i++) {
                if (!streq(s->name, mode_args[i].name))
                        continue;
                if (mode_args[i].flags >= 0 && !(a[mode_args[i].flags] & O_CREAT) &&
                    (a[mode_args[i].flags] & __O_TMPFILE) != __O_TMPFILE)
                        return false; /* an open that creates nothing: no mode */
                *ret_mode = a[mode_args[i].mode];
                return *ret_mode & (S_ISUID | S_ISGID | S_ISVTX);
        }
        return false;
}

/* Fills v for a syscall refused whatever the capabilities (layer seccomp):
 * target is the name, or "NAME mode 0NNNN" when mode is not 0. */
static int deny_syscall(const ob_syscall_info *s, uint64_t mode, ob_verdict *v)
{
        deny(v, EPERM);
        v->capability = "SYSCALL";
        v->policy_id = "default-deny";
        v->layer = "seccomp";
        if (mode)
                return asprintf(&v->target, "%s mode 0%llo", s->name, (unsigned long long)mode) < 0
                           ? -ENOMEM
                           : 0;
        v->target = strdup(s->name);
        return v->target ? 0 : -ENOMEM;
}

/* clone flags refused: the namespaces, and CLONE_UNTRACED (a child that
 * ptrace's auto-attach skips: a task the sidecar would never see, F13) */
#define REFUSED_CLONE_FLAGS                                                                        \
        (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
         CLONE_NEWCGROUP | CLONE_UNTRACED)

static bool makes_task(const ob_syscall_info *s)
{
        return streq(s->name, "clone") || streq(s->name, "fork") || streq(s->name, "vfork");
}

int ob_check_syscall(const ob_capset *caps, pid_t tid, long nr, const uint64_t args[6],
                     ob_verdict *ret)
{
        const ob_syscall_info *s = ob_syscall_lookup(nr);
        ob_verdict v = {.allowed = true, .layer = "sidecar"};
        uint64_t mode = 0;
        int r = 0;

        if (s && makes_task(s) && !(streq(s->name, "clone") && (args[0] & REFUSED_CLONE_FLAGS)))
                v.spawn = true; /* the supervisor applies the pids limit */
        else if (s && sets_special_mode(s, args, &mode))
                r = deny_syscall(s, mode & 07777, &v);
        else if (s && (s->klass == OB_TRACE_DANGEROUS || makes_device(s, args)))
                r = deny_syscall(s, 0, &v);
        else if (s && s->klass == OB_TRACE_PATH)
                r = check_path(caps, tid, s, args, &v);
        else if (s && s->klass == OB_TRACE_NET)
                r = check_net(caps, tid, s, args, &v);
        if (r < 0) {
                free(v.target);
                return r;
        }
        *ret = v;
        return 0;
}
