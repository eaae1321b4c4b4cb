/* SPDX-License-Identifier: Apache-2.0 */
/* Per-run state: $OMNIBASE_STATE_DIR/runs/<id>/ holds the bundle, runsc's
 * --root and a lock the runner holds for its whole life. gc removes the runs
 * whose lock it can take: their runner is gone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fs.h"
#include "network/network.h"
#include "runner/network.h"
#include "runner/pool.h"
#include "runner/runner.h"
#include "runner/write_bound.h"

const char *ob_state_dir_default(void)
{
        const char *e = getenv("OMNIBASE_STATE_DIR");
        return e && e[0] ? e : OB_DEFAULT_STATE_DIR;
}

int ob_write_file_mode(const char *path, const void *data, size_t len, mode_t mode)
{
        _cleanup_close_ int fd =
            open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        size_t off = 0;

        if (fd < 0)
                return negative_errno();
        while (off < len) {
                ssize_t n = write(fd, (const char *)data + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? negative_errno() : -EIO;
                off += (size_t)n;
        }
        if (fchmod(fd, mode) < 0) /* exact mode, whatever the umask */
                return negative_errno();
        return 0;
}

int ob_write_file(const char *path, const char *text)
{
        return ob_write_file_mode(path, text, strlen(text), 0600);
}

static int new_id(char id[OB_RUN_ID_LEN + 1])
{
        uint8_t rnd[8];

        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return -EIO;
        memcpy(id, "ob-", 3);
        for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(id + 3 + 2 * i, 3, "%02x", rnd[i]);
        return 0;
}

/* Takes the run's lock: created as lock.new, locked, then renamed, so gc
 * never sees an unlocked "lock" of a live runner. */
static int take_run_lock(const char *path)
{
        _cleanup_free_ char *tmp = NULL, *final = NULL;
        int fd;

        if (asprintf(&tmp, "%s/lock.new", path) < 0 || asprintf(&final, "%s/lock", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 || rename(tmp, final) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        return fd;
}

/* The run's files (the bundle with its mount points, runsc's root, the
 * lock) live on a small tmpfs mounted on the run directory: removing a dozen
 * directories from ext4 costs ~4 ms each here (about 50 ms a run),
 * unmounting a tmpfs ~4 ms in all. Without the privilege to mount, the run
 * directory stays a plain one. ob_run_cleanup() unmounts it. */
static void mount_run_tmpfs(const char *path)
{
        (void)mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "size=64m,nr_inodes=8192,mode=0700");
}

static void umount_under(const char *path);

int ob_run_dir_create(const char *state_dir, ob_run_dir *ret, ob_error *err)
{
        ob_run_dir run = {.lock_fd = -1, .cgroup_lock_fd = -1};
        _cleanup_free_ char *runs = NULL;
        int r;

        if (asprintf(&runs, "%s/runs", state_dir) < 0)
                return -ENOMEM;
        r = ob_mkdir_p(runs, 0700);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "cannot create state directory %s: %s", runs,
                                    strerror(-r));
        r = new_id(run.id);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "cannot make a sandbox id");
        if (asprintf(&run.path, "%s/%s", runs, run.id) < 0)
                return -ENOMEM;
        if (mkdir(run.path, 0700) < 0) {
                r = negative_errno();
                ob_error_set(err, 0, 0, r, "cannot create %s: %s", run.path, strerror(-r));
                free(run.path);
                return r;
        }
        mount_run_tmpfs(run.path);
        r = take_run_lock(run.path);
        if (r >= 0) {
                run.lock_fd = r;
                r = 0;
        }
        if (r >= 0 && (asprintf(&run.bundle, "%s/bundle", run.path) < 0 ||
                       asprintf(&run.rootfs, "%s/bundle/rootfs", run.path) < 0 ||
                       asprintf(&run.runsc_root, "%s/runsc", run.path) < 0))
                r = -ENOMEM;
        if (r >= 0 && (mkdir(run.bundle, 0700) < 0 || mkdir(run.rootfs, 0755) < 0 ||
                       mkdir(run.runsc_root, 0700) < 0))
                r = negative_errno();
        if (r < 0) {
                ob_error_set(err, 0, 0, r, "cannot set up %s: %s", run.path, strerror(-r));
                umount_under(run.path);
                ob_rm_rf(run.path);
                ob_run_dir_done(&run);
                return r;
        }
        *ret = run;
        return 0;
}

void ob_run_dir_done(ob_run_dir *run)
{
        free(run->path);
        free(run->bundle);
        free(run->rootfs);
        free(run->runsc_root);
        run->path = run->bundle = run->rootfs = run->runsc_root = NULL;
        closep(&run->lock_fd);
        closep(&run->cgroup_lock_fd);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        if (flag == FTW_DP)
                (void)rmdir(path);
        else
                (void)unlink(path);
        return 0;
}

int ob_rm_rf(const char *path)
{
        if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
                return negative_errno();
        return access(path, F_OK) == 0 ? -ENOTEMPTY : 0;
}

/* Detaches every host mount under path: the run's tmpfs, and anything a
 * runner killed at an odd moment left (runsc mounts in its own namespace). */
static void umount_under(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[PATH_MAX * 2 + 256];
        size_t pl = strlen(path);

        while (f && fgets(line, sizeof(line), f)) {
                char mnt[PATH_MAX];
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
                    ob_mountinfo_unescape(mnt) && strncmp(mnt, path, pl) == 0 &&
                    (mnt[pl] == '/' || mnt[pl] == '\0'))
                        (void)umount2(mnt, MNT_DETACH);
        }
}

static bool dir_has_entries(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        bool any = false;

        while (d && (de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        any = true;
                        break;
                }
        if (d)
                closedir(d);
        return any;
}

static const char *const made_words[] = {"runsc", "network", "cgroups", "writes"};

int ob_run_record_made(const char *run_path, ob_run_made what)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        char line[16];

        if (asprintf(&path, "%s/made", run_path) < 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        for (size_t i = 0; i < ARRAY_SIZE(made_words); i++)
                if (what & (1u << i)) {
                        int n = snprintf(line, sizeof(line), "%s\n", made_words[i]);
                        int r = ob_write_all(fd, line, (size_t)n);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* What the record says was made; everything when there is no record or it
 * holds a word this runner does not know (fail safe: sweep it all). */
static unsigned read_made(const char *run_path)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char line[64];
        unsigned made = 0;

        if (asprintf(&path, "%s/made", run_path) < 0 || !(f = fopen(path, "re")))
                return OB_MADE_ALL;
        while (fgets(line, sizeof(line), f)) {
                size_t i;
                line[strcspn(line, "\n")] = '\0';
                for (i = 0; i < ARRAY_SIZE(made_words) && !streq(line, made_words[i]); i++)
                        ;
                if (i == ARRAY_SIZE(made_words))
                        return OB_MADE_ALL;
                made |= 1u << i;
        }
        return made;
}

int ob_run_cleanup(const char *runsc, const char *run_path, const char *id, ob_error *err)
{
        _cleanup_free_ char *root = NULL;
        unsigned made = read_made(run_path);
        int r = 0;

        if ((made & OB_MADE_RUNSC) && asprintf(&root, "%s/runsc", run_path) >= 0 &&
            dir_has_entries(root)) {
                /* a container state is left: the sandbox may still be running */
                const char *kill_args[] = {"--root", root, "kill", "--all", id, "KILL", NULL};
                const char *del_args[] = {"--root", root, "delete", "--force", id, NULL};
                char ns[PATH_MAX];
                _cleanup_close_ int netns_fd = -1;

                /* a network run's control socket lives in its namespace */
                ob_net_netns_path(id, ns, sizeof(ns));
                netns_fd = open(ns, O_RDONLY | O_CLOEXEC);
                (void)ob_runsc_call(runsc, kill_args, netns_fd, 5000);
                (void)ob_runsc_call(runsc, del_args, netns_fd, 10000);
        }
        if (made & OB_MADE_NETWORK)
                ob_run_network_teardown(id); /* netns, veth + tc, cgroup-v2 dir + BPF */
        if (made & OB_MADE_CGROUPS)
                (void)ob_cgroup_remove(id);
        umount_under(run_path);
        /* a write bound's staged writes land (the runner's own finish did it
         * unless it was killed); if they cannot, they are kept for gc */
        if (made & OB_MADE_WRITES)
                r = ob_write_bound_commit(run_path, id, err);
        (void)ob_rm_rf(run_path);
        return r;
}

static bool valid_run_name(const char *name)
{
        if (strlen(name) != OB_RUN_ID_LEN || strncmp(name, "ob-", 3) != 0)
                return false;
        for (const char *c = name + 3; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return true;
}

/* Returns 1 and cleans the run up when its runner is gone, 0 when alive. */
static int gc_one(const char *runsc, const char *runs, const char *name)
{
        _cleanup_free_ char *path = NULL, *lock = NULL;
        ob_error err = {0};
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (asprintf(&path, "%s/%s", runs, name) < 0 || asprintf(&lock, "%s/lock", path) < 0)
                return -ENOMEM;
        fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                /* no lock yet: being created (skip) unless it is old */
                if (lstat(path, &st) < 0 || time(NULL) - st.st_mtime < 60)
                        return 0;
        } else if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                return 0;
        }
        /* every SandboxStart has an end in the audit log; a log that cannot
         * take it keeps the run (and its record) for the next gc */
        r = ob_run_audit_abandoned(path, name);
        if (r < 0) {
                fprintf(stderr, "omnibase: gc: %s: cannot end the run in its audit log: %s\n", name,
                        strerror(-r));
                return 0;
        }
        if (ob_run_cleanup(runsc, path, name, &err) < 0)
                fprintf(stderr, "omnibase: gc: %s: %s\n", name, err.message);
        return 1;
}

int ob_sandbox_gc(const char *state_dir, const char *runsc, unsigned *ret_removed, ob_error *err)
{
        _cleanup_free_ char *runs = NULL;
        unsigned removed = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (!state_dir)
                state_dir = ob_state_dir_default();
        if (!runsc)
                runsc = getenv("OMNIBASE_RUNSC") ? getenv("OMNIBASE_RUNSC") : "runsc";
        if (asprintf(&runs, "%s/runs", state_dir) < 0)
                return -ENOMEM;
        d = opendir(runs);
        if (!d) {
                if (errno == ENOENT)
                        goto done;
                r = negative_errno();
                return ob_error_set(err, 0, 0, r, "%s: %s", runs, strerror(-r));
        }
        while ((de = readdir(d))) {
                if (!valid_run_name(de->d_name))
                        continue;
                r = gc_one(runsc, runs, de->d_name);
                if (r < 0)
                        break;
                removed += (unsigned)r;
        }
        closedir(d);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "gc: %s", strerror(-r));
        /* staged writes of runs whose run directory is gone */
        (void)ob_write_bound_gc(state_dir);
        /* library cache entries nothing uses (an upgraded library's old copy) */
        (void)ob_libcache_gc(state_dir);
done:
        /* a killed pool daemon's socket and lock (its runs were above) */
        ob_pool_gc(state_dir);
        /* the shared cgroup parent may be left by a killed runner */
        ob_cgroup_remove_parent();
        if (ret_removed)
                *ret_removed = removed;
        return 0;
}

static int64_t mono_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ob_timing_start(ob_timing *t, ob_sandbox_line_fn fn, void *userdata)
{
        *t = (ob_timing){.fn = fn, .userdata = userdata, .last_us = fn ? mono_us() : 0};
}

void ob_timing_mark(ob_timing *t, const char *phase)
{
        char line[160];
        int64_t now;

        if (!t || !t->fn)
                return;
        now = mono_us();
        snprintf(line, sizeof(line), "%s %.2f", phase, (double)(now - t->last_us) / 1000.0);
        t->fn(line, t->userdata);
        t->last_us = mono_us(); /* the callback's own time is not the next step's */
}
