/* SPDX-License-Identifier: Apache-2.0 */
/* The supervision loop: every task of the workload is a ptrace tracee
 * (forks, vforks and clones are followed); seccomp stops are checked and
 * denied ones skipped with an error; other stops are resumed with their
 * signal; exits are reaped, orphans included. When the main process ends
 * every task left is killed, traced or not. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macros.h"
#include "channel/channel.h"
#include "sidecar/sidecar.h"

static int track(ob_supervisor *sup, pid_t pid)
{
        for (size_t i = 0; i < sup->n_tasks; i++)
                if (sup->tasks[i] == pid)
                        return 0;
        if (sup->n_tasks % 64 == 0) {
                pid_t *nt;
                if (sup->n_tasks >= OB_SIDECAR_MAX_TASKS)
                        return -E2BIG;
                nt = realloc(sup->tasks, (sup->n_tasks + 64) * sizeof(pid_t));
                if (!nt)
                        return -ENOMEM;
                sup->tasks = nt;
        }
        sup->tasks[sup->n_tasks++] = pid;
        return 0;
}

static void forget(ob_supervisor *sup, pid_t pid)
{
        for (size_t i = 0; i < sup->n_tasks; i++)
                if (sup->tasks[i] == pid) {
                        sup->tasks[i] = sup->tasks[--sup->n_tasks];
                        return;
                }
}

/* The parent pid in /proc/<pid>/stat ("pid (comm) state ppid ..."; comm
 * may hold spaces and parentheses), or -1. */
static pid_t stat_ppid(const char *pid)
{
        char path[64], buf[512];
        const char *end;
        FILE *f;
        size_t n;
        int ppid;

        snprintf(path, sizeof(path), "/proc/%s/stat", pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        end = strrchr(buf, ')');
        if (!end || sscanf(end + 1, " %*c %d", &ppid) != 1)
                return -1;
        return ppid;
}

/* SIGKILL to every child of ours, traced or not (orphans are reparented
 * to us: PR_SET_CHILD_SUBREAPER), but spare: a tty exec's relay, told to
 * end (SIGTERM) once the workload's last task is gone, after it has copied
 * the workload's last output. */
static void kill_children(pid_t spare)
{
        pid_t me = getpid();
        struct dirent *de;
        DIR *d = opendir("/proc");

        if (!d)
                return;
        while ((de = readdir(d)))
                if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && stat_ppid(de->d_name) == me &&
                    atoi(de->d_name) != spare)
                        kill(atoi(de->d_name), SIGKILL);
        closedir(d);
}

/* Kills every task left once the main process is gone: the tracked ones,
 * and those the tracer never saw (F13). As PID 1 (inside gVisor) that is
 * kill(-1), which spares only PID 1 itself; elsewhere (the sidecar run on
 * a host by tests) kill(-1) would reach the whole machine, so only our own
 * children are killed, the orphans among them. Called again at each exit
 * that follows, for tasks forked meanwhile and orphans reparented since. */
static void kill_all(ob_supervisor *sup)
{
        for (size_t i = 0; i < sup->n_tasks; i++)
                kill(sup->tasks[i], SIGKILL);
        if (getpid() == 1)
                (void)kill(-1, SIGKILL);
        else
                kill_children(sup->spare_pid);
}

static void report(ob_supervisor *sup, pid_t tid, long nr, const ob_verdict *v)
{
        ob_channel_msg m = {.type = OB_CHANNEL_CAPABILITY_DENIED};
        const ob_syscall_info *s = ob_syscall_lookup(nr);

        sup->denials++;
        if (sup->channel_fd < 0 || sup->denials > OB_SIDECAR_MAX_EVENTS) {
                sup->dropped++;
                return;
        }
        m.capability = (char *)v->capability;
        m.target = v->target;
        m.syscall = (char *)(s ? s->name : "unknown");
        m.pid = ob_tracee_tgid(tid);
        m.policy_id = (char *)v->policy_id;
        m.layer = (char *)v->layer;
        if (ob_channel_send(sup->channel_fd, &m) < 0)
                sup->dropped++;
}

static bool signal_start(ob_supervisor *sup, pid_t tid, const struct user_regs_struct *regs);
static bool signal_call(long nr);
static void async_add(ob_supervisor *sup, pid_t pid);

/* ---- recvfrom on TCP with the host network (OB_TRACE_RECV) ----
 *
 * gVisor 20221219's hostinet RecvMsg, asked for the sender's address, parses
 * what the host's recvmsg wrote; on a TCP socket that is nothing, and the
 * sentry panics (index out of range): the sandbox dies with exit 2 and no
 * word. Those calls are failed with EOPNOTSUPP before they run, with one
 * line on stderr the first time. Not a guarantee of anything (a second
 * thread can swap the fd or msg_name after the check): it turns the crash
 * of a plain program into an error it can see. */

/* The inode of the socket at fd of tid ("socket:[N]"), or 0. */
static unsigned long socket_inode(pid_t tid, int fd)
{
        char path[64], link[64];
        unsigned long ino = 0;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)tid, fd);
        n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0)
                return 0;
        link[n] = '\0';
        if (sscanf(link, "socket:[%lu]", &ino) != 1)
                return 0;
        return ino;
}

/* Whether inode ino is listed in /proc/net/tcp or tcp6 (gVisor's own
 * tables: the sandbox's sockets, their sentry inodes). */
static bool tcp_inode(unsigned long ino)
{
        static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
        char line[512];

        for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
                FILE *f = fopen(tables[t], "re");
                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f)) {
                        unsigned long v;
                        /* sl local rem st queues tr retrnsmt uid timeout inode */
                        if (sscanf(line, " %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu", &v) == 1 &&
                            v == ino) {
                                fclose(f);
                                return true;
                        }
                }
                fclose(f);
        }
        return false;
}

/* Whether the call asks for the sender's address: recvfrom's src_addr;
 * the msg_name of recvmsg's msghdr or of one of recvmmsg's. */
static bool wants_sender(pid_t tid, long nr, const struct user_regs_struct *regs)
{
        uint64_t name = 0;

        if (nr == __NR_recvfrom)
                return regs->r8 != 0;
        if (nr == __NR_recvmsg)
                return ob_tracee_read(tid, regs->rsi, &name, sizeof(name)) == 0 && name != 0;
        for (uint64_t i = 0; i < regs->rdx && i < 1024; i++) /* recvmmsg, vlen <= UIO_MAXIOV */
                if (ob_tracee_read(tid, regs->rsi + i * sizeof(struct mmsghdr), &name,
                                   sizeof(name)) < 0 ||
                    name != 0)
                        return name != 0;
        return false;
}

static bool recv_crashes(pid_t tid, const struct user_regs_struct *regs)
{
        long nr = (long)regs->orig_rax;
        unsigned long ino;

        if (nr != __NR_recvfrom && nr != __NR_recvmsg && nr != __NR_recvmmsg)
                return false;
        if (!wants_sender(tid, nr, regs))
                return false;
        ino = socket_inode(tid, (int)regs->rdi);
        return ino && tcp_inode(ino);
}

static void recv_refuse(ob_supervisor *sup, pid_t tid, struct user_regs_struct *regs)
{
        long nr = (long)regs->orig_rax;

        regs->orig_rax = (unsigned long long)-1;
        regs->rax = (unsigned long long)-(long long)EOPNOTSUPP;
        if (ptrace(PTRACE_SETREGS, tid, NULL, regs) < 0) {
                kill(tid, SIGKILL); /* cannot skip it: it would take the sandbox down */
                return;
        }
        if (!sup->recv_told) {
                sup->recv_told = true;
                fprintf(stderr,
                        "omnibase: %s() asking for the sender's address on a TCP socket fails "
                        "with EOPNOTSUPP: gVisor 20221219's host network crashes the sandbox on "
                        "it (use recv(); docs/compatibility.md)\n",
                        nr == __NR_recvfrom  ? "recvfrom"
                        : nr == __NR_recvmsg ? "recvmsg"
                                             : "recvmmsg");
        }
}

/* A seccomp stop: decide, and on a denial skip the syscall (orig_rax = -1)
 * with -error as its return value. Returns whether the tracee was resumed
 * already (a signal call, resumed to its end). */
static bool on_seccomp(ob_supervisor *sup, pid_t tid)
{
        struct user_regs_struct regs;
        ob_verdict v = {0};
        uint64_t args[6];
        long nr;

        if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0) {
                if (errno != ESRCH) /* cannot see the call: never let it run unchecked */
                        kill(tid, SIGKILL);
                return false; /* ESRCH: killed meanwhile */
        }
        nr = (long)regs.orig_rax;
        if (nr == __NR_alarm || nr == __NR_setitimer || nr == __NR_timer_settime) {
                async_add(sup, tid); /* OB_TRACE_SIGNAL: a timer, whose signal may come
                                      * while the task is stopped */
                return false;
        }
        if (signal_call(nr)) /* OB_TRACE_SIGNAL: never denied */
                return signal_start(sup, tid, &regs);
        if (recv_crashes(tid, &regs)) { /* OB_TRACE_RECV */
                recv_refuse(sup, tid, &regs);
                return false;
        }
        if ((nr == __NR_statx && (regs.rdx & AT_NO_AUTOMOUNT)) || /* OB_TRACE_FIXUP */
            (nr == __NR_ioctl && regs.rsi == TCSETSF)) {
                if (nr == __NR_statx)
                        regs.rdx &= ~(unsigned long long)AT_NO_AUTOMOUNT;
                else
                        regs.rsi = TCSETSW;
                if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) < 0 && errno != ESRCH)
                        kill(tid, SIGKILL);
                return false;
        }
        args[0] = regs.rdi, args[1] = regs.rsi, args[2] = regs.rdx;
        args[3] = regs.r10, args[4] = regs.r8, args[5] = regs.r9;
        if (ob_check_syscall(sup->caps, tid, nr, args, &v) < 0) {
                v.allowed = false; /* out of memory: fail closed */
                v.error = ENOMEM;
        }
        /* at the pids limit the kernel would fail it with EAGAIN: fail it here,
         * the same way, and count it so that the run reports the limit */
        if (v.allowed && v.spawn && sup->tasks_max && sup->n_tasks >= sup->tasks_max) {
                v.allowed = false;
                v.error = EAGAIN;
                sup->pids_refused++;
        }
        if (!v.allowed) {
                regs.orig_rax = (unsigned long long)-1;
                regs.rax = (unsigned long long)-(long long)v.error;
                if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) < 0)
                        kill(tid, SIGKILL); /* cannot skip it: never let it run */
                else if (v.capability)
                        report(sup, tid, nr, &v);
        }
        free(v.target);
        return false;
}

/* An exec that has happened (the new program has not run an instruction
 * yet): a process whose program is the dynamic loader itself is killed and
 * reported (F11). This is the race-free check: /proc/PID/exe is what the
 * kernel loaded, whatever a second thread did to the path after the check
 * at execve, and after a #! line. Returns whether it was killed. */
static bool exec_killed(ob_supervisor *sup, pid_t pid)
{
        ob_verdict v = {.capability = "FILE_EXEC", .policy_id = "default-deny", .layer = "sidecar"};
        int r = ob_loader_execed(pid, &v.target);

        if (r == 0 || r == -ESRCH || r == -ENOENT)
                return false; /* not a loader; or gone meanwhile */
        kill(pid, SIGKILL);   /* a loader, or cannot tell: fail closed */
        if (r > 0)
                report(sup, pid, __NR_execve, &v);
        free(v.target);
        return true;
}

static void send_start(ob_supervisor *sup)
{
        ob_channel_msg m = {
            .type = OB_CHANNEL_SANDBOX_START, .pid = sup->main_pid, .argv0 = (char *)sup->argv0};

        sup->main_execed = true;
        if (sup->channel_fd >= 0)
                (void)ob_channel_send(sup->channel_fd, &m);
}

static void resume(pid_t pid, int sig)
{
        ptrace(PTRACE_CONT, pid, NULL, (void *)(uintptr_t)sig);
}

/* A signal that the kernel itself sent while the task was stopped (a timer's
 * SIGALRM, SIGCHLD, a terminal's SIGINT) is left as unseen as a kill's
 * (below). Blocking every signal and restoring the task's own mask makes
 * gVisor look at the queue (setSignalMaskLocked: a pending signal that the
 * new mask unblocks interrupts the task), which is all that is missing. A
 * signal that comes between this and the resume is seen at the task's next
 * stop, or not before something else interrupts it. */
static void recheck_signals(pid_t pid)
{
        uint64_t mask, all = ~(uint64_t)0;

        if (ptrace(PTRACE_GETSIGMASK, pid, (void *)sizeof(mask), &mask) < 0 || mask == all)
                return;
        if (ptrace(PTRACE_SETSIGMASK, pid, (void *)sizeof(all), &all) == 0 &&
            ptrace(PTRACE_SETSIGMASK, pid, (void *)sizeof(mask), &mask) < 0 && errno != ESRCH)
                kill(pid, SIGKILL); /* cannot give it its mask back: never leave it deaf */
}

static ssize_t async_find(const ob_supervisor *sup, pid_t pid)
{
        for (size_t i = 0; i < sup->n_async; i++)
                if (sup->async[i] == pid)
                        return (ssize_t)i;
        return -1;
}

/* pid may get a signal from the kernel while stopped from now on. */
static void async_add(ob_supervisor *sup, pid_t pid)
{
        if (async_find(sup, pid) >= 0)
                return;
        if (sup->n_async % 16 == 0) {
                pid_t *na = realloc(sup->async, (sup->n_async + 16) * sizeof(*na));
                if (!na) {
                        sup->async_all = true; /* out of memory: look at every task's queue */
                        return;
                }
                sup->async = na;
        }
        sup->async[sup->n_async++] = pid;
}

static void async_forget(ob_supervisor *sup, pid_t pid)
{
        ssize_t i = async_find(sup, pid);

        if (i >= 0)
                sup->async[i] = sup->async[--sup->n_async];
}

/* Resumes a task from a stop that was not a signal's; the queue of a task
 * that the kernel may signal is looked at first. Three ptrace calls (about
 * 50 us inside gVisor) are not spent on every stop of every task. */
static void resume_checked(ob_supervisor *sup, pid_t pid)
{
        if (sup->async_all || async_find(sup, pid) >= 0)
                recheck_signals(pid);
        resume(pid, 0);
}

/* ---- signals sent by the workload ----
 *
 * gVisor 20221219 wakes no task for a signal sent to a task that is in a
 * ptrace-stop (task_signals.go: "No task notified of signal N"): the signal
 * is queued, but the task, once resumed, runs on without looking at its
 * queue until something else interrupts it. A child that gets SIGTERM while
 * it is stopped at one of its many seccomp stops then sleeps on with the
 * signal pending (Popen.terminate() and wait() hang). So every signal the
 * workload sends traps (filter.c), its sender is resumed to the call's end
 * with PTRACE_SYSCALL, and then each target gets a PTRACE_INTERRUPT: that
 * wakes it even inside a ptrace-stop, it stops once more (PTRACE_EVENT_STOP,
 * resumed at once) and on the way out finds the pending signal and delivers
 * it (a signal-delivery-stop, resumed with the signal). A target that was
 * running took the signal anyway; the extra stop costs it nothing else. */

static bool signal_call(long nr)
{
        return nr == __NR_kill || nr == __NR_tkill || nr == __NR_tgkill ||
               nr == __NR_rt_sigqueueinfo || nr == __NR_rt_tgsigqueueinfo ||
               nr == __NR_pidfd_send_signal;
}

/* A PTRACE_INTERRUPT for every thread of process tgid (/proc/TGID/task). */
static void wake_process(pid_t tgid, pid_t sender)
{
        char path[64];
        struct dirent *de;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/task", (int)tgid);
        d = opendir(path);
        if (!d) {
                (void)ptrace(PTRACE_INTERRUPT, tgid, NULL, NULL);
                return;
        }
        while ((de = readdir(d)))
                if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && atoi(de->d_name) != sender)
                        (void)ptrace(PTRACE_INTERRUPT, (pid_t)atoi(de->d_name), NULL, NULL);
        closedir(d);
}

/* The call has been made: wake its targets (ESRCH for one that is gone or
 * not ours is fine), forget it. */
static void signal_sent(ob_supervisor *sup, size_t i)
{
        ob_signal_send s = sup->sends[i];

        sup->sends[i] = sup->sends[--sup->n_sends];
        if (s.all) {
                for (size_t j = 0; j < sup->n_tasks; j++)
                        if (sup->tasks[j] != s.sender)
                                (void)ptrace(PTRACE_INTERRUPT, sup->tasks[j], NULL, NULL);
        } else if (s.tgid > 0)
                wake_process(s.tgid, s.sender);
        else if (s.tid > 0 && s.tid != s.sender)
                (void)ptrace(PTRACE_INTERRUPT, s.tid, NULL, NULL);
}

static ssize_t signal_find(const ob_supervisor *sup, pid_t sender)
{
        for (size_t i = 0; i < sup->n_sends; i++)
                if (sup->sends[i].sender == sender)
                        return (ssize_t)i;
        return -1;
}

/* At the seccomp stop of a signal call: note its targets and resume the
 * sender to the call's end. Returns whether the sender was resumed (false:
 * nothing to do, the caller resumes it as usual). */
static bool signal_start(ob_supervisor *sup, pid_t tid, const struct user_regs_struct *regs)
{
        ob_signal_send s = {.sender = tid};
        long nr = (long)regs->orig_rax;
        int sig = (int)(nr == __NR_tgkill || nr == __NR_rt_tgsigqueueinfo ? regs->rdx : regs->rsi);
        pid_t a = (pid_t)regs->rdi, b = (pid_t)regs->rsi;

        if (sig == 0 || sig == SIGKILL) /* nothing sent; SIGKILL ends any stop itself */
                return false;
        if (nr == __NR_kill || nr == __NR_rt_sigqueueinfo)
                s.tgid = a > 0 ? a : 0, s.all = a <= 0;
        else if (nr == __NR_tkill)
                s.tid = a;
        else if (nr == __NR_tgkill || nr == __NR_rt_tgsigqueueinfo)
                s.tid = b;
        else
                s.all = true; /* pidfd_send_signal: whose pidfd is not ours to read */
        if (signal_find(sup, tid) >= 0)
                return false; /* cannot happen: one call at a time per thread */
        if (sup->n_sends % 16 == 0) {
                ob_signal_send *ns = realloc(sup->sends, (sup->n_sends + 16) * sizeof(*ns));
                if (!ns)
                        return false; /* out of memory: the signal is sent unwatched */
                sup->sends = ns;
        }
        sup->sends[sup->n_sends++] = s;
        if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) == 0)
                return true;
        sup->n_sends--; /* gone meanwhile, or cannot: resumed as usual */
        return false;
}

/* A syscall stop (PTRACE_O_TRACESYSGOOD): only a signal call's sender is
 * resumed with PTRACE_SYSCALL. gVisor stops at the call's entry after its
 * seccomp stop (Linux has its seccomp stop after the entry): an entry, with
 * -ENOSYS in rax, is resumed to the exit. */
static void on_syscall_stop(ob_supervisor *sup, pid_t tid)
{
        ssize_t i = signal_find(sup, tid);
        struct user_regs_struct regs;

        if (i >= 0 && !sup->sends[i].entered && ptrace(PTRACE_GETREGS, tid, NULL, &regs) == 0 &&
            (long long)regs.rax == -(long long)ENOSYS) {
                sup->sends[i].entered = true;
                if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) == 0)
                        return;
        }
        if (i >= 0)
                signal_sent(sup, (size_t)i);
        resume_checked(sup, tid);
}

/* Any other stop or the end of a sender: its call is over. */
static void signal_over(ob_supervisor *sup, pid_t tid)
{
        ssize_t i = sup->n_sends ? signal_find(sup, tid) : -1;

        if (i >= 0)
                signal_sent(sup, (size_t)i);
}

static void on_exit_status(ob_supervisor *sup, pid_t pid, int status)
{
        signal_over(sup, pid);
        async_forget(sup, pid);
        forget(sup, pid);
        ob_tracee_forget(pid);
        if (pid == sup->main_pid) {
                sup->main_status = status;
                sup->main_done = true;
        }
        if (pid == sup->spare_pid)
                sup->spare_pid = 0; /* the relay is gone (its pid may be reused) */
        if (sup->main_done)
                kill_all(sup); /* the sandbox ends with its main process */
        /* the last task gone: nothing writes to the terminal any more, the
         * relay copies what the master still holds and ends */
        if (sup->main_done && sup->n_tasks == 0 && sup->spare_pid > 0 && !sup->spare_told) {
                kill(sup->spare_pid, SIGTERM);
                sup->spare_told = true;
        }
}

static void on_stop(ob_supervisor *sup, pid_t pid, int status)
{
        int sig = WSTOPSIG(status);
        unsigned long msg = 0;

        if (track(sup, pid) < 0 || sup->main_done) {
                kill(pid, SIGKILL);
                return;
        }
        if (sig == (SIGTRAP | 0x80) && (status >> 16) == 0) {
                on_syscall_stop(sup, pid);
                return;
        }
        signal_over(sup, pid);
        switch (status >> 16) {
        case PTRACE_EVENT_SECCOMP:
                if (!on_seccomp(sup, pid))
                        resume_checked(sup, pid);
                break;
        case PTRACE_EVENT_FORK:
        case PTRACE_EVENT_VFORK:
        case PTRACE_EVENT_CLONE:
                if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg) == 0 && track(sup, (pid_t)msg) < 0)
                        kill((pid_t)msg, SIGKILL);
                if ((status >> 16) != PTRACE_EVENT_CLONE)
                        async_add(sup, pid); /* a child: SIGCHLD when it ends */
                resume_checked(sup, pid);
                break;
        case PTRACE_EVENT_EXEC:
                /* a non-leader thread that execs takes the leader's pid */
                ob_tracee_forget(pid); /* a new address space */
                if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg) == 0 && (pid_t)msg != pid) {
                        forget(sup, (pid_t)msg);
                        ob_tracee_forget((pid_t)msg);
                }
                if (exec_killed(sup, pid))
                        break;
                if (pid == sup->main_pid && !sup->main_execed)
                        send_start(sup);
                resume_checked(sup, pid);
                break;
        case PTRACE_EVENT_STOP:
                if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
                        ptrace(PTRACE_LISTEN, pid, NULL, NULL); /* group-stop */
                else
                        resume_checked(sup, pid); /* a new task's first stop, or after SIGCONT */
                break;
        case 0:
                resume(pid, sig); /* signal-delivery stop: deliver it */
                break;
        default:
                resume_checked(sup, pid);
                break;
        }
}

int ob_supervise(ob_supervisor *sup)
{
        struct rlimit nproc;
        int r = track(sup, sup->main_pid);

        /* the workload inherits PID 1's RLIMIT_NPROC (runner/spec.c: pids - 1) */
        if (getrlimit(RLIMIT_NPROC, &nproc) == 0 && nproc.rlim_cur != RLIM_INFINITY)
                sup->tasks_max = (size_t)nproc.rlim_cur;

        if (r < 0)
                return r;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, __WALL);
                if (pid < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ECHILD)
                                break;
                        return negative_errno();
                }
                if (WIFEXITED(status) || WIFSIGNALED(status))
                        on_exit_status(sup, pid, status);
                else if (WIFSTOPPED(status))
                        on_stop(sup, pid, status);
        }
        if (!sup->main_done)
                return -ECHILD;
        if (!sup->main_execed)
                return 125; /* nothing ran: the child said why on stderr */
        if (WIFSIGNALED(sup->main_status))
                return 128 + WTERMSIG(sup->main_status);
        return WEXITSTATUS(sup->main_status);
}

void ob_supervisor_done(ob_supervisor *sup)
{
        free(sup->tasks);
        sup->tasks = NULL;
        sup->n_tasks = 0;
        free(sup->sends);
        sup->sends = NULL;
        sup->n_sends = 0;
        free(sup->async);
        sup->async = NULL;
        sup->n_async = 0;
}
