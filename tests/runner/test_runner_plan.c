/* SPDX-License-Identifier: Apache-2.0 */
/* The mount plan's edge cases, the rootfs builder's refusal to follow
 * symlinks, gc of dead and live runs, and ob_sandbox_run's input checks:
 * all without runsc. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "runner/runner.h"

static char tmp[64];
static char logbuf[16384];

static void collect(const char *line, void *userdata)
{
        size_t len = strlen(logbuf);

        if (len + 2 >= sizeof(logbuf))
                return;
        strncat(logbuf, line, sizeof(logbuf) - len - 2);
        strcat(logbuf, "\n");
}

static char *P(const char *rel)
{
        static char bufs[8][512];
        static int i;
        char *b = bufs[i++ % 8];
        snprintf(b, 512, "%s/%s", tmp, rel);
        return b;
}

static void touch(const char *rel)
{
        int fd = open(P(rel), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
}

static int setup(void **state)
{
        strcpy(tmp, "/tmp/ob-plan-XXXXXX");
        assert_non_null(mkdtemp(tmp));
        logbuf[0] = '\0';
        return 0;
}

static int teardown(void **state)
{
        return ob_rm_rf(tmp);
}

static void grant(ob_capset *set, bool deny, ob_cap_kind k, const char *target)
{
        ob_error err = {0};
        assert_int_equal(ob_capset_add(set, deny, k, target, NULL, &err), 0);
}

/* The mount at dest, or NULL. */
static const ob_mount *mount_of(const ob_mount_plan *m, const char *dest)
{
        for (size_t i = 0; i < m->n; i++)
                if (streq(m->v[i].destination, dest))
                        return &m->v[i];
        return NULL;
}

static bool planned(const ob_mount_plan *m, const char *dest)
{
        return mount_of(m, dest) != NULL;
}

static void test_plan_edges(void **state)
{
        ob_capset *set = NULL;
        ob_mount_plan m = {.log = collect};

        mkdir(P("d"), 0755);
        mkdir(P("d/a"), 0755);
        mkdir(P("d/b"), 0755);
        mkdir(P("d/b/secret"), 0755);
        touch("d/a/x.txt");
        touch("d/b/x.txt");
        touch("d/b/secret/x.txt");
        assert_int_equal(mkfifo(P("d/fifo"), 0600), 0);
        assert_int_equal(symlink("/etc", P("d/etc")), 0);
        assert_int_equal(ob_capset_new(&set), 0);
        grant(set, false, OB_CAP_FILE_READ, P("d/*/x.txt")); /* searched */
        grant(set, false, OB_CAP_FILE_READ, P("d/fifo"));    /* not a file */
        grant(set, false, OB_CAP_FILE_READ, P("d/etc/*"));   /* dir resolving outside */
        grant(set, false, OB_CAP_FILE_WRITE, P("d/b/*"));    /* denial under: searched */
        grant(set, true, OB_CAP_FILE_WRITE, P("d/b/secret/*"));
        grant(set, false, OB_CAP_FILE_READ, "/proc/*"); /* reserved */
        grant(set, false, OB_CAP_NETWORK_CONNECT, "10.0.0.1:443");
        assert_int_equal(ob_mount_plan_add_grants(&m, set), 0);

        assert_true(planned(&m, P("d/a/x.txt")));
        assert_true(planned(&m, P("d/b/x.txt")));
        assert_false(planned(&m, P("d/b"))); /* not whole: a denial reaches under */
        assert_false(planned(&m, P("d/fifo")));
        assert_false(planned(&m, P("d/etc")));
        assert_false(planned(&m, "/proc"));
        assert_non_null(strstr(logbuf, "is not a regular file or directory"));
        assert_non_null(strstr(logbuf, "resolves to /etc, outside the grant"));
        assert_non_null(strstr(logbuf, "a denial reaches under"));
        assert_non_null(strstr(logbuf, "/proc is reserved inside the sandbox"));
        assert_non_null(strstr(logbuf, "NETWORK_CONNECT 10.0.0.1:443: not a mount"));
        /* d/b/secret/x.txt: the FILE_WRITE denial keeps it from being writable,
         * the FILE_READ grant d/<star>/x.txt (star spans "b/secret") mounts it ro */
        assert_true(planned(&m, P("d/b/secret/x.txt")));
        for (size_t i = 0; i < m.n; i++)
                if (streq(m.v[i].destination, P("d/b/secret/x.txt")))
                        assert_false(m.v[i].writable);
        ob_mount_plan_done(&m);
        ob_capset_free(set);
}

/* F1: a hard-linked file under a granted directory is not mounted (its inode
 * may be a file outside the grant); the directory is searched instead. A
 * grant that names the file itself still mounts it. */
static void test_plan_hard_links(void **state)
{
        ob_capset *set = NULL;
        ob_mount_plan m = {.log = collect};

        mkdir(P("h"), 0755);
        mkdir(P("h/sub"), 0755);
        mkdir(P("clean"), 0755);
        touch("clean/a.txt");
        touch("h/ok.txt");
        touch("outside.txt");
        assert_int_equal(link(P("outside.txt"), P("h/sub/linked.txt")), 0);
        assert_int_equal(ob_capset_new(&set), 0);
        grant(set, false, OB_CAP_FILE_READ, P("h/*"));
        grant(set, false, OB_CAP_FILE_READ, P("clean/*"));
        assert_int_equal(ob_mount_plan_add_grants(&m, set), 0);
        assert_true(planned(&m, P("clean"))); /* no hard link: mounted whole */
        assert_false(planned(&m, P("h")));
        assert_false(planned(&m, P("h/sub")));
        assert_true(planned(&m, P("h/ok.txt")));
        assert_false(planned(&m, P("h/sub/linked.txt")));
        assert_non_null(strstr(logbuf, "holds hard-linked files"));
        assert_non_null(strstr(logbuf, "has 2 hard links"));
        ob_mount_plan_done(&m);
        ob_capset_free(set);

        m = (ob_mount_plan){.log = collect};
        assert_int_equal(ob_capset_new(&set), 0);
        grant(set, false, OB_CAP_FILE_READ, P("h/sub/linked.txt"));
        assert_int_equal(ob_mount_plan_add_grants(&m, set), 0);
        assert_true(planned(&m, P("h/sub/linked.txt")));
        ob_mount_plan_done(&m);
        ob_capset_free(set);
}

/* F7: a denial of any kind keeps a file out of every mount that would give
 * it what is denied, whatever the grant's kind: FILE_READ out of all, FILE_WRITE
 * out of read-write ones, FILE_EXEC out of read-write and executable ones. */
static void test_plan_denials_of_other_kinds(void **state)
{
        ob_capset *set = NULL;
        ob_mount_plan m = {.log = collect};
        const ob_mount *x;

        mkdir(P("w"), 0755);
        mkdir(P("w/sub"), 0755);
        mkdir(P("w/clean"), 0755);
        mkdir(P("o"), 0755);
        touch("w/.env");
        touch("w/ok.txt");
        touch("w/conf");
        touch("w/tool");
        touch("w/sub/.env");
        touch("w/sub/a.txt");
        touch("w/clean/b.txt");
        touch("o/.env");
        touch("o/out.txt");
        mkdir(P("x"), 0755);
        touch("x/secret");
        touch("x/tool");
        assert_int_equal(ob_capset_new(&set), 0);
        grant(set, false, OB_CAP_FILE_READ, P("w/*"));
        grant(set, false, OB_CAP_FILE_WRITE, P("w/*"));
        grant(set, false, OB_CAP_FILE_WRITE, P("o/*")); /* write-only */
        grant(set, true, OB_CAP_FILE_READ, P("w/.env"));
        grant(set, true, OB_CAP_FILE_READ, P("w/sub/.env"));
        grant(set, true, OB_CAP_FILE_WRITE, P("w/conf"));
        grant(set, true, OB_CAP_FILE_EXEC, P("w/tool"));
        grant(set, true, OB_CAP_FILE_READ, P("o/.env"));
        grant(set, false, OB_CAP_FILE_EXEC, P("x/*"));
        grant(set, true, OB_CAP_FILE_READ, P("x/secret"));
        assert_int_equal(ob_mount_plan_add_grants(&m, set), 0);

        assert_false(planned(&m, P("w"))); /* not whole, read-only or read-write */
        assert_false(planned(&m, P("w/sub")));
        assert_false(planned(&m, P("w/.env")));
        assert_false(planned(&m, P("w/sub/.env")));
        assert_non_null(x = mount_of(&m, P("w/ok.txt")));
        assert_true(x->writable);
        assert_non_null(x = mount_of(&m, P("w/sub/a.txt")));
        assert_true(x->writable);
        assert_non_null(x = mount_of(&m, P("w/clean"))); /* no denial under: whole */
        assert_true(x->writable);
        /* a read-only mount gives neither write nor (noexec) exec */
        assert_non_null(x = mount_of(&m, P("w/conf")));
        assert_false(x->writable);
        assert_non_null(x = mount_of(&m, P("w/tool")));
        assert_false(x->writable);
        assert_true(x->noexec);
        /* a FILE_WRITE-only grant: its denied file is not in the mount */
        assert_false(planned(&m, P("o")));
        assert_false(planned(&m, P("o/.env")));
        assert_non_null(x = mount_of(&m, P("o/out.txt")));
        assert_true(x->writable);
        /* a FILE_EXEC grant's mount can be read: a FILE_READ denial keeps out */
        assert_false(planned(&m, P("x")));
        assert_false(planned(&m, P("x/secret")));
        assert_non_null(x = mount_of(&m, P("x/tool")));
        assert_false(x->noexec);
        ob_mount_plan_done(&m);
        ob_capset_free(set);
}

static void test_plan_limits(void **state)
{
        ob_capset *set = NULL;
        ob_mount_plan m = {0};
        char rel[64];

        /* more than OB_SANDBOX_MAX_MOUNTS matches is an error */
        mkdir(P("many"), 0755);
        for (int i = 0; i < OB_SANDBOX_MAX_MOUNTS + 1; i++) {
                snprintf(rel, sizeof(rel), "many/f%03d.txt", i);
                touch(rel);
        }
        assert_int_equal(ob_capset_new(&set), 0);
        grant(set, false, OB_CAP_FILE_READ, P("many/*.txt"));
        assert_int_equal(ob_mount_plan_add_grants(&m, set), -E2BIG);
        ob_mount_plan_done(&m);
        ob_capset_free(set);
}

static void test_rootfs_never_follows_symlinks(void **state)
{
        ob_mount_plan m = {0};
        ob_error err = {0};
        ob_symlink link = {.path = "/lib64", .target = "usr/lib64"};
        ob_profile prof = {.name = "t", .symlinks = &link, .n_symlinks = 1};
        struct stat st;

        mkdir(P("rootfs"), 0755);
        mkdir(P("outside"), 0755);
        assert_int_equal(symlink(P("outside"), P("rootfs/evil")), 0);
        assert_int_equal(ob_mount_plan_add(&m, "/usr/lib", "/usr/lib", false, true, "t"), 0);
        assert_int_equal(ob_rootfs_prepare(P("rootfs"), &m, &prof, &err), 0);
        assert_int_equal(lstat(P("rootfs/usr/lib"), &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(lstat(P("rootfs/lib64"), &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(lstat(P("rootfs/tmp"), &st), 0);
        /* absurd destinations are refused */
        {
                char *longdest = malloc(PATH_MAX + 16);
                ob_mount_plan m2 = {0};
                memset(longdest, 'a', PATH_MAX + 15);
                longdest[0] = '/';
                longdest[PATH_MAX + 15] = '\0';
                assert_int_equal(ob_mount_plan_add(&m2, "/x", longdest, false, false, "t"), 0);
                assert_int_equal(ob_rootfs_prepare(P("rootfs"), &m2, NULL, &err), -ENAMETOOLONG);
                ob_mount_plan_done(&m2);
                free(longdest);
        }
        /* a mount point under a symlink is refused, nothing made outside */
        assert_int_equal(ob_mount_plan_add(&m, "/etc/hostname", "/evil/x", false, false, "t"), 0);
        assert_int_equal(ob_rootfs_prepare(P("rootfs"), &m, NULL, &err), -ELOOP);
        assert_non_null(strstr(err.message, "/evil/x"));
        assert_int_equal(lstat(P("outside/x"), &st), -1);
        ob_mount_plan_done(&m);
}

static void test_gc_dead_and_live(void **state)
{
        ob_error err = {0};
        unsigned removed = 99;
        int held;

        assert_int_equal(ob_sandbox_gc(P("none"), "/bin/false", &removed, &err), 0);
        assert_int_equal(removed, 0);
        mkdir(P("runs"), 0700);
        mkdir(P("runs/ob-00000000000000aa"), 0700); /* dead: lock free */
        touch("runs/ob-00000000000000aa/lock");
        mkdir(P("runs/ob-00000000000000bb"), 0700); /* live: lock held */
        touch("runs/ob-00000000000000bb/lock");
        mkdir(P("runs/ob-00000000000000cc"), 0700); /* being created: no lock yet */
        mkdir(P("runs/not-a-run"), 0700);
        held = open(P("runs/ob-00000000000000bb/lock"), O_RDWR | O_CLOEXEC);
        assert_int_equal(flock(held, LOCK_EX), 0);
        assert_int_equal(ob_sandbox_gc(tmp, "/bin/false", &removed, &err), 0);
        assert_int_equal(removed, 1);
        assert_int_equal(access(P("runs/ob-00000000000000aa"), F_OK), -1);
        assert_int_equal(access(P("runs/ob-00000000000000bb/lock"), F_OK), 0);
        assert_int_equal(access(P("runs/ob-00000000000000cc"), F_OK), 0);
        assert_int_equal(access(P("runs/not-a-run"), F_OK), 0);
        close(held);
}

/* gc undoes what a dead run's teardown record lists, no more: a fake runsc
 * logs its calls; the run whose record lacks "runsc" gets none, the run
 * that lists it and the run with no record (the sweep) get theirs. */
static void test_gc_follows_the_teardown_record(void **state)
{
        const char *ids[] = {"ob-00000000000000a1", "ob-00000000000000a2", "ob-00000000000000a3"};
        const char *records[] = {"cgroups\n", "cgroups\nrunsc\n", NULL};
        char path[128], fake[PATH_MAX], log[4096] = "";
        ob_error err = {0};
        unsigned removed = 0;
        FILE *f;

        (void)state;
        snprintf(fake, sizeof(fake), "%s", P("runsc.sh"));
        f = fopen(fake, "w");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\necho \"$@\" >> %s\n", P("runsc.log"));
        fclose(f);
        assert_int_equal(chmod(fake, 0755), 0);
        mkdir(P("runs"), 0700);
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "runs/%s", ids[i]);
                mkdir(P(path), 0700);
                snprintf(path, sizeof(path), "runs/%s/lock", ids[i]);
                touch(path);
                snprintf(path, sizeof(path), "runs/%s/runsc", ids[i]);
                mkdir(P(path), 0700);
                snprintf(path, sizeof(path), "runs/%s/runsc/%s", ids[i], ids[i]);
                mkdir(P(path), 0700); /* a container's state: the sandbox may live */
                if (records[i]) {
                        snprintf(path, sizeof(path), "runs/%s/made", ids[i]);
                        f = fopen(P(path), "w");
                        assert_non_null(f);
                        fputs(records[i], f);
                        fclose(f);
                }
        }
        assert_int_equal(ob_sandbox_gc(tmp, fake, &removed, &err), 0);
        assert_int_equal(removed, 3);
        f = fopen(P("runsc.log"), "r");
        assert_non_null(f);
        assert_true(fread(log, 1, sizeof(log) - 1, f) > 0);
        fclose(f);
        assert_null(strstr(log, ids[0]));
        assert_non_null(strstr(log, ids[1]));
        assert_non_null(strstr(log, ids[2]));
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "runs/%s", ids[i]);
                assert_int_equal(access(P(path), F_OK), -1);
        }
}

static void test_run_input_checks(void **state)
{
        ob_sandbox_options o;
        ob_sandbox_result res = {0};
        ob_capset *set = NULL;
        ob_error err = {0};
        const char *argv[] = {"/bin/true", NULL};

        ob_sandbox_options_init(&o);
        assert_int_equal(ob_sandbox_run(&o, &res, &err), -EINVAL); /* no caps */
        assert_int_equal(ob_capset_new(&set), 0);
        ob_capset_limits(set)->memory_mb = 64;
        o.caps = set;
        assert_int_equal(ob_sandbox_run(&o, &res, NULL), -EINVAL); /* no script, no argv */
        o.argv = argv;
        o.limits.memory_mb = 65;
        assert_int_equal(ob_sandbox_run(&o, &res, &err), -EPERM);
        assert_non_null(strstr(err.message, "memory_mb: 65 is above"));
        o.limits.memory_mb = OB_LIMIT_UNSET;
        o.limits.output_kb = OB_SANDBOX_MAX_OUTPUT_KB + 1;
        assert_int_equal(ob_sandbox_run(&o, &res, &err), -ERANGE);
        o.limits.output_kb = OB_LIMIT_UNSET;
        o.profile = "no-such-profile";
        assert_int_equal(ob_sandbox_run(&o, &res, &err), -ENOENT);
        o.profile = NULL;
        o.dry_run = true;
        o.state_dir = P("state");
        /* a struct not set up by ob_sandbox_options_init, or of another size */
        o.struct_size = 0;
        assert_int_equal(ob_sandbox_run(&o, &res, &err), -EINVAL);
        assert_non_null(strstr(err.message, "struct_size 0, this library's is"));
        o.struct_size = sizeof(o) - sizeof(void *);
        assert_int_equal(ob_sandbox_run(&o, &res, &err), -EINVAL);
        o.struct_size = sizeof(o);
        assert_int_equal(ob_sandbox_run(&o, &res, &err), 0);
        assert_non_null(strstr(res.plan_json, "\"profile\":\t\"shell\""));
        assert_int_equal(access(P("state"), F_OK), -1); /* nothing made */
        ob_sandbox_result_done(&res);
        ob_capset_free(set);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_plan_edges, setup, teardown),
            cmocka_unit_test_setup_teardown(test_plan_hard_links, setup, teardown),
            cmocka_unit_test_setup_teardown(test_plan_denials_of_other_kinds, setup, teardown),
            cmocka_unit_test_setup_teardown(test_plan_limits, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rootfs_never_follows_symlinks, setup, teardown),
            cmocka_unit_test_setup_teardown(test_gc_dead_and_live, setup, teardown),
            cmocka_unit_test_setup_teardown(test_gc_follows_the_teardown_record, setup, teardown),
            cmocka_unit_test_setup_teardown(test_run_input_checks, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
