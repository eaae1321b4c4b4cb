/* SPDX-License-Identifier: Apache-2.0 */
/* The sidecar in a run (docs/sidecar.md): where the binary is, what it
 * needs mounted (itself and the shared objects it lists), the argv that
 * puts it in front of the workload, the two capability files it reads (the
 * user's set and the profile's system paths), and the event channel: a
 * socketpair whose one end runsc gets as stdin (gVisor hands it to PID 1 as
 * fd 0: `--channel-fd 0`), so no host socket is reachable from inside. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "audit/audit-internal.h"
#include "runner/runner.h"

#define LIST_LIBS_MAX (64 * 1024)

/* $OMNIBASE_SIDECAR, the build tree's binary, or the installed one (static
 * strings or the environment's: not to be freed). */
const char *ob_sidecar_binary(void)
{
        const char *env = getenv("OMNIBASE_SIDECAR");

        if (env && *env)
                return env;
        if (access(OB_SIDECAR_BUILD_PATH, X_OK) == 0)
                return OB_SIDECAR_BUILD_PATH;
        return OB_SIDECAR_INSTALLED_PATH;
}

/* Runs `sidecar --list-libs`; *ret is its output (malloc'd). */
static int list_libs(const char *binary, char **ret)
{
        int p[2], status;
        size_t len = 0;
        char *buf = malloc(LIST_LIBS_MAX + 1);
        pid_t pid;

        if (!buf || pipe2(p, O_CLOEXEC) < 0) {
                free(buf);
                return -ENOMEM;
        }
        pid = fork();
        if (pid == 0) {
                if (dup2(p[1], 1) < 0)
                        _exit(127);
                execl(binary, binary, "--list-libs", (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        while (pid > 0 && len < LIST_LIBS_MAX) {
                ssize_t n = read(p[0], buf + len, LIST_LIBS_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        close(p[0]);
        buf[len] = '\0';
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
                free(buf);
                return -ENOEXEC;
        }
        *ret = buf;
        return 0;
}

/* Appends "path\tdev\tino\tsize\tmtime\tctime\n" of path (or "path\t-") */
static int key_stat(char *buf, size_t size, size_t *len, const char *path)
{
        struct stat st;
        int k = stat(path, &st) < 0
                    ? snprintf(buf + *len, size - *len, "%s\t-\n", path)
                    : snprintf(buf + *len, size - *len, "%s\t%ju\t%ju\t%jd\t%jd.%09ld\t%jd.%09ld\n",
                               path, (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
                               (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
                               st.st_mtim.tv_nsec, (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);

        if (k < 0 || (size_t)k >= size - *len)
                return -ENAMETOOLONG;
        *len += (size_t)k;
        return 0;
}

/* The cache file's name for this binary as the loader resolves it now:
 * the binary, the loader's cache (ldconfig rewrites it when libraries
 * change) and LD_LIBRARY_PATH. */
static int list_libs_name(const char *binary, char ret[128])
{
        char text[PATH_MAX * 3], hex[OB_AUDIT_HASH_HEX + 1];
        const char *llp = getenv("LD_LIBRARY_PATH");
        size_t len = 0;
        int r = key_stat(text, sizeof(text), &len, binary);

        if (r >= 0)
                r = key_stat(text, sizeof(text), &len, "/etc/ld.so.cache");
        if (r >= 0 && (size_t)snprintf(text + len, sizeof(text) - len, "LD_LIBRARY_PATH=%s\n",
                                       llp ? llp : "") >= sizeof(text) - len)
                r = -ENAMETOOLONG;
        if (r >= 0)
                r = ob_audit_sha256_hex(text, strlen(text), NULL, 0, hex);
        if (r >= 0)
                snprintf(ret, 128, OB_SIDECAR_LIBS_PREFIX "%s", hex);
        return r;
}

/* Is every library of the list there (a regular file)? */
static bool libs_present(const char *libs)
{
        for (const char *l = libs; *l;) {
                const char *nl = strchr(l, '\n'), *tab = strchr(l, '\t');
                size_t n = nl ? (size_t)(nl - l) : strlen(l);
                if (tab && tab < l + n) {
                        char path[PATH_MAX];
                        struct stat st;
                        size_t pl = n - (size_t)(tab + 1 - l);
                        if (pl >= sizeof(path))
                                return false;
                        memcpy(path, tab + 1, pl);
                        path[pl] = '\0';
                        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                                return false;
                }
                l += n + (nl ? 1 : 0);
        }
        return true;
}

/* `--list-libs` from STATE/libcache (a file root owns and no one else may
 * write, never through a symlink), else by running the binary; a run's
 * result is kept there unless dry (a dry run makes nothing). The fork and
 * exec of the sidecar cost 4-10 ms per run at load here. */
static int list_libs_cached(const char *binary, const char *state_dir, bool dry, char **ret)
{
        _cleanup_close_ int top = -1, fd = -1;
        _cleanup_free_ char *libs = NULL, *tmp = NULL;
        char name[128];
        struct stat st;
        int r;

        if (!state_dir || list_libs_name(binary, name) < 0)
                return list_libs(binary, ret);
        top = ob_libcache_open(state_dir, !dry, NULL);
        if (top >= 0)
                fd = openat(top, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
            !(st.st_mode & 022) && st.st_size < LIST_LIBS_MAX) {
                libs = calloc(1, (size_t)st.st_size + 1);
                if (libs && read(fd, libs, (size_t)st.st_size) == st.st_size &&
                    libs_present(libs)) {
                        if (!dry) /* in use: gc keeps it (ob_libcache_gc) */
                                (void)futimens(fd, NULL);
                        *ret = TAKE_PTR(libs);
                        return 0;
                }
        }
        r = list_libs(binary, ret);
        if (r < 0 || dry || top < 0 || asprintf(&tmp, "%s.tmp.%d", name, (int)getpid()) < 0)
                return r;
        (void)unlinkat(top, tmp, 0);
        closep(&fd);
        fd = openat(top, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0 && write(fd, *ret, strlen(*ret)) == (ssize_t)strlen(*ret) &&
            fchmod(fd, 0644) == 0 && renameat(top, tmp, top, name) == 0)
                return 0;
        (void)unlinkat(top, tmp, 0);
        return 0; /* not kept: the next run asks the binary again */
}

/* Mounts the binary and every library it lists, read-only. */
static int add_mounts(ob_mount_plan *mounts, const char *binary, const char *state_dir, bool dry,
                      ob_error *err)
{
        _cleanup_free_ char *libs = NULL;
        char real[PATH_MAX];
        char *save = NULL;
        int r;

        if (!realpath(binary, real))
                return ob_error_set(err, 0, 0, errno, "omnibase-sidecar: %s: %s", binary,
                                    strerror(errno));
        r = list_libs_cached(real, state_dir, dry, &libs);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "omnibase-sidecar: %s --list-libs failed", real);
        r = ob_mount_plan_add(mounts, real, OB_SIDECAR_BIN, false, false, "sidecar");
        for (char *line = strtok_r(libs, "\n", &save); r >= 0 && line;
             line = strtok_r(NULL, "\n", &save)) {
                char *tab = strchr(line, '\t');
                if (!tab || line[0] != '/' || tab[1] != '/')
                        continue;
                *tab = '\0';
                r = ob_mount_plan_add(mounts, tab + 1, line, false, false, "sidecar library");
        }
        return r;
}

/* The sidecar's argv up to and including "--" (the workload's argv follows):
 * the same for the PID 1 of a run and for each exec into an environment. */
static const char *const sidecar_head[] = {OB_SIDECAR_BIN,
                                           "--caps",
                                           OB_SIDECAR_RUN "/caps.json",
                                           "--caps",
                                           OB_SIDECAR_RUN "/profile-caps.json",
                                           "--channel-fd",
                                           "0",
                                           "--scratch",
                                           "/tmp",
                                           "--scratch",
                                           "/dev/shm",
                                           "--uid",
                                           "65534",
                                           "--gid",
                                           "65534",
                                           "--"};

size_t ob_sidecar_argv_head(const char *const **ret)
{
        *ret = sidecar_head;
        return ARRAY_SIZE(sidecar_head);
}

/* Puts the sidecar's argv in front of plan->argv (plan keeps owning both)
 * and mounts its binary and libraries; -errno with err on failure. With
 * plan->hold there is no workload: the head ends in "--hold" instead; with
 * plan->warm (a pooled sandbox) in "--wait": the argv comes by request. */
int ob_sidecar_plan(ob_run_plan *plan, const char *state_dir, bool dry, ob_error *err)
{
        const char *const *head = sidecar_head;
        size_t n_old = 0, n_head = ARRAY_SIZE(sidecar_head);
        char **argv;
        int r;

        r = add_mounts(&plan->mounts, ob_sidecar_binary(), state_dir, dry, err);
        if (r < 0)
                return err->message[0]
                           ? r
                           : ob_error_set(err, 0, 0, r, "sidecar mounts: %s", strerror(-r));
        while (plan->argv && plan->argv[n_old])
                n_old++;
        argv = calloc(n_head + n_old + 1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        for (size_t i = 0; i < n_head; i++)
                if (!(argv[i] = strdup(i < n_head - 1 ? head[i]
                                       : plan->hold   ? "--hold"
                                       : plan->warm   ? "--wait"
                                                      : head[i])))
                        r = -ENOMEM;
        for (size_t i = 0; i < n_old; i++)
                argv[n_head + i] = plan->argv[i];
        free(plan->argv);
        plan->argv = argv;
        plan->sidecar = true;
        plan->workload_arg = plan->hold || plan->warm ? n_head - 1 : n_head;
        return r;
}

static int add_grant(ob_capset *set, ob_cap_kind kind, const char *target, const char *why)
{
        return ob_capset_add(set, false, kind, target, why, NULL);
}

/* Files the dynamic loader, libc and python look for at every start
 * (ld.so.cache, hwcaps directories, locale, gconv, pyvenv.cfg, ._pth...).
 * They are not in the mount mask, so allowing the read only lets the kernel
 * answer ENOENT instead of every run reporting the same probes. */
static const char *const probes[] = {"/etc/ld.so.cache",
                                     "/etc/ld.so.preload",
                                     "/etc/localtime",
                                     "/etc/resolv.conf",
                                     "/etc/gai.conf",
                                     "/etc/host.conf",
                                     "/etc/services",
                                     "/etc/protocols",
                                     "/usr/pyvenv.cfg",
                                     "/usr/lib/locale/*",
                                     "/usr/share/locale/*",
                                     "/usr/share/zoneinfo/*",
                                     NULL};
/* CPU topology that glibc's sysconf(_SC_NPROCESSORS_*) and runtimes read:
 * gVisor's own sysfs, made up from the sandbox's CPUs (docs/compatibility.md).
 * /proc/cpuinfo and /proc/meminfo are gVisor's /proc, allowed with it. */
static const char *const topology[] = {"/sys/devices/system/cpu/online",
                                       "/sys/devices/system/cpu/possible",
                                       "/sys/devices/system/cpu/present", NULL};
/* Where libc looks for nscd before it reads /etc/passwd: nothing is there,
 * a connect is the kernel's ENOENT (FILE_WRITE is what a connect needs) */
static const char *const nscd[] = {"/var/run/nscd/socket", "/run/nscd/socket", NULL};
/* the sandbox's own /proc (gVisor's: only its processes) */
static const char *const proc_reads[] = {"/proc", "/proc/*", NULL};
/* The sandbox's own ptys: gVisor's devpts (/dev/ptmx is a link to
 * pts/ptmx), only the terminals of the sandbox's processes. The BSD pty
 * masters /dev/ptyXY that python's pty module probes after a failed
 * openpty are not there: the kernel's ENOENT. Nothing under /dev is ever
 * a host file (runner/mounts.c: /dev is reserved, no grant is mounted in it). */
static const char *const ptys[] = {"/dev/ptmx", "/dev/pts", "/dev/pts/*", "/dev/pty*", NULL};
/* Its own loopback, when the run has no network: with --network=none
 * gVisor's netstack has nothing but lo, inside the sentry: no host socket
 * is involved. A network run has none of these: its loopback is decided
 * by NETWORK_CONNECT grants, as the BPF layer does (docs/network.md). */
static const char *const loopback[] = {"127.0.0.0/8:*", "[::1]:*", "0.0.0.0:*", "[::]:*", NULL};

/* Read (and exec) of a profile path, its subtree when it is a directory,
 * and reads of its siblings (the loader probes next to every library). The
 * dynamic loader itself is read only: it runs as the PT_INTERP of the
 * programs, never as one (F11; the sidecar refuses it whatever the grants,
 * docs/sidecar.md, this keeps the capability file saying so). */
static int grant_profile_path(ob_capset *set, const ob_mount *m, const char *why)
{
        char buf[PATH_MAX + 2];
        const char *slash = strrchr(m->destination, '/');
        bool loader = !m->is_dir && slash && fnmatch("ld-*.so*", slash + 1, 0) == 0;
        int r = add_grant(set, OB_CAP_FILE_READ, m->destination, why);

        if (r >= 0 && !loader)
                r = add_grant(set, OB_CAP_FILE_EXEC, m->destination, why);
        if (r >= 0 && m->is_dir && snprintf(buf, sizeof(buf), "%s/*", m->destination) > 0) {
                r = add_grant(set, OB_CAP_FILE_READ, buf, why);
                if (r >= 0)
                        r = add_grant(set, OB_CAP_FILE_EXEC, buf, why);
        }
        if (r >= 0 && slash && slash != m->destination &&
            snprintf(buf, sizeof(buf), "%.*s/*", (int)(slash - m->destination), m->destination) > 0)
                r = add_grant(set, OB_CAP_FILE_READ, buf, why);
        return r;
}

/* Reads of a shared directory of public package data (rootfs.c: zoneinfo,
 * CA certificates) and its subtree. The links the rootfs makes to it
 * (/etc/localtime, /usr/lib/ssl/...) need nothing: the check is of the
 * resolved path. */
static int grant_shared_dir(ob_capset *set, const ob_mount *m, const char *why)
{
        char buf[PATH_MAX + 2];
        int r = add_grant(set, OB_CAP_FILE_READ, m->destination, why);

        if (r >= 0 && snprintf(buf, sizeof(buf), "%s/*", m->destination) > 0)
                r = add_grant(set, OB_CAP_FILE_READ, buf, why);
        return r;
}

/* What the workload needs from its own sandbox: the profile's paths (read,
 * exec), the script, /tmp and /dev/shm themselves, a few devices, its ptys,
 * the start-up probes, its loopback when it has no network. */
int ob_sidecar_profile_caps(const ob_run_plan *plan, bool network, ob_capset **ret)
{
        /* /dev/tty opens only the caller's own controlling terminal (ENXIO
         * without one): an exec's pty (env exec -t), where an interactive
         * shell opens it for job control */
        static const char *const devs[] = {"/dev/null",   "/dev/zero",    "/dev/full",
                                           "/dev/random", "/dev/urandom", "/dev/tty"};
        ob_capset *set = NULL;
        char why[128];
        int r = ob_capset_new(&set);

        snprintf(why, sizeof(why), "profile:%s", plan->profile->name);
        for (size_t i = 0; r >= 0 && i < plan->mounts.n; i++) {
                const ob_mount *m = &plan->mounts.v[i];
                if (strncmp(m->why, "profile", 7) == 0 || streq(m->why, "script") ||
                    streq(m->why, "script inbox"))
                        r = grant_profile_path(set, m, why);
                else if (streq(m->why, OB_MOUNT_WHY_ETC)) /* passwd, group, hosts... */
                        r = add_grant(set, OB_CAP_FILE_READ, m->destination, "sandbox:etc");
                else if (streq(m->why, OB_MOUNT_WHY_ZONEINFO))
                        r = grant_shared_dir(set, m, "sandbox:zoneinfo");
                else if (streq(m->why, OB_MOUNT_WHY_CA))
                        r = grant_shared_dir(set, m, "sandbox:ca");
        }
        for (size_t i = 0; r >= 0 && probes[i]; i++)
                r = add_grant(set, OB_CAP_FILE_READ, probes[i], "sandbox:probe");
        for (size_t i = 0; r >= 0 && topology[i]; i++)
                r = add_grant(set, OB_CAP_FILE_READ, topology[i], "sandbox:topology");
        for (size_t i = 0; r >= 0 && nscd[i]; i++)
                r = add_grant(set, OB_CAP_FILE_WRITE, nscd[i], "sandbox:nscd");
        for (size_t i = 0; r >= 0 && proc_reads[i]; i++)
                r = add_grant(set, OB_CAP_FILE_READ, proc_reads[i], "sandbox:proc");
        for (size_t k = 0; r >= 0 && k < 2; k++) {
                ob_cap_kind kind = k ? OB_CAP_FILE_WRITE : OB_CAP_FILE_READ;
                /* below /tmp: `--scratch /tmp` (what the workload made is its own;
                 * grants bound under it and absent host paths are checked) */
                r = add_grant(set, kind, "/tmp", "sandbox:tmp");
                /* below /dev/shm: `--scratch /dev/shm`, the same */
                if (r >= 0)
                        r = add_grant(set, kind, "/dev/shm", "sandbox:shm");
                for (size_t i = 0; r >= 0 && ptys[i]; i++)
                        r = add_grant(set, kind, ptys[i], "sandbox:pty");
                for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(devs); i++)
                        r = add_grant(set, kind, devs[i], "sandbox:dev");
        }
        for (size_t i = 0; r >= 0 && !network && loopback[i]; i++)
                r = add_grant(set, OB_CAP_NETWORK_CONNECT, loopback[i], "sandbox:loopback");
        if (r < 0) {
                ob_capset_free(set);
                return r;
        }
        *ret = set;
        return 0;
}

static int write_caps(const char *dir, const char *name, const ob_capset *set)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r = ob_capset_to_json(set, &text);

        if (r < 0)
                return r;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        return ob_write_file(path, text);
}

/* The two capability files, their read-only mount, and the channel's
 * socketpair (ret_channel: the caller's to close); -errno with err. */
int ob_sidecar_prepare(ob_run_plan *plan, const ob_capset *caps, const char *run_path,
                       int ret_channel[2], ob_error *err)
{
        _cleanup_free_ char *dir = NULL;
        ob_capset *prof = NULL;
        int r, sp[2];

        if (asprintf(&dir, "%s/sidecar", run_path) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0)
                return ob_error_set(err, 0, 0, errno, "%s: %s", dir, strerror(errno));
        r = ob_sidecar_profile_caps(plan, plan->network, &prof);
        if (r >= 0)
                r = write_caps(dir, "profile-caps.json", prof);
        ob_capset_free(prof);
        if (r >= 0)
                r = write_caps(dir, "caps.json", caps);
        if (r >= 0)
                r = ob_mount_plan_add(&plan->mounts, dir, OB_SIDECAR_RUN, false, true,
                                      "sidecar capabilities");
        if (r >= 0) /* read by the sidecar only */
                plan->mounts.v[plan->mounts.n - 1].noexec = true;
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "preparing the sidecar: %s", strerror(-r));
        ob_mount_plan_sort(&plan->mounts);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return ob_error_set(err, 0, 0, errno, "socketpair: %s", strerror(errno));
        if (fcntl(sp[0], F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                close(sp[0]);
                close(sp[1]);
                return ob_error_set(err, 0, 0, -r, "channel: %s", strerror(-r));
        }
        ret_channel[0] = sp[0];
        ret_channel[1] = sp[1];
        return 0;
}
