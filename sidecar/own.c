/* SPDX-License-Identifier: Apache-2.0 */
/* Answers that are the sandbox's own, not capability questions (issue 15,
 * docs/compatibility.md "False positives of the benchmark"): a bytecode
 * cache that cannot be written into a read-only mount, and a socket path
 * that is not there in the sandbox's own /dev. The call is refused with
 * the errno gVisor gives, and nothing is reported. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "common/macros.h"
#include "sidecar/sidecar.h"

#define MOUNTINFO "/proc/self/mountinfo"

/* Is mount point mp path itself or a directory above it? */
static bool covers(const char *mp, const char *path)
{
        size_t n = strlen(mp);

        if (streq(mp, "/"))
                return true;
        return strncmp(path, mp, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Is the mount that path (absolute, resolved) lies in read-only? The
 * sandbox's own mount table (gVisor's /proc/self/mountinfo; gVisor 20221219
 * leaves ST_RDONLY out of statvfs): the last mount whose point covers path
 * is the one on top. The workload cannot change the table (mount is refused
 * by the filter), so it is read at each question, not kept. */
bool ob_mount_readonly(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(MOUNTINFO, "re");
        char line[4096], best[OB_SIDECAR_MAX_PATH + 1] = "";
        bool ro = false;

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char mp[OB_SIDECAR_MAX_PATH + 1], opts[256];
                if (!strchr(line, '\n')) { /* longer than line: skip it, whole */
                        int c;
                        while ((c = fgetc(f)) != EOF && c != '\n')
                                ;
                        continue;
                }
                /* id parent major:minor root MOUNT_POINT OPTIONS ... */
                if (sscanf(line, "%*s %*s %*s %*s %4096s %255s", mp, opts) != 2)
                        continue;
                ob_mountinfo_unescape(mp);
                if (!covers(mp, path) || strlen(mp) < strlen(best))
                        continue;
                snprintf(best, sizeof(best), "%s", mp);
                ro = streq(opts, "ro") || strncmp(opts, "ro,", 3) == 0;
        }
        return ro;
}

/* A name an interpreter writes its bytecode cache under: a directory
 * `__pycache__` (dir), or in one a `*.pyc` file or importlib's temporary
 * `*.pyc.<digits>` (its _write_atomic). */
bool ob_bytecode_cache_name(const char *path, bool dir)
{
        const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path, *pyc, *up;

        if (dir)
                return streq(name, "__pycache__");
        if (!slash || slash == path)
                return false;
        for (up = slash - 1; up > path && *up != '/'; up--)
                ;
        if (strncmp(up, "/__pycache__/", 13) != 0)
                return false;
        pyc = strstr(name, ".pyc");
        if (!pyc || pyc == name)
                return false;
        if (pyc[4] == '\0')
                return true;
        if (pyc[4] != '.' || !pyc[5])
                return false;
        return strspn(pyc + 5, "0123456789") == strlen(pyc + 5);
}

/* The errno gVisor gives a workload (uid, gid) that makes a name in
 * directory dir, when dir is on a read-only mount: EACCES when the
 * directory's mode does not let it write there (checked first: measured,
 * gVisor 20221219 answers an unprivileged open(O_CREAT) in a read-only
 * root-owned directory EACCES), else EROFS. 0 when dir is not a directory
 * on a read-only mount (the check's denial stands). */
int ob_readonly_answer(const char *dir, uid_t uid, gid_t gid)
{
        struct stat st;
        mode_t wx;

        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || !ob_mount_readonly(dir))
                return 0;
        wx = st.st_uid == uid   ? S_IWUSR | S_IXUSR
             : st.st_gid == gid ? S_IWGRP | S_IXGRP
                                : S_IWOTH | S_IXOTH;
        return (st.st_mode & wx) == wx ? EROFS : EACCES;
}

/* A missing path under /dev whose nearest existing directory is on the
 * filesystem of /dev itself: gVisor's own tmpfs, where the runner mounts no
 * host path (runner/mounts.c reserves /dev), so a name that is not there is
 * not a host file the mount mask left out. */
bool ob_dev_owns_absent(const char *path)
{
        char buf[OB_SIDECAR_MAX_PATH + 1];
        size_t len = strlen(path);
        struct stat sd, st;

        if (strncmp(path, "/dev/", 5) != 0 || len >= sizeof(buf) || stat("/dev", &sd) < 0)
                return false;
        memcpy(buf, path, len + 1);
        while (len > 4) {
                while (len > 4 && buf[len - 1] != '/')
                        len--;
                while (len > 4 && buf[len - 1] == '/')
                        len--;
                buf[len] = '\0';
                if (lstat(buf, &st) == 0)
                        return S_ISDIR(st.st_mode) && st.st_dev == sd.st_dev;
                if (errno != ENOENT && errno != ENOTDIR)
                        return false;
        }
        return false;
}
