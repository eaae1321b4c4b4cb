/* SPDX-License-Identifier: Apache-2.0 */
/* The warm pool's daemon (docs/runner.md §10): keeps `size` runs booted by
 * the runner's own steps (ob_run_new_warm → create → start: mounts,
 * cgroups, network, the sidecar as PID 1 waiting on its channel), hands
 * each to one request, then destroys it and boots a replacement. One poll
 * loop, no threads: the listening socket, a signalfd, and each run's fds. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "environments/env.h"
#include "runner/pool.h"

#define BOOT_BACKOFF_MS 1000
#define SLOT_POLLFDS    (OB_LAUNCH_POLLFDS + 1) /* the run's, and its caller's connection */
#define MAX_POLLFDS     (2 + OB_POOL_MAX_SIZE * SLOT_POLLFDS)
#define MAX_REAPERS     64 /* runs being destroyed by children at once; more: in line */

typedef struct pool pool;

typedef struct slot {
        pool *p;
        ob_sandbox_options opts; /* the pool's, with this slot's event callback */
        ob_run *run;
        bool busy;  /* taken by a request */
        int client; /* the taker's connection, -1 */
        int fds[3]; /* its stdout, stderr, script: -1 when not given */
        int64_t t_request;
} slot;

struct pool {
        const ob_pool_options *o;
        const char *state_dir;
        char *key;
        char key_hash[65];
        const char *profile;
        size_t size;
        slot slots[OB_POOL_MAX_SIZE];
        int listen_fd, sig_fd;
        int64_t taken, cold_refusals, boot_failures, booted;
        int64_t backoff_until;
        bool stopping;
        int stop_client;            /* answered when everything is gone */
        pid_t reapers[MAX_REAPERS]; /* children destroying used runs */
        size_t n_reapers;
        int notify_fd; /* `pool start` waits: "ok PID" once one sandbox is ready, or why not */
        char start_error[600]; /* an ob_error message fits */
};

__attribute__((format(printf, 2, 3))) static void notify(int fd, const char *fmt, ...);

/* Before the first sandbox was ever ready, a failure ends the daemon: the
 * starter prints it (one line, exit 125) instead of a pool that cannot boot. */
static void fail_start(pool *p, const char *why)
{
        if (p->notify_fd < 0)
                return;
        snprintf(p->start_error, sizeof(p->start_error), "%s", why);
        p->stopping = true; /* answered once all is removed (ob_pool_serve) */
}

static void close_fds(slot *s)
{
        for (int i = 0; i < 3; i++)
                closep(&s->fds[i]);
        closep(&s->client);
}

static void slot_event(const char *line, void *userdata)
{
        slot *s = userdata;

        if (s->client >= 0 && ob_ctl_send(s->client, line, NULL, 0) < 0)
                closep(&s->client); /* the caller went away: the run goes on, recorded */
}

__attribute__((format(printf, 1, 2))) static void plog(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        fflush(stderr);
}

/* A new booting run in slot s; on failure a line in the log and a pause. */
static void boot(pool *p, slot *s)
{
        ob_error err = {0};
        int r;

        s->opts = (ob_sandbox_options){0};
        ob_sandbox_options_init(&s->opts);
        s->opts.caps = p->o->caps;
        s->opts.profile = p->profile;
        s->opts.limits = p->o->limits;
        s->opts.state_dir = p->state_dir;
        s->opts.runsc = p->o->runsc;
        s->opts.on_event = slot_event;
        s->opts.userdata = s;
        r = ob_run_new_warm(&s->opts, &s->run, &err);
        if (r >= 0)
                r = ob_run_create(s->run, &err);
        if (r >= 0)
                r = ob_run_start(s->run, &err);
        if (r < 0) {
                plog("omnibase-pool: booting a sandbox: %s", err.message);
                fail_start(p, err.message);
                s->run = ob_run_destroy(s->run);
                p->boot_failures++;
                p->backoff_until = ob_mono_ms() + BOOT_BACKOFF_MS;
                return;
        }
        p->booted++;
}

static void refill(pool *p)
{
        for (size_t i = 0; i < p->size && !p->stopping; i++)
                if (!p->slots[i].run && ob_mono_ms() >= p->backoff_until)
                        boot(p, &p->slots[i]);
}

/* A used run is destroyed by a child of ours (runsc kill and delete, cgroups,
 * network, directory: ~2 s here), so that the next request is not held
 * behind it; the child holds no fd of a caller or of the listening socket. */
static void destroy_async(pool *p, slot *s)
{
        pid_t pid = p->n_reapers < MAX_REAPERS ? fork() : -1;

        if (pid == 0) {
                closep(&p->listen_fd);
                closep(&p->sig_fd);
                closep(&p->stop_client);
                for (size_t i = 0; i < p->size; i++)
                        close_fds(&p->slots[i]);
                ob_run_destroy(s->run);
                _exit(0);
        }
        if (pid < 0) {
                s->run = ob_run_destroy(s->run);
                return;
        }
        p->reapers[p->n_reapers++] = pid;
        s->run = ob_run_forget(s->run);
}

static void reap(pool *p, bool wait)
{
        for (size_t i = 0; i < p->n_reapers;) {
                if (waitpid(p->reapers[i], NULL, wait ? 0 : WNOHANG) == 0) {
                        i++;
                        continue;
                }
                p->reapers[i] = p->reapers[--p->n_reapers];
        }
}

/* A run ended: a taken one answers its caller; every one is destroyed
 * (never reused) and its slot booted again by refill(). */
static void finish(pool *p, slot *s)
{
        ob_sandbox_result res = {0};
        ob_error err = {0};
        int r = ob_run_finish(s->run, &err);

        if (s->busy && s->client >= 0) {
                _cleanup_free_ char *line = NULL;
                if (r >= 0) {
                        ob_run_take_result(s->run, &res);
                        res.warm = true;
                        r = ob_pool_result_encode(&res, &line);
                        ob_sandbox_result_done(&res);
                        if (r >= 0)
                                (void)ob_ctl_send(s->client, line, NULL, 0);
                } else {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "error", err.message);
                        line = cJSON_PrintUnformatted(o);
                        cJSON_Delete(o);
                        if (line)
                                (void)ob_ctl_send(s->client, line, NULL, 0);
                }
        } else if (!s->busy) {
                plog("omnibase-pool: a booted sandbox ended before its request%s%s",
                     err.message[0] ? ": " : "", err.message);
                fail_start(p, err.message[0] ? err.message
                                             : "a booted sandbox ended before its request "
                                               "(see pool.log and the run's runsc.log)");
                p->backoff_until = ob_mono_ms() + BOOT_BACKOFF_MS;
                p->boot_failures++;
        }
        close_fds(s);
        s->busy = false;
        destroy_async(p, s);
}

static void reply(int fd, const char *key, const char *value)
{
        cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *line = NULL;

        if (o && cJSON_AddStringToObject(o, key, value))
                line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (line)
                (void)ob_ctl_send(fd, line, NULL, 0);
}

static void status(pool *p, int fd)
{
        cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *line = NULL;
        int64_t ready = 0, booting = 0, busy = 0;

        for (size_t i = 0; i < p->size; i++) {
                const slot *s = &p->slots[i];
                if (!s->run)
                        continue;
                if (s->busy)
                        busy++;
                else if (ob_run_warm_ready(s->run))
                        ready++;
                else
                        booting++;
        }
        cJSON_AddNumberToObject(o, "pid", getpid());
        cJSON_AddNumberToObject(o, "size", (double)p->size);
        cJSON_AddNumberToObject(o, "ready", (double)ready);
        cJSON_AddNumberToObject(o, "booting", (double)booting);
        cJSON_AddNumberToObject(o, "busy", (double)busy);
        cJSON_AddNumberToObject(o, "destroying", (double)p->n_reapers);
        cJSON_AddNumberToObject(o, "taken", (double)p->taken);
        cJSON_AddNumberToObject(o, "cold_refusals", (double)p->cold_refusals);
        cJSON_AddNumberToObject(o, "booted", (double)p->booted);
        cJSON_AddNumberToObject(o, "boot_failures", (double)p->boot_failures);
        cJSON_AddStringToObject(o, "profile", p->profile);
        cJSON_AddStringToObject(o, "key_sha256", p->key_hash);
        line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (line)
                (void)ob_ctl_send(fd, line, NULL, 0);
}

/* {"argv": [...]} into a NULL-terminated vector of borrowed strings. */
static const char **request_argv(const cJSON *req)
{
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, "argv"), *v;
        const char **argv;
        size_t n = 0;

        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 ||
            cJSON_GetArraySize(a) > OB_SANDBOX_MAX_ARGS)
                return NULL;
        argv = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *));
        cJSON_ArrayForEach (v, a) {
                if (!argv || !cJSON_IsString(v)) {
                        free(argv);
                        return NULL;
                }
                argv[n++] = v->valuestring;
        }
        return argv;
}

static slot *ready_slot(pool *p)
{
        for (size_t i = 0; i < p->size; i++)
                if (p->slots[i].run && !p->slots[i].busy && ob_run_warm_ready(p->slots[i].run))
                        return &p->slots[i];
        return NULL;
}

/* A warm run: the key must be the pool's exactly; then one ready sandbox
 * takes it (its fds: stdout, stderr and, for a script, the script). */
static void take(pool *p, int fd, const cJSON *req, int fds[3], size_t n_fds)
{
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "key"));
        const char *script = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "script"));
        const char *audit =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "audit_log"));
        _cleanup_free_ const char **argv = request_argv(req);
        ob_error err = {0};
        slot *s;

        if (!key || !argv || n_fds != (script ? 3u : 2u)) {
                reply(fd, "error", "a bad request");
                goto refuse;
        }
        if (!streq(key, p->key)) {
                p->cold_refusals++;
                reply(fd, "cold", "the profile, capability set or limits differ from the pool's");
                goto refuse;
        }
        s = ready_slot(p);
        if (!s) {
                p->cold_refusals++;
                reply(fd, "cold", "no pooled sandbox is ready");
                goto refuse;
        }
        ob_warm_request wr = {
            .argv = argv,
            .script_fd = script ? fds[2] : -1,
            .script_name = script,
            .audit_log = audit,
            .owner = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "owner")),
            .capture = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "capture")),
            .stdout_fd = fds[0],
            .stderr_fd = fds[1]};
        s->busy = true;
        s->client = fd;
        memcpy(s->fds, fds, sizeof(s->fds));
        s->t_request = ob_mono_ms();
        p->taken++;
        reply(fd, "taken", ob_run_id(s->run));
        if (ob_run_warm_request(s->run, &wr, &err) < 0) {
                /* the run is never used again: ended (status error, when
                 * its SandboxStart was written) and destroyed here */
                plog("omnibase-pool: a request failed: %s", err.message);
                ob_run_destroy(TAKE_PTR(s->run)); /* logs its SandboxExit if it started */
                reply(fd, "error", err.message);
                close_fds(s);
                s->busy = false;
        }
        return;
refuse:
        for (size_t i = 0; i < n_fds; i++)
                close(fds[i]);
        close(fd);
}

static void handle_client(pool *p, int fd)
{
        _cleanup_free_ char *line = NULL;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int fds[3] = {-1, -1, -1};
        size_t n_fds = 0;
        cJSON *req;
        const char *op;

        /* root only, whatever the socket's mode says */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0 ||
            ob_ctl_recv(fd, true, &line, fds, &n_fds) < 0) {
                close(fd);
                return;
        }
        req = cJSON_Parse(line);
        op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "op"));
        if (op && streq(op, "run")) {
                take(p, fd, req, fds, n_fds);
                cJSON_Delete(req);
                return;
        }
        for (size_t i = 0; i < n_fds; i++)
                close(fds[i]);
        if (op && streq(op, "status"))
                status(p, fd);
        else if (op && streq(op, "stop") && p->stop_client < 0) {
                p->stopping = true;
                p->stop_client = fd; /* answered by our exit: the caller sees EOF */
                fd = -1;
        } else
                reply(fd, "error", "unknown request");
        cJSON_Delete(req);
        if (fd >= 0)
                close(fd);
}

/* The caller of a taken run: {"op":"interrupt","signal":N} when it got a
 * signal, EOF when it died; either stops the run as a cold run's would. */
static void caller_step(slot *s)
{
        _cleanup_free_ char *line = NULL;
        cJSON *o;
        int sig = SIGKILL;

        if (ob_ctl_recv(s->client, true, &line, NULL, NULL) >= 0) {
                o = cJSON_Parse(line);
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "signal");
                if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 64)
                        sig = (int)v->valuedouble;
                cJSON_Delete(o);
        } else
                closep(&s->client); /* gone: nobody to answer */
        ob_run_interrupt(s->run, sig);
}

static void accept_all(pool *p)
{
        for (;;) {
                int c = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        return;
                handle_client(p, c);
        }
}

static int loop(pool *p)
{
        struct pollfd fds[MAX_POLLFDS];

        while (!p->stopping) {
                int timeout = 1000, t;
                size_t n = 2;
                refill(p);
                fds[0] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
                fds[1] = (struct pollfd){.fd = p->sig_fd, .events = POLLIN};
                for (size_t i = 0; i < p->size; i++, n += SLOT_POLLFDS) {
                        const slot *s = &p->slots[i];
                        for (size_t k = 0; k < OB_LAUNCH_POLLFDS; k++)
                                fds[n + k] = (struct pollfd){.fd = -1};
                        if (s->run && ob_run_pollfds(s->run, fds + n, &t) > 0 && t < timeout)
                                timeout = t;
                        fds[n + OB_LAUNCH_POLLFDS] = (struct pollfd){
                            .fd = s->busy && s->run ? s->client : -1, .events = POLLIN};
                }
                if (p->n_reapers && timeout > 100)
                        timeout = 100;
                if (poll(fds, n, timeout) < 0 && errno != EINTR)
                        return 1;
                reap(p, false);
                if (fds[1].revents) {
                        struct signalfd_siginfo si;
                        if (read(p->sig_fd, &si, sizeof(si)) == sizeof(si))
                                p->stopping = true;
                }
                for (size_t i = 0, k = 2; i < p->size; i++, k += SLOT_POLLFDS) {
                        slot *s = &p->slots[i];
                        if (s->run && s->busy && s->client >= 0 &&
                            fds[k + OB_LAUNCH_POLLFDS].fd == s->client &&
                            fds[k + OB_LAUNCH_POLLFDS].revents)
                                caller_step(s);
                        if (s->run && !ob_run_step(s->run, fds + k))
                                finish(p, s);
                }
                if (fds[0].revents)
                        accept_all(p);
                if (p->notify_fd >= 0 && ready_slot(p)) {
                        notify(p->notify_fd, "ok %d\n", (int)getpid());
                        p->notify_fd = -1;
                }
        }
        return 0;
}

__attribute__((format(printf, 2, 3))) static void notify(int fd, const char *fmt, ...)
{
        va_list ap;

        if (fd >= 0) {
                va_start(ap, fmt);
                vdprintf(fd, fmt, ap);
                va_end(ap);
                close(fd);
        }
}

/* Everything the pool holds: each run stopped and removed (a taken one is
 * ended in its audit log as destroyed), the socket. */
static void teardown(pool *p, const char *sock)
{
        for (size_t i = 0; i < p->size; i++) {
                slot *s = &p->slots[i];
                s->run = ob_run_destroy(s->run);
                close_fds(s);
        }
        reap(p, true);
        (void)unlink(sock);
        closep(&p->listen_fd);
}

int ob_pool_serve(const ob_pool_options *o, int notify_fd)
{
        pool p = {.o = o,
                  .state_dir = o->state_dir ? o->state_dir : ob_state_dir_default(),
                  .profile = o->profile ? o->profile : "python-minimal",
                  .size = o->size ? o->size : 2,
                  .listen_fd = -1,
                  .stop_client = -1,
                  .notify_fd = -1};
        char sock[4096], lockp[4096];
        ob_sandbox_options plan_opts;
        ob_run *probe = NULL;
        ob_error err = {0};
        _cleanup_close_ int lock = -1;
        sigset_t set;
        int r;

        for (size_t i = 0; i < OB_POOL_MAX_SIZE; i++)
                p.slots[i] = (slot){.p = &p, .client = -1, .fds = {-1, -1, -1}};
        ob_sandbox_options_init(&plan_opts);
        plan_opts.caps = o->caps;
        plan_opts.profile = p.profile;
        plan_opts.limits = o->limits;
        /* the key: of the plan every pooled run has (pure: nothing is made) */
        r = ob_run_new_warm(&plan_opts, &probe, &err);
        if (r >= 0)
                r = ob_pool_key(ob_run_plan_get(probe), o->caps, &p.key);
        probe = ob_run_destroy(probe);
        if (r < 0) {
                notify(notify_fd, "%s\n", err.message[0] ? err.message : strerror(-r));
                return 125;
        }
        (void)ob_pool_key_hash(p.key, p.key_hash);
        if (ob_pool_path(p.state_dir, OB_POOL_SOCK, sock, sizeof(sock)) < 0 ||
            ob_pool_path(p.state_dir, OB_POOL_LOCK, lockp, sizeof(lockp)) < 0) {
                notify(notify_fd, "%s\n", "state directory path too long");
                return 125;
        }
        lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
                notify(notify_fd, "%s\n",
                       lock >= 0 ? "a pool is already running for this state directory"
                                 : strerror(errno));
                return 125;
        }
        r = ob_ctl_listen(sock, &p.listen_fd);
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        p.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (r < 0 || p.sig_fd < 0) {
                notify(notify_fd, "listening: %s\n", strerror(r < 0 ? -r : errno));
                teardown(&p, sock);
                return 125;
        }
        p.notify_fd = notify_fd; /* answered by the loop */
        r = loop(&p);
        teardown(&p, sock);
        free(p.key);
        close(p.sig_fd);
        /* the lock goes with us; the stopper sees EOF once all is gone */
        (void)unlink(lockp);
        closep(&p.stop_client);
        if (p.notify_fd >= 0) { /* stopped before any sandbox was ready, all removed */
                notify(p.notify_fd, "%s\n",
                       p.start_error[0] ? p.start_error : "stopped before a sandbox was ready");
                return 125;
        }
        return r;
}
