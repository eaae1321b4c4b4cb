/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP side: the listeners (a Unix socket; TCP only with TLS and bearer
 * tokens), libmicrohttpd in external epoll mode (no threads of its own),
 * and one request's way through: identity, route, body (at most 1 MiB),
 * arguments, a worker child, the answer. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fs.h"
#include "server/server.h"

cJSON *ob_srv_error_json(const char *code, const char *fmt, ...)
{
        ob_error err = {.code = code};
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err.message, sizeof(err.message), fmt, ap);
        va_end(ap);
        return ob_api_error_json(&err);
}

/* A response of text (copied) with a content type. */
static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text,
                                    size_t len, const char *type, const char *allow)
{
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        if (allow)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        if (status == 401)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result ob_srv_respond_asset(struct MHD_Connection *c, const void *data, size_t len,
                                     const char *type)
{
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                                "form-action 'self'");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result ob_srv_respond_json(struct MHD_Connection *c, unsigned status, cJSON *json)
{
        _cleanup_free_ char *text = json ? cJSON_PrintUnformatted(json) : NULL;

        cJSON_Delete(json);
        if (!text)
                return MHD_NO;
        return respond_text(c, status, text, strlen(text), "application/json", NULL);
}

enum MHD_Result ob_srv_respond_error(struct MHD_Connection *c, unsigned status, const char *code,
                                     const char *fmt, ...)
{
        ob_error err = {.code = code};
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err.message, sizeof(err.message), fmt, ap);
        va_end(ap);
        return ob_srv_respond_json(c, status, ob_api_error_json(&err));
}

void ob_srv_req_suspend(ob_srv_req *r)
{
        if (r->suspended)
                return;
        MHD_suspend_connection(r->conn);
        r->suspended = true;
}

void ob_srv_req_resume(ob_srv_req *r)
{
        if (!r->suspended)
                return;
        r->suspended = false;
        MHD_resume_connection(r->conn);
        r->srv->resumed = true;
}

void ob_srv_req_worker_done(ob_srv_req *r)
{
        ob_srv_req_resume(r);
}

/* ---- identity ---- */

static int identify_unix(ob_srv_req *r, unsigned *ret_status, cJSON **ret_json)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);
        ob_error err = {0};

        if (getsockopt(r->conn_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                *ret_status = 500;
                *ret_json = ob_srv_error_json("internal", "SO_PEERCRED: %m");
                return -errno;
        }
        if (ob_api_caller_from_uid(cred.uid, &r->ctx.caller, &err) < 0) {
                *ret_status = (unsigned)ob_api_http_status(err.code);
                *ret_json = ob_api_error_json(&err);
                return -EPERM;
        }
        return 0;
}

static int identify_tcp(ob_srv_req *r, unsigned *ret_status, cJSON **ret_json)
{
        const char *auth =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *owner;
        ob_error err = {0};

        *ret_status = 401;
        if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
                *ret_json = ob_srv_error_json("unauthorized", "an Authorization: Bearer token "
                                                              "is required");
                return -EPERM;
        }
        owner = ob_srv_token_owner(r->srv, auth + 7);
        if (!owner) {
                *ret_json = ob_srv_error_json("unauthorized", "the bearer token is not known");
                return -EPERM;
        }
        if (ob_api_caller_from_name(owner, &r->ctx.caller, &err) < 0) {
                *ret_status = (unsigned)ob_api_http_status(err.code);
                *ret_json = ob_api_error_json(&err);
                return -EPERM;
        }
        return 0;
}

/* ---- a request's way ---- */

/* Who is asking. The anonymous routes answer anyone, but a token given
 * there is checked all the same (the dashboard signs in with /healthz). */
static int identify(ob_srv_req *r, unsigned *ret_status, cJSON **ret_json)
{
        bool token = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
        cJSON *json = NULL;
        int res;

        if (r->static_route && r->static_route->anonymous && r->tcp && !token)
                return 0;
        res = r->tcp ? identify_tcp(r, ret_status, &json) : identify_unix(r, ret_status, &json);
        if (res < 0 && r->static_route && r->static_route->anonymous && !r->tcp) {
                cJSON_Delete(json); /* a uid without a name may still ask /healthz */
                return 0;
        }
        if (res < 0) {
                *ret_json = json;
                return res;
        }
        r->identified = true;
        return 0;
}

static enum MHD_Result answer(ob_srv_req *r, unsigned status, cJSON *json)
{
        r->state = OB_REQ_DONE;
        return ob_srv_respond_json(r->conn, status, json);
}

static enum MHD_Result request_begin(ob_srv_listener *l, struct MHD_Connection *c, const char *url,
                                     const char *method, void **con_cls)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        ob_srv_req *r = calloc(1, sizeof(*r));
        const char *clen;
        char allow[128];
        unsigned status = 0;
        cJSON *json = NULL;
        int res;

        if (!r)
                return MHD_NO;
        r->srv = l->srv;
        r->conn = c;
        r->started_ms = ob_mono_ms();
        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->url, sizeof(r->url), "%s", url);
        r->conn_fd = ci ? ci->connect_fd : -1;
        r->tcp = l->tcp;
        r->ctx.state_dir = l->srv->opts->state_dir;
        r->state = OB_REQ_BODY;
        r->next = l->srv->reqs;
        if (r->next)
                r->next->prev = r;
        l->srv->reqs = r;
        *con_cls = r;

        res = ob_srv_route(method, url, &r->static_route, &r->op, &r->path_args, allow,
                           sizeof(allow));
        if (res == OB_ROUTE_NOT_FOUND)
                return answer(r, 404,
                              ob_srv_error_json("not_found", "no route %s %s", method, url));
        if (res == OB_ROUTE_BAD_METHOD) {
                r->state = OB_REQ_DONE;
                json = ob_srv_error_json("method_not_allowed", "%s %s: the route takes %s", method,
                                         url, allow);
                _cleanup_free_ char *text = cJSON_PrintUnformatted(json);
                cJSON_Delete(json);
                return text ? respond_text(c, 405, text, strlen(text), "application/json", allow)
                            : MHD_NO;
        }
        if (res < 0)
                return MHD_NO;
        if (identify(r, &status, &json) < 0)
                return answer(r, status, json);
        clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (clen && strtoull(clen, NULL, 10) > OB_SRV_MAX_BODY)
                return answer(
                    r, 413,
                    ob_srv_error_json("too_large", "the body is over %d bytes", OB_SRV_MAX_BODY));
        return MHD_YES;
}

static enum MHD_Result body_append(ob_srv_req *r, const char *data, size_t *size)
{
        if (!r->body_too_big && r->body_len + *size > OB_SRV_MAX_BODY) {
                r->body_too_big = true;
                free(r->body);
                r->body = NULL;
                r->body_len = 0;
        }
        if (!r->body_too_big) {
                char *b = realloc(r->body, r->body_len + *size + 1);
                if (!b)
                        return MHD_NO;
                memcpy(b + r->body_len, data, *size);
                r->body = b;
                r->body_len += *size;
                b[r->body_len] = '\0';
        }
        *size = 0;
        return MHD_YES;
}

/* Query keys a stream reads itself when its operation does not declare
 * them. */
static void stream_skip(const ob_api_op *op, const char **skip)
{
        static const char *const own[] = {"type", "env"};
        size_t n = 0;

        for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
                bool declared = false;
                for (size_t k = 0; k < OB_API_MAX_PARAMS && op->params[k].name; k++)
                        declared |= streq(op->params[k].name, own[i]);
                if (!declared)
                        skip[n++] = own[i];
        }
        skip[n] = NULL;
}

/* The whole body is in: run the operation in a worker (a stream's too, as
 * the gate that checks arguments and access before the stream starts). */
static enum MHD_Result request_ready(ob_srv_req *r)
{
        const char *skip[3] = {NULL};
        cJSON *args = NULL, *json = NULL;
        unsigned status = 0;
        int res;

        if (r->body_too_big)
                return answer(
                    r, 413,
                    ob_srv_error_json("too_large", "the body is over %d bytes", OB_SRV_MAX_BODY));
        if (r->static_route) {
                r->state = OB_REQ_DONE;
                return r->static_route->fn(r);
        }
        if (r->op->flags & OB_API_STREAM)
                stream_skip(r->op, skip);
        if (ob_srv_build_args(r, skip, &args, &status, &json) < 0)
                return json ? answer(r, status, json) : MHD_NO;
        res = ob_srv_worker_start(r->srv, r->op, &r->ctx, args, &r->worker);
        cJSON_Delete(args);
        if (res == -EAGAIN)
                return answer(r, 503,
                              ob_srv_error_json("busy",
                                                "%d operations are running: "
                                                "try again",
                                                OB_SRV_MAX_WORKERS));
        if (res < 0)
                return answer(r, 500, ob_srv_error_json("internal", "fork: %s", strerror(-res)));
        r->worker->req = r;
        r->state = OB_REQ_WORKER;
        ob_srv_req_suspend(r);
        return MHD_YES;
}

/* The worker answered (or died): pass its answer on, or start the stream
 * its success opens. */
static enum MHD_Result request_answer(ob_srv_req *r)
{
        ob_srv_worker *w = r->worker;
        enum MHD_Result ret;

        if (w->status == 0) {
                ret = answer(r, 500,
                             ob_srv_error_json("internal", "the operation's worker "
                                                           "ended without an answer"));
        } else if (r->op && (r->op->flags & OB_API_STREAM) && w->status < 300) {
                cJSON *gate = cJSON_ParseWithLength(w->body, w->body_len);
                r->gate = gate;
                r->state = OB_REQ_STREAM;
                ret = ob_srv_sse_start(r);
        } else {
                r->state = OB_REQ_DONE;
                ret = respond_text(r->conn, (unsigned)w->status, w->body, w->body_len,
                                   "application/json", NULL);
        }
        r->worker = NULL;
        ob_srv_worker_release(w);
        return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
        ob_srv_req *r = *con_cls;

        if (!r)
                return request_begin(cls, c, url, method, con_cls);
        if (r->gone)
                return MHD_NO;
        switch (r->state) {
        case OB_REQ_BODY:
                if (ob_mono_ms() - r->started_ms > OB_SRV_BODY_TIMEOUT_MS)
                        return MHD_NO; /* a body trickled in: the connection is closed */
                if (*upload_data_size)
                        return body_append(r, upload_data, upload_data_size);
                return request_ready(r);
        case OB_REQ_WORKER:
                if (r->worker && (r->worker->answered || r->worker->fd < 0))
                        return request_answer(r);
                ob_srv_req_suspend(r); /* not yet: back to sleep */
                return MHD_YES;
        case OB_REQ_STREAM:
        case OB_REQ_DONE:
        default:
                *upload_data_size = 0; /* a body after the answer: dropped */
                return MHD_YES;
        }
}

/* One line per request on stderr (the journal): what, who, how it ended. */
static void log_request(const ob_srv_req *r, struct MHD_Connection *c,
                        enum MHD_RequestTerminationCode toe)
{
        const union MHD_ConnectionInfo *i =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
        unsigned status = i ? i->http_status : 0;

        fprintf(stderr, "omnibased: %s %s %u %s%s%s (%s%s, %" PRId64 " ms)\n", r->method, r->url,
                status, r->ctx.caller.name[0] ? r->ctx.caller.name : "-",
                r->ctx.caller.name[0] ? "/" : "",
                r->ctx.caller.name[0] ? ob_api_role_to_string(r->ctx.caller.role) : "",
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "done" : "closed",
                r->gone ? ", client gone" : "", ob_mono_ms() - r->started_ms);
}

/* The connection is done with the request (answered, or the client gone):
 * its worker is released (SIGTERM when it still runs), its stream ended. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        ob_srv_listener *l = cls;
        ob_srv_req *r = *con_cls;

        if (!r)
                return;
        log_request(r, c, toe);
        if (r->worker)
                ob_srv_worker_release(r->worker);
        if (r->sse)
                ob_srv_sse_detach(r->sse);
        if (r->prev)
                r->prev->next = r->next;
        else
                l->srv->reqs = r->next;
        if (r->next)
                r->next->prev = r->prev;
        cJSON_Delete(r->path_args);
        cJSON_Delete(r->gate);
        free(r->body);
        free(r);
        *con_cls = NULL;
}

/* libmicrohttpd's messages: while a daemon starts, the first one is kept
 * for the one-line error (it says what TLS disliked); later, a line each. */
static bool mhd_starting;
static char mhd_first[512];

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        char line[512];
        size_t n;

        vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '.'))
                line[--n] = '\0';
        if (mhd_starting) {
                if (!mhd_first[0])
                        snprintf(mhd_first, sizeof(mhd_first), "%s", line);
                return;
        }
        fprintf(stderr, "omnibased: %s\n", line);
}

static int start_daemon(ob_srv_listener *l, const char *cert, const char *key, ob_error *err)
{
        unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
        struct MHD_OptionItem opts[16];
        size_t n = 0;

#define OPT(o, v, p) opts[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)}
        OPT(MHD_OPTION_LISTEN_SOCKET, l->fd, NULL);
        OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, l);
        OPT(MHD_OPTION_CONNECTION_TIMEOUT, OB_SRV_CONN_TIMEOUT_S, NULL);
        OPT(MHD_OPTION_CONNECTION_LIMIT, OB_SRV_MAX_CONNS, NULL);
        OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL);
        if (l->tcp) {
                OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, OB_SRV_MAX_PER_IP, NULL);
                OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert);
                OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key);
                flags |= MHD_USE_TLS;
        }
        OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
        mhd_starting = true;
        mhd_first[0] = '\0';
        /* The logger first: it governs the messages of the options after it. */
        l->daemon =
            MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER,
                             mhd_log, NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
        mhd_starting = false;
        if (!l->daemon)
                return ob_error_set(err, 0, 0, EIO, "libmicrohttpd did not start%s%s",
                                    mhd_first[0] ? ": " : "", mhd_first);
        l->fd = -1; /* MHD's now */
        return 0;
}

/* Does a server answer on the socket at sa (a stale one from a killed
 * server does not: it is replaced)? */
static bool socket_live(const struct sockaddr_un *sa)
{
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        return fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
}

int ob_srv_listen_unix(ob_srv *srv, const char *path, ob_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *dir = strdup(path);
        struct group *g;
        char *slash;

        if (!dir)
                return -ENOMEM;
        if (strlen(path) >= sizeof(sa.sun_path))
                return ob_error_set(err, 0, 0, ENAMETOOLONG, "--socket %s: the path is too long",
                                    path);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                struct stat st;
                bool made;
                int r;
                *slash = '\0';
                made = stat(dir, &st) < 0;
                r = ob_mkdir_p(dir, 0755);
                if (r < 0)
                        return ob_error_set(err, 0, 0, -r, "--socket: cannot make %s: %s", dir,
                                            strerror(-r));
                if (made && chmod(dir, 0755) < 0) /* whatever the umask */
                        return ob_error_set(err, 0, 0, errno, "--socket: chmod %s: %m", dir);
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return ob_error_set(err, 0, 0, errno, "socket: %m");
        if (socket_live(&sa))
                return ob_error_set(err, 0, 0, EADDRINUSE,
                                    "--socket %s: another server is answering on it", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return ob_error_set(err, 0, 0, errno, "--socket %s: cannot remove it: %m", path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return ob_error_set(err, 0, 0, errno, "--socket %s: %m", path);
        g = getgrnam("omnibase");
        if (chmod(path, 0660) < 0 || (g && chown(path, (uid_t)-1, g->gr_gid) < 0) ||
            listen(fd, 128) < 0) {
                int e = errno;
                unlink(path);
                return ob_error_set(err, 0, 0, e, "--socket %s: %s", path, strerror(e));
        }
        srv->unix_l = (ob_srv_listener){.srv = srv, .fd = TAKE_FD(fd), .tcp = false};
        if (start_daemon(&srv->unix_l, NULL, NULL, err) < 0) {
                closep(&srv->unix_l.fd);
                unlink(path);
                return -EIO;
        }
        return 0;
}

static int tcp_socket(const char *listen_spec, int *ret_fd, ob_error *err)
{
        _cleanup_free_ char *host = strdup(listen_spec);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
        struct addrinfo *ai = NULL;
        char *port;
        int fd, one = 1, r;

        if (!host)
                return -ENOMEM;
        port = strrchr(host, ':');
        if (!port || port == host || !port[1])
                return ob_error_set(err, 0, 0, EINVAL, "--listen %s: want HOST:PORT", listen_spec);
        *port++ = '\0';
        if (host[0] == '[' && port[-2] == ']') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = '\0';
        }
        r = getaddrinfo(host, port, &hints, &ai);
        if (r != 0)
                return ob_error_set(err, 0, 0, EINVAL, "--listen %s: %s", listen_spec,
                                    gai_strerror(r));
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(ai);
                return ob_error_set(err, 0, 0, e, "--listen %s: %s", listen_spec, strerror(e));
        }
        freeaddrinfo(ai);
        *ret_fd = fd;
        return 0;
}

int ob_srv_listen_tcp(ob_srv *srv, const ob_srv_opts *o, ob_error *err)
{
        _cleanup_free_ char *cert = NULL, *key = NULL;
        int fd = -1, r;

        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                return ob_error_set(err, 0, 0, ENOTSUP,
                                    "--listen: this libmicrohttpd was built without TLS");
        r = ob_read_file(o->tls_cert, 1 << 20, &cert, NULL);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "--tls-cert %s: %s", o->tls_cert, strerror(-r));
        r = ob_read_file(o->tls_key, 1 << 20, &key, NULL);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "--tls-key %s: %s", o->tls_key, strerror(-r));
        r = tcp_socket(o->listen, &fd, err);
        if (r < 0)
                return r;
        srv->tcp_l = (ob_srv_listener){.srv = srv, .fd = fd, .tcp = true};
        r = start_daemon(&srv->tcp_l, cert, key, err);
        if (r < 0) {
                closep(&srv->tcp_l.fd);
                return ob_error_set(err, 0, 0, EINVAL,
                                    "--listen %s: TLS did not start with --tls-cert %s and "
                                    "--tls-key %s (%s)",
                                    o->listen, o->tls_cert, o->tls_key,
                                    mhd_first[0] ? mhd_first : "not a PEM certificate and key?");
        }
        explicit_bzero(key, strlen(key));
        return 0;
}

void ob_srv_close(ob_srv *srv)
{
        if (srv->unix_l.daemon) {
                MHD_stop_daemon(srv->unix_l.daemon);
                srv->unix_l.daemon = NULL;
                if (srv->opts->socket_path)
                        unlink(srv->opts->socket_path);
        }
        if (srv->tcp_l.daemon) {
                MHD_stop_daemon(srv->tcp_l.daemon);
                srv->tcp_l.daemon = NULL;
        }
}
