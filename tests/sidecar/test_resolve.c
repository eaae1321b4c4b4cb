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
#include <sys/stat.h>
#include <sys/syscall.h>
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
            cmocka_unit_test(test_proc_self_is_the_tracee),
            cmocka_unit_test(test_fd_paths),
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_dangerous_verdict),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
