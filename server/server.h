/* SPDX-License-Identifier: Apache-2.0 */
/* omnibased's internals (docs/server.md). One single-threaded process: a
 * poll loop (loop.c) drives libmicrohttpd in external epoll mode (http.c),
 * every operation runs in a forked worker child (worker.c), the Server-Sent
 * Event streams are fed from the audit log when inotify says it grew
 * (sse.c), routes come from the operation table (routes.c). */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/api.h"
#include "common/error.h"

#define OB_SRV_MAX_BODY        (1024 * 1024) /* a request body */
#define OB_SRV_MAX_RESULT      (64u << 20)   /* a worker's answer */
#define OB_SRV_MAX_WORKERS     64            /* concurrent worker children */
#define OB_SRV_MAX_CONNS       256           /* per listener */
#define OB_SRV_MAX_PER_IP      16            /* TCP connections per client address */
#define OB_SRV_CONN_TIMEOUT_S  30            /* idle time of a non-streaming connection */
#define OB_SRV_BODY_TIMEOUT_MS 60000         /* a whole request body, however it trickles */
#define OB_SRV_KEEPALIVE_MS    15000         /* ": keepalive" on a quiet stream */
#define OB_SRV_SWEEP_MS        60000         /* the server's sweep */
#define OB_SRV_KILL_GRACE_MS   15000         /* SIGTERM to SIGKILL of an orphaned worker */
#define OB_SRV_MAX_TOKENS      256

typedef struct ob_srv_opts {
        const char *socket_path; /* NULL: no Unix socket */
        const char *listen;      /* HOST:PORT, or NULL */
        const char *tls_cert;
        const char *tls_key;
        const char *token_file;
        const char *state_dir; /* resolved */
} ob_srv_opts;

typedef struct ob_srv_token {
        unsigned char hash[32]; /* SHA-256 of the token */
        char owner[OB_ENV_OWNER_MAX + 1];
} ob_srv_token;

struct ob_srv_req;
struct ob_srv_worker;

typedef struct ob_srv_listener {
        struct ob_srv *srv;
        struct MHD_Daemon *daemon;
        int fd;
        bool tcp;
} ob_srv_listener;

typedef struct ob_srv {
        const ob_srv_opts *opts;
        ob_srv_listener unix_l, tcp_l;
        ob_srv_token *tokens;
        size_t n_tokens;
        int sig_fd;
        int ino_fd;
        struct ob_srv_req *reqs;       /* every request in progress */
        struct ob_srv_worker *workers; /* every worker child not yet reaped */
        unsigned n_workers;
        int64_t next_sweep_ms;
        bool sweeping;
        bool stop;
        bool resumed; /* a connection was resumed: run MHD again at once */
} ob_srv;

/* ---- worker.c: one operation in a forked child ---- */

typedef void (*ob_srv_done_fn)(struct ob_srv_worker *w);

typedef struct ob_srv_worker {
        ob_srv *srv;
        pid_t pid;
        int fd; /* the read end of the answer pipe, -1 once read */
        char *buf;
        size_t len, cap;
        bool answered; /* the whole answer is in buf */
        bool reaped;
        bool sweep;
        bool interruptible;     /* SIGTERM'd when its client goes away */
        int status;             /* the answer's HTTP status */
        char *body;             /* the answer's JSON (points into buf) */
        size_t body_len;        /*  */
        int64_t kill_at;        /* > 0: SIGKILL then, it was told to stop */
        struct ob_srv_req *req; /* NULL once the client is gone (or a sweep) */
        struct ob_srv_worker *next;
} ob_srv_worker;

/* What a worker does: op with args as ctx's caller; or (mcp_msg set) one
 * MCP message; or (neither) the sweep. */
typedef struct ob_srv_job {
        const ob_api_op *op;
        const ob_api_ctx *ctx;
        const cJSON *args;
        const char *mcp_msg;
        size_t mcp_len;
        const char *mcp_version; /* the MCP-Protocol-Version header, or NULL */
} ob_srv_job;

/* Forks a worker that does job and writes the HTTP status and its answer
 * to a pipe. -EAGAIN past OB_SRV_MAX_WORKERS. */
int ob_srv_worker_spawn(ob_srv *srv, const ob_srv_job *job, ob_srv_worker **ret);
/* op with args (JSON result or error); op NULL: the sweep. */
int ob_srv_worker_start(ob_srv *srv, const ob_api_op *op, const ob_api_ctx *ctx, const cJSON *args,
                        ob_srv_worker **ret);
/* One MCP message (Streamable HTTP): 200 with the response, 202 without. */
int ob_srv_worker_start_mcp(ob_srv *srv, const ob_api_ctx *ctx, const char *msg, size_t len,
                            const char *version, ob_srv_worker **ret);
/* Reads what the worker's pipe has; true when its answer is complete (or it
 * can give none). */
bool ob_srv_worker_read(ob_srv_worker *w);
/* The request is done with w: freed once reaped. Unanswered (the client is
 * gone) and interruptible (a read or a command), it gets SIGTERM now (as a
 * Ctrl-C'd CLI would) and SIGKILL after a grace; a change of state runs on
 * to its end. */
void ob_srv_worker_release(ob_srv_worker *w);
/* Reaps every ended child, frees workers that are reaped and read. */
void ob_srv_workers_reap(ob_srv *srv);
/* SIGKILLs workers past their grace. */
void ob_srv_workers_tick(ob_srv *srv, int64_t now);

/* ---- http.c: requests ---- */

enum ob_srv_req_state {
        OB_REQ_BODY,   /* reading the body */
        OB_REQ_WORKER, /* suspended, a worker runs the operation */
        OB_REQ_STREAM, /* an SSE stream */
        OB_REQ_DONE,   /* answered */
};

struct ob_srv_sse;

typedef struct ob_srv_req {
        ob_srv *srv;
        struct MHD_Connection *conn;
        char method[16];
        char url[256]; /* for the log line (cut) */
        int64_t started_ms;
        int conn_fd;
        bool tcp;
        enum ob_srv_req_state state;
        ob_api_ctx ctx;
        bool identified; /* ctx.caller is set */
        const ob_api_op *op;
        const struct ob_srv_static_route *static_route;
        cJSON *path_args; /* path parameters matched by the router */
        char *body;
        size_t body_len;
        bool body_too_big;
        int err_status; /* > 0: answer this error once the body is read */
        cJSON *err_json;
        ob_srv_worker *worker;
        cJSON *gate; /* a stream's gate result (env_logs: its env_id) */
        struct ob_srv_sse *sse;
        bool suspended;
        bool gone; /* the client closed while suspended */
        struct ob_srv_req *prev, *next;
} ob_srv_req;

int ob_srv_listen_unix(ob_srv *srv, const char *path, ob_error *err);
int ob_srv_listen_tcp(ob_srv *srv, const ob_srv_opts *o, ob_error *err);
void ob_srv_close(ob_srv *srv);
/* Suspends / resumes a request's connection (resume also tells the loop to
 * run MHD at once). */
void ob_srv_req_suspend(ob_srv_req *r);
void ob_srv_req_resume(ob_srv_req *r);
/* The worker of a suspended request is done: resume it to answer. */
void ob_srv_req_worker_done(ob_srv_req *r);

/* Queues a JSON response (takes json) with status; MHD_NO on failure. */
enum MHD_Result ob_srv_respond_json(struct MHD_Connection *c, unsigned status, cJSON *json);
/* Queues a dashboard file (static data) with its content type and the
 * headers that keep it from being framed or sniffed. */
enum MHD_Result ob_srv_respond_asset(struct MHD_Connection *c, const void *data, size_t len,
                                     const char *type);
/* Queues {"error": {"code", "message"}} with status. */
enum MHD_Result ob_srv_respond_error(struct MHD_Connection *c, unsigned status, const char *code,
                                     const char *fmt, ...) _printf_(4, 5);
cJSON *ob_srv_error_json(const char *code, const char *fmt, ...) _printf_(2, 3);

/* ---- routes.c ---- */

typedef enum MHD_Result (*ob_srv_static_fn)(ob_srv_req *r);

typedef struct ob_srv_static_route {
        const char *method;
        const char *path;
        ob_srv_static_fn fn;
        bool anonymous; /* no identity needed (/healthz) */
} ob_srv_static_route;

enum {
        OB_ROUTE_FOUND = 0,
        OB_ROUTE_NOT_FOUND = -ENOENT,
        OB_ROUTE_BAD_METHOD = -EMLINK, /* *ret_allow lists the methods */
};
/* Finds the static route or the operation of method and url (path
 * parameters in *ret_path_args, a new object). */
int ob_srv_route(const char *method, const char *url, const ob_srv_static_route **ret_static,
                 const ob_api_op **ret_op, cJSON **ret_path_args, char *ret_allow,
                 size_t allow_size);
/* The operation's arguments: path parameters, then the query string (GET,
 * DELETE: converted to the parameters' types), the JSON body (others) and
 * header parameters. On failure *ret_status and *ret_json say what to
 * answer. skip (may be NULL): query keys the caller consumes itself. */
int ob_srv_build_args(ob_srv_req *r, const char *const *skip, cJSON **ret, unsigned *ret_status,
                      cJSON **ret_json);

/* ---- sse.c ---- */

/* Starts the stream of r's operation (after its gate worker succeeded). */
enum MHD_Result ob_srv_sse_start(ob_srv_req *r);
/* The audit log changed: resume every waiting stream. */
void ob_srv_sse_wake_all(ob_srv *srv);
/* Resumes streams whose keepalive is due; the ms until the next one is due. */
int64_t ob_srv_sse_tick(ob_srv *srv, int64_t now);
/* The request is gone: the stream's response (which owns it) frees it. */
void ob_srv_sse_detach(struct ob_srv_sse *s);

/* ---- tokens.c ---- */

/* Reads "TOKEN OWNER" lines ('#' comments) from path, which must be a
 * regular file of mode 0600 or 0400 (no group or other bits). */
int ob_srv_tokens_load(const char *path, ob_srv_token **ret, size_t *ret_n, ob_error *err);
/* The owner of token (constant time over every token), or NULL. */
const char *ob_srv_token_owner(const ob_srv *srv, const char *token);

/* ---- loop.c ---- */

int ob_srv_run(const ob_srv_opts *o, ob_error *err);
