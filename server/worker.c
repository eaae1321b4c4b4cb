/* SPDX-License-Identifier: Apache-2.0 */
/* Worker children: every operation runs in a child forked from the
 * single-threaded server (clean: no threads, no locks held), so a slow exec
 * or create never stalls another client. The child calls ob_api_call and
 * writes "STATUS LENGTH\n" then the JSON to a pipe, then _exits; the parent
 * reads the pipe from its poll loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fs.h"
#include "environments/env.h"
#include "mcp/mcp.h"
#include "server/server.h"

#ifdef OB_COVERAGE
void __gcov_reset(void);
void __gcov_dump(void);
#endif

/* A --coverage build only: the child counts from zero (its parent's counts
 * are the parent's to write) and writes its counts before _exit. */
static void coverage_reset(void)
{
#ifdef OB_COVERAGE
        __gcov_reset();
#endif
}

_Noreturn static void child_exit(int status)
{
#ifdef OB_COVERAGE
        __gcov_dump();
#endif
        _exit(status);
}

/* The child's answer: status, length, JSON. Best effort: a reader gone is
 * the parent's business. */
static void write_answer(int fd, int status, cJSON *json)
{
        _cleanup_free_ char *text = json ? cJSON_PrintUnformatted(json) : NULL;
        char head[64];
        size_t len = text ? strlen(text) : 0;
        int n = snprintf(head, sizeof(head), "%d %zu\n", text ? status : 500, len);

        if (ob_write_all(fd, head, (size_t)n) >= 0)
                (void)ob_write_all(fd, text, len);
}

/* The child's answer as given text (len 0: no body). */
static void write_raw(int fd, int status, const char *text, size_t len)
{
        char head[64];
        int n = snprintf(head, sizeof(head), "%d %zu\n", status, len);

        if (ob_write_all(fd, head, (size_t)n) >= 0)
                (void)ob_write_all(fd, text, len);
}

/* One MCP message (Streamable HTTP, stateless): a client that sends
 * MCP-Protocol-Version has initialized (it learnt the version from
 * initialize's answer); the answer is the 200 body, or 202 with none for a
 * notification or a response. */
static int run_mcp(int fd, const ob_srv_job *job)
{
        ob_mcp_session s = {0};
        _cleanup_free_ char *resp = NULL;

        if (job->mcp_version) {
                s.initialized = true;
                snprintf(s.protocol_version, sizeof(s.protocol_version), "%s", job->mcp_version);
        }
        if (ob_mcp_handle(&s, job->ctx, job->mcp_msg, job->mcp_len, &resp) < 0) {
                static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of "
                                          "memory\"}}";
                write_raw(fd, 500, oom, sizeof(oom) - 1);
                return 1;
        }
        write_raw(fd, resp ? 200 : 202, resp ? resp : "", resp ? strlen(resp) : 0);
        return 0;
}

static int run_sweep(void)
{
        ob_error err = {0};
        unsigned n = 0;
        int r = ob_env_sweep(NULL, &n, &err);

        if (r < 0)
                fprintf(stderr, "omnibased: sweep: %s\n",
                        err.message[0] ? err.message : strerror(-r));
        return r < 0 ? 1 : 0;
}

/* In the child: signals as a CLI has them, nothing of the server's open
 * but the answer pipe (dup'd to 3), then the call. Never returns. */
_Noreturn static void child(int fd, const ob_srv_job *job)
{
        const ob_api_op *op = job->op;
        sigset_t none;
        cJSON *result = NULL;
        ob_error err = {0};
        int r, null;

        coverage_reset();
        sigemptyset(&none);
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        signal(s, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        if (fd != 3) {
                if (dup2(fd, 3) < 0)
                        child_exit(125);
                fd = 3;
        }
        close_range(4, ~0U, 0);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null >= 0 && null != STDIN_FILENO) {
                dup2(null, STDIN_FILENO); /* the server's stdin is nobody's input */
                close(null);
        }
        if (job->mcp_msg)
                child_exit(run_mcp(fd, job));
        if (!op)
                child_exit(run_sweep());
        r = ob_api_call(job->ctx, op, job->args, &result, &err);
        if (r < 0) {
                cJSON *e = ob_api_error_json(&err);
                write_answer(fd, ob_api_http_status(err.code), e);
                cJSON_Delete(e);
        } else {
                write_answer(fd, op->http_status, result);
                cJSON_Delete(result);
        }
        child_exit(0);
}

/* May a worker of op be stopped when its client goes away? A read, or a
 * command run (an operation with an argv: nobody waits for its output any
 * more, as for a Ctrl-C'd CLI). A change of state (create, delete, reset...)
 * runs to its end instead: half a create or half a delete is worse than
 * one done with nobody to tell. */
static bool interruptible(const ob_api_op *op)
{
        if (op->flags & OB_API_READ)
                return true;
        for (size_t i = 0; i < OB_API_MAX_PARAMS && op->params[i].name; i++)
                if (streq(op->params[i].name, "argv"))
                        return true;
        return false;
}

/* An MCP message may be stopped when its client goes away unless it calls
 * a tool that changes state (the same rule as a REST call's). */
static bool mcp_interruptible(const char *msg, size_t len)
{
        cJSON *m = cJSON_ParseWithLength(msg, len);
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");
        const cJSON *name =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "params"), "name");
        const ob_api_op *op = NULL;
        bool yes = true;

        if (cJSON_IsString(method) && streq(method->valuestring, "tools/call") &&
            cJSON_IsString(name))
                op = ob_api_find(name->valuestring);
        if (op)
                yes = interruptible(op);
        cJSON_Delete(m);
        return yes;
}

int ob_srv_worker_start(ob_srv *srv, const ob_api_op *op, const ob_api_ctx *ctx, const cJSON *args,
                        ob_srv_worker **ret)
{
        ob_srv_job job = {.op = op, .ctx = ctx, .args = args};

        return ob_srv_worker_spawn(srv, &job, ret);
}

int ob_srv_worker_start_mcp(ob_srv *srv, const ob_api_ctx *ctx, const char *msg, size_t len,
                            const char *version, ob_srv_worker **ret)
{
        ob_srv_job job = {.ctx = ctx,
                          .mcp_msg = msg ? msg : "",
                          .mcp_len = msg ? len : 0,
                          .mcp_version = version};

        return ob_srv_worker_spawn(srv, &job, ret);
}

int ob_srv_worker_spawn(ob_srv *srv, const ob_srv_job *job, ob_srv_worker **ret)
{
        const ob_api_op *op = job->op;
        _cleanup_close_ int rd = -1, wr = -1;
        int p[2];
        ob_srv_worker *w;
        pid_t pid;

        if (srv->n_workers >= OB_SRV_MAX_WORKERS)
                return -EAGAIN;
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        rd = p[0];
        wr = p[1];
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                free(w);
                return negative_errno();
        }
        if (pid == 0) {
                /* The read end must not stay open here: close_range does it. */
                child(wr, job);
        }
        if (fcntl(rd, F_SETFL, O_NONBLOCK) < 0) {
                /* unreachable on a pipe; the worker runs on regardless */
        }
        w->srv = srv;
        w->pid = pid;
        w->interruptible =
            job->mcp_msg ? mcp_interruptible(job->mcp_msg, job->mcp_len) : op && interruptible(op);
        w->fd = TAKE_FD(rd);
        w->next = srv->workers;
        srv->workers = w;
        srv->n_workers++;
        *ret = w;
        return 0;
}

/* Parses "STATUS LENGTH\n" once it is in; true when the whole body is. */
static bool answer_complete(ob_srv_worker *w)
{
        char *nl = memchr(w->buf, '\n', w->len);
        unsigned long status;
        unsigned long long len;
        char *end;

        if (!nl)
                return false;
        status = strtoul(w->buf, &end, 10);
        if (end == w->buf || *end != ' ')
                return false;
        len = strtoull(end + 1, &end, 10);
        if (end != nl)
                return false;
        if ((size_t)(w->len - (size_t)(nl + 1 - w->buf)) < len)
                return false;
        w->status = (int)status;
        w->body = nl + 1;
        w->body_len = (size_t)len;
        w->body[len] = '\0';
        return true;
}

bool ob_srv_worker_read(ob_srv_worker *w)
{
        while (w->fd >= 0 && !w->answered) {
                ssize_t n;

                if (w->cap - w->len < 65536) {
                        size_t cap = w->cap ? w->cap * 2 : 131072;
                        char *b;
                        if (cap > OB_SRV_MAX_RESULT + 4096)
                                break;
                        b = realloc(w->buf, cap);
                        if (!b)
                                break;
                        w->buf = b;
                        w->cap = cap;
                }
                n = read(w->fd, w->buf + w->len, w->cap - w->len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return false;
                if (n <= 0)
                        break;
                w->len += (size_t)n;
                w->buf[w->len] = '\0';
                w->answered = answer_complete(w);
        }
        /* Answered, at EOF, or over the bound: nothing more to read. */
        closep(&w->fd);
        if (!w->answered) {
                w->status = 0; /* no answer: the caller says 500 */
                w->body = NULL;
        }
        return true;
}

static void worker_unlink_free(ob_srv *srv, ob_srv_worker *w)
{
        for (ob_srv_worker **p = &srv->workers; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        closep(&w->fd);
        free(w->buf);
        free(w);
}

void ob_srv_worker_release(ob_srv_worker *w)
{
        w->req = NULL;
        closep(&w->fd);
        if (w->reaped) {
                worker_unlink_free(w->srv, w);
                return;
        }
        if (!w->answered && w->interruptible) {
                kill(w->pid, SIGTERM);
                w->kill_at = ob_mono_ms() + OB_SRV_KILL_GRACE_MS;
        }
}

void ob_srv_workers_reap(ob_srv *srv)
{
        for (;;) {
                int st;
                pid_t pid = waitpid(-1, &st, WNOHANG);
                if (pid <= 0)
                        break;
                for (ob_srv_worker *w = srv->workers; w; w = w->next)
                        if (w->pid == pid && !w->reaped) {
                                w->reaped = true;
                                srv->n_workers--;
                                if (w->sweep)
                                        srv->sweeping = false;
                                if (!w->req)
                                        closep(&w->fd); /* nobody waits for it */
                                if (w->req && w->fd >= 0 && ob_srv_worker_read(w))
                                        ob_srv_req_worker_done(w->req);
                                break;
                        }
        }
        for (ob_srv_worker *w = srv->workers, *next; w; w = next) {
                next = w->next;
                if (w->reaped && !w->req)
                        worker_unlink_free(srv, w);
        }
}

void ob_srv_workers_tick(ob_srv *srv, int64_t now)
{
        for (ob_srv_worker *w = srv->workers; w; w = w->next)
                if (w->kill_at > 0 && now >= w->kill_at && !w->reaped) {
                        kill(w->pid, SIGKILL);
                        w->kill_at = 0;
                }
}
