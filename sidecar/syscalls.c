/* SPDX-License-Identifier: Apache-2.0 */
/* The syscalls the sidecar traps (x86_64), what class each is and where its
 * path arguments are. docs/sidecar.md has this table in prose. */
#include <stddef.h>
#include <sys/syscall.h>

#include "common/macros.h"
#include "sidecar/sidecar.h"

#if !defined(__x86_64__)
#error "omnibase-sidecar supports x86_64 only (register layout, syscall skipping)"
#endif

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif

#define NOPATH                                                                                     \
        {                                                                                          \
                -1, -1, -1, OB_ACCESS_NONE, OB_FOLLOW                                              \
        }
#define DANGER(n)                                                                                  \
        {                                                                                          \
                __NR_##n, #n, OB_TRACE_DANGEROUS,                                                  \
                {                                                                                  \
                        NOPATH, NOPATH                                                             \
                }                                                                                  \
        }
#define NET(n)                                                                                     \
        {                                                                                          \
                __NR_##n, #n, OB_TRACE_NET,                                                        \
                {                                                                                  \
                        NOPATH, NOPATH                                                             \
                }                                                                                  \
        }
#define PA(d, p, f, a, fo)                                                                         \
        {                                                                                          \
                d, p, f, OB_ACCESS_##a, OB_##fo                                                    \
        }
#define PATH1(n, d, p, f, a, fo)                                                                   \
        {                                                                                          \
                __NR_##n, #n, OB_TRACE_PATH,                                                       \
                {                                                                                  \
                        PA(d, p, f, a, fo), NOPATH                                                 \
                }                                                                                  \
        }
#define PATH2(n, d1, p1, d2, p2, f, fo1, fo2)                                                      \
        {                                                                                          \
                __NR_##n, #n, OB_TRACE_PATH,                                                       \
                {                                                                                  \
                        PA(d1, p1, f, WRITE, fo1), PA(d2, p2, f, WRITE, fo2)                       \
                }                                                                                  \
        }

/* Sorted by nothing in particular; lookups go through a direct index. */
static const ob_syscall_info table[] = {
    /* dangerous: never allowed, each attempt reported (layer "seccomp") */
    DANGER(ptrace),
    DANGER(mount),
    DANGER(umount2),
    DANGER(bpf),
    DANGER(keyctl),
    DANGER(add_key),
    DANGER(request_key),
    DANGER(unshare),
    DANGER(setns),
    DANGER(pivot_root),
    DANGER(chroot),
    DANGER(init_module),
    DANGER(finit_module),
    DANGER(delete_module),
    DANGER(kexec_load),
    DANGER(kexec_file_load),
    DANGER(perf_event_open),
    DANGER(process_vm_readv),
    DANGER(process_vm_writev),
    DANGER(open_by_handle_at),
    DANGER(name_to_handle_at),
    DANGER(userfaultfd),
    DANGER(fanotify_init),
    DANGER(lookup_dcookie),
    DANGER(quotactl),
    DANGER(quotactl_fd),
    DANGER(swapon),
    DANGER(swapoff),
    DANGER(reboot),
    DANGER(acct),
    DANGER(syslog),
    DANGER(settimeofday),
    DANGER(clock_settime),
    DANGER(clock_adjtime),
    DANGER(adjtimex),
    DANGER(sethostname),
    DANGER(setdomainname),
    DANGER(iopl),
    DANGER(ioperm),
    DANGER(uselib),
    DANGER(vhangup),
    DANGER(open_tree),
    DANGER(move_mount),
    DANGER(fsopen),
    DANGER(fsconfig),
    DANGER(fsmount),
    DANGER(fspick),
    DANGER(mount_setattr),
    DANGER(io_uring_setup),
    DANGER(io_uring_enter),
    DANGER(io_uring_register),
    DANGER(memfd_secret),
    DANGER(pidfd_getfd),
    /* clone with namespace flags or CLONE_UNTRACED and ioctl(TIOCSTI/TIOCLINUX):
     * only those argument values are trapped (see filter.c) */
    DANGER(clone),
    DANGER(ioctl),
    /* fchmod: only a mode with set-id or sticky bits traps (see filter.c);
     * the path syscalls that set a mode are checked for it too (check.c) */
    DANGER(fchmod),

    /* path-bearing: (syscall, dirfd arg, path arg, flags arg, access, follow) */
    PATH1(open, -1, 0, 1, OPEN, FOLLOW),
    PATH1(openat, 0, 1, 2, OPEN, FOLLOW),
    PATH1(openat2, 0, 1, 2, OPENAT2, FOLLOW),
    PATH1(creat, -1, 0, -1, WRITE, FOLLOW),
    PATH1(execve, -1, 0, -1, EXEC, FOLLOW),
    PATH1(execveat, 0, 1, 4, EXEC, FOLLOW_UNLESS_AT),
    PATH1(truncate, -1, 0, -1, WRITE, FOLLOW),
    PATH1(unlink, -1, 0, -1, WRITE, NOFOLLOW),
    PATH1(unlinkat, 0, 1, -1, WRITE, NOFOLLOW),
    PATH1(rmdir, -1, 0, -1, WRITE, NOFOLLOW),
    PATH1(mkdir, -1, 0, -1, WRITE, NOFOLLOW),
    PATH1(mkdirat, 0, 1, -1, WRITE, NOFOLLOW),
    PATH1(mknod, -1, 0, -1, WRITE, NOFOLLOW),
    PATH1(mknodat, 0, 1, -1, WRITE, NOFOLLOW),
    PATH2(rename, -1, 0, -1, 1, -1, NOFOLLOW, NOFOLLOW),
    PATH2(renameat, 0, 1, 2, 3, -1, NOFOLLOW, NOFOLLOW),
    PATH2(renameat2, 0, 1, 2, 3, -1, NOFOLLOW, NOFOLLOW),
    PATH2(link, -1, 0, -1, 1, -1, NOFOLLOW, NOFOLLOW),
    PATH2(linkat, 0, 1, 2, 3, 4, NOFOLLOW_UNLESS_AT, NOFOLLOW),
    PATH1(symlink, -1, 1, -1, WRITE, NOFOLLOW),
    PATH1(symlinkat, 1, 2, -1, WRITE, NOFOLLOW),
    PATH1(chmod, -1, 0, -1, WRITE, FOLLOW),
    PATH1(fchmodat, 0, 1, -1, WRITE, FOLLOW),
    PATH1(fchmodat2, 0, 1, 3, WRITE, FOLLOW_UNLESS_AT),
    PATH1(chown, -1, 0, -1, WRITE, FOLLOW),
    PATH1(lchown, -1, 0, -1, WRITE, NOFOLLOW),
    PATH1(fchownat, 0, 1, 4, WRITE, FOLLOW_UNLESS_AT),
    PATH1(utime, -1, 0, -1, WRITE, FOLLOW),
    PATH1(utimes, -1, 0, -1, WRITE, FOLLOW),
    PATH1(futimesat, 0, 1, -1, WRITE, FOLLOW),
    PATH1(utimensat, 0, 1, 3, WRITE, FOLLOW_UNLESS_AT),
    PATH1(setxattr, -1, 0, -1, WRITE, FOLLOW),
    PATH1(lsetxattr, -1, 0, -1, WRITE, NOFOLLOW),
    PATH1(removexattr, -1, 0, -1, WRITE, FOLLOW),
    PATH1(lremovexattr, -1, 0, -1, WRITE, NOFOLLOW),

    /* address-bearing */
    NET(connect),
    NET(bind),
    NET(sendto),
    NET(sendmsg),
    NET(sendmmsg),
};

#define MAX_NR 512
static const ob_syscall_info *by_nr[MAX_NR];
static bool indexed;

static void build_index(void)
{
        for (size_t i = 0; i < ARRAY_SIZE(table); i++)
                if (table[i].nr >= 0 && table[i].nr < MAX_NR)
                        by_nr[table[i].nr] = &table[i];
        indexed = true;
}

const ob_syscall_info *ob_syscall_lookup(long nr)
{
        if (!indexed)
                build_index();
        if (nr < 0 || nr >= MAX_NR)
                return NULL;
        return by_nr[nr];
}

const ob_syscall_info *ob_syscall_table(size_t *ret_n)
{
        *ret_n = ARRAY_SIZE(table);
        return table;
}
