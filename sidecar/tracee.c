/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a stopped tracee's memory with PTRACE_PEEKDATA (process_vm_readv
 * does not work inside gVisor), one aligned word at a time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/param.h>
#include <sys/ptrace.h>

#include "common/macros.h"
#include "sidecar/sidecar.h"

#define WORD sizeof(long)

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

int ob_tracee_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
        uint64_t base = addr & ~(uint64_t)(WORD - 1);
        size_t skip = (size_t)(addr - base), done = 0;

        if (addr + len < addr)
                return -EFAULT;
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

ssize_t ob_tracee_read_string(pid_t tid, uint64_t addr, char *buf, size_t max)
{
        uint64_t base = addr & ~(uint64_t)(WORD - 1);
        size_t skip = (size_t)(addr - base), len = 0;

        if (addr == 0)
                return -EFAULT;
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

pid_t ob_tracee_tgid(pid_t tid)
{
        char path[64], buf[1024];
        _cleanup_close_ int fd = -1;
        ssize_t n;
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return tid;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return tid;
        buf[n] = '\0';
        p = strstr(buf, "\nTgid:");
        if (!p)
                return tid;
        return (pid_t)strtol(p + 6, NULL, 10) > 0 ? (pid_t)strtol(p + 6, NULL, 10) : tid;
}
