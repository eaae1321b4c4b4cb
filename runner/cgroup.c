/* SPDX-License-Identifier: Apache-2.0 */
/* Per-run cgroups (v1 controllers; this host is hybrid). The runner creates
 * <controller>/omnibase/<id> for the controllers it limits and reads, so that
 * the counters (OOM kills, peak memory, CPU time) survive `runsc run`, which
 * removes only the cgroups it created itself. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "runner/runner.h"

#define CGROUP_LOCK "/run/omnibase-cgroup.lock"

static const char *const owned[] = {"memory", "pids", "cpu", "cpuacct"};

static int cg_path(char *buf, size_t size, const char *ctrl, const char *id, const char *file)
{
        int n = snprintf(buf, size, "%s/%s/%s%s%s%s%s", OB_CGROUP_ROOT, ctrl, OB_CGROUP_PARENT,
                         id ? "/" : "", id ? id : "", file ? "/" : "", file ? file : "");
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int write_value(const char *ctrl, const char *id, const char *file, int64_t value)
{
        char path[PATH_MAX], text[32];
        _cleanup_close_ int fd = -1;
        int n;

        if (cg_path(path, sizeof(path), ctrl, id, file) < 0)
                return -ENAMETOOLONG;
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = snprintf(text, sizeof(text), "%" PRId64, value);
        if (write(fd, text, (size_t)n) != n)
                return negative_errno();
        return 0;
}

static int64_t read_key(const char *ctrl, const char *id, const char *file, const char *key)
{
        char path[PATH_MAX], line[256];
        _cleanup_fclose_ FILE *f = NULL;
        size_t kl = key ? strlen(key) : 0;

        if (cg_path(path, sizeof(path), ctrl, id, file) < 0)
                return -1;
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                if (!key)
                        return strtoll(line, NULL, 10);
                if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
                        return strtoll(line + kl + 1, NULL, 10);
        }
        return -1;
}

int ob_cgroup_lock(bool exclusive, bool nonblock)
{
        int fd = open(CGROUP_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | (nonblock ? LOCK_NB : 0)) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        return fd;
}

static int mkdir_ctrl(const char *ctrl, const char *id)
{
        char path[PATH_MAX];

        if (cg_path(path, sizeof(path), ctrl, NULL, NULL) < 0)
                return -ENAMETOOLONG;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        if (cg_path(path, sizeof(path), ctrl, id, NULL) < 0)
                return -ENAMETOOLONG;
        if (mkdir(path, 0755) < 0)
                return negative_errno();
        return 0;
}

int ob_cgroup_create(const char *id, const ob_limits *limits, ob_error *err)
{
        int64_t mem = limits->memory_mb * 1024 * 1024;
        int r;

        for (size_t i = 0; i < ARRAY_SIZE(owned); i++) {
                r = mkdir_ctrl(owned[i], id);
                if (r < 0)
                        return ob_error_set(err, 0, 0, r, "cannot create cgroup %s/%s/%s: %s",
                                            owned[i], OB_CGROUP_PARENT, id, strerror(-r));
        }
        r = write_value("memory", id, "memory.limit_in_bytes", mem);
        if (r >= 0) {
                int s = write_value("memory", id, "memory.memsw.limit_in_bytes", mem);
                if (s < 0 && s != -ENOENT) /* no swap accounting: memory alone */
                        r = s;
        }
        /* Socket buffers of the sentry's host sockets (--network=host) are
         * charged in v1 to a counter of their own, and only once a limit is
         * written, before the sockets exist (issue 9, F12): bound them too. */
        if (r >= 0)
                r = write_value("memory", id, "memory.kmem.tcp.limit_in_bytes", mem);
        if (r >= 0)
                r = write_value("cpu", id, "cpu.cfs_period_us", 100000);
        if (r >= 0)
                r = write_value("cpu", id, "cpu.cfs_quota_us", limits->cpus_milli * 100);
        if (r >= 0)
                r = write_value("pids", id, "pids.max", ob_host_pids_limit(limits->pids));
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "cannot set the limits of cgroup %s: %s", id,
                                    strerror(-r));
        return 0;
}

void ob_cgroup_read(const char *id, ob_cgroup_stats *ret)
{
        int64_t ns = read_key("cpuacct", id, "cpuacct.usage", NULL);

        ret->oom_kills = read_key("memory", id, "memory.oom_control", "oom_kill");
        ret->mem_failcnt = read_key("memory", id, "memory.failcnt", NULL);
        ret->mem_max_usage = read_key("memory", id, "memory.max_usage_in_bytes", NULL);
        ret->cpu_usage_ns = ns;
        ret->pids_max_hits = read_key("pids", id, "pids.events", "max");
}

/* rmdir that waits a little for tasks still leaving the cgroup. */
static int rmdir_retry(const char *path)
{
        for (int i = 0; i < 1000; i++) { /* up to 2 s */
                if (rmdir(path) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return negative_errno();
                nanosleep(&(struct timespec){.tv_nsec = 2 * 1000 * 1000}, NULL);
        }
        return -EBUSY;
}

void ob_cgroup_remove_parent(void)
{
        _cleanup_close_ int lock = ob_cgroup_lock(true, true);
        DIR *d;
        struct dirent *de;

        if (lock < 0) /* another run is alive: it removes the parent when it ends */
                return;
        d = opendir(OB_CGROUP_ROOT);
        while (d && (de = readdir(d))) {
                char path[PATH_MAX];
                if (de->d_name[0] != '.' &&
                    cg_path(path, sizeof(path), de->d_name, NULL, NULL) >= 0)
                        (void)rmdir(path); /* fails while other runs are inside */
        }
        if (d)
                closedir(d);
}

int ob_cgroup_remove(const char *id)
{
        DIR *d = opendir(OB_CGROUP_ROOT);
        struct dirent *de;
        int ret = 0;

        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                char path[PATH_MAX];
                int r;
                if (de->d_name[0] == '.' || cg_path(path, sizeof(path), de->d_name, id, NULL) < 0)
                        continue;
                r = rmdir_retry(path);
                if (r < 0 && r != -ENOTDIR && ret == 0)
                        ret = r;
        }
        closedir(d);
        ob_cgroup_remove_parent();
        return ret;
}
