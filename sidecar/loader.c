/* SPDX-License-Identifier: Apache-2.0 */
/* The dynamic loader is never a program of the workload's (F11): run
 * directly, `ld.so FILE` maps and runs any file the workload can read, and
 * gVisor 20221219 does not apply noexec to those mappings. The kernel loads
 * it as the PT_INTERP of an allowed exec without an execve of its own, so
 * refusing it as an exec target costs nothing. A loader is known by its
 * name (ld-*.so*, ld.so*, ld64.so*: glibc's and musl's) or by the inode of
 * one of those names in the system library directories (a second name of
 * the same file in the same mount). */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/macros.h"
#include "sidecar/sidecar.h"

static const char *const names[] = {"ld-*.so*", "ld.so*", "ld64.so*"};
static const char *const known[] = {
    "/lib64/ld-linux-x86-64.so.2",
    "/usr/lib64/ld-linux-x86-64.so.2",
    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "/lib/ld-musl-x86_64.so.1",
    "/usr/lib/ld-musl-x86_64.so.1",
};

static struct {
        dev_t dev;
        ino_t ino;
} ids[ARRAY_SIZE(known)];
static size_t n_ids;
static bool noted;

/* The inodes of the known loader paths of this view (the sandbox's: it
 * does not change, the workload cannot mount). */
static void note_known(void)
{
        for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
                struct stat st;
                if (stat(known[i], &st) == 0 && S_ISREG(st.st_mode)) {
                        ids[n_ids].dev = st.st_dev;
                        ids[n_ids++].ino = st.st_ino;
                }
        }
        noted = true;
}

static bool is_loader_name(const char *path)
{
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (fnmatch(names[i], base, 0) == 0)
                        return true;
        return false;
}

static bool is_loader_inode(const struct stat *st)
{
        if (!noted)
                note_known();
        for (size_t i = 0; i < n_ids; i++)
                if (ids[i].dev == st->st_dev && ids[i].ino == st->st_ino)
                        return true;
        return false;
}

bool ob_loader_is(const char *path)
{
        struct stat st;

        return is_loader_name(path) || (stat(path, &st) == 0 && is_loader_inode(&st));
}

int ob_loader_execed(pid_t tid, char **ret_path)
{
        char link[64], buf[PATH_MAX];
        struct stat st;
        ssize_t n;

        snprintf(link, sizeof(link), "/proc/%d/exe", (int)tid);
        n = readlink(link, buf, sizeof(buf) - 1);
        if (n < 0 || stat(link, &st) < 0)
                return negative_errno();
        buf[n] = '\0';
        if (!is_loader_name(buf) && !is_loader_inode(&st))
                return 0;
        *ret_path = strdup(buf);
        return *ret_path ? 1 : -ENOMEM;
}
