/* SPDX-License-Identifier: Apache-2.0 */
/* The workload's seccomp filter, built with libseccomp: everything in the
 * syscall table returns SECCOMP_RET_TRACE (its class as data), clone3 and
 * openat2 fail with ENOSYS so that libc falls back to clone and openat
 * (whose flags and modes are registers we can see: every clone, fork and
 * vfork traps, for its flags and the pids limit), everything else is allowed. Other architectures
 * are killed. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/macros.h"
#include "sidecar/sidecar.h"

static const unsigned long special_mode_bits[] = {S_ISUID, S_ISGID, S_ISVTX};

/* The calls that send a signal, and the argument that holds it. */
static const struct {
        int nr;
        unsigned sig_arg;
} signal_calls[] = {
    {__NR_kill, 1},
    {__NR_tkill, 1},
    {__NR_tgkill, 2},
    {__NR_rt_sigqueueinfo, 1},
    {__NR_rt_tgsigqueueinfo, 2},
    {__NR_pidfd_send_signal, 1},
};

/* Traps s when argument arg has any one of the n bits set. */
static int add_any_bit(scmp_filter_ctx ctx, uint32_t act, const ob_syscall_info *s, unsigned arg,
                       const unsigned long *bits, size_t n)
{
        int r = 0;

        for (size_t i = 0; r == 0 && i < n; i++)
                r = seccomp_rule_add(ctx, act, s->nr, 1,
                                     SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
        return r;
}

static int add_special(scmp_filter_ctx ctx, const ob_syscall_info *s)
{
        uint32_t act = SCMP_ACT_TRACE(OB_TRACE_DANGEROUS);
        int r;

        if (streq(s->name, "clone")) /* every clone: its flags and the pids limit (check.c) */
                return seccomp_rule_add(ctx, act, s->nr, 0);
        if (streq(s->name, "fchmod")) /* fchmod(fd, mode): set-id and sticky bits (F10) */
                return add_any_bit(ctx, act, s, 1, special_mode_bits,
                                   ARRAY_SIZE(special_mode_bits));
        /* ioctl(fd, TIOCSTI/TIOCLINUX): pushing input into a terminal */
        r = seccomp_rule_add(ctx, act, s->nr, 1, SCMP_A1(SCMP_CMP_EQ, TIOCSTI));
        if (r == 0)
                r = seccomp_rule_add(ctx, act, s->nr, 1, SCMP_A1(SCMP_CMP_EQ, TIOCLINUX));
        return r;
}

static int add_rule(scmp_filter_ctx ctx, const ob_syscall_info *s)
{
        if (s->klass == OB_TRACE_DANGEROUS &&
            (streq(s->name, "clone") || streq(s->name, "ioctl") || streq(s->name, "fchmod")))
                return add_special(ctx, s);
        if (streq(s->name, "openat2"))
                /* its mode (and flags) are in a struct in memory, which a second
                 * thread can rewrite after the check (F10): ENOSYS, as for clone3;
                 * callers fall back to openat (gVisor 20221219 has no openat2) */
                return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), s->nr, 0);
        if (streq(s->name, "sendto"))
                /* sendto(fd, buf, len, flags, NULL, 0) is send(): nothing to check */
                return seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_NET), s->nr, 1,
                                        SCMP_A4(SCMP_CMP_NE, 0));
        return seccomp_rule_add(ctx, SCMP_ACT_TRACE((uint32_t)s->klass), s->nr, 0);
}

int ob_filter_build(void **ret, bool hostnet)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        const ob_syscall_info *tab;
        size_t n;
        int r;

        if (!ctx)
                return -ENOMEM;
        /* seccomp_init() kills on a foreign architecture by default (i386
         * int 0x80 and x32 calls would bypass a native-only filter) */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r == -EINVAL) /* gVisor 20221219 does not offer KILL_PROCESS */
                r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_THREAD);
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        /* gVisor 20221219 refuses statx with AT_NO_AUTOMOUNT (EINVAL), which
         * Debian 12's coreutils always pass (ls -l, stat, cp -p): the sidecar
         * clears that bit, meaningless inside gVisor (no automounts), in the
         * register at the stop (race-free) and lets the call run. */
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_FIXUP), SCMP_SYS(statx), 1,
                                     SCMP_A2(SCMP_CMP_MASKED_EQ, AT_NO_AUTOMOUNT, AT_NO_AUTOMOUNT));
        /* gVisor 20221219 has no TCSETSF (tcsetattr(TCSAFLUSH): ENOTTY), which
         * tty.setraw(), getpass and every line editor use: it becomes
         * TCSETSW (TCSADRAIN) in the register; only the discarding of input
         * typed but not yet read is lost (docs/compatibility.md) */
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_FIXUP), SCMP_SYS(ioctl), 1,
                                     SCMP_A1(SCMP_CMP_EQ, TCSETSF));
        /* gVisor 20221219 notifies no task of a signal sent while its target is
         * in a ptrace-stop (the signal stays pending, unseen until something
         * else interrupts the task): every signal sent by the workload traps,
         * and the supervisor wakes its targets once it is sent (supervise.c).
         * Signal 0 (a liveness check) sends nothing and does not trap. */
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(signal_calls); i++)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_SIGNAL), signal_calls[i].nr, 1,
                                     SCMP_CMP(signal_calls[i].sig_arg, SCMP_CMP_NE, 0));
        /* gVisor 20221219's host network (runsc --network=host: every run with
         * a NETWORK_CONNECT grant) crashes the whole sandbox when a recvfrom,
         * recvmsg or recvmmsg on a TCP socket asks for the sender's address
         * (hostinet RecvMsg parses the empty address the host returns: index
         * out of range, the sentry panics). Those calls trap; the supervisor
         * fails the TCP ones with EOPNOTSUPP (supervise.c). */
        if (r == 0 && hostnet)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_RECV), SCMP_SYS(recvfrom), 1,
                                     SCMP_A4(SCMP_CMP_NE, 0));
        if (r == 0 && hostnet)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_RECV), SCMP_SYS(recvmsg), 0);
        if (r == 0 && hostnet)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_RECV), SCMP_SYS(recvmmsg), 0);
        /* and the calls that arm a timer, whose signal can come while the task
         * is stopped as well */
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_SIGNAL), SCMP_SYS(alarm), 0);
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_SIGNAL), SCMP_SYS(setitimer), 0);
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(OB_TRACE_SIGNAL), SCMP_SYS(timer_settime),
                                     0);
        tab = ob_syscall_table(&n);
        for (size_t i = 0; r == 0 && i < n; i++)
                r = add_rule(ctx, &tab[i]);
        if (r < 0) {
                seccomp_release(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}

int ob_filter_load(void *ctx)
{
        return seccomp_load((scmp_filter_ctx)ctx);
}

void ob_filter_free(void *ctx)
{
        if (ctx)
                seccomp_release((scmp_filter_ctx)ctx);
}
