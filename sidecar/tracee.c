/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a stopped tracee's memory: pread() of /proc/<tid>/mem (one call
 * per page; works inside gVisor), falling back to PTRACE_PEEKDATA one
 * aligned word at a time (process_vm_readv does not work inside gVisor).
 * The mem fds are cached per task and dropped at exec and exit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/param.h>
#include <sys/ptrace.h>

#include "common/macros.h"
#include "sidecar/sidecar.h"

#define WORD      sizeof(long)
#define PAGE      4096u
#define MEM_CACHE 64

static struct {
        pid_t tid;
        int fd;
} mem_cache[MEM_CACHE];
static size_t mem_next;
static struct {
        pid_t tid, tgid;
} tgid_cache[MEM_CACHE]; /* a thread's group never changes while it lives */
static size_t tgid_next;
static bool mem_unusable; /* /proc/<tid>/mem cannot be opened here: peek only */

static int mem_fd(pid_t tid)
{
        char path[64];
        size_t i;
        int fd;

        if (mem_unusable)
                return -1;
        for (i = 0; i < MEM_CACHE; i++)
                if (mem_cache[i].tid == tid && mem_cache[i].fd > 0)
                        return mem_cache[i].fd;
        snprintf(path, sizeof(path), "/proc/%d/mem", (int)tid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ESRCH && errno != ENOENT)
                        mem_unusable = true;
                return -1;
        }
        i = mem_next++ % MEM_CACHE;
        if (mem_cache[i].fd > 0)
                close(mem_cache[i].fd);
        mem_cache[i].tid = tid;
        mem_cache[i].fd = fd;
        return fd;
}

void ob_tracee_forget(pid_t tid)
{
        for (size_t i = 0; i < MEM_CACHE; i++)
                if (tgid_cache[i].tid == tid)
                        tgid_cache[i].tid = tgid_cache[i].tgid = 0;
        for (size_t i = 0; i < MEM_CACHE; i++)
                if (mem_cache[i].tid == tid && mem_cache[i].fd > 0) {
                        close(mem_cache[i].fd);
                        mem_cache[i].fd = 0;
                        mem_cache[i].tid = 0;
                }
}

/* pread() of exactly len bytes at addr; -EFAULT when that fails. */
static int mem_read(int fd, uint64_t addr, void *buf, size_t len)
{
        ssize_t n;

        if (addr > (uint64_t)INT64_MAX - len)
                return -EFAULT;
        do
                n = pread(fd, buf, len, (off_t)addr);
        while (n < 0 && errno == EINTR);
        return n == (ssize_t)len ? 0 : -EFAULT;
}

static int peek(pid_t tid, uint64_t addr, long *ret)
{
        long v;

        errno = 0;
        v = ptrace(PTRACE_PEEKDATA, tid, (void *)(uintptr_t)addr, NULL);
        if (v == -1 && errno != 0)
                return -EFAULT;
        *ret = v;
        return 0;
}

static int peek_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
        uint64_t base = addr & ~(uint64_t)(WORD - 1);
        size_t skip = (size_t)(addr - base), done = 0;

        while (done < len) {
                long w;
                size_t n;
                if (peek(tid, base, &w) < 0)
                        return -EFAULT;
                n = MIN(WORD - skip, len - done);
                memcpy((char *)buf + done, (char *)&w + skip, n);
                done += n;
                skip = 0;
                base += WORD;
        }
        return 0;
}

int ob_tracee_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
        int fd;

        if (addr + len < addr)
                return -EFAULT;
        if (len == 0)
                return 0;
        fd = mem_fd(tid);
        if (fd >= 0 && mem_read(fd, addr, buf, len) == 0)
                return 0;
        return peek_read(tid, addr, buf, len);
}

static ssize_t peek_string(pid_t tid, uint64_t addr, char *buf, size_t max)
{
        uint64_t base = addr & ~(uint64_t)(WORD - 1);
        size_t skip = (size_t)(addr - base), len = 0;

        while (len < max) {
                long w;
                if (peek(tid, base, &w) < 0)
                        return -EFAULT;
                for (size_t i = skip; i < WORD && len < max; i++) {
                        char c = ((char *)&w)[i];
                        buf[len] = c;
                        if (c == '\0')
                                return (ssize_t)len;
                        len++;
                }
                skip = 0;
                base += WORD;
        }
        buf[max - 1] = '\0';
        return -ENAMETOOLONG;
}

/* Page by page through the mem fd: a string may end just before an
 * unmapped page, so never read past the page that holds its NUL. */
static ssize_t mem_string(int fd, uint64_t addr, char *buf, size_t max)
{
        size_t len = 0;

        while (len < max) {
                size_t chunk = PAGE - (size_t)((addr + len) % PAGE);
                char *nul;
                if (chunk > max - len)
                        chunk = max - len;
                if (mem_read(fd, addr + len, buf + len, chunk) < 0)
                        return -EFAULT;
                nul = memchr(buf + len, '\0', chunk);
                if (nul)
                        return nul - buf;
                len += chunk;
        }
        buf[max - 1] = '\0';
        return -ENAMETOOLONG;
}

ssize_t ob_tracee_read_string(pid_t tid, uint64_t addr, char *buf, size_t max)
{
        int fd;
        ssize_t n;

        if (addr == 0 || max == 0)
                return -EFAULT;
        fd = mem_fd(tid);
        if (fd >= 0) {
                n = mem_string(fd, addr, buf, max);
                if (n != -EFAULT)
                        return n;
        }
        return peek_string(tid, addr, buf, max);
}

/* The Tgid line of /proc/<tid>/status; 0 when it cannot be read. */
static pid_t read_tgid(pid_t tid)
{
        char path[64], buf[1024];
        _cleanup_close_ int fd = -1;
        ssize_t n;
        const char *p;
        long v;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        p = strstr(buf, "\nTgid:");
        v = p ? strtol(p + 6, NULL, 10) : 0;
        return v > 0 && v <= INT32_MAX ? (pid_t)v : 0;
}

int ob_tracee_fsids(pid_t tid, uid_t *ret_uid, gid_t *ret_gid)
{
        char path[64], buf[2048];
        _cleanup_close_ int fd = -1;
        unsigned long u[4], g[4];
        const char *pu, *pg;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';
        pu = strstr(buf, "\nUid:");
        pg = strstr(buf, "\nGid:");
        /* real, effective, saved, filesystem: the last one checks paths */
        if (!pu || !pg || sscanf(pu + 5, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) != 4 ||
            sscanf(pg + 5, "%lu %lu %lu %lu", &g[0], &g[1], &g[2], &g[3]) != 4)
                return -EIO;
        *ret_uid = (uid_t)u[3];
        *ret_gid = (gid_t)g[3];
        return 0;
}

pid_t ob_tracee_tgid(pid_t tid)
{
        size_t i;
        pid_t tgid;

        for (i = 0; i < MEM_CACHE; i++)
                if (tgid_cache[i].tid == tid && tid > 0)
                        return tgid_cache[i].tgid;
        tgid = read_tgid(tid);
        if (tgid <= 0)
                return tid;
        i = tgid_next++ % MEM_CACHE;
        tgid_cache[i].tid = tid;
        tgid_cache[i].tgid = tgid;
        return tgid;
}
