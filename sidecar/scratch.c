/* SPDX-License-Identifier: Apache-2.0 */
/* Scratch directories (the sandbox's private /tmp): what the workload made
 * there is its own. A path under a scratch directory that no rule decides
 * is allowed when it is on the scratch's own filesystem (same st_dev: not a
 * bind mount of a host path below it), or when it does not exist yet, the
 * call creates it and its parent is on that filesystem. Anything else under
 * it — a host path that is simply not there, a read-only grant mounted
 * below it — is decided by the capability set as usual. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/macros.h"
#include "sidecar/sidecar.h"

static char *scratch[OB_SIDECAR_MAX_SCRATCH];
static size_t n_scratch;

int ob_scratch_add(const char *dir)
{
        char *copy;

        if (dir[0] != '/' || n_scratch >= OB_SIDECAR_MAX_SCRATCH)
                return -EINVAL;
        copy = strdup(dir);
        if (!copy)
                return -ENOMEM;
        while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
                copy[strlen(copy) - 1] = '\0';
        scratch[n_scratch++] = copy;
        return 0;
}

void ob_scratch_clear(void)
{
        for (size_t i = 0; i < n_scratch; i++)
                free(scratch[i]);
        n_scratch = 0;
}

static bool on_device(const char *path, dev_t dev, bool nofollow)
{
        struct stat st;
        int r = nofollow ? lstat(path, &st) : stat(path, &st);
        return r == 0 && st.st_dev == dev;
}

/* A missing path is the workload's own when the nearest thing above it
 * that exists is on the scratch's filesystem and is the scratch directory
 * itself or was made by the workload (owned by uid): not a directory that
 * runsc made to mount a grant on (root's), below which a missing name is a
 * host path the mount mask left out. */
bool ob_scratch_owns_absent(const char *path, uid_t uid)
{
        for (size_t i = 0; i < n_scratch; i++) {
                size_t n = strlen(scratch[i]), len = strlen(path);
                char buf[OB_SIDECAR_MAX_PATH + 1];
                struct stat sd, st;

                if (strncmp(path, scratch[i], n) != 0 || path[n] != '/' || !path[n + 1])
                        continue;
                if (len >= sizeof(buf) || stat(scratch[i], &sd) < 0)
                        return false;
                memcpy(buf, path, len + 1);
                while (len > n) {
                        while (len > n && buf[len - 1] != '/')
                                len--;
                        while (len > n && buf[len - 1] == '/')
                                len--;
                        buf[len] = '\0';
                        if (lstat(buf, &st) == 0)
                                return st.st_dev == sd.st_dev && (len == n || st.st_uid == uid);
                        if (errno != ENOENT && errno != ENOTDIR)
                                return false;
                }
                return false;
        }
        return false;
}

bool ob_scratch_allows(const char *path, bool creates)
{
        for (size_t i = 0; i < n_scratch; i++) {
                size_t n = strlen(scratch[i]);
                struct stat sd, st;
                char parent[OB_SIDECAR_MAX_PATH + 1];
                const char *slash;

                if (strncmp(path, scratch[i], n) != 0 || path[n] != '/' || !path[n + 1])
                        continue;
                if (stat(scratch[i], &sd) < 0)
                        return false;
                if (lstat(path, &st) == 0)
                        return st.st_dev == sd.st_dev;
                if (errno != ENOENT || !creates)
                        return false;
                slash = strrchr(path, '/');
                if ((size_t)(slash - path) >= sizeof(parent))
                        return false;
                memcpy(parent, path, (size_t)(slash - path));
                parent[slash - path] = '\0';
                return on_device(parent, sd.st_dev, false);
        }
        return false;
}
