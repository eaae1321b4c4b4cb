/* SPDX-License-Identifier: Apache-2.0 */
/* The operations on an existing environment: exec (through its
 * supervisor), extend, flags, stop, start, delete and sweep. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "environments/env.h"
#include "environments/template.h"
#include "runner/workspace.h"
#include "runner/runner.h"
#include "channel/ttyframe.h"

static void store_closep(ob_store **s)
{
        *s = ob_store_close(*s);
}
#define _cleanup_store_ _cleanup_(store_closep)

static void record_donep(ob_env_record *r)
{
        ob_env_record_done(r);
}
#define _cleanup_record_ _cleanup_(record_donep)

/* The store and the record of id_or_name. */
static int lookup(const char *state_dir, const char *id_or_name, ob_store **ret_store,
                  ob_env_record *ret, ob_error *err)
{
        int r = ob_store_open(ob_env_state_dir(state_dir), ret_store, err);

        return r < 0 ? r : ob_store_get(*ret_store, id_or_name, ret, err);
}

static int not_running(const ob_env_record *r, ob_error *err)
{
        return ob_error_set_code(err, "not_running", ESRCH, "%s is %s%s%s", r->id,
                                 ob_env_state_to_string(r->state), r->reason ? ": " : "",
                                 r->reason ? r->reason : "");
}

/* The supervisor's answer: {"ok":true,...} → 0 with *ret_obj (may be
 * NULL), {"ok":false,"error":{code,message}} → err. */
static int parse_answer(const char *line, const char *key, cJSON **ret_obj, ob_error *err)
{
        cJSON *root = cJSON_Parse(line), *e, *item;
        const cJSON *code, *msg;
        int r = 0;

        if (!root)
                return ob_error_set(err, 0, 0, EBADMSG, "the supervisor's answer is not JSON");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "ok"))) {
                item = key ? cJSON_DetachItemFromObjectCaseSensitive(root, key) : NULL;
                if (ret_obj)
                        *ret_obj = item;
                else
                        cJSON_Delete(item);
        } else {
                e = cJSON_GetObjectItemCaseSensitive(root, "error");
                code = cJSON_GetObjectItemCaseSensitive(e, "code");
                msg = cJSON_GetObjectItemCaseSensitive(e, "message");
                r = -EIO;
                if (err) {
                        ob_error_set(err, 0, 0, EIO, "%s",
                                     cJSON_IsString(msg) ? msg->valuestring : "failed");
                        /* the codes are literals: map the ones we know */
                        err->code = NULL;
                        if (cJSON_IsString(code))
                                err->code = streq(code->valuestring, "not_running") ? "not_running"
                                            : streq(code->valuestring, "invalid")   ? "invalid"
                                            : streq(code->valuestring, "busy")      ? "busy"
                                                                                    : "error";
                }
        }
        cJSON_Delete(root);
        return r;
}

static int call(const char *state_dir, const ob_env_record *rec, const char *request,
                const int *fds, size_t n_fds, const char *key, cJSON **ret_obj, ob_error *err)
{
        _cleanup_free_ char *line = NULL;
        int r = ob_ctl_call(state_dir, rec->id, request, fds, n_fds, &line, err);

        return r < 0 ? r : parse_answer(line, key, ret_obj, err);
}

int ob_env_request(const char *state_dir, const ob_env_record *rec, const char *request,
                   const char *key, struct cJSON **ret_obj, ob_error *err)
{
        return call(state_dir, rec, request, NULL, 0, key, ret_obj, err);
}

/* What goes from the caller to the exec: the caller's stdin as it is, or
 * with a tty, in frames (sidecar/ttyframe.h) between which a new window
 * size is sent whenever winch_fd says the caller's terminal changed. */
typedef struct exec_relay {
        int in, out, winch_fd;
        bool tty;
        uint8_t buf[OB_TTY_FRAME_HEAD + 65536];
        size_t len, off;
} exec_relay;

/* Fills buf from the caller's stdin: false at its end. */
static bool relay_fill(exec_relay *x)
{
        size_t head = x->tty ? OB_TTY_FRAME_HEAD : 0;
        size_t room = x->tty ? OB_TTY_FRAME_MAX : sizeof(x->buf);
        ssize_t n = read(x->in, x->buf + head, room);

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n <= 0) /* the caller's EOF is the command's */
                return false;
        if (x->tty)
                ob_tty_frame_head(x->buf, OB_TTY_DATA, (size_t)n);
        x->len = head + (size_t)n;
        x->off = 0;
        return true;
}

/* The caller's terminal changed size: a window-size frame, once what is
 * pending has gone. */
static void relay_winch(exec_relay *x)
{
        char drain[64];
        struct winsize ws;

        while (read(x->winch_fd, drain, sizeof(drain)) > 0)
                ;
        if (ioctl(x->in, TIOCGWINSZ, &ws) < 0 ||
            ob_tty_frame_winsize(x->buf, ws.ws_row, ws.ws_col) < 0)
                return;
        x->len = OB_TTY_FRAME_HEAD + 4;
        x->off = 0;
}

/* Copies what the caller's stdin has into the exec's until either ends;
 * returns when the supervisor answers. The supervisor only ever holds our
 * end of a socketpair, never the caller's terminal, and sees us hang up
 * (Ctrl-C) on the control socket: it kills the exec then. */
static int relay_until_answer(int ctl, exec_relay *x, char **ret_line)
{
        for (;;) {
                bool idle = x->out >= 0 && x->len == x->off;
                struct pollfd f[4] = {
                    {.fd = ctl, .events = POLLIN},
                    {.fd = idle ? x->in : -1, .events = POLLIN},
                    {.fd = x->out >= 0 && x->len > x->off ? x->out : -1, .events = POLLOUT},
                    {.fd = idle && x->tty ? x->winch_fd : -1, .events = POLLIN}};
                if (poll(f, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (f[0].revents) {
                        closep(&x->out);
                        return ob_ctl_recv(ctl, false, ret_line, NULL, NULL);
                }
                if (f[3].revents)
                        relay_winch(x);
                else if (f[1].revents && !relay_fill(x))
                        closep(&x->out);
                if (f[2].revents) {
                        ssize_t n = send(x->out, x->buf + x->off, x->len - x->off,
                                         MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n < 0) /* the command no longer reads */
                                closep(&x->out);
                        else
                                x->off += (size_t)n;
                }
        }
}

static int exec_call(const char *state_dir, const ob_env_record *rec, const char *request,
                     const ob_env_exec_opts *o, cJSON **ret_obj, ob_error *err)
{
        _cleanup_close_ int ctl = -1;
        _cleanup_free_ char *line = NULL;
        _cleanup_free_ exec_relay *x = NULL;
        const int *fds = o->fds;
        int sp[2], r;

        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return ob_error_set(err, 0, 0, errno, "exec: %s", strerror(errno));
        r = ob_ctl_connect(state_dir, rec->id, &ctl);
        if (r < 0) {
                close(sp[0]);
                close(sp[1]);
                return ob_error_set_code(err, "not_running", -r,
                                         "%s: its supervisor does not answer (%s)", rec->id,
                                         strerror(-r));
        }
        /* no stdin (/dev/null): passed as it is, no relay here and none in
         * the sandbox (runner/exec.c) */
        bool none = !o->tty && ob_fd_is_dev_null(fds[0]);
        const int passed[3] = {none ? fds[0] : sp[0], fds[1], fds[2]};
        r = ob_ctl_send(ctl, request, passed, 3);
        close(sp[0]);
        if (none)
                closep(&sp[1]);
        *x = (exec_relay){.in = fds[0], .out = sp[1], .tty = o->tty, .winch_fd = -1};
        if (o->tty)
                x->winch_fd = o->winch_fd;
        if (r >= 0)
                r = relay_until_answer(ctl, x, &line);
        closep(&x->out);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "%s: talking to its supervisor: %s", rec->id,
                                    strerror(-r));
        return parse_answer(line, "result", ret_obj, err);
}

void ob_env_exec_opts_init(ob_env_exec_opts *o)
{
        *o = (ob_env_exec_opts){.struct_size = sizeof(*o), .fds = {0, 1, 2}, .winch_fd = -1};
}

int ob_env_exec(const char *state_dir, const char *id_or_name, const ob_env_exec_opts *o,
                char **ret_json, int *ret_exit_code, ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        _cleanup_record_ ob_env_record rec = {0};
        _cleanup_free_ char *req_text = NULL;
        cJSON *req, *argv, *result = NULL;
        const cJSON *code;
        int r;

        r = ob_error_struct_size(err, "ob_env_exec_opts", o->struct_size, sizeof(*o));
        if (r < 0)
                return r;
        r = lookup(state_dir, id_or_name, &s, &rec, err);

        if (r < 0)
                return r;
        if (rec.state != OB_ENV_RUNNING)
                return not_running(&rec, err);
        s = ob_store_close(s); /* the supervisor writes while the exec runs */
        req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "op", "exec");
        argv = cJSON_AddArrayToObject(req, "argv");
        for (size_t i = 0; o->argv && o->argv[i]; i++)
                cJSON_AddItemToArray(argv, cJSON_CreateString(o->argv[i]));
        cJSON_AddStringToObject(req, "cwd", o->cwd ? o->cwd : OB_ENV_WORKSPACE);
        if (o->timeout_ms > 0)
                cJSON_AddNumberToObject(req, "timeout_ms", (double)o->timeout_ms);
        if (o->tty) {
                cJSON *tty = cJSON_AddObjectToObject(req, "tty");
                cJSON_AddNumberToObject(tty, "rows", o->rows ? o->rows : 24);
                cJSON_AddNumberToObject(tty, "cols", o->cols ? o->cols : 80);
                cJSON_AddStringToObject(tty, "term", o->term ? o->term : "xterm");
        }
        req_text = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        if (!req_text)
                return -ENOMEM;
        r = exec_call(state_dir, &rec, req_text, o, &result, err);
        if (r < 0)
                return r;
        code = cJSON_GetObjectItemCaseSensitive(result, "exit_code");
        *ret_exit_code = cJSON_IsNumber(code) ? code->valueint : 125;
        *ret_json = cJSON_PrintUnformatted(result);
        cJSON_Delete(result);
        return *ret_json ? 0 : -ENOMEM;
}

/* Tells a live supervisor to read its record again. */
static void reload(const char *state_dir, const ob_env_record *rec)
{
        if (rec->state == OB_ENV_RUNNING && ob_env_supervisor_alive(state_dir, rec->id))
                (void)call(state_dir, rec, "{\"op\":\"reload\"}", NULL, 0, NULL, NULL, NULL);
}

int ob_env_extend(const char *state_dir, const char *id_or_name, const char *ttl,
                  const char *approved_by, ob_env_record *ret, ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        _cleanup_record_ ob_env_record rec = {0};
        ob_env_config cfg;
        int64_t add, until;
        char a[24], b[24];
        int r = lookup(state_dir, id_or_name, &s, &rec, err);

        if (r >= 0)
                r = ob_duration_parse(ttl, &add, err);
        if (r >= 0)
                r = ob_env_config_load(NULL, &cfg, err);
        if (r < 0)
                return r;
        if (rec.state != OB_ENV_RUNNING && rec.state != OB_ENV_STOPPED)
                return not_running(&rec, err);
        until = (int64_t)time(NULL) + add;
        if (until < rec.expires_at)
                until = rec.expires_at + add;
        if (until - rec.created_at > cfg.max_ttl_without_approval_s && !approved_by) {
                ob_duration_format(until - rec.created_at, a, sizeof(a));
                ob_duration_format(cfg.max_ttl_without_approval_s, b, sizeof(b));
                return ob_error_set_code(err, "ttl_needs_approval", EPERM,
                                         "%s would live %s in total, past %s: it needs "
                                         "--approved-by",
                                         rec.id, a, b);
        }
        r = ob_store_set_expiry(s, rec.id, until, approved_by, err);
        if (r >= 0) {
                ob_duration_format(add, a, sizeof(a));
                const char *kv[] = {"by", a, "approved_by", approved_by};
                (void)ob_env_emit(state_dir, OB_EVENT_ENVIRONMENT_EXTENDED, &rec, kv, 4);
                reload(state_dir, &rec);
                ob_env_record_done(&rec);
                r = ob_store_get(s, id_or_name, &rec, err);
        }
        if (r >= 0 && ret) {
                *ret = rec;
                rec = (ob_env_record){0};
        }
        return r;
}

/* The flags after applying "name=on|off" changes, sorted, unique. */
static int apply_flags(const ob_env_record *rec, const ob_template *tpl, const char *const *set,
                       char ***ret, ob_error *err)
{
        char **v = calloc(OB_ENV_MAX_FLAGS + 1, sizeof(char *));
        size_t n = 0;
        int r = v ? 0 : -ENOMEM;

        for (size_t i = 0; r >= 0 && rec->flags && rec->flags[i] && n < OB_ENV_MAX_FLAGS; i++)
                if (!(v[n++] = strdup(rec->flags[i])))
                        r = -ENOMEM;
        for (size_t i = 0; r >= 0 && set && set[i]; i++) {
                const char *eq = strchr(set[i], '=');
                char name[OB_ENV_FLAG_MAX + 1];
                bool on;
                size_t k;
                if (!eq || (size_t)(eq - set[i]) > OB_ENV_FLAG_MAX ||
                    (!streq(eq + 1, "on") && !streq(eq + 1, "off"))) {
                        r = ob_error_set_code(err, "invalid", EINVAL,
                                              "--set %s: expected NAME=on or NAME=off", set[i]);
                        break;
                }
                snprintf(name, sizeof(name), "%.*s", (int)(eq - set[i]), set[i]);
                on = streq(eq + 1, "on");
                if (ob_env_flag_check(name, err) < 0) {
                        r = -EINVAL;
                        break;
                }
                bool offered = false;
                for (size_t a = 0; tpl->flags_available && tpl->flags_available[a]; a++)
                        offered = offered || streq(tpl->flags_available[a], name);
                if (!offered) {
                        r = ob_error_set_code(err, "invalid", EINVAL,
                                              "feature flag \"%s\" is not offered by template %s",
                                              name, tpl->name);
                        break;
                }
                for (k = 0; k < n && !streq(v[k], name); k++)
                        ;
                if (on && k == n && n < OB_ENV_MAX_FLAGS && !(v[n++] = strdup(name)))
                        r = -ENOMEM;
                if (!on && k < n) {
                        free(v[k]);
                        v[k] = v[--n];
                        v[n] = NULL;
                }
        }
        if (r < 0) {
                for (size_t i = 0; v && i < n; i++)
                        free(v[i]);
                free(v);
                return r;
        }
        *ret = v;
        return 0;
}

int ob_env_flags(const char *state_dir, const char *id_or_name, const char *const *set,
                 ob_env_record *ret, ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        _cleanup_record_ ob_env_record rec = {0};
        ob_template *tpl = NULL;
        char **v = NULL;
        int r = lookup(state_dir, id_or_name, &s, &rec, err);

        if (r >= 0 && set && set[0]) {
                r = ob_template_load(rec.template_name, &tpl, err);
                if (r >= 0)
                        r = apply_flags(&rec, tpl, set, &v, err);
                if (r >= 0)
                        r = ob_store_set_flags(s, rec.id, (const char *const *)v, err);
                if (r >= 0 && rec.state != OB_ENV_DELETED && rec.state != OB_ENV_EXPIRED) {
                        (void)ob_env_write_flags(state_dir, rec.id, v);
                        const char *kv[] = {"set", set[0], "more", set[1] ? "yes" : NULL};
                        (void)ob_env_emit(state_dir, OB_EVENT_FLAGS_CHANGED, &rec, kv, 4);
                        reload(state_dir, &rec);
                }
                for (size_t i = 0; v && v[i]; i++)
                        free(v[i]);
                free(v);
                ob_template_free(tpl);
                if (r >= 0) {
                        ob_env_record_done(&rec);
                        r = ob_store_get(s, id_or_name, &rec, err);
                }
        }
        if (r >= 0 && ret) {
                *ret = rec;
                rec = (ob_env_record){0};
        }
        return r;
}

/* A pidfd of the supervisor, opened while it is known to be alive (before
 * the request is sent), so that its exit can be waited for without polling
 * (a supervisor is no child of ours: its zombie lingers until init reaps
 * it, which kill(pid, 0) cannot tell from life). -1 when there is none. */
static int supervisor_pidfd(int64_t pid)
{
        return pid > 0 ? (int)syscall(SYS_pidfd_open, (pid_t)pid, 0) : -1;
}

/* After a stop or delete was answered: the supervisor's last moments (it
 * exits right after answering) are over before we return (5 s at most).
 * Closes pidfd. */
static void wait_gone(int pidfd)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};

        if (pidfd < 0)
                return;
        while (poll(&p, 1, 5000) < 0 && errno == EINTR)
                ;
        close(pidfd);
}

/* One request ("stop", "reset") to a running environment's supervisor;
 * gone: wait for the supervisor to exit after it answered. */
static int running_op(const char *state_dir, const char *id_or_name, const char *request, bool gone,
                      ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        _cleanup_record_ ob_env_record rec = {0};
        int pidfd, r = lookup(state_dir, id_or_name, &s, &rec, err);

        if (r < 0)
                return r;
        if (rec.state != OB_ENV_RUNNING || !ob_env_supervisor_alive(state_dir, rec.id))
                return not_running(&rec, err);
        s = ob_store_close(s); /* the supervisor writes while it works */
        pidfd = gone ? supervisor_pidfd(rec.supervisor_pid) : -1;
        r = call(state_dir, &rec, request, NULL, 0, NULL, NULL, err);
        if (r >= 0)
                wait_gone(pidfd);
        else if (pidfd >= 0)
                close(pidfd);
        return r;
}

int ob_env_stop(const char *state_dir, const char *id_or_name, ob_error *err)
{
        return running_op(state_dir, id_or_name, "{\"op\":\"stop\"}", true, err);
}

int ob_env_start(const char *state_dir, const char *id_or_name, ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        _cleanup_record_ ob_env_record rec = {0};
        pid_t pid;
        int lock, r = lookup(state_dir, id_or_name, &s, &rec, err);

        if (r < 0)
                return r;
        if (rec.state != OB_ENV_STOPPED)
                return ob_error_set_code(err, "invalid", EINVAL, "%s is %s, not stopped", rec.id,
                                         ob_env_state_to_string(rec.state));
        if (rec.expires_at <= (int64_t)time(NULL))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "%s is past its TTL: extend it first", rec.id);
        s = ob_store_close(s);
        lock = ob_env_lock(state_dir, rec.id);
        if (lock < 0)
                return ob_error_set_code(err, "invalid", -lock, "%s: %s", rec.id,
                                         lock == -EALREADY ? "a supervisor is starting it"
                                                           : strerror(-lock));
        r = ob_env_supervisor_spawn(state_dir, rec.id, lock, &pid, err);
        close(lock);
        return r;
}

int ob_env_logs_touch(const char *state_dir, const char *id_or_name, ob_env_record *ret,
                      ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        int r = lookup(state_dir, id_or_name, &s, ret, err);

        if (r >= 0 && ret->state == OB_ENV_RUNNING)
                (void)ob_store_touch(s, ret->id, (int64_t)time(NULL), NULL);
        return r;
}

int ob_env_reset(const char *state_dir, const char *id_or_name, ob_error *err)
{
        return running_op(state_dir, id_or_name, "{\"op\":\"reset\"}", false, err);
}

/* Removes the sandboxes of dead runs (a dead supervisor's among them). */
static void collect_runs(const char *state_dir)
{
        (void)ob_sandbox_gc(ob_env_state_dir(state_dir), NULL, NULL, NULL);
}

int ob_env_delete(const char *state_dir, const char *id_or_name, ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        _cleanup_record_ ob_env_record rec = {0};
        int r = lookup(state_dir, id_or_name, &s, &rec, err);

        if (r < 0)
                return r;
        if (rec.state == OB_ENV_DELETED)
                return ob_error_set_code(err, "not_found", ENOENT, "%s is already deleted", rec.id);
        if (ob_env_supervisor_alive(state_dir, rec.id)) {
                ob_store *tmp = TAKE_PTR(s);
                int pidfd = supervisor_pidfd(rec.supervisor_pid);
                ob_store_close(tmp);
                r = call(state_dir, &rec, "{\"op\":\"delete\"}", NULL, 0, NULL, NULL, err);
                if (r >= 0)
                        wait_gone(pidfd);
                else if (pidfd >= 0)
                        close(pidfd);
                return r;
        }
        collect_runs(state_dir);
        return ob_env_teardown(state_dir, s, &rec, OB_ENV_DELETED, "deleted by request", err);
}

int ob_env_sweep(const char *state_dir, unsigned *ret_n, ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        ob_env_record *v = NULL;
        size_t n = 0;
        unsigned done = 0;
        int64_t now = (int64_t)time(NULL);
        int r = ob_store_open(ob_env_state_dir(state_dir), &s, err);

        if (r >= 0)
                r = ob_store_list(s, NULL, false, &v, &n, err);
        if (r < 0)
                return r;
        collect_runs(state_dir);
        for (size_t i = 0; i < n; i++) {
                ob_env_record *e = &v[i];
                bool alive = ob_env_supervisor_alive(state_dir, e->id);
                if (alive || e->state == OB_ENV_EXPIRED || e->state == OB_ENV_DELETED)
                        continue;
                /* a create between its insert and its lock: not ours yet */
                if (e->state == OB_ENV_CREATING && now - e->created_at < 120)
                        continue;
                if (e->expires_at <= now && e->state == OB_ENV_FAILED) /* secrets, quota */
                        r = ob_env_teardown(state_dir, s, e, OB_ENV_DELETED,
                                            "its TTL ran out while failed", err);
                else if (e->expires_at <= now)
                        r = ob_env_teardown(state_dir, s, e, OB_ENV_EXPIRED, "its TTL ran out",
                                            err);
                else if (e->state == OB_ENV_DELETING) /* a delete that died half-way */
                        r = ob_env_teardown(state_dir, s, e, OB_ENV_DELETED, "deleted", err);
                else if (e->state == OB_ENV_RUNNING || e->state == OB_ENV_CREATING)
                        r = ob_env_teardown(state_dir, s, e, OB_ENV_FAILED, "its supervisor died",
                                            err);
                else
                        continue;
                if (r < 0)
                        break;
                done++;
        }
        ob_env_records_free(v, n);
        if (ret_n)
                *ret_n = done;
        return r < 0 ? r : 0;
}
