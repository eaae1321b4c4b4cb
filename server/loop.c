/* SPDX-License-Identifier: Apache-2.0 */
/* The server's one loop (no threads: workers fork from here, DESIGN §7):
 * poll() over a signalfd (SIGCHLD, SIGTERM, SIGINT), an inotify watch on
 * the state directory (the audit log grew or rotated: wake the streams),
 * libmicrohttpd's epoll fds, the worker pipes, and the sockets of suspended
 * requests (their clients going away). Timers: MHD's, the keepalives, the
 * sweep, the SIGKILL of workers past their grace. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/fs.h"
#include "server/server.h"

#define OB_AUDIT_NAME "audit.jsonl"

enum poll_kind { P_SIG, P_INO, P_MHD, P_WORKER, P_CONN };

typedef struct poll_set {
        struct pollfd *fds;
        enum poll_kind *kind;
        void **ptr;
        size_t n, cap;
} poll_set;

static int poll_add(poll_set *p, int fd, short events, enum poll_kind kind, void *ptr)
{
        if (p->n == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 64;
                struct pollfd *f = realloc(p->fds, cap * sizeof(*f));
                if (f)
                        p->fds = f;
                enum poll_kind *k = realloc(p->kind, cap * sizeof(*k));
                if (k)
                        p->kind = k;
                void **q = realloc(p->ptr, cap * sizeof(*q));
                if (q)
                        p->ptr = q;
                if (!f || !k || !q)
                        return -ENOMEM;
                p->cap = cap;
        }
        p->fds[p->n] = (struct pollfd){.fd = fd, .events = events};
        p->kind[p->n] = kind;
        p->ptr[p->n] = ptr;
        p->n++;
        return 0;
}

static void poll_set_done(poll_set *p)
{
        free(p->fds);
        free(p->kind);
        free(p->ptr);
}

static int mhd_epoll_fd(ob_srv_listener *l)
{
        const union MHD_DaemonInfo *i;

        if (!l->daemon)
                return -1;
        i = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        return i ? i->epoll_fd : -1;
}

static int build(ob_srv *srv, poll_set *p)
{
        int r = 0;

        p->n = 0;
        r |= poll_add(p, srv->sig_fd, POLLIN, P_SIG, NULL);
        r |= poll_add(p, srv->ino_fd, POLLIN, P_INO, NULL);
        r |= poll_add(p, mhd_epoll_fd(&srv->unix_l), POLLIN, P_MHD, NULL);
        r |= poll_add(p, mhd_epoll_fd(&srv->tcp_l), POLLIN, P_MHD, NULL);
        for (ob_srv_worker *w = srv->workers; w; w = w->next)
                if (w->req && w->fd >= 0)
                        r |= poll_add(p, w->fd, POLLIN, P_WORKER, w);
        for (ob_srv_req *q = srv->reqs; q; q = q->next)
                if (q->suspended && !q->gone && q->conn_fd >= 0)
                        r |= poll_add(p, q->conn_fd, POLLRDHUP, P_CONN, q);
        return r;
}

/* The poll timeout: the nearest of MHD's, the streams', the sweep's and
 * the workers' deadlines; 0 when a resumed connection waits for MHD. */
static int timeout_ms(ob_srv *srv, int64_t now)
{
        int64_t t = ob_srv_sse_tick(srv, now);
        ob_srv_listener *ls[] = {&srv->unix_l, &srv->tcp_l};

        if (srv->resumed)
                return 0;
        for (size_t i = 0; i < ARRAY_SIZE(ls); i++) {
                MHD_UNSIGNED_LONG_LONG mt;
                if (ls[i]->daemon && MHD_get_timeout(ls[i]->daemon, &mt) == MHD_YES &&
                    (int64_t)mt < t)
                        t = (int64_t)mt;
        }
        if (srv->next_sweep_ms - now < t)
                t = srv->next_sweep_ms - now;
        for (ob_srv_worker *w = srv->workers; w; w = w->next)
                if (w->kill_at > 0 && w->kill_at - now < t)
                        t = w->kill_at - now;
        return t < 0 ? 0 : t > INT_MAX ? INT_MAX : (int)t;
}

static void on_signals(ob_srv *srv)
{
        struct signalfd_siginfo si;

        while (read(srv->sig_fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGCHLD)
                        ob_srv_workers_reap(srv);
                else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                        srv->stop = true;
        }
}

/* Wakes the streams when the audit log was written, created or rotated. */
static void on_inotify(ob_srv *srv)
{
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool audit = false;
        ssize_t n;

        while ((n = read(srv->ino_fd, buf, sizeof(buf))) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *)p;
                        if ((e->mask & IN_Q_OVERFLOW) ||
                            (e->len && strncmp(e->name, OB_AUDIT_NAME, strlen(OB_AUDIT_NAME)) == 0))
                                audit = true;
                        p += sizeof(*e) + e->len;
                }
        if (audit)
                ob_srv_sse_wake_all(srv);
}

static void sweep(ob_srv *srv, int64_t now)
{
        ob_srv_worker *w;
        ob_api_ctx ctx = {.state_dir = srv->opts->state_dir};

        if (now < srv->next_sweep_ms)
                return;
        srv->next_sweep_ms = now + OB_SRV_SWEEP_MS;
        if (srv->sweeping || ob_srv_worker_start(srv, NULL, &ctx, NULL, &w) < 0)
                return;
        w->sweep = true;
        srv->sweeping = true;
        closep(&w->fd); /* it answers nothing; its errors go to stderr */
}

static void one_round(ob_srv *srv, poll_set *p)
{
        int64_t now = ob_mono_ms();
        int n;

        srv->resumed = false;
        n = poll(p->fds, p->n, timeout_ms(srv, now));
        if (n < 0 && errno != EINTR)
                srv->stop = true;
        for (size_t i = 0; n > 0 && i < p->n; i++) {
                if (!p->fds[i].revents)
                        continue;
                if (p->kind[i] == P_WORKER) {
                        ob_srv_worker *w = p->ptr[i];
                        if (ob_srv_worker_read(w) && w->req)
                                ob_srv_req_worker_done(w->req);
                } else if (p->kind[i] == P_CONN) {
                        ob_srv_req *q = p->ptr[i];
                        q->gone = true; /* its worker is SIGTERM'd when MHD closes it */
                        ob_srv_req_resume(q);
                }
        }
        for (size_t i = 0; n > 0 && i < p->n; i++) {
                if (p->kind[i] == P_SIG && p->fds[i].revents)
                        on_signals(srv);
                else if (p->kind[i] == P_INO && p->fds[i].revents)
                        on_inotify(srv);
        }
        if (srv->unix_l.daemon)
                MHD_run(srv->unix_l.daemon);
        if (srv->tcp_l.daemon)
                MHD_run(srv->tcp_l.daemon);
        now = ob_mono_ms();
        ob_srv_workers_tick(srv, now);
        sweep(srv, now);
}

static int setup(ob_srv *srv, const ob_srv_opts *o, ob_error *err)
{
        sigset_t mask;
        int r;

        if (o->listen) {
                r = ob_srv_tokens_load(o->token_file, &srv->tokens, &srv->n_tokens, err);
                if (r < 0)
                        return r;
        }
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        srv->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (srv->sig_fd < 0)
                return ob_error_set(err, 0, 0, errno, "signalfd: %m");
        r = ob_mkdir_p(o->state_dir, 0700);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "--state-dir %s: %s", o->state_dir,
                                    strerror(-r));
        srv->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (srv->ino_fd < 0 ||
            inotify_add_watch(srv->ino_fd, o->state_dir,
                              IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
                return ob_error_set(err, 0, 0, errno, "inotify on %s: %m", o->state_dir);
        if (o->socket_path) {
                r = ob_srv_listen_unix(srv, o->socket_path, err);
                if (r < 0)
                        return r;
        }
        if (o->listen) {
                r = ob_srv_listen_tcp(srv, o, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void teardown(ob_srv *srv)
{
        /* MHD closes suspended connections only once they are resumed. */
        for (ob_srv_req *r = srv->reqs; r; r = r->next) {
                r->gone = true;
                ob_srv_req_resume(r);
        }
        if (srv->unix_l.daemon)
                MHD_run(srv->unix_l.daemon);
        if (srv->tcp_l.daemon)
                MHD_run(srv->tcp_l.daemon);
        ob_srv_close(srv);
        /* Closing the connections released their workers: reads and
         * commands were told to stop, changes of state finish on their own
         * (a create half done is worse than one done with nobody to tell). */
        closep(&srv->sig_fd);
        closep(&srv->ino_fd);
        free(srv->tokens);
        while (srv->workers) {
                ob_srv_worker *w = srv->workers;
                srv->workers = w->next;
                closep(&w->fd);
                free(w->buf);
                free(w);
        }
}

int ob_srv_run(const ob_srv_opts *o, ob_error *err)
{
        ob_srv srv = {.opts = o, .sig_fd = -1, .ino_fd = -1};
        poll_set p = {0};
        int r;

        srv.unix_l.fd = srv.tcp_l.fd = -1;
        r = setup(&srv, o, err);
        if (r < 0) {
                teardown(&srv);
                return r;
        }
        srv.next_sweep_ms = ob_mono_ms(); /* at once: leftovers of a crash, then each minute */
        fprintf(stderr, "omnibased: serving on %s%s%s (state %s)\n",
                o->socket_path ? o->socket_path : "", o->socket_path && o->listen ? " and " : "",
                o->listen ? o->listen : "", o->state_dir);
        while (!srv.stop) {
                if (build(&srv, &p) < 0) {
                        r = ob_error_set(err, 0, 0, ENOMEM, "out of memory");
                        break;
                }
                one_round(&srv, &p);
        }
        poll_set_done(&p);
        teardown(&srv);
        return r < 0 ? r : 0;
}
