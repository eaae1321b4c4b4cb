/* SPDX-License-Identifier: Apache-2.0 */
/* Path resolution as the sidecar does it, checked on this very process (a
 * tracee is looked at through /proc/<tid>, which works for ourselves too)
 * in a real temporary tree with real symlinks; and the syscall table. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sidecar/sidecar.h"

static char root[PATH_MAX]; /* realpath of the temporary tree */

static void mk(const char *rel, bool dir)
{
        char p[PATH_MAX * 2];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        if (dir)
                assert_int_equal(mkdir(p, 0755), 0);
        else
                assert_int_equal(close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
}

static void ln(const char *target, const char *rel)
{
        char p[PATH_MAX * 2];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
        char tmpl[] = "/tmp/ob-resolve-XXXXXX";
        if (!mkdtemp(tmpl) || !realpath(tmpl, root))
                return -1;
        mk("a", true);
        mk("a/b", true);
        mk("a/b/file", false);
        mk("secret", false);
        ln("/etc/passwd", "a/abs");   /* absolute target */
        ln("b/file", "a/rel");        /* relative target */
        ln("../../secret", "a/b/up"); /* escapes with .. */
        ln("loop2", "loop1");
        ln("loop1", "loop2");
        ln("a/b", "dirlink"); /* a link used as a directory */
        /* F8: a directory the sidecar cannot search without
         * CAP_DAC_READ_SEARCH (0700, another uid's) hides a link */
        mk("hid", true);
        ln("../a/b", "hid/l");
        return 0;
}

static int teardown(void **state)
{
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

/* Resolves rel (relative to the tree unless absolute) and compares with
 * the tree-relative expectation (or absolute when it starts with '/'). */
static void expect(int dirfd, const char *path, bool follow, const char *want)
{
        char *got = NULL, full[PATH_MAX * 2];
        pid_t tid = (pid_t)syscall(SYS_gettid);

        assert_int_equal(ob_resolve_path(tid, dirfd, path, follow, &got), 0);
        if (want[0] == '/')
                snprintf(full, sizeof(full), "%s", want);
        else
                snprintf(full, sizeof(full), "%s/%s", root, want);
        assert_string_equal(got, full);
        free(got);
}

/* expect() for a path under the tree, given relative to it. */
static void expect_tree(const char *rel, bool follow, const char *want)
{
        char p[PATH_MAX * 2];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        expect(AT_FDCWD, p, follow, want);
}

static void test_relative_to_cwd(void **state)
{
        char old[PATH_MAX];
        assert_non_null(getcwd(old, sizeof(old)));
        assert_int_equal(chdir(root), 0);
        expect(AT_FDCWD, "a/b/file", true, "a/b/file");
        expect(AT_FDCWD, "./a/../a/./b//file", true, "a/b/file");
        expect(AT_FDCWD, "../../../../../../../../etc/passwd", true, "/etc/passwd");
        assert_int_equal(chdir(old), 0);
}

static void test_relative_to_dirfd(void **state)
{
        char p[PATH_MAX * 2];
        int fd;
        snprintf(p, sizeof(p), "%s/a/b", root);
        fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        expect(fd, "file", true, "a/b/file");
        expect(fd, "../../secret", true, "secret");
        close(fd);
        char *got = NULL;
        assert_int_equal(ob_resolve_path(getpid(), 999, "x", true, &got), -EBADF);
}

static void test_symlinks(void **state)
{
        char p[PATH_MAX * 2], *got = NULL;

        snprintf(p, sizeof(p), "%s/a/abs", root);
        expect(AT_FDCWD, p, true, "/etc/passwd");
        expect(AT_FDCWD, p, false, "a/abs"); /* O_NOFOLLOW, unlink: the link itself */
        snprintf(p, sizeof(p), "%s/a/rel", root);
        expect(AT_FDCWD, p, true, "a/b/file");
        snprintf(p, sizeof(p), "%s/a/b/up", root);
        expect(AT_FDCWD, p, true, "secret");
        /* ".." after a symlinked directory is the target's parent, as in the kernel */
        snprintf(p, sizeof(p), "%s/dirlink/../b/file", root);
        expect(AT_FDCWD, p, false, "a/b/file");
        /* a trailing slash follows even a last component */
        snprintf(p, sizeof(p), "%s/dirlink/", root);
        expect(AT_FDCWD, p, false, "a/b");
        snprintf(p, sizeof(p), "%s/loop1", root);
        assert_int_equal(ob_resolve_path(getpid(), AT_FDCWD, p, true, &got), -ELOOP);
        expect(AT_FDCWD, p, false, "loop1");
}

static void test_missing_and_limits(void **state)
{
        char p[PATH_MAX * 2], *got = NULL, *longp;

        /* O_CREAT of a new file: the path as written, lexically */
        snprintf(p, sizeof(p), "%s/a/new/../new2/x", root);
        expect(AT_FDCWD, p, true, "a/new2/x");
        assert_int_equal(ob_resolve_path(getpid(), AT_FDCWD, "", true, &got), -ENOENT);
        longp = malloc(OB_SIDECAR_MAX_PATH + 64);
        memset(longp, 'a', OB_SIDECAR_MAX_PATH + 63);
        longp[0] = '/';
        longp[OB_SIDECAR_MAX_PATH + 63] = '\0';
        assert_int_equal(ob_resolve_path(getpid(), AT_FDCWD, longp, true, &got), -ENAMETOOLONG);
        free(longp);
}

/* Runs ob_resolve_path in a child whose effective set lacks
 * CAP_DAC_READ_SEARCH and CAP_DAC_OVERRIDE (a root without them, as the
 * sidecar was before F8); its result. */
static int resolve_without_dac(const char *path)
{
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0) {
                cap_value_t dac[] = {CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE};
                cap_t c = cap_get_proc();
                char *got = NULL;
                if (!c || cap_set_flag(c, CAP_EFFECTIVE, 2, dac, CAP_CLEAR) < 0 ||
                    cap_set_proc(c) < 0)
                        _exit(100);
                _exit(-ob_resolve_path(getpid(), AT_FDCWD, path, true, &got));
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 100);
        return -WEXITSTATUS(status);
}

static void test_unsearchable_directory_fails_closed(void **state)
{
        char p[PATH_MAX * 2], hid[PATH_MAX * 2];

        if (geteuid() != 0) {
                skip(); /* needs root to make a directory of another uid */
                return;
        }
        snprintf(hid, sizeof(hid), "%s/hid", root);
        assert_int_equal(chown(hid, 65534, 65534), 0);
        assert_int_equal(chmod(hid, 0700), 0);
        /* the attack of F8: hid/l/../b/file is a/b/file for the kernel */
        snprintf(p, sizeof(p), "%s/hid/l/../b/file", root);
        assert_int_equal(resolve_without_dac(p), -EACCES); /* not hid/b/file */
        snprintf(p, sizeof(p), "%s/hid/l", root);
        assert_int_equal(resolve_without_dac(p), -EACCES);
        /* with the capability (as the sidecar now runs) the link is seen */
        expect_tree("hid/l/../b/file", true, "a/b/file");
        expect_tree("hid/l/../../secret", true, "secret");
        expect_tree("hid/l/file", true, "a/b/file");
        assert_int_equal(chmod(hid, 0755), 0);
        assert_int_equal(chown(hid, 0, 0), 0);
}

static void test_kernel_errors(void **state)
{
        char p[PATH_MAX * 2], *got = NULL, name[300];

        /* a file used as a directory: the kernel says ENOTDIR; the rest is
         * taken as written (still checked), "file/.." is not its parent */
        expect_tree("a/b/file/x", true, "a/b/file/x");
        expect_tree("a/b/file/../../secret", true, "a/secret");
        /* a missing directory, then "..": ENOENT for the kernel, as written here */
        expect_tree("a/gone/../../secret", true, "secret");
        /* which of them the kernel fails: the caller refuses those itself */
        static const struct {
                const char *rel;
                int fails;
        } fails[] = {{"a/b/file/x", ENOTDIR},
                     {"a/b/file/../../secret", ENOTDIR},
                     {"a/gone/../../secret", ENOENT},
                     {"a/gone/x", ENOENT},
                     {"a/new", 0},
                     {"a/newdir/", 0},
                     {"a/b/file", 0}};
        for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
                int f = -1;
                snprintf(p, sizeof(p), "%s/%s", root, fails[i].rel);
                assert_int_equal(ob_resolve_path_fails(getpid(), AT_FDCWD, p, true, &got, &f), 0);
                free(got);
                assert_int_equal(f, fails[i].fails);
        }
        /* ".." of the root is the root */
        expect(AT_FDCWD, "/../../..//etc/../etc/passwd", true, "/etc/passwd");
        /* a component over NAME_MAX */
        memset(name, 'n', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        snprintf(p, sizeof(p), "%s/a/%s/x", root, name);
        assert_int_equal(ob_resolve_path(getpid(), AT_FDCWD, p, true, &got), -ENAMETOOLONG);
        /* a dirfd that is not a directory */
        snprintf(p, sizeof(p), "%s/a/b/file", root);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        expect(fd, "x", true, "a/b/file/x");
        close(fd);
}

/* A deleted directory's /proc link reads "/d (deleted)", a name the tracee
 * can give a symlink to anywhere: relative to a deleted cwd or dirfd, and
 * through /proc/self/fd/N of one, nothing is sure; nor is the name of a
 * deleted file open as an fd. */
static void test_deleted_directories_fail_closed(void **state)
{
        char old[PATH_MAX], p[PATH_MAX * 2], fake[PATH_MAX * 2], *got = NULL;
        int fd;

        assert_non_null(getcwd(old, sizeof(old)));
        snprintf(p, sizeof(p), "%s/gone", root);
        snprintf(fake, sizeof(fake), "%s/gone (deleted)", root);
        assert_int_equal(mkdir(p, 0755), 0);
        fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(chdir(p), 0);
        assert_int_equal(rmdir(p), 0);
        assert_int_equal(ob_resolve_path(getpid(), AT_FDCWD, "../secret", true, &got), -EACCES);
        assert_int_equal(symlink("a/b", fake), 0);
        assert_int_equal(ob_resolve_path(getpid(), AT_FDCWD, "../secret", true, &got), -EACCES);
        assert_int_equal(ob_resolve_path(getpid(), fd, "../secret", true, &got), -EACCES);
        snprintf(p, sizeof(p), "/proc/self/fd/%d/../secret", fd);
        assert_int_equal(ob_resolve_path(getpid(), AT_FDCWD, p, true, &got), -EACCES);
        assert_int_equal(chdir(old), 0);
        close(fd);
        assert_int_equal(unlink(fake), 0);
        /* a deleted file open as fd (futimens, fexecve, linkat(fd, "")) */
        snprintf(p, sizeof(p), "%s/doomed", root);
        fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ob_resolve_fd(getpid(), fd, &got), 0);
        assert_string_equal(got, p);
        free(got);
        assert_int_equal(unlink(p), 0);
        snprintf(fake, sizeof(fake), "%s/doomed (deleted)", root);
        assert_int_equal(close(open(fake, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
        assert_int_equal(ob_resolve_fd(getpid(), fd, &got), -EACCES);
        assert_int_equal(unlink(fake), 0);
        assert_int_equal(ob_resolve_fd(getpid(), fd, &got), -EACCES);
        close(fd);
}

/* /proc/<pid>/cwd of another task, /proc/self/fd/N of a directory: links
 * whose text names what they lead to are followed, ".." after them too. */
static void test_proc_links_of_directories(void **state)
{
        char p[PATH_MAX * 2], dir[PATH_MAX * 2], c;
        int go[2], ready[2], fd, status;
        pid_t pid;

        snprintf(dir, sizeof(dir), "%s/a/b", root);
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(go[1]);
                close(ready[0]);
                if (chdir(dir) < 0 || write(ready[1], "x", 1) != 1)
                        _exit(1);
                _exit(read(go[0], &c, 1) < 0); /* until the parent is done */
        }
        close(go[0]);
        close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1); /* the child is in a/b */
        close(ready[0]);
        snprintf(p, sizeof(p), "/proc/%d/cwd/../../secret", (int)pid);
        expect(AT_FDCWD, p, true, "secret");
        snprintf(p, sizeof(p), "/proc/%d/cwd", (int)pid);
        expect(AT_FDCWD, p, true, "a/b");
        close(go[1]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        snprintf(p, sizeof(p), "/proc/self/fd/%d/../../secret", fd);
        expect(AT_FDCWD, p, true, "secret");
        snprintf(p, sizeof(p), "/proc/self/fd/%d/file", fd);
        expect(AT_FDCWD, p, true, "a/b/file");
        close(fd);
}

static void test_proc_self_is_the_tracee(void **state)
{
        char want[64];
        char *got = NULL;

        /* resolved for "tracee" 1 (init), /proc/self must name pid 1, not us */
        assert_int_equal(ob_resolve_path(1, AT_FDCWD, "/proc/self/status", true, &got), 0);
        assert_string_equal(got, "/proc/1/status");
        free(got);
        snprintf(want, sizeof(want), "/proc/%d/task/%d/comm", (int)getpid(), (int)getpid());
        expect(AT_FDCWD, "/proc/thread-self/comm", true, want);
        /* /proc/mounts -> self/mounts -> the tracee's */
        snprintf(want, sizeof(want), "/proc/%d/mounts", (int)getpid());
        expect(AT_FDCWD, "/proc/mounts", true, want);
}

static void test_fd_paths(void **state)
{
        int p[2];
        char *got = NULL, want[64], path[64];

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(ob_resolve_fd(getpid(), p[0], &got), 0);
        assert_true(strncmp(got, "pipe:[", 6) == 0);
        free(got);
        /* a magic link to a pipe stays a /proc path */
        snprintf(want, sizeof(want), "/proc/%d/fd/%d", (int)getpid(), p[0]);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
        expect(AT_FDCWD, path, true, want);
        close(p[0]);
        close(p[1]);
}

static void test_table(void **state)
{
        const ob_syscall_info *s = ob_syscall_lookup(SYS_openat);
        assert_non_null(s);
        assert_string_equal(s->name, "openat");
        assert_int_equal(s->klass, OB_TRACE_PATH);
        assert_int_equal(ob_syscall_lookup(SYS_ptrace)->klass, OB_TRACE_DANGEROUS);
        assert_int_equal(ob_syscall_lookup(SYS_connect)->klass, OB_TRACE_NET);
        assert_null(ob_syscall_lookup(SYS_read));
        assert_null(ob_syscall_lookup(-1));
        assert_null(ob_syscall_lookup(100000));
}

static void test_dangerous_verdict(void **state)
{
        ob_capset *caps = NULL;
        ob_verdict v = {0};
        uint64_t args[6] = {0};

        assert_int_equal(ob_capset_new(&caps), 0);
        assert_int_equal(ob_check_syscall(caps, getpid(), SYS_bpf, args, &v), 0);
        assert_false(v.allowed);
        assert_int_equal(v.error, EPERM);
        assert_string_equal(v.layer, "seccomp");
        assert_string_equal(v.target, "bpf");
        free(v.target);
        assert_int_equal(ob_check_syscall(caps, getpid(), SYS_read, args, &v), 0);
        assert_true(v.allowed);
        ob_capset_free(caps);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_relative_to_cwd),
            cmocka_unit_test(test_relative_to_dirfd),
            cmocka_unit_test(test_symlinks),
            cmocka_unit_test(test_missing_and_limits),
            cmocka_unit_test(test_unsearchable_directory_fails_closed),
            cmocka_unit_test(test_kernel_errors),
            cmocka_unit_test(test_deleted_directories_fail_closed),
            cmocka_unit_test(test_proc_links_of_directories),
            cmocka_unit_test(test_proc_self_is_the_tracee),
            cmocka_unit_test(test_fd_paths),
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_dangerous_verdict),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
