/* SPDX-License-Identifier: Apache-2.0 */
/* config.json (OCI runtime spec 1.0.2, as runsc 20221219 reads it): an empty
 * read-only rootfs, explicit binds, a tmpfs /tmp, an unprivileged process. */
#define _GNU_SOURCE
#include <string.h>

#include "runner/runner.h"

#define MIB (1024 * 1024)

int64_t ob_host_pids_limit(int64_t pids)
{
        /* measured: python idle = 43 host tasks, +~7 per guest process */
        return 256 + 16 * pids;
}

static cJSON *strings(const char *const *v)
{
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && v && v[i]; i++)
                if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i]))) {
                        cJSON_Delete(a);
                        return NULL;
                }
        return a;
}

static cJSON *mount_obj(const char *dest, const char *type, const char *source,
                        const char *const *options)
{
        cJSON *m = cJSON_CreateObject();
        if (!m)
                return NULL;
        cJSON_AddStringToObject(m, "destination", dest);
        cJSON_AddStringToObject(m, "type", type);
        cJSON_AddStringToObject(m, "source", source);
        if (options)
                cJSON_AddItemToObject(m, "options", strings(options));
        return m;
}

static cJSON *build_mounts(const ob_run_plan *plan)
{
        static const char *const dev_opts[] = {"nosuid", "strictatime", "mode=755", "size=65536k",
                                               NULL};
        static const char *const ro[] = {"rbind", "ro", "nosuid", "nodev", NULL};
        static const char *const rw[] = {"rbind", "rw", "nosuid", "nodev", NULL};
        /* without FILE_EXEC: noexec (F2; the sidecar also checks each execve) */
        static const char *const ro_nx[] = {"rbind", "ro", "nosuid", "nodev", "noexec", NULL};
        static const char *const rw_nx[] = {"rbind", "rw", "nosuid", "nodev", "noexec", NULL};
        cJSON *a = cJSON_CreateArray();
        char tmp_size[32];
        const char *tmp_opts[] = {"nosuid", "nodev", "noexec", "mode=1777", tmp_size, NULL};

        if (!a)
                return NULL;
        snprintf(tmp_size, sizeof(tmp_size), "size=%lldk", (long long)plan->limits.tmpfs_mb * 1024);
        cJSON_AddItemToArray(a, mount_obj("/proc", "proc", "proc", NULL));
        cJSON_AddItemToArray(a, mount_obj("/dev", "tmpfs", "tmpfs", dev_opts));
        cJSON_AddItemToArray(a, mount_obj("/tmp", "tmpfs", "tmpfs", tmp_opts));
        /* the sandbox's own /dev/shm (sem_open, shm_open): gVisor's is root's
         * 0755; the same options and bound as /tmp, in the same memory */
        cJSON_AddItemToArray(a, mount_obj("/dev/shm", "tmpfs", "tmpfs", tmp_opts));
        for (size_t i = 0; i < plan->mounts.n; i++) {
                const ob_mount *m = &plan->mounts.v[i];
                const char *const *opts =
                    m->writable ? (m->noexec ? rw_nx : rw) : (m->noexec ? ro_nx : ro);
                cJSON_AddItemToArray(a, mount_obj(m->destination, "bind", m->source, opts));
        }
        return a;
}

/* Is dir mounted, or something below it (a profile path, a grant)? */
static bool has_mount_in(const ob_run_plan *plan, const char *dir)
{
        size_t n = strlen(dir);

        for (size_t i = 0; i < plan->mounts.n; i++) {
                const char *d = plan->mounts.v[i].destination;
                if (strncmp(d, dir, n) == 0 && (d[n] == '/' || d[n] == '\0'))
                        return true;
        }
        return false;
}

/* Is dir on the sandbox's PATH: mounted, or a profile symlink ("/bin" ->
 * "usr/bin") to a mounted directory? */
static bool path_dir_exists(const ob_run_plan *plan, const char *dir)
{
        const ob_profile *p = plan->profile;

        if (has_mount_in(plan, dir))
                return true;
        for (size_t i = 0; p && i < p->n_symlinks; i++) {
                char target[256];
                if (!streq(p->symlinks[i].path, dir))
                        continue;
                snprintf(target, sizeof(target), "%s%s", p->symlinks[i].target[0] == '/' ? "" : "/",
                         p->symlinks[i].target);
                return has_mount_in(plan, target);
        }
        return false;
}

/* PATH: the usual directories, only those the sandbox has (issue 15: a
 * lookup through a directory that is not there is a try for nothing). */
static void sandbox_path(const ob_run_plan *plan, char *buf, size_t size)
{
        static const char *const dirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                           "/usr/bin",        "/sbin",          "/bin"};
        size_t len = (size_t)snprintf(buf, size, "PATH=");

        for (size_t i = 0; i < ARRAY_SIZE(dirs) && len < size; i++)
                if (path_dir_exists(plan, dirs[i]))
                        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                                len > strlen("PATH=") ? ":" : "", dirs[i]);
}

static cJSON *build_process(const ob_run_plan *plan)
{
        char path[128];
        const char *const env[] = {path, "HOME=/tmp", "LANG=C.UTF-8", NULL};
        static const char *const none[] = {NULL};
        /* what the sidecar needs (docs/sidecar.md): change uid/gid, empty
         * the bounding set, trace the workload, signal it, and see every
         * symlink the workload can (a 0700 directory of the workload's must
         * not hide one from its path resolution: F8). The workload gets none
         * of them: sidecar/spawn.c empties every set, bounding included. */
        static const char *const sidecar_caps[] = {
            "CAP_SETUID", "CAP_SETGID",          "CAP_SETPCAP", "CAP_SYS_PTRACE",
            "CAP_KILL",   "CAP_DAC_READ_SEARCH", NULL};
        cJSON *p = cJSON_CreateObject(), *user, *caps, *rl, *nproc;
        const char *sets[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};

        if (!p)
                return NULL;
        sandbox_path(plan, path, sizeof(path));
        cJSON_AddBoolToObject(p, "terminal", false);
        user = cJSON_AddObjectToObject(p, "user");
        /* the sidecar starts as root and drops to OB_SANDBOX_UID itself */
        cJSON_AddNumberToObject(user, "uid", plan->sidecar ? 0 : OB_SANDBOX_UID);
        cJSON_AddNumberToObject(user, "gid", plan->sidecar ? 0 : OB_SANDBOX_UID);
        cJSON_AddItemToObject(p, "args", strings((const char *const *)plan->argv));
        cJSON_AddItemToObject(p, "env", strings(env));
        cJSON_AddStringToObject(p, "cwd", "/tmp");
        caps = cJSON_AddObjectToObject(p, "capabilities");
        for (size_t i = 0; caps && i < ARRAY_SIZE(sets); i++)
                cJSON_AddItemToObject(
                    caps, sets[i],
                    strings(plan->sidecar && i != 2 && i != 4 ? sidecar_caps : none));
        /* gVisor enforces RLIMIT_NPROC per sandbox user: fork fails with EAGAIN */
        rl = cJSON_AddArrayToObject(p, "rlimits");
        nproc = cJSON_CreateObject();
        cJSON_AddStringToObject(nproc, "type", "RLIMIT_NPROC");
        /* the sidecar is one of the sandbox's pids (and runs as root) */
        cJSON_AddNumberToObject(nproc, "hard", (double)(plan->limits.pids - plan->sidecar));
        cJSON_AddNumberToObject(nproc, "soft", (double)(plan->limits.pids - plan->sidecar));
        cJSON_AddItemToArray(rl, nproc);
        cJSON_AddBoolToObject(p, "noNewPrivileges", true);
        return p;
}

static cJSON *build_linux(const ob_run_plan *plan)
{
        static const char *const ns[] = {"pid", "ipc", "uts", "mount", "network"};
        cJSON *l = cJSON_CreateObject(), *res, *mem, *cpu, *pids, *nsa;
        char cg[64];
        int64_t bytes = plan->limits.memory_mb * MIB;

        if (!l)
                return NULL;
        snprintf(cg, sizeof(cg), "/%s/%s", OB_CGROUP_PARENT, plan->id);
        cJSON_AddStringToObject(l, "cgroupsPath", cg);
        res = cJSON_AddObjectToObject(l, "resources");
        mem = cJSON_AddObjectToObject(res, "memory");
        cJSON_AddNumberToObject(mem, "limit", (double)bytes);
        cJSON_AddNumberToObject(mem, "swap", (double)bytes);
        cpu = cJSON_AddObjectToObject(res, "cpu");
        cJSON_AddNumberToObject(cpu, "quota", (double)(plan->limits.cpus_milli * 100));
        cJSON_AddNumberToObject(cpu, "period", 100000);
        pids = cJSON_AddObjectToObject(res, "pids");
        cJSON_AddNumberToObject(pids, "limit", (double)ob_host_pids_limit(plan->limits.pids));
        nsa = cJSON_AddArrayToObject(l, "namespaces");
        for (size_t i = 0; nsa && i < ARRAY_SIZE(ns); i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "type", ns[i]);
                cJSON_AddItemToArray(nsa, o);
        }
        return l;
}

int ob_spec_build(const ob_run_plan *plan, cJSON **ret)
{
        cJSON *c = cJSON_CreateObject(), *root;
        char *check;

        if (!c)
                return -ENOMEM;
        cJSON_AddStringToObject(c, "ociVersion", "1.0.2");
        cJSON_AddItemToObject(c, "process", build_process(plan));
        root = cJSON_AddObjectToObject(c, "root");
        cJSON_AddStringToObject(root, "path", "rootfs");
        cJSON_AddBoolToObject(root, "readonly", true);
        cJSON_AddStringToObject(c, "hostname", plan->id);
        cJSON_AddItemToObject(c, "mounts", build_mounts(plan));
        cJSON_AddItemToObject(c, "linux", build_linux(plan));
        /* any allocation failure above leaves a member missing: check once */
        check = cJSON_PrintUnformatted(c);
        if (!check || !cJSON_GetObjectItem(c, "linux") || !cJSON_GetObjectItem(c, "mounts") ||
            !cJSON_GetObjectItem(c, "process")) {
                free(check);
                cJSON_Delete(c);
                return -ENOMEM;
        }
        free(check);
        *ret = c;
        return 0;
}
