/* SPDX-License-Identifier: Apache-2.0 */
/* A size-bounded directory: a sparse ext4 image, loop-mounted with
 * autoclear. An environment's /workspace is one; a one-shot run's write
 * bound (write_bound.c) is another. Every step that makes something (image, mount point, loop
 * device, mount) is undone on the error paths of the function that made it.
 * docs/environments-workspace.md. */
#define _GNU_SOURCE
#include "runner/workspace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"

extern char **environ;

#define IMAGE_NAME       "workspace.img"
#define MOUNT_NAME       "workspace"
#define LOOP_MAJOR       7
#define LOOP_TRIES       64
#define MKFS_OUTPUT_MAX  400
#define CLEAR_WAIT_STEPS 200 /* x 10 ms: the kernel clears autoclear loops asynchronously */

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

/* The canonical paths of env_dir's image and mount point (env_dir must exist). */
typedef struct ws_paths {
        char image[PATH_MAX];
        char mnt[PATH_MAX];
} ws_paths;

static int ws_paths_get(const char *env_dir, ws_paths *ret, ob_error *err)
{
        char dir[PATH_MAX];

        if (!realpath(env_dir, dir))
                return ob_error_set(err, 0, 0, errno, "workspace: %s: %s", env_dir,
                                    strerror(errno));
        if (snprintf(ret->image, sizeof(ret->image), "%s/" IMAGE_NAME, dir) >=
                (int)sizeof(ret->image) ||
            snprintf(ret->mnt, sizeof(ret->mnt), "%s/" MOUNT_NAME, dir) >= (int)sizeof(ret->mnt))
                return ob_error_set(err, 0, 0, ENAMETOOLONG, "workspace: %s: path too long",
                                    env_dir);
        return 0;
}

/* 1 when mnt is a mount point per /proc/self/mountinfo, 0 when not, -errno. */
static int mount_state(const char *mnt)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[PATH_MAX * 2 + 512];

        if (!f)
                return negative_errno();
        while (fgets(line, sizeof(line), f)) {
                char point[PATH_MAX];
                if (sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 &&
                    streq(ob_mountinfo_unescape(point), mnt))
                        return 1;
        }
        return ferror(f) ? -EIO : 0;
}

int ob_workspace_is_mounted(const char *env_dir)
{
        ws_paths p;

        if (ws_paths_get(env_dir, &p, NULL) < 0)
                return 0;
        return mount_state(p.mnt) > 0;
}

/* Reads what the child wrote (bounded: the rest is drained and dropped) and
 * folds it into one line. */
static void read_output(int fd, char *buf, size_t size)
{
        size_t len = 0;
        char drain[512];

        for (;;) {
                char *dst = len + 1 < size ? buf + len : drain;
                size_t room = len + 1 < size ? size - 1 - len : sizeof(drain);
                ssize_t n = read(fd, dst, room);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (dst == buf + len)
                        len += (size_t)n;
        }
        buf[len] = '\0';
        for (char *c = buf; *c; c++)
                if (*c == '\n' || *c == '\r' || *c == '\t')
                        *c = ' ';
}

/* Runs mkfs.ext4 (found on PATH) on image; its output goes into *err. */
static int run_mkfs(const char *image, uid_t uid, gid_t gid, ob_error *err)
{
        char owner[64], out[MKFS_OUTPUT_MAX + 1];
        char *argv[] = {"mkfs.ext4", "-F", "-q", "-O",   "^has_journal", "-E", owner,
                        "-m",        "0",  "-t", "ext4", (char *)image,  NULL};
        posix_spawn_file_actions_t fa;
        int pipefd[2], status = 0, r;
        pid_t pid;

        snprintf(owner, sizeof(owner), "root_owner=%u:%u", (unsigned)uid, (unsigned)gid);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return ob_error_set(err, 0, 0, errno, "workspace: pipe: %s", strerror(errno));
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return ob_error_set(err, 0, 0, r, "workspace: cannot run mkfs.ext4: %s",
                                    strerror(r));
        }
        read_output(pipefd[0], out, sizeof(out));
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return ob_error_set(err, 0, 0, errno, "workspace: waitpid: %s",
                                            strerror(errno));
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status))
                return ob_error_set(err, 0, 0, EIO, "workspace: mkfs.ext4 exited %d: %s",
                                    WEXITSTATUS(status), out);
        return ob_error_set(err, 0, 0, EIO, "workspace: mkfs.ext4 killed by signal %d: %s",
                            WTERMSIG(status), out);
}

/* Opens /dev/loopN, making the node when this /dev lacks it. */
static int open_loop(int n, char ret_dev[static 32])
{
        int fd;

        snprintf(ret_dev, 32, "/dev/loop%d", n);
        fd = open(ret_dev, O_RDWR | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                if (mknod(ret_dev, S_IFBLK | 0660, makedev(LOOP_MAJOR, (unsigned)n)) < 0 &&
                    errno != EEXIST)
                        return negative_errno();
                fd = open(ret_dev, O_RDWR | O_CLOEXEC);
        }
        return fd < 0 ? negative_errno() : fd;
}

/* Binds image to a free loop device with autoclear. Returns the loop fd (its
 * close frees the device unless it is mounted by then) and its name. */
static int loop_attach(const char *image, char ret_dev[static 32], ob_error *err)
{
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        _cleanup_close_ int img = open(image, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        int r = -EBUSY;

        if (ctl < 0)
                return ob_error_set(err, 0, 0, errno, "workspace: /dev/loop-control: %s",
                                    strerror(errno));
        if (img < 0)
                return ob_error_set(err, 0, 0, errno, "workspace: %s: %s", image, strerror(errno));
        for (int i = 0; i < LOOP_TRIES; i++) {
                struct loop_config cfg = {.fd = (__u32)img};
                int n = ioctl(ctl, LOOP_CTL_GET_FREE);
                if (n < 0)
                        return ob_error_set(err, 0, 0, errno, "workspace: LOOP_CTL_GET_FREE: %s",
                                            strerror(errno));
                int fd = open_loop(n, ret_dev);
                if (fd < 0)
                        return ob_error_set(err, 0, 0, -fd, "workspace: %s: %s", ret_dev,
                                            strerror(-fd));
                cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
                /* informational only (losetup shows it; sysfs has the full path) */
                memcpy(cfg.info.lo_file_name, image, strnlen(image, LO_NAME_SIZE - 1));
                if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
                        return fd;
                r = -errno;
                close(fd);
                if (r != -EBUSY) /* EBUSY: another process took it first */
                        break;
        }
        return ob_error_set(err, 0, 0, -r, "workspace: LOOP_CONFIGURE %s: %s", ret_dev,
                            strerror(-r));
}

/* Attaches, mounts and checks the mount; on error nothing of it is left. */
static int attach_and_mount(const ws_paths *p, ob_error *err)
{
        char dev[32];
        _cleanup_close_ int loop = loop_attach(p->image, dev, err);
        int r;

        if (loop < 0)
                return loop;
        if (mount(dev, p->mnt, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0)
                return ob_error_set(err, 0, 0, errno, "workspace: mount %s on %s: %s", dev, p->mnt,
                                    strerror(errno));
        r = mount_state(p->mnt);
        if (r <= 0) {
                (void)umount2(p->mnt, MNT_DETACH);
                return ob_error_set(err, 0, 0, r < 0 ? -r : EIO,
                                    "workspace: %s not in /proc/self/mountinfo after mount",
                                    p->mnt);
        }
        return 0; /* closing the loop fd leaves the mount holding the device */
}

/* Makes the mount point; *ret_made tells whether it was absent before. */
static int make_mount_point(const char *mnt, bool *ret_made, ob_error *err)
{
        struct stat st;

        if (mkdir(mnt, 0700) == 0) {
                *ret_made = true;
                return 0;
        }
        if (errno != EEXIST)
                return ob_error_set(err, 0, 0, errno, "workspace: mkdir %s: %s", mnt,
                                    strerror(errno));
        if (lstat(mnt, &st) < 0 || !S_ISDIR(st.st_mode))
                return ob_error_set(err, 0, 0, ENOTDIR, "workspace: %s is not a directory", mnt);
        *ret_made = false;
        return 0;
}

/* Makes the sparse image: refuses an existing one. */
static int make_image(const char *image, int64_t size_mb, ob_error *err)
{
        _cleanup_close_ int fd =
            open(image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0 && errno == EEXIST)
                return ob_error_set(err, 0, 0, EEXIST, "workspace: %s exists already", image);
        if (fd < 0)
                return ob_error_set(err, 0, 0, errno, "workspace: %s: %s", image, strerror(errno));
        if (ftruncate(fd, (off_t)size_mb * 1024 * 1024) < 0) {
                int r = ob_error_set(err, 0, 0, errno, "workspace: %s: size: %s", image,
                                     strerror(errno));
                (void)unlink(image);
                return r;
        }
        return 0;
}

int ob_workspace_create(const char *env_dir, int64_t size_mb, uid_t uid, gid_t gid, ob_error *err)
{
        ws_paths p;
        bool made_mnt = false;
        int r;

        if (size_mb < OB_WORKSPACE_MIN_MB || size_mb > OB_WORKSPACE_MAX_MB)
                return ob_error_set(err, 0, 0, EINVAL,
                                    "workspace: size %lld MiB outside %d..%d MiB",
                                    (long long)size_mb, OB_WORKSPACE_MIN_MB, OB_WORKSPACE_MAX_MB);
        r = ws_paths_get(env_dir, &p, err);
        if (r < 0)
                return r;
        r = mount_state(p.mnt);
        if (r != 0)
                return ob_error_set(err, 0, 0, r < 0 ? -r : EEXIST,
                                    "workspace: %s is mounted already", p.mnt);
        r = make_image(p.image, size_mb, err);
        if (r < 0)
                return r;
        r = run_mkfs(p.image, uid, gid, err);
        if (r >= 0)
                r = make_mount_point(p.mnt, &made_mnt, err);
        if (r >= 0)
                r = attach_and_mount(&p, err);
        if (r < 0) {
                if (made_mnt)
                        (void)rmdir(p.mnt);
                (void)unlink(p.image);
        }
        return r;
}

int ob_workspace_mount(const char *env_dir, ob_error *err)
{
        ws_paths p;
        struct stat st;
        bool made_mnt = false;
        int r;

        r = ws_paths_get(env_dir, &p, err);
        if (r < 0)
                return r;
        r = mount_state(p.mnt);
        if (r != 0)
                return r > 0
                           ? 0
                           : ob_error_set(err, 0, 0, -r, "workspace: mountinfo: %s", strerror(-r));
        if (lstat(p.image, &st) < 0)
                return ob_error_set(err, 0, 0, errno, "workspace: %s: %s", p.image,
                                    strerror(errno));
        if (!S_ISREG(st.st_mode))
                return ob_error_set(err, 0, 0, EINVAL, "workspace: %s: not a regular file",
                                    p.image);
        r = make_mount_point(p.mnt, &made_mnt, err);
        if (r < 0)
                return r;
        r = attach_and_mount(&p, err);
        if (r < 0 && made_mnt)
                (void)rmdir(p.mnt);
        return r;
}

int ob_workspace_unmount(const char *env_dir, ob_error *err)
{
        ws_paths p;
        int r = ws_paths_get(env_dir, &p, err);

        if (r < 0)
                return r == -ENOENT ? 0 : r;
        /* stacked mounts (a crashed owner mounting twice) come off one by one */
        for (int i = 0; i < 16 && (r = mount_state(p.mnt)) > 0; i++)
                if (umount2(p.mnt, UMOUNT_NOFOLLOW) < 0 &&
                    umount2(p.mnt, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                        return ob_error_set(err, 0, 0, errno, "workspace: umount %s: %s", p.mnt,
                                            strerror(errno));
        if (r != 0)
                return ob_error_set(err, 0, 0, r < 0 ? -r : EBUSY, "workspace: %s still mounted",
                                    p.mnt);
        return 0;
}

/* Whether /dev/loopN (name "loopN") is backed by image. */
static bool loop_backed_by(const char *name, const char *image)
{
        char path[PATH_MAX], buf[PATH_MAX + 16];
        _cleanup_fclose_ FILE *f = NULL;
        size_t n;

        snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", name);
        f = fopen(path, "re");
        if (!f || !fgets(buf, sizeof(buf), f))
                return false;
        n = strlen(buf);
        if (n && buf[n - 1] == '\n')
                buf[--n] = '\0';
        return streq(buf, image);
}

/* Detaches any loop device still backed by image (a crash between attach
 * and mount, or the kernel's asynchronous autoclear still under way), and
 * waits up to 2 s for it to go: -EBUSY when a lazily detached mount still
 * holds it (it goes with that mount's last user). */
static int loop_release(const char *image)
{
        for (int step = 0; step < CLEAR_WAIT_STEPS; step++) {
                _cleanup_(closedirp) DIR *d = opendir("/sys/block");
                struct dirent *de;
                bool any = false;

                if (!d)
                        return negative_errno();
                while ((de = readdir(d))) {
                        if (strncmp(de->d_name, "loop", 4) != 0 ||
                            !loop_backed_by(de->d_name, image))
                                continue;
                        char dev[PATH_MAX];
                        snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
                        _cleanup_close_ int fd = open(dev, O_RDWR | O_CLOEXEC);
                        if (fd >= 0 && step == 0)
                                (void)ioctl(fd, LOOP_CLR_FD, 0);
                        any = true;
                }
                if (!any)
                        return 0;
                nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
        }
        return -EBUSY;
}

int ob_workspace_destroy(const char *env_dir, ob_error *err)
{
        ws_paths p;
        int r = ws_paths_get(env_dir, &p, err);

        if (r < 0)
                return r == -ENOENT ? 0 : r;
        r = ob_workspace_unmount(env_dir, err);
        if (r < 0)
                return r;
        /* -EBUSY: a process still inside a detached mount; its loop device
         * and the unlinked image go when it leaves */
        (void)loop_release(p.image);
        if (unlink(p.image) < 0 && errno != ENOENT)
                return ob_error_set(err, 0, 0, errno, "workspace: unlink %s: %s", p.image,
                                    strerror(errno));
        if (rmdir(p.mnt) < 0 && errno != ENOENT)
                return ob_error_set(err, 0, 0, errno, "workspace: rmdir %s: %s", p.mnt,
                                    strerror(errno));
        return 0;
}
