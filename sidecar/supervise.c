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
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "common/macros.h"
#include "sidecar/channel.h"
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

/* A seccomp stop: decide, and on a denial skip the syscall (orig_rax = -1)
 * with -error as its return value. */
static void on_seccomp(ob_supervisor *sup, pid_t tid)
{
        struct user_regs_struct regs;
        ob_verdict v = {0};
        uint64_t args[6];
        long nr;

        if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0) {
                if (errno != ESRCH) /* cannot see the call: never let it run unchecked */
                        kill(tid, SIGKILL);
                return; /* ESRCH: killed meanwhile */
        }
        nr = (long)regs.orig_rax;
        if (nr == __NR_statx && (regs.rdx & AT_NO_AUTOMOUNT)) { /* OB_TRACE_FIXUP */
                regs.rdx &= ~(unsigned long long)AT_NO_AUTOMOUNT;
                if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) < 0 && errno != ESRCH)
                        kill(tid, SIGKILL);
                return;
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

static void on_exit_status(ob_supervisor *sup, pid_t pid, int status)
{
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
        switch (status >> 16) {
        case PTRACE_EVENT_SECCOMP:
                on_seccomp(sup, pid);
                resume(pid, 0);
                break;
        case PTRACE_EVENT_FORK:
        case PTRACE_EVENT_VFORK:
        case PTRACE_EVENT_CLONE:
                if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg) == 0 && track(sup, (pid_t)msg) < 0)
                        kill((pid_t)msg, SIGKILL);
                resume(pid, 0);
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
                resume(pid, 0);
                break;
        case PTRACE_EVENT_STOP:
                if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
                        ptrace(PTRACE_LISTEN, pid, NULL, NULL); /* group-stop */
                else
                        resume(pid, 0); /* a new task's first stop, or after SIGCONT */
                break;
        case 0:
                resume(pid, sig); /* signal-delivery stop: deliver it */
                break;
        default:
                resume(pid, 0);
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
}
