/* SPDX-License-Identifier: Apache-2.0 */
/* Workspace images against real loop devices under /var/tmp (root): the
 * mount and its owner, the size bound as seen by the workload and by the
 * host, remount, destroy, refusals, and failures that must leave nothing. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "common/fs.h"
#include "runner/workspace.h"
#include "runner/runner.h"
#include "test_util.h"

#define NOBODY 65534

static char tmpdir[] = "/var/tmp/ob-workspace-XXXXXX";

/* A fresh environment directory under tmpdir (caller frees). */
static char *env_new(const char *name)
{
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        assert_int_equal(mkdir(p, 0700), 0);
        return p;
}

static char *join(const char *dir, const char *name)
{
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

/* The mountinfo line of mnt (a static buffer), or NULL. */
static const char *mountinfo_line(const char *mnt)
{
        static char line[8192];
        FILE *f = fopen("/proc/self/mountinfo", "re");
        const char *found = NULL;

        assert_non_null(f);
        while (!found && fgets(line, sizeof(line), f)) {
                char point[4096];
                if (sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 &&
                    strcmp(ob_mountinfo_unescape(point), mnt) == 0)
                        found = line;
        }
        fclose(f);
        return found;
}

/* How many loop devices are backed by image (also "image (deleted)"). */
static int loops_backed_by(const char *image)
{
        DIR *d = opendir("/sys/block");
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                char path[512], buf[4200] = "";
                FILE *f;
                if (strncmp(de->d_name, "loop", 4) != 0)
                        continue;
                snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(buf, sizeof(buf), f) && strncmp(buf, image, strlen(image)) == 0 &&
                    (buf[strlen(image)] == '\n' || buf[strlen(image)] == ' '))
                        n++;
                fclose(f);
        }
        closedir(d);
        return n;
}

/* Asserts no image, no mount and (within 2 s: autoclear is asynchronous) no
 * loop device for env; the mount point absent unless keep_mnt. */
static void assert_nothing_left(const char *env, bool keep_mnt)
{
        _cleanup_free_ char *image = join(env, "workspace.img"), *mnt = join(env, "workspace");
        char real[4096], img_real[4200];
        int loops = 0;

        assert_non_null(realpath(env, real));
        snprintf(img_real, sizeof(img_real), "%s/workspace.img", real);
        assert_int_equal(access(image, F_OK), -1);
        assert_int_equal(errno, ENOENT);
        if (!keep_mnt)
                assert_int_equal(access(mnt, F_OK), -1);
        snprintf(img_real, sizeof(img_real), "%s/workspace", real);
        assert_null(mountinfo_line(img_real));
        assert_false(ob_workspace_is_mounted(env));
        snprintf(img_real, sizeof(img_real), "%s/workspace.img", real);
        for (int i = 0; i < 200 && (loops = loops_backed_by(img_real)) > 0; i++)
                nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
        assert_int_equal(loops, 0);
}

/* Runs fn(".") in a child in dir as nobody:nogroup (the workload sees the
 * mount only, not the root-only directories above it); returns its exit
 * status. */
static int as_nobody(int (*fn)(const char *), const char *dir)
{
        int status = 0;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                if (chdir(dir) < 0 || setgroups(0, NULL) < 0 ||
                    setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        _exit(100);
                _exit(fn("."));
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static int write_hello(const char *mnt)
{
        char path[4200];
        int fd;

        snprintf(path, sizeof(path), "%s/hello", mnt);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return 1;
        if (write(fd, "hello\n", 6) != 6 || close(fd) < 0)
                return 2;
        return 0;
}

/* Writes 1 MiB chunks until ENOSPC (0), another error (2) or far too much (3). */
static int fill(const char *mnt)
{
        static char buf[1 << 20];
        char path[4200];
        int fd;

        memset(buf, 'x', sizeof(buf));
        snprintf(path, sizeof(path), "%s/fill", mnt);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return 1;
        for (int i = 0; i < 256; i++) {
                if (write(fd, buf, sizeof(buf)) < 0)
                        return errno == ENOSPC ? 0 : 2;
        }
        return 3;
}

static void test_create(void **state)
{
        _cleanup_free_ char *env = env_new("create"), *mnt = join(env, "workspace");
        _cleanup_free_ char *hello = join(mnt, "hello");
        const char *line;
        ob_error err = {0};
        struct stat st;

        assert_int_equal(ob_workspace_create(env, 32, NOBODY, NOBODY, &err), 0);
        assert_true(ob_workspace_is_mounted(env));
        line = mountinfo_line(mnt);
        assert_non_null(line);
        assert_non_null(strstr(line, " - ext4 /dev/loop"));
        assert_non_null(strstr(line, "nosuid"));
        assert_non_null(strstr(line, "nodev"));
        assert_null(strstr(line, "noexec"));
        assert_int_equal(stat(mnt, &st), 0);
        assert_int_equal(st.st_uid, NOBODY);
        assert_int_equal(st.st_gid, NOBODY);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(as_nobody(write_hello, mnt), 0);
        assert_int_equal(stat(hello, &st), 0);
        assert_int_equal(st.st_uid, NOBODY);
        assert_int_equal(st.st_size, 6);
        /* a second create over the mounted one is refused */
        assert_int_equal(ob_workspace_create(env, 32, NOBODY, NOBODY, &err), -EEXIST);
        assert_true(ob_workspace_is_mounted(env));
        assert_int_equal(ob_workspace_destroy(env, &err), 0);
        assert_nothing_left(env, false);
        assert_int_equal(ob_workspace_destroy(env, &err), 0); /* idempotent */
}

static void test_enospc(void **state)
{
        _cleanup_free_ char *env = env_new("full"), *mnt = join(env, "workspace");
        _cleanup_free_ char *image = join(env, "workspace.img");
        ob_error err = {0};
        struct stat st;

        assert_int_equal(ob_workspace_create(env, 16, NOBODY, NOBODY, &err), 0);
        assert_int_equal(as_nobody(fill, mnt), 0);
        sync();
        assert_int_equal(stat(image, &st), 0);
        assert_int_equal(st.st_size, 16 << 20);
        print_message("image: %lld bytes allocated on the host for 16 MiB\n",
                      (long long)st.st_blocks * 512);
        assert_true((long long)st.st_blocks * 512 <= 16LL << 20);
        assert_true((long long)st.st_blocks * 512 >= 12LL << 20); /* it was really filled */
        assert_int_equal(ob_workspace_destroy(env, &err), 0);
        assert_nothing_left(env, false);
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The figures in docs/environments-workspace.md: a 256 MiB workspace's
 * create time and what it takes on the host's disk, right away and after
 * the kernel's lazy inode-table init had time to run. */
static void test_overhead(void **state)
{
        _cleanup_free_ char *env = env_new("overhead"), *image = join(env, "workspace.img");
        ob_error err = {0};
        struct stat st;
        double t0 = now(), t1;

        assert_int_equal(ob_workspace_create(env, 256, NOBODY, NOBODY, &err), 0);
        t1 = now();
        assert_int_equal(stat(image, &st), 0);
        print_message("256 MiB workspace: create %.3f s, host disk %lld KiB\n", t1 - t0,
                      (long long)st.st_blocks / 2);
        sleep(3);
        sync();
        assert_int_equal(stat(image, &st), 0);
        print_message("after 3 s mounted: host disk %lld KiB\n", (long long)st.st_blocks / 2);
        assert_true((long long)st.st_blocks * 512 < 16LL << 20);
        assert_int_equal(ob_workspace_destroy(env, &err), 0);
        assert_nothing_left(env, false);
}

static void test_remount(void **state)
{
        _cleanup_free_ char *env = env_new("remount"), *mnt = join(env, "workspace");
        _cleanup_free_ char *hello = join(mnt, "hello"), *image = join(env, "workspace.img");
        char real[4096], img_real[4200];
        ob_error err = {0};

        assert_int_equal(ob_workspace_create(env, 16, NOBODY, NOBODY, &err), 0);
        assert_int_equal(as_nobody(write_hello, mnt), 0);
        assert_int_equal(ob_workspace_unmount(env, &err), 0);
        assert_false(ob_workspace_is_mounted(env));
        assert_int_equal(access(hello, F_OK), -1);
        assert_non_null(realpath(image, real));
        snprintf(img_real, sizeof(img_real), "%s", real);
        for (int i = 0; i < 200 && loops_backed_by(img_real) > 0; i++)
                nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
        assert_int_equal(loops_backed_by(img_real), 0);       /* autoclear */
        assert_int_equal(ob_workspace_unmount(env, &err), 0); /* not mounted: 0 */
        assert_int_equal(ob_workspace_mount(env, &err), 0);
        assert_int_equal(ob_workspace_mount(env, &err), 0); /* mounted already: 0 */
        assert_true(ob_workspace_is_mounted(env));
        assert_int_equal(loops_backed_by(img_real), 1);
        assert_int_equal(access(hello, F_OK), 0);
        assert_int_equal(ob_workspace_destroy(env, &err), 0);
        assert_nothing_left(env, false);
        assert_int_equal(ob_workspace_mount(env, &err), -ENOENT);
        assert_nothing_left(env, false);
}

static void test_refusals(void **state)
{
        _cleanup_free_ char *env = env_new("refuse"), *image = join(env, "workspace.img");
        const int64_t bad[] = {0, -1, OB_WORKSPACE_MIN_MB - 1, OB_WORKSPACE_MAX_MB + 1, INT64_MAX};
        ob_error err = {0};
        char buf[8] = "";
        int fd;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(ob_workspace_create(env, bad[i], NOBODY, NOBODY, &err), -EINVAL);
                assert_nothing_left(env, false);
        }
        fd = open(image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "keep", 4), 4);
        close(fd);
        assert_int_equal(ob_workspace_create(env, 16, NOBODY, NOBODY, &err), -EEXIST);
        assert_non_null(strstr(err.message, "exists"));
        fd = open(image, O_RDONLY | O_CLOEXEC);
        assert_int_equal(read(fd, buf, sizeof(buf) - 1), 4);
        close(fd);
        assert_string_equal(buf, "keep");
        assert_false(ob_workspace_is_mounted(env));
        assert_int_equal(unlink(image), 0);
}

/* Puts a fake mkfs.ext4 (a shell script body) in dir. */
static void fake_mkfs(const char *dir, const char *body)
{
        _cleanup_free_ char *path = join(dir, "mkfs.ext4");
        FILE *f;

        (void)mkdir(dir, 0700);
        f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\n%s\n", body);
        fclose(f);
        assert_int_equal(chmod(path, 0755), 0);
}

static void test_failures(void **state)
{
        _cleanup_free_ char *env = env_new("fail"), *mnt = join(env, "workspace");
        _cleanup_free_ char *bin = join(tmpdir, "bin"), *empty = join(tmpdir, "empty");
        _cleanup_free_ char *missing = join(tmpdir, "no-such-env");
        _cleanup_free_ char *old_path = strdup(getenv("PATH") ? getenv("PATH") : "");
        ob_error err = {0};

        assert_int_equal(ob_workspace_create(missing, 16, NOBODY, NOBODY, &err), -ENOENT);
        assert_int_equal(access(missing, F_OK), -1);

        /* mkfs.ext4 not on PATH */
        assert_int_equal(mkdir(empty, 0700), 0);
        assert_int_equal(setenv("PATH", empty, 1), 0);
        assert_int_equal(ob_workspace_create(env, 16, NOBODY, NOBODY, &err), -ENOENT);
        assert_non_null(strstr(err.message, "mkfs.ext4"));
        assert_nothing_left(env, false);

        /* mkfs.ext4 fails: its output is in the message */
        fake_mkfs(bin, "echo 'fake mkfs: no luck' >&2; exit 3");
        assert_int_equal(setenv("PATH", bin, 1), 0);
        assert_int_equal(ob_workspace_create(env, 16, NOBODY, NOBODY, &err), -EIO);
        assert_non_null(strstr(err.message, "exited 3"));
        assert_non_null(strstr(err.message, "fake mkfs: no luck"));
        assert_nothing_left(env, false);

        /* mkfs.ext4 "succeeds" without a file system: the loop device is
         * attached, the mount fails; the loop device must go too */
        fake_mkfs(bin, "exit 0");
        assert_int_equal(ob_workspace_create(env, 16, NOBODY, NOBODY, &err), -EINVAL);
        assert_non_null(strstr(err.message, "mount"));
        assert_nothing_left(env, false);
        assert_int_equal(setenv("PATH", old_path, 1), 0);

        /* the mount point is a file: refused, the image goes, the file stays */
        assert_int_equal(close(open(mnt, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);
        assert_int_equal(ob_workspace_create(env, 16, NOBODY, NOBODY, &err), -ENOTDIR);
        assert_nothing_left(env, true);
        assert_int_equal(unlink(mnt), 0);

        /* a mount point made by the caller is kept on failure */
        assert_int_equal(mkdir(mnt, 0700), 0);
        assert_int_equal(setenv("PATH", bin, 1), 0);
        assert_int_equal(ob_workspace_create(env, 16, NOBODY, NOBODY, &err), -EINVAL);
        assert_int_equal(setenv("PATH", old_path, 1), 0);
        assert_nothing_left(env, true);
        assert_int_equal(rmdir(mnt), 0);

        /* and with the real mkfs it works in the same directory */
        assert_int_equal(ob_workspace_create(env, 16, NOBODY, NOBODY, &err), 0);
        assert_int_equal(ob_workspace_destroy(env, &err), 0);
        assert_nothing_left(env, false);
}

/* After a failed assertion: takes down whatever a test left mounted. */
static void destroy_all(void)
{
        DIR *d = opendir(tmpdir);
        struct dirent *de;

        while (d && (de = readdir(d))) {
                char path[4200];
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
                (void)ob_workspace_destroy(path, NULL);
        }
        if (d)
                closedir(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_create),   cmocka_unit_test(test_enospc),
            cmocka_unit_test(test_remount),  cmocka_unit_test(test_overhead),
            cmocka_unit_test(test_refusals), cmocka_unit_test(test_failures),
        };
        int fd, r;

        if (geteuid() != 0)
                ob_test_skip("loop devices and mount(2) need root");
        fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                ob_test_skip("no /dev/loop-control: loop devices cannot work here");
        close(fd);
        if (!mkdtemp(tmpdir))
                ob_test_skip("cannot make a directory under /var/tmp");
        r = cmocka_run_group_tests(tests, NULL, NULL);
        destroy_all();
        ob_rm_rf(tmpdir);
        return r;
}
