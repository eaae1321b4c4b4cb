/* SPDX-License-Identifier: Apache-2.0 */
/* The warm pool's clients (docs/runner.md §10): a warm run, and start,
 * status, stop of the daemon; gc's part. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fs.h"
#include "environments/env.h"
#include "runner/pool.h"

#define START_TIMEOUT_MS 120000 /* the first sandbox booted: ~1-3 s, more when loaded */
#define STOP_TIMEOUT_MS  60000
/* an answer line: the result carries at most 2 × 64 MiB of output, in
 * base64 and again in JSON strings */
#define ANSWER_MAX ((size_t)512 * 1024 * 1024)

static int pool_connect(const char *state_dir, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        int r = ob_pool_path(state_dir, OB_POOL_SOCK, sa.sun_path, sizeof(sa.sun_path));

        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* path made absolute against our cwd (the daemon's is "/"). */
static const char *abs_path(const char *path, char *buf, size_t size)
{
        char cwd[PATH_MAX];

        if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
                return path;
        snprintf(buf, size, "%s/%s", cwd, path);
        return buf;
}

__attribute__((format(printf, 2, 3))) static void verbose(const ob_sandbox_options *opts,
                                                          const char *fmt, ...)
{
        char line[512];
        va_list ap;

        if (!opts->on_verbose)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        opts->on_verbose(line, opts->userdata);
}

/* The answers on the connection, line by line (bounded); while waiting,
 * a signal on sigfd (>= 0) is passed on once as {"op":"interrupt"}, and the
 * pool stops the run as a cold run's SIGINT would. */
typedef struct answers {
        int fd, sigfd;
        char *buf;
        size_t len, cap;
        bool interrupted;
} answers;

static void answers_done(answers *a)
{
        free(a->buf);
}

static void pass_signal(answers *a)
{
        struct signalfd_siginfo si;
        char req[64];

        if (read(a->sigfd, &si, sizeof(si)) != sizeof(si) || a->interrupted)
                return;
        a->interrupted = true;
        snprintf(req, sizeof(req), "{\"op\":\"interrupt\",\"signal\":%u}", si.ssi_signo);
        (void)ob_ctl_send(a->fd, req, NULL, 0);
}

/* One answer line (no newline); *ret malloc'd; -EPIPE at EOF. Waits as long
 * as the run lasts (poll, then read what is there: no socket timeout). */
static int read_answer(answers *a, char **ret)
{
        for (;;) {
                char *nl = a->len ? memchr(a->buf, '\n', a->len) : NULL;
                struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN},
                                      {.fd = a->sigfd, .events = POLLIN}};
                ssize_t n;
                if (nl) {
                        size_t k = (size_t)(nl - a->buf);
                        char *line = strndup(a->buf, k);
                        memmove(a->buf, nl + 1, a->len - k - 1);
                        a->len -= k + 1;
                        *ret = line;
                        return line ? 0 : -ENOMEM;
                }
                if (a->len >= ANSWER_MAX)
                        return -E2BIG;
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (p[1].revents)
                        pass_signal(a);
                if (!p[0].revents)
                        continue;
                if (a->cap - a->len < 65536) {
                        size_t cap = a->cap ? a->cap * 2 : 65536;
                        char *nb = realloc(a->buf, cap);
                        if (!nb)
                                return -ENOMEM;
                        a->buf = nb;
                        a->cap = cap;
                }
                n = read(a->fd, a->buf + a->len, a->cap - a->len);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        return n < 0 ? negative_errno() : -EPIPE;
                a->len += (size_t)n;
        }
}

/* The request: the key, the workload's argv (a script's path pointing into
 * the pooled sandbox's inbox), the audit log, capture. */
static int build_request(const ob_sandbox_options *opts, const ob_run_plan *plan, const char *key,
                         const char *script_name, char **ret)
{
        cJSON *o = cJSON_CreateObject(), *a;
        char real[PATH_MAX * 2], inbox[64];
        size_t script_arg = 0;

        if (!o)
                return -ENOMEM;
        for (size_t i = 0; script_name && plan->profile->interpreter[i]; i++)
                script_arg = i + 1;
        snprintf(inbox, sizeof(inbox), "%s/%s", OB_WARM_DIR, script_name ? script_name : "");
        cJSON_AddStringToObject(o, "op", "run");
        cJSON_AddStringToObject(o, "key", key);
        a = cJSON_AddArrayToObject(o, "argv");
        for (size_t i = plan->workload_arg; a && plan->argv[i]; i++)
                cJSON_AddItemToArray(
                    a, cJSON_CreateString(script_name && i - plan->workload_arg == script_arg
                                              ? inbox
                                              : plan->argv[i]));
        if (script_name)
                cJSON_AddStringToObject(o, "script", script_name);
        if (opts->audit_log) /* the daemon's cwd is not ours */
                cJSON_AddStringToObject(o, "audit_log",
                                        abs_path(opts->audit_log, real, sizeof(real)));
        cJSON_AddBoolToObject(o, "capture", opts->capture);
        if (opts->owner)
                cJSON_AddStringToObject(o, "owner", opts->owner);
        *ret = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return *ret ? 0 : -ENOMEM;
}

/* Reads the answers of a taken request: events, then the result. */
static int follow(const ob_sandbox_options *opts, answers *f, ob_sandbox_result *ret, ob_error *err)
{
        for (;;) {
                _cleanup_free_ char *line = NULL;
                cJSON *o;
                int r = read_answer(f, &line);

                if (r < 0)
                        return ob_error_set(err, 0, 0, -r,
                                            "the pool went away before the run ended");
                o = cJSON_Parse(line);
                if (cJSON_GetObjectItemCaseSensitive(o, "type")) { /* an event */
                        cJSON_Delete(o);
                        if (opts->on_event)
                                opts->on_event(line, opts->userdata);
                        continue;
                }
                if (!cJSON_GetObjectItemCaseSensitive(o, "status") &&
                    cJSON_GetObjectItemCaseSensitive(o, "error")) {
                        const char *m =
                            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "error"));
                        if (m) {
                                r = ob_error_set(err, 0, 0, EIO, "warm run: %s", m);
                                cJSON_Delete(o);
                                return r;
                        }
                }
                cJSON_Delete(o);
                r = ob_pool_result_decode(line, ret);
                return r < 0 ? ob_error_set(err, 0, 0, -r, "warm run: a bad result from the pool")
                             : 1;
        }
}

/* The plan of this run without its -v lines (the cold path prints them). */
static int request_key(const ob_sandbox_options *opts, ob_run **ret_run, char **ret_key,
                       ob_error *err)
{
        ob_sandbox_options quiet = *opts;
        int r;

        quiet.on_verbose = NULL;
        quiet.warm = false;
        r = ob_run_new_request(&quiet, ret_run, err);
        if (r < 0)
                return r;
        return ob_pool_key(ob_run_plan_get(*ret_run), opts->caps, ret_key);
}

int ob_pool_try_run(const ob_sandbox_options *opts, ob_sandbox_result *ret, ob_error *err)
{
        _cleanup_free_ char *key = NULL, *req = NULL, *line = NULL;
        _cleanup_close_ int fd = -1, script = -1;
        __attribute__((cleanup(answers_done))) answers f = {.fd = -1, .sigfd = -1};
        sigset_t set, old;
        char name[32] = "";
        ob_run *run = NULL;
        cJSON *ans;
        int fds[3], r;

        r = pool_connect(opts->state_dir, &fd);
        if (r < 0) {
                verbose(opts, "warm: no pool is running (%s): starting cold", strerror(-r));
                return 0;
        }
        /* the plan validates as a cold run would: the same errors, exit 125 */
        r = request_key(opts, &run, &key, err);
        if (r >= 0 && opts->script) {
                script = open(opts->script, O_RDONLY | O_CLOEXEC);
                if (script < 0)
                        r = ob_error_set(err, 0, 0, errno, "%s: %s", opts->script, strerror(errno));
                else {
                        /* the cold run's /omnibase/script.EXT, in the inbox */
                        const ob_run_plan *pl = ob_run_plan_get(run);
                        const char *dest = NULL;
                        for (size_t i = pl->workload_arg; pl->argv[i]; i++)
                                if (strncmp(pl->argv[i], OB_SCRIPT_DIR "/script", 16) == 0) {
                                        dest = pl->argv[i] + strlen(OB_SCRIPT_DIR) + 1;
                                        break;
                                }
                        snprintf(name, sizeof(name), "%s", dest ? dest : "script");
                }
        }
        if (r >= 0)
                r = build_request(opts, ob_run_plan_get(run), key, opts->script ? name : NULL,
                                  &req);
        run = ob_run_destroy(run);
        if (r < 0)
                return err->message[0] ? r : ob_error_set(err, 0, 0, -r, "%s", strerror(-r));
        fds[0] = opts->stdout_fd >= 0 ? opts->stdout_fd : 1;
        fds[1] = opts->stderr_fd >= 0 ? opts->stderr_fd : 2;
        fds[2] = script;
        r = ob_ctl_send(fd, req, fds, opts->script ? 3 : 2);
        f.fd = fd;
        if (r >= 0)
                r = read_answer(&f, &line);
        if (r < 0) {
                verbose(opts, "warm: the pool did not answer (%s): starting cold", strerror(-r));
                return 0;
        }
        ans = cJSON_Parse(line);
        if (cJSON_GetObjectItemCaseSensitive(ans, "cold")) {
                verbose(opts, "warm: %s: starting cold",
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "cold")));
                cJSON_Delete(ans);
                return 0;
        }
        if (!cJSON_GetObjectItemCaseSensitive(ans, "taken")) {
                const char *m =
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "error"));
                r = ob_error_set(err, 0, 0, EIO, "warm run: %s",
                                 m ? m : "a bad answer from the pool");
                cJSON_Delete(ans);
                return r;
        }
        verbose(opts, "warm: took the pooled sandbox %s",
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "taken")));
        cJSON_Delete(ans);
        /* as a cold run: SIGINT, SIGTERM, SIGHUP stop the sandbox (error, 128+N) */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        if (opts->handle_signals && sigprocmask(SIG_BLOCK, &set, &old) == 0)
                f.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        r = follow(opts, &f, ret, err);
        if (opts->handle_signals) {
                struct signalfd_siginfo si;
                while (f.sigfd >= 0 && read(f.sigfd, &si, sizeof(si)) > 0)
                        ; /* handled: do not let them fire now */
                closep(&f.sigfd);
                sigprocmask(SIG_SETMASK, &old, NULL);
        }
        return r;
}

/* ---- start, status, stop ---- */

/* The daemon: its own session, stdio to pool.log, no fd but the notify
 * pipe; double fork so that it is nobody's child (environments/supervisor.c). */
static _Noreturn void become_daemon(const ob_pool_options *o, int notify)
{
        char log[4096];
        sigset_t none;
        int fd;

        (void)setsid();
        if (fork() != 0)
                _exit(0);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        notify = fcntl(notify, F_DUPFD_CLOEXEC, 3);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && fd != 0) {
                dup2(fd, 0);
                close(fd);
        }
        if (ob_pool_path(o->state_dir, OB_POOL_LOG, log, sizeof(log)) >= 0 &&
            (fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
        }
        if (notify < 0 || dup2(notify, 3) < 0)
                _exit(127);
        (void)syscall(SYS_close_range, 4, ~0U, 0);
        if (chdir("/") < 0)
                _exit(127);
        _exit(ob_pool_serve(o, 3));
}

void ob_pool_options_init(ob_pool_options *opts)
{
        *opts = (ob_pool_options){.struct_size = sizeof(*opts), .limits = ob_limits_unset()};
}

int ob_pool_start(const ob_pool_options *opts, int *ret_pid, ob_error *err)
{
        char dir[4096], buf[600];
        size_t len = 0;
        int p[2], status, r;
        pid_t pid;

        *err = (ob_error){0};
        r = ob_error_struct_size(err, "ob_pool_options", opts->struct_size, sizeof(*opts));
        if (r < 0)
                return r;
        if (!opts->caps)
                return ob_error_set(err, 0, 0, EINVAL, "a capability set is needed");
        if (opts->size > OB_POOL_MAX_SIZE)
                return ob_error_set(err, 0, 0, ERANGE, "size %zu: at most %d", opts->size,
                                    OB_POOL_MAX_SIZE);
        r = ob_pool_path(opts->state_dir, NULL, dir, sizeof(dir));
        if (r >= 0)
                r = ob_mkdir_p(dir, 0700);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "%s: %s", dir, strerror(-r));
        if (pipe2(p, O_CLOEXEC) < 0)
                return ob_error_set(err, 0, 0, errno, "pipe: %s", strerror(errno));
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return ob_error_set(err, 0, 0, errno, "fork: %s", strerror(errno));
        }
        if (pid == 0) {
                close(p[0]);
                become_daemon(opts, p[1]);
        }
        close(p[1]);
        (void)waitpid(pid, &status, 0);
        for (;;) {
                struct pollfd f = {.fd = p[0], .events = POLLIN};
                ssize_t n;
                if (poll(&f, 1, START_TIMEOUT_MS) <= 0)
                        break;
                n = read(p[0], buf + len, sizeof(buf) - 1 - len);
                if (n <= 0 || (len += (size_t)n) >= sizeof(buf) - 1)
                        break;
        }
        close(p[0]);
        buf[len] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (strncmp(buf, "ok ", 3) == 0) {
                if (ret_pid)
                        *ret_pid = atoi(buf + 3);
                return 0;
        }
        return ob_error_set(err, 0, 0, strstr(buf, "already running") ? EEXIST : EIO, "pool: %s",
                            buf[0] ? buf : "the daemon died before it listened");
}

static int call(const char *state_dir, const char *op, int *ret_fd, char **ret_line, ob_error *err)
{
        _cleanup_close_ int fd = -1;
        char req[64];
        int r = pool_connect(state_dir, &fd);

        if (r < 0)
                return ob_error_set(err, 0, 0, ENOENT, "no pool is running (%s)", strerror(-r));
        snprintf(req, sizeof(req), "{\"op\":\"%s\"}", op);
        r = ob_ctl_send(fd, req, NULL, 0);
        if (r >= 0 && ret_line)
                r = ob_ctl_recv(fd, true, ret_line, NULL, NULL);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "pool: %s", strerror(-r));
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

int ob_pool_status(const char *state_dir, char **ret_json, ob_error *err)
{
        *err = (ob_error){0};
        return call(state_dir, "status", NULL, ret_json, err);
}

int ob_pool_stop(const char *state_dir, ob_error *err)
{
        _cleanup_close_ int fd = -1;
        char c;
        int r;

        *err = (ob_error){0};
        r = call(state_dir, "stop", &fd, NULL, err);
        if (r < 0)
                return r;
        /* the daemon closes our connection when it exits: all gone */
        struct pollfd f = {.fd = fd, .events = POLLIN};
        r = poll(&f, 1, STOP_TIMEOUT_MS);
        if (r <= 0 || read(fd, &c, 1) != 0)
                return ob_error_set(err, 0, 0, ETIMEDOUT, "pool: the daemon did not stop in %d s",
                                    STOP_TIMEOUT_MS / 1000);
        return 0;
}

void ob_pool_gc(const char *state_dir)
{
        char lockp[4096], sock[4096];
        _cleanup_close_ int fd = -1;

        if (ob_pool_path(state_dir, OB_POOL_LOCK, lockp, sizeof(lockp)) < 0 ||
            ob_pool_path(state_dir, OB_POOL_SOCK, sock, sizeof(sock)) < 0)
                return;
        fd = open(lockp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
                return; /* no pool, or its daemon is alive */
        (void)unlink(sock);
        (void)unlink(lockp);
}
