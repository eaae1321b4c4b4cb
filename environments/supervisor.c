/* SPDX-License-Identifier: Apache-2.0 */
/* One supervisor per environment (conmon-style, DESIGN §6): a detached
 * process that owns the environment's held sandbox (runner lifecycle with
 * hold), answers the control socket, runs each exec through the runner's
 * exec (runsc exec of a sidecar), injects flags and secrets per exec over
 * the exec's channel, writes every exec and denial to the audit log, and
 * ends the environment at its TTL (expired) or when idle (stopped). One
 * poll loop, no threads. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "environments/env.h"
#include "environments/secrets.h"
#include "environments/snapshot.h"
#include "environments/template.h"
#include "common/fs.h"
#include "runner/network.h"
#include "runner/workspace.h"
#include "runner/runner.h"
#include "channel/ttyframe.h"

#define START_TIMEOUT_MS 60000
#define STOP_GRACE_MS    10000

typedef struct supervisor supervisor;
typedef struct sv_exec {
        supervisor *sv;
        ob_exec *x;
        int client;   /* the answer goes here when the exec ends */
        bool hung_up; /* the client went away: the exec was killed */
        char exec_id[24];
} sv_exec;

struct supervisor {
        const char *state_dir;
        char id[OB_ENV_ID_LEN + 1];
        char principal[40];
        ob_store *store;
        ob_env_record rec;
        ob_capset *caps;
        ob_template *tpl;
        ob_run *run;
        ob_sandbox_options opts;  /* the run keeps pointers into these: */
        ob_sandbox_bind binds[2]; /* they live as long as it */
        char paths[3][PATH_MAX];
        int listen_fd, sig_fd;
        sv_exec execs[OB_ENV_MAX_EXECS];
        unsigned exec_seq;
        ob_exec_spare *spare; /* the next exec's runsc exec + sidecar, already up */
        int64_t spare_idle_s; /* kept this long after the last exec; 0: never kept */
        int64_t idle_s;
        int64_t last_activity; /* wall seconds */
        bool ending;
        ob_env_state final;
        char reason[256];
        int final_client; /* a stop/delete waiting for its answer, or -1 */
};

static int64_t now_s(void)
{
        return (int64_t)time(NULL);
}

/* {"ok":false,"error":{"code":...,"message":...}} to a client, closed. */
static void answer_error(int *client, const char *code, const char *message)
{
        cJSON *root = cJSON_CreateObject(), *e;
        char *text;

        cJSON_AddFalseToObject(root, "ok");
        e = cJSON_AddObjectToObject(root, "error");
        cJSON_AddStringToObject(e, "code", code ? code : "error");
        cJSON_AddStringToObject(e, "message", message);
        text = cJSON_PrintUnformatted(root);
        if (text && *client >= 0)
                (void)ob_ctl_send(*client, text, NULL, 0);
        free(text);
        cJSON_Delete(root);
        closep(client);
}

/* {"ok":true, <what>} to a client, closed; takes what. */
static void answer_ok(int *client, const char *key, cJSON *what)
{
        cJSON *root = cJSON_CreateObject();
        char *text;

        cJSON_AddTrueToObject(root, "ok");
        if (what)
                cJSON_AddItemToObject(root, key, what);
        text = cJSON_PrintUnformatted(root);
        if (text && *client >= 0)
                (void)ob_ctl_send(*client, text, NULL, 0);
        free(text);
        cJSON_Delete(root);
        closep(client);
}

static void emit(supervisor *sv, ob_event_type type, const char *const *kv, size_t n)
{
        (void)ob_env_emit(sv->state_dir, type, &sv->rec, kv, n);
}

/* ---- exec ---- */

/* The spare for the next exec (runner/exec.c): made when the sandbox is
 * up and when the last running exec ends (not beside a running one:
 * measured, on two cores its boot slows that exec more than it saves the
 * next), unless one is there or spares are off; dropped
 * spare_idle_s after the last exec (its runsc exec is host memory), when
 * it dies, and before the sandbox stops. The next exec after a drop is a
 * cold one and makes a new spare. */
static void make_spare(supervisor *sv)
{
        ob_run_exec_target_info t;
        ob_error err = {0};

        if (sv->spare || sv->spare_idle_s <= 0 || sv->ending || !sv->run ||
            ob_run_exec_target(sv->run, &t) < 0)
                return;
        for (size_t i = 0; i < OB_ENV_MAX_EXECS; i++)
                if (sv->execs[i].x)
                        return;
        if (ob_exec_spare_start(&t, &sv->spare, &err) < 0)
                fprintf(stderr, "omnibase-supervisor %s: a spare exec: %s\n", sv->id, err.message);
}

static void drop_spare(supervisor *sv)
{
        sv->spare = ob_exec_spare_free(sv->spare);
}

static bool same_file(int a, int b)
{
        struct stat x, y;
        return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev &&
               x.st_ino == y.st_ino;
}

/* Whether this exec may go through the spare, whose output reaches the
 * caller through two pipes and a relay: not when the caller merges stdout
 * and stderr into one file (2>&1: their order would be the relay's), and
 * not a spare that died since the loop last looked (then it is dropped).
 * (A caller's terminal is no reason: gVisor shows a cold exec's host fds
 * as "host:[N]", not as a terminal, either way.) */
static bool spare_fits(supervisor *sv, const int fds[3], bool tty)
{
        struct pollfd f = {.fd = sv->spare ? ob_exec_spare_fd(sv->spare) : -1, .events = POLLIN};

        if (!sv->spare)
                return false;
        if (poll(&f, 1, 0) > 0) {
                drop_spare(sv);
                return false;
        }
        return tty || !same_file(fds[1], fds[2]);
}

/* Each denial of an exec is on the audit log with the environment, its
 * owner and the exec's id. */
static void on_exec_msg(const ob_channel_msg *m, void *userdata)
{
        sv_exec *e = userdata;
        char pid[24];

        if (m->type != OB_CHANNEL_CAPABILITY_DENIED)
                return;
        snprintf(pid, sizeof(pid), "%" PRId64, m->pid);
        const char *kv[] = {"exec_id", e->exec_id, "capability", m->capability, "target", m->target,
                            "syscall", m->syscall, "policy_id",  m->policy_id,  "layer",  m->layer,
                            "pid",     pid};
        emit(e->sv, OB_EVENT_CAPABILITY_DENIED, kv, ARRAY_SIZE(kv));
}

static void strv_free_n(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (v[i]) {
                        explicit_bzero(v[i], strlen(v[i]));
                        free(v[i]);
                }
        free(v);
}

/* The variables of every exec: the environment's id, its flags, and its
 * secrets (opened here, wiped after they are sent). */
static int exec_env(supervisor *sv, char ***ret, size_t *ret_n, ob_error *err)
{
        char dir[PATH_MAX], flags[4096] = "";
        char **names = NULL, **env;
        size_t n_names = 0, n = 0;
        uint8_t key[OB_SECRET_KEY_BYTES];
        int r;

        for (size_t i = 0; sv->rec.flags && sv->rec.flags[i]; i++)
                snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags), "%s%s", i ? "," : "",
                         sv->rec.flags[i]);
        r = ob_env_path(sv->state_dir, sv->id, NULL, dir, sizeof(dir));
        if (r >= 0)
                r = ob_secrets_list(dir, &names, &n_names, err);
        if (r < 0)
                return r;
        env = calloc(n_names + 4, sizeof(char *));
        if (!env) {
                ob_strv_free_n(names, n_names);
                return -ENOMEM;
        }
        if (asprintf(&env[n++], "OMNIBASE_ENV_ID=%s", sv->id) < 0 ||
            asprintf(&env[n++], "OMNIBASE_FEATURE_FLAGS=%s", flags) < 0 ||
            asprintf(&env[n++], "HOME=%s", OB_ENV_WORKSPACE) < 0)
                r = -ENOMEM;
        if (r >= 0 && n_names > 0)
                r = ob_secret_key_load(sv->state_dir, key, err);
        for (size_t i = 0; r >= 0 && i < n_names; i++) {
                uint8_t *value = NULL;
                size_t len = 0;
                r = ob_secrets_get(dir, key, sv->id, names[i], &value, &len, err);
                if (r >= 0 && asprintf(&env[n++], "%s=%s", names[i], (char *)value) < 0)
                        r = -ENOMEM;
                if (r >= 0) {
                        char fp[13], exec_id[24];
                        ob_secret_fingerprint(key, value, len, fp);
                        snprintf(exec_id, sizeof(exec_id), "x%u", sv->exec_seq + 1);
                        const char *kv[] = {"name", names[i],  "fingerprint",
                                            fp,     "exec_id", exec_id};
                        emit(sv, OB_EVENT_SECRET_INJECTED, kv, ARRAY_SIZE(kv));
                }
                ob_secret_free(value, len);
        }
        explicit_bzero(key, sizeof(key));
        ob_strv_free_n(names, n_names);
        if (r < 0) {
                strv_free_n(env, n);
                return r;
        }
        *ret = env;
        *ret_n = n;
        return 0;
}

static sv_exec *free_slot(supervisor *sv)
{
        for (size_t i = 0; i < OB_ENV_MAX_EXECS; i++)
                if (!sv->execs[i].x)
                        return &sv->execs[i];
        return NULL;
}

static bool dim_ok(const cJSON *v)
{
        return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= OB_TTY_MAX_DIM &&
               v->valuedouble == (double)v->valueint;
}

/* "tty": {"rows": R, "cols": C, "term": T} of an exec request, checked
 * (the sidecar checks it again); 0 when absent, 1 when given, -EINVAL. */
static int parse_tty(const cJSON *req, ob_exec_tty *ret)
{
        const cJSON *tty = cJSON_GetObjectItemCaseSensitive(req, "tty");
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(tty, "rows");
        const cJSON *cols = cJSON_GetObjectItemCaseSensitive(tty, "cols");
        const cJSON *term = cJSON_GetObjectItemCaseSensitive(tty, "term");

        if (!tty)
                return 0;
        if (!dim_ok(rows) || !dim_ok(cols) || !cJSON_IsString(term) ||
            !ob_tty_term_ok(term->valuestring))
                return -EINVAL;
        *ret = (ob_exec_tty){.rows = (unsigned)rows->valueint,
                             .cols = (unsigned)cols->valueint,
                             .term = term->valuestring};
        return 1;
}

/* A regular file the caller writes the command's output to (`> out.txt`,
 * the API's memfds) is made O_APPEND: the sentry writes an imported host
 * file with pwrite at an offset of its own, which would overwrite what the
 * other stream and the caller write through the shared offset (a cold
 * exec's `> f 2>&1` kept only the CLI's last line). With O_APPEND every
 * write lands at the end, in the order it is made. */
static void append_if_file(int fd)
{
        struct stat st;
        int fl;

        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            (fl = fcntl(fd, F_GETFL)) >= 0 && !(fl & O_APPEND))
                (void)fcntl(fd, F_SETFL, fl | O_APPEND);
}

/* {"op":"exec","argv":[...],"cwd":"/workspace","timeout_ms":N[,"tty":{...}]}
 * with the command's stdin, stdout and stderr attached. With a tty, stdin
 * carries the client's frames (sidecar/ttyframe.h), passed on as they are:
 * the sidecar parses them. */
static void op_exec(supervisor *sv, int *client, const cJSON *req, int fds[3], size_t n_fds)
{
        const cJSON *argv_j = cJSON_GetObjectItemCaseSensitive(req, "argv");
        const cJSON *cwd_j = cJSON_GetObjectItemCaseSensitive(req, "cwd");
        const cJSON *to_j = cJSON_GetObjectItemCaseSensitive(req, "timeout_ms");
        const char *argv[OB_SANDBOX_MAX_ARGS + 1];
        ob_run_exec_target_info t;
        ob_error err = {0};
        char **env = NULL;
        size_t n = 0, n_env = 0;
        const cJSON *a;
        sv_exec *e = free_slot(sv);
        ob_exec_tty tty;
        int r, has_tty = parse_tty(req, &tty);

        if (has_tty < 0 || n_fds != 3 || !cJSON_IsArray(argv_j) || cJSON_GetArraySize(argv_j) < 1 ||
            cJSON_GetArraySize(argv_j) > OB_SANDBOX_MAX_ARGS || (cwd_j && !cJSON_IsString(cwd_j)) ||
            (to_j && (!cJSON_IsNumber(to_j) || to_j->valuedouble < 0)))
                return answer_error(client, "invalid", "a bad exec request");
        if (cwd_j && cwd_j->valuestring[0] != '/')
                return answer_error(client, "invalid", "the directory (--cwd) must be absolute");
        cJSON_ArrayForEach (a, argv_j) {
                if (!cJSON_IsString(a))
                        return answer_error(client, "invalid", "argv holds a non-string");
                argv[n++] = a->valuestring;
        }
        argv[n] = NULL;
        if (!e)
                return answer_error(client, "busy", "too many execs running at once");
        append_if_file(fds[1]);
        append_if_file(fds[2]);
        if (ob_run_exec_target(sv->run, &t) < 0)
                return answer_error(client, "not_running", "the sandbox is not up");
        r = exec_env(sv, &env, &n_env, &err);
        if (r < 0)
                return answer_error(client, "error", err.message[0] ? err.message : strerror(-r));
        snprintf(e->exec_id, sizeof(e->exec_id), "x%u", ++sv->exec_seq);
        e->sv = sv;
        ob_exec_spec spec = {.argv = argv,
                             .cwd = cwd_j ? cwd_j->valuestring : OB_ENV_WORKSPACE,
                             .stdout_fd = fds[1],
                             .stderr_fd = fds[2],
                             .tty = has_tty ? &tty : NULL};
        ob_exec_io io = {.stdin_fd = fds[0],
                         .timeout_ms = to_j ? (int64_t)to_j->valuedouble : 0,
                         .on_msg = on_exec_msg,
                         .userdata = e,
                         .spare = spare_fits(sv, fds, has_tty) ? TAKE_PTR(sv->spare) : NULL};
        r = ob_exec_start(&t, &spec, (const char *const *)env, n_env, &io, &e->x, &err);
        strv_free_n(env, n_env);
        if (r < 0)
                return answer_error(client, "error", err.message);
        fds[0] = -1; /* the exec's now */
        e->client = TAKE_FD(*client);
        e->hung_up = false;
        sv->last_activity = now_s();
        (void)ob_store_touch(sv->store, sv->id, sv->last_activity, NULL);
        const char *kv[] = {"exec_id", e->exec_id, "command",
                            argv[0],   "tty",      has_tty ? "true" : NULL};
        emit(sv, OB_EVENT_EXEC_STARTED, kv, ARRAY_SIZE(kv));
}

/* The exec ended: ExecExited on the log, then its result (as `sandbox run
 * --json`, plus env_id and exec_id) to its client. */
static void exec_done(supervisor *sv, sv_exec *e)
{
        ob_sandbox_result res = {0};
        _cleanup_free_ char *json = NULL;
        cJSON *obj = NULL;
        char code[16], denials[24];

        ob_exec_take_result(e->x, &res);
        e->x = ob_exec_free(e->x);
        /* on the log before the caller hears of it: a caller that reads the
         * log after its result finds the exec's end there */
        snprintf(code, sizeof(code), "%d", res.exit_code);
        snprintf(denials, sizeof(denials), "%" PRId64, res.denials);
        const char *kv[] = {
            "exec_id",   e->exec_id, "status",  ob_sandbox_status_to_string(res.status),
            "exit_code", code,       "denials", denials};
        emit(sv, OB_EVENT_EXEC_EXITED, kv, ARRAY_SIZE(kv));
        if (ob_sandbox_result_to_json(&res, &json) >= 0)
                obj = cJSON_Parse(json);
        if (obj) {
                cJSON_AddStringToObject(obj, "env_id", sv->id);
                cJSON_AddStringToObject(obj, "exec_id", e->exec_id);
                answer_ok(&e->client, "result", obj);
        } else
                answer_error(&e->client, "error", "the exec's result");
        ob_sandbox_result_done(&res);
        sv->last_activity = now_s();
        (void)ob_store_touch(sv->store, sv->id, sv->last_activity, NULL);
        make_spare(sv);
}

/* ---- requests ---- */

static void op_status(supervisor *sv, int *client)
{
        cJSON *o = cJSON_CreateObject();
        int n = 0;

        for (size_t i = 0; i < OB_ENV_MAX_EXECS; i++)
                n += sv->execs[i].x != NULL;
        cJSON_AddNumberToObject(o, "pid", getpid());
        cJSON_AddNumberToObject(o, "execs", n);
        cJSON_AddStringToObject(o, "sandbox_id", ob_run_id(sv->run) ? ob_run_id(sv->run) : "");
        answer_ok(client, "status", o);
}

/* The record changed in the store (extend, flags): read it again. */
static void op_reload(supervisor *sv, int *client)
{
        ob_env_record r = {0};
        ob_error err = {0};

        if (ob_store_get(sv->store, sv->id, &r, &err) < 0)
                return answer_error(client, err.code, err.message);
        ob_env_record_done(&sv->rec);
        sv->rec = r;
        answer_ok(client, NULL, NULL);
}

static void begin_end(supervisor *sv, ob_env_state final, const char *reason);
static int start_sandbox(supervisor *sv, const char *image, ob_error *err);
static void stop_sandbox(supervisor *sv);
static void end_run(supervisor *sv);

/* Secrets re-sealed under fresh nonces, each named on the log. */
static int rotate_secrets(supervisor *sv, ob_error *err)
{
        uint8_t key[OB_SECRET_KEY_BYTES];
        char dir[PATH_MAX];
        int r = ob_env_path(sv->state_dir, sv->id, NULL, dir, sizeof(dir));

        if (r < 0 || !sv->rec.secret_names || !sv->rec.secret_names[0])
                return r;
        r = ob_secret_key_load(sv->state_dir, key, err);
        if (r >= 0)
                r = ob_secrets_rotate(dir, key, sv->id, NULL, 0, err);
        explicit_bzero(key, sizeof(key));
        for (size_t i = 0; r >= 0 && sv->rec.secret_names[i]; i++) {
                const char *kv[] = {"name", sv->rec.secret_names[i]};
                emit(sv, OB_EVENT_SECRET_ROTATED, kv, 2);
        }
        return r;
}

/* env reset: every process gone (the sandbox restarts), the workspace as it
 * was after the seed, secrets rotated, flags back to the template's. */
static void op_reset(supervisor *sv, int *client)
{
        ob_env_record r = {0};
        ob_error err = {0};
        int k;

        stop_sandbox(sv);
        sv->caps = ob_capset_free(sv->caps);
        k = ob_env_workspace_reset(sv->state_dir, sv->id, sv->tpl->workspace_mb, &err);
        if (k >= 0)
                k = rotate_secrets(sv, &err);
        if (k >= 0)
                k = ob_store_set_flags(sv->store, sv->id,
                                       (const char *const *)sv->tpl->flags_default, &err);
        if (k >= 0)
                k = ob_env_write_flags(sv->state_dir, sv->id, sv->tpl->flags_default);
        if (k >= 0 && (k = ob_store_get(sv->store, sv->id, &r, &err)) >= 0) {
                ob_env_record_done(&sv->rec);
                sv->rec = r;
        }
        sv->tpl = ob_template_free(sv->tpl);
        if (k >= 0)
                k = start_sandbox(sv, NULL, &err);
        if (k < 0) {
                char reason[200];
                snprintf(reason, sizeof(reason), "reset failed: %.160s",
                         err.message[0] ? err.message : strerror(-k));
                begin_end(sv, OB_ENV_FAILED, reason);
                return answer_error(client, "error", reason);
        }
        sv->last_activity = now_s();
        const char *kv[] = {"sandbox_id", ob_run_id(sv->run)};
        emit(sv, OB_EVENT_ENVIRONMENT_RESET, kv, 2);
        answer_ok(client, NULL, NULL);
        make_spare(sv);
}

/* The directory a memory snapshot's image is in: envs/<id>/checkpoint,
 * made empty (mode 0700), or removed (make false). */
static int checkpoint_dir(supervisor *sv, bool make, char dir[PATH_MAX])
{
        char env_dir[PATH_MAX];
        _cleanup_close_ int dfd = -1;
        int r = ob_env_path(sv->state_dir, sv->id, NULL, env_dir, PATH_MAX);

        if (r >= 0)
                r = ob_env_path(sv->state_dir, sv->id, "checkpoint", dir, PATH_MAX);
        if (r < 0)
                return r;
        dfd = open(env_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        r = ob_remove_at(dfd, "checkpoint", 2);
        if (r < 0 && r != -ENOENT)
                return r;
        return make && mkdir(dir, 0700) < 0 ? negative_errno() : 0;
}

/* The first start: from the memory image a restored snapshot brought
 * (environments/create.c put it in envs/<id>/checkpoint), used once: only
 * the start of an environment being created boots from one; an image left
 * by anything else (a supervisor killed mid-snapshot) is removed unused. */
static int first_start(supervisor *sv, ob_error *err)
{
        char dir[PATH_MAX], img[PATH_MAX], why[sizeof(err->message)];
        bool restore = sv->rec.state == OB_ENV_CREATING &&
                       ob_env_path(sv->state_dir, sv->id, "checkpoint/checkpoint.img", img,
                                   sizeof(img)) >= 0 &&
                       access(img, F_OK) == 0;
        int r;

        if (!restore) {
                r = checkpoint_dir(sv, false, dir);
                return r < 0 ? ob_error_set(err, 0, 0, -r, "a stale memory image: %s", strerror(-r))
                             : start_sandbox(sv, NULL, err);
        }
        r = ob_env_path(sv->state_dir, sv->id, "checkpoint", dir, sizeof(dir));
        if (r >= 0)
                r = start_sandbox(sv, dir, err);
        (void)checkpoint_dir(sv, false, dir);
        if (r < 0) {
                snprintf(why, sizeof(why), "%s", err->message);
                ob_error_set(err, 0, 0, -r,
                             "the snapshot's memory does not restore into this environment: "
                             "%.300s",
                             why);
        }
        return r;
}

/* Whether the sandbox is still there (runsc state answers for it). */
static bool sandbox_alive(supervisor *sv)
{
        ob_run_exec_target_info t;
        const char *args[] = {"--root", NULL, "state", NULL, NULL};

        if (!sv->run || ob_run_exec_target(sv->run, &t) < 0)
                return false;
        args[1] = t.runsc_root;
        args[3] = t.id;
        return ob_runsc_call(t.runsc, args, t.netns_fd, 5000) == 0;
}

/* runsc 20221219 saves a sandbox as one file, checkpoint.img (its pages
 * compressed inside); anything else there is a format this snapshot does
 * not carry: refused rather than restored incomplete elsewhere. */
static int image_entry(int dirfd, const char *name, void *userdata)
{
        (void)dirfd;
        if (!streq(name, "checkpoint.img")) {
                snprintf(userdata, NAME_MAX + 1, "%s", name);
                return -ENOTSUP;
        }
        return 0;
}

static int only_the_image(const char *dir, ob_error *err)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char other[NAME_MAX + 1] = "";
        int r = fd < 0 ? negative_errno() : ob_dir_each(fd, image_entry, other);

        if (r == -ENOTSUP)
                return ob_error_set(err, 0, 0, ENOTSUP,
                                    "runsc checkpoint wrote %s, which a snapshot does not carry "
                                    "(only checkpoint.img)",
                                    other);
        if (r >= 0 && faccessat(fd, "checkpoint.img", F_OK, 0) < 0)
                r = negative_errno();
        return r < 0 ? ob_error_set(err, 0, 0, -r, "%s/checkpoint.img: %s", dir, strerror(-r)) : 0;
}

/* The run's end, and the capability set and template it was started with
 * (start_sandbox loads them again). */
static void end_run_and_set(supervisor *sv)
{
        end_run(sv);
        sv->caps = ob_capset_free(sv->caps);
        sv->tpl = ob_template_free(sv->tpl);
}

/* env snapshot --memory (docs/environments.md §Memory snapshots): the
 * sandbox saved by runsc checkpoint, the archive written (the workspace and
 * that image) while nothing runs in it, then the sandbox restored from the
 * image: its processes and memory go on where they were. */
static void op_snapshot(supervisor *sv, int *client, const cJSON *req)
{
        const char *out = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "output"));
        char dir[PATH_MAX], img[PATH_MAX], ws[PATH_MAX], hash[OB_SNAPSHOT_HASH_HEX];
        _cleanup_free_ char *meta = NULL;
        ob_error err = {0}, err2 = {0};
        bool saved, kept;
        int r, k;

        if (!out || out[0] != '/')
                return answer_error(client, "invalid", "a snapshot needs an absolute output path");
        for (size_t i = 0; i < OB_ENV_MAX_EXECS; i++)
                if (sv->execs[i].x)
                        return answer_error(client, "busy",
                                            "an exec is running: a memory snapshot needs the "
                                            "environment idle (gVisor cannot restore an open "
                                            "exec)");
        if (sv->rec.secret_names && sv->rec.secret_names[0])
                return answer_error(client, "invalid",
                                    "the environment has secrets, which its memory (a "
                                    "process's, /tmp's) could hold, and a snapshot never holds "
                                    "a secret: snapshot it without --memory");
        if (ob_run_network_wanted(sv->caps))
                return answer_error(client, "invalid",
                                    "the environment has network grants: gVisor cannot "
                                    "checkpoint a sandbox on the host network (runsc "
                                    "--network=host); snapshot it without --memory");
        r = checkpoint_dir(sv, true, dir);
        if (r >= 0)
                r = ob_env_path(sv->state_dir, sv->id, "workspace", ws, sizeof(ws));
        if (r >= 0 && snprintf(img, sizeof(img), "%s/checkpoint.img", dir) >= (int)sizeof(img))
                r = -ENAMETOOLONG;
        if (r >= 0)
                r = ob_env_snapshot_meta(&sv->rec, &meta);
        if (r < 0)
                return answer_error(client, "error", strerror(-r));
        drop_spare(sv);
        saved = ob_run_checkpoint(sv->run, dir, &err) >= 0;
        if (!saved && sandbox_alive(sv)) { /* nothing happened to it */
                (void)checkpoint_dir(sv, false, dir);
                make_spare(sv);
                return answer_error(client, "error", err.message);
        }
        /* saved (or, failing, it ended anyway): its run is over */
        end_run_and_set(sv);
        r = saved ? only_the_image(dir, &err) : -EIO;
        if (r >= 0)
                r = ob_snapshot_write_memory(ws, meta, img, out, hash, &err);
        k = saved ? start_sandbox(sv, dir, &err2) : -EIO;
        kept = k >= 0;
        if (!kept) { /* its memory is lost: the environment goes on fresh */
                if (saved)
                        snprintf(err.message, sizeof(err.message), "%s", err2.message);
                fprintf(stderr, "omnibase-supervisor %s: memory snapshot: %s\n", sv->id,
                        err.message);
                end_run_and_set(sv);
                k = start_sandbox(sv, NULL, &err2);
        }
        (void)checkpoint_dir(sv, false, dir);
        sv->last_activity = now_s();
        if (k < 0) {
                char reason[200];
                snprintf(reason, sizeof(reason), "restart after a memory snapshot failed: %.140s",
                         err2.message);
                begin_end(sv, OB_ENV_FAILED, reason);
                return answer_error(client, "error", reason);
        }
        const char *kv[] = {"sandbox_id", ob_run_id(sv->run), "memory", kept ? "kept" : "lost"};
        emit(sv, OB_EVENT_ENVIRONMENT_STARTED, kv, 4);
        if (!kept) {
                char why[sizeof(err.message) + 64];
                snprintf(why, sizeof(why),
                         "the environment was started fresh, its memory lost: %.300s", err.message);
                answer_error(client, "error", why);
        } else if (r < 0)
                answer_error(client, err.code ? err.code : "error", err.message);
        else
                answer_ok(client, "tree_hash", cJSON_CreateString(hash));
        make_spare(sv);
}

static void begin_end(supervisor *sv, ob_env_state final, const char *reason)
{
        if (sv->ending)
                return;
        sv->ending = true;
        sv->final = final;
        snprintf(sv->reason, sizeof(sv->reason), "%s", reason);
}

static void handle_client(supervisor *sv, int client)
{
        _cleanup_free_ char *line = NULL;
        int fds[3] = {-1, -1, -1};
        size_t n_fds = 0;
        cJSON *req;
        const cJSON *op;

        if (ob_ctl_recv(client, true, &line, fds, &n_fds) < 0) {
                close(client);
                return;
        }
        req = cJSON_Parse(line);
        op = req ? cJSON_GetObjectItemCaseSensitive(req, "op") : NULL;
        if (!cJSON_IsString(op))
                answer_error(&client, "invalid", "a request needs an \"op\"");
        else if (sv->ending)
                answer_error(&client, "not_running", "the environment is ending");
        else if (streq(op->valuestring, "exec"))
                op_exec(sv, &client, req, fds, n_fds);
        else if (streq(op->valuestring, "status"))
                op_status(sv, &client);
        else if (streq(op->valuestring, "reload"))
                op_reload(sv, &client);
        else if (streq(op->valuestring, "reset"))
                op_reset(sv, &client);
        else if (streq(op->valuestring, "snapshot"))
                op_snapshot(sv, &client, req);
        else if (streq(op->valuestring, "stop") || streq(op->valuestring, "delete")) {
                begin_end(sv, streq(op->valuestring, "stop") ? OB_ENV_STOPPED : OB_ENV_DELETED,
                          streq(op->valuestring, "stop") ? "stopped by request"
                                                         : "deleted by request");
                sv->final_client = TAKE_FD(client);
        } else
                answer_error(&client, "invalid", "unknown op");
        for (size_t i = 0; i < n_fds; i++)
                closep(&fds[i]);
        cJSON_Delete(req);
        closep(&client);
}

static void accept_clients(supervisor *sv)
{
        for (;;) {
                int c = accept4(sv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                struct ucred cred;
                socklen_t len = sizeof(cred);
                if (c < 0)
                        return;
                /* root only, whatever the socket's mode says */
                if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
                        close(c);
                        continue;
                }
                handle_client(sv, c);
        }
}

/* ---- the sandbox ---- */

/* Pumps the run until pred says stop, the run ends (false) or ms pass. */
static bool pump_run(supervisor *sv, int64_t ms, bool (*pred)(supervisor *))
{
        int64_t end = ob_mono_ms() + ms;

        while (!pred(sv)) {
                struct pollfd fds[OB_LAUNCH_POLLFDS];
                int timeout, left = (int)(end - ob_mono_ms());
                if (left <= 0 || ob_run_pollfds(sv->run, fds, &timeout) == 0)
                        return false;
                (void)poll(fds, OB_LAUNCH_POLLFDS, timeout < 0 || timeout > left ? left : timeout);
                if (!ob_run_step(sv->run, fds))
                        return false;
        }
        return true;
}

static bool is_up(supervisor *sv)
{
        ob_run_exec_target_info t;
        return ob_run_exec_target(sv->run, &t) >= 0;
}

static bool never(supervisor *sv)
{
        (void)sv;
        return false;
}

/* The environment's capability set (envs/<id>/caps.json, written at
 * create: the template's set and the environment's own /workspace and
 * flags file), the workspace mounted, the held sandbox started: fresh, or
 * restored from the checkpoint in the directory image. */
static int start_sandbox(supervisor *sv, const char *image, ob_error *err)
{
        char env_dir[PATH_MAX];
        char *caps = sv->paths[0], *ws = sv->paths[1], *flags = sv->paths[2];
        ob_sandbox_options *o = &sv->opts;
        int r;

        r = ob_env_path(sv->state_dir, sv->id, NULL, env_dir, sizeof(env_dir));
        if (r >= 0)
                r = ob_env_path(sv->state_dir, sv->id, "caps.json", caps, PATH_MAX);
        if (r >= 0)
                r = ob_env_path(sv->state_dir, sv->id, "workspace", ws, PATH_MAX);
        if (r >= 0)
                r = ob_env_path(sv->state_dir, sv->id, "flags.json", flags, PATH_MAX);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "paths: %s", strerror(-r));
        r = ob_capset_load(caps, &sv->caps, err);
        if (r >= 0)
                r = ob_template_load(sv->rec.template_name, &sv->tpl, err);
        if (r >= 0)
                r = ob_workspace_mount(env_dir, err);
        if (r < 0)
                return r;
        sv->binds[0] = (ob_sandbox_bind){ws, OB_ENV_WORKSPACE, true};
        sv->binds[1] = (ob_sandbox_bind){flags, OB_ENV_FLAGS_FILE, false};
        ob_sandbox_options_init(o);
        o->caps = sv->caps;
        o->profile = sv->tpl->profile;
        o->hold = true;
        o->capture = true;
        o->state_dir = sv->state_dir;
        o->binds = sv->binds;
        o->n_binds = ARRAY_SIZE(sv->binds);
        r = ob_run_new(o, &sv->run, err);
        if (r >= 0 && image)
                r = ob_run_restore_from(sv->run, image, err);
        if (r >= 0)
                r = ob_run_create(sv->run, err);
        if (r >= 0)
                r = ob_run_start(sv->run, err);
        if (r >= 0 && !pump_run(sv, START_TIMEOUT_MS, is_up))
                r = ob_error_set(err, 0, 0, EIO, "the sandbox did not come up");
        return r;
}

/* SIGTERM to the sidecar (PID 1 ends cleanly, SandboxExit 0), then the
 * run's end; destroy removes whatever is left. */
static void stop_sandbox(supervisor *sv)
{
        ob_run_exec_target_info t;

        drop_spare(sv);
        for (size_t i = 0; i < OB_ENV_MAX_EXECS; i++)
                if (sv->execs[i].x) {
                        sv->execs[i].x = ob_exec_free(sv->execs[i].x);
                        answer_error(&sv->execs[i].client, "not_running",
                                     "the environment ended during the exec");
                }
        if (sv->run && ob_run_exec_target(sv->run, &t) >= 0) {
                const char *args[] = {"--root", t.runsc_root, "kill", t.id, "TERM", NULL};
                (void)ob_runsc_call(t.runsc, args, t.netns_fd, 5000);
        }
        end_run(sv);
}

/* The run's end, once its sandbox is told to end (or saved), then what is
 * left of it removed. */
static void end_run(supervisor *sv)
{
        if (sv->run && ob_run_id(sv->run)) {
                (void)pump_run(sv, STOP_GRACE_MS, never);
                (void)ob_run_finish(sv->run, NULL);
        }
        sv->run = ob_run_destroy(sv->run);
}

/* ---- the loop ---- */

static int next_timeout(supervisor *sv, int t)
{
        int64_t now = now_s(), due = sv->rec.expires_at;

        if (sv->idle_s > 0 && sv->last_activity + sv->idle_s < due)
                due = sv->last_activity + sv->idle_s;
        if (sv->spare && sv->last_activity + sv->spare_idle_s < due)
                due = sv->last_activity + sv->spare_idle_s;
        if (due <= now)
                return 0;
        if (due - now < INT32_MAX / 1000 && (t < 0 || (due - now) * 1000 < t))
                return (int)((due - now) * 1000);
        return t;
}

static void check_deadlines(supervisor *sv)
{
        int64_t now = now_s();

        if (now >= sv->rec.expires_at) {
                begin_end(sv, OB_ENV_EXPIRED, "its TTL ran out");
                return;
        }
        if (sv->spare && now >= sv->last_activity + sv->spare_idle_s)
                drop_spare(sv);
        if (sv->idle_s <= 0 || now < sv->last_activity + sv->idle_s)
                return;
        for (size_t i = 0; i < OB_ENV_MAX_EXECS; i++)
                if (sv->execs[i].x) { /* a running exec is activity */
                        sv->last_activity = now;
                        return;
                }
        /* activity the store saw (env logs, a show of interest) counts too */
        ob_env_record r = {0};
        if (ob_store_get(sv->store, sv->id, &r, NULL) >= 0) {
                if (r.last_activity_at > sv->last_activity)
                        sv->last_activity = r.last_activity_at;
                ob_env_record_done(&r);
        }
        if (now >= sv->last_activity + sv->idle_s)
                begin_end(sv, OB_ENV_STOPPED, "idle");
}

#define EXEC_FDS (OB_EXEC_POLLFDS + 1) /* the exec's, and its client's socket */
#define LOOP_FDS (OB_LAUNCH_POLLFDS + 3 + OB_ENV_MAX_EXECS * EXEC_FDS)
#define SPARE_FD (OB_LAUNCH_POLLFDS + 2)

static void loop(supervisor *sv)
{
        while (!sv->ending) {
                struct pollfd fds[LOOP_FDS];
                int timeout = -1, t;
                size_t base = OB_LAUNCH_POLLFDS + 3;

                if (ob_run_pollfds(sv->run, fds, &timeout) == 0) {
                        begin_end(sv, OB_ENV_FAILED, "the sandbox ended by itself");
                        break;
                }
                fds[OB_LAUNCH_POLLFDS] = (struct pollfd){.fd = sv->listen_fd, .events = POLLIN};
                fds[OB_LAUNCH_POLLFDS + 1] = (struct pollfd){.fd = sv->sig_fd, .events = POLLIN};
                fds[SPARE_FD] = (struct pollfd){.fd = sv->spare ? ob_exec_spare_fd(sv->spare) : -1,
                                                .events = POLLIN};
                for (size_t i = 0; i < OB_ENV_MAX_EXECS; i++) {
                        struct pollfd *f = fds + base + i * EXEC_FDS;
                        for (size_t k = 0; k < EXEC_FDS; k++)
                                f[k] = (struct pollfd){.fd = -1};
                        if (sv->execs[i].x) {
                                (void)ob_exec_pollfds(sv->execs[i].x, f, &t);
                                if (t >= 0 && (timeout < 0 || t < timeout))
                                        timeout = t;
                                /* the caller gone (Ctrl-C): nobody waits for it */
                                f[OB_EXEC_POLLFDS] = (struct pollfd){
                                    .fd = sv->execs[i].hung_up ? -1 : sv->execs[i].client,
                                    .events = POLLRDHUP};
                        }
                }
                timeout = next_timeout(sv, timeout);
                if (poll(fds, LOOP_FDS, timeout) < 0 && errno != EINTR) {
                        begin_end(sv, OB_ENV_FAILED, "the supervisor's poll failed");
                        break;
                }
                if (!ob_run_step(sv->run, fds)) {
                        begin_end(sv, OB_ENV_FAILED, "the sandbox ended by itself");
                        break;
                }
                for (size_t i = 0; i < OB_ENV_MAX_EXECS; i++) {
                        sv_exec *e = &sv->execs[i];
                        struct pollfd *f = fds + base + i * EXEC_FDS;
                        if (!e->x)
                                continue;
                        if (f[OB_EXEC_POLLFDS].revents && !e->hung_up) {
                                e->hung_up = true;
                                ob_exec_kill(e->x);
                        }
                        if (!ob_exec_step(e->x, f))
                                exec_done(sv, e);
                }
                if (fds[SPARE_FD].revents && sv->spare) /* it died unused */
                        drop_spare(sv);
                if (fds[OB_LAUNCH_POLLFDS].revents)
                        accept_clients(sv);
                if (fds[OB_LAUNCH_POLLFDS + 1].revents) {
                        struct signalfd_siginfo si;
                        if (read(sv->sig_fd, &si, sizeof(si)) == sizeof(si))
                                begin_end(sv, OB_ENV_STOPPED, "the supervisor was told to stop");
                }
                check_deadlines(sv);
        }
}

static void finish(supervisor *sv)
{
        static const ob_event_type types[] = {
            [OB_ENV_STOPPED] = OB_EVENT_ENVIRONMENT_STOPPED,
            [OB_ENV_EXPIRED] = OB_EVENT_ENVIRONMENT_EXPIRED,
            [OB_ENV_DELETED] = OB_EVENT_ENVIRONMENT_DELETED,
            [OB_ENV_FAILED] = OB_EVENT_ENVIRONMENT_FAILED,
        };
        ob_error err = {0};
        char sock[PATH_MAX];

        closep(&sv->listen_fd);
        if (ob_env_path(sv->state_dir, sv->id, "control.sock", sock, sizeof(sock)) >= 0)
                (void)unlink(sock);
        stop_sandbox(sv);
        if (ob_env_teardown(sv->state_dir, sv->store, &sv->rec, sv->final, sv->reason, &err) < 0) {
                fprintf(stderr, "omnibase-supervisor %s: %s\n", sv->id, err.message);
                if (sv->final_client >= 0)
                        answer_error(&sv->final_client, err.code, err.message);
                return;
        }
        (void)types;
        if (sv->final_client >= 0)
                answer_ok(&sv->final_client, NULL, NULL);
}

/* The environment's lock: handed over already held as fd 4 by the creator
 * (so that gc sees the environment alive from its first moment), or taken
 * here; a probe's brief shared lock is waited out. */
static int lock_env(const char *state_dir, const char *id)
{
        char path[PATH_MAX];
        struct stat a, b;
        int fd, r = ob_env_path(state_dir, id, "supervisor.lock", path, sizeof(path));

        if (r < 0)
                return r;
        if (fstat(4, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
                fcntl(4, F_SETFD, FD_CLOEXEC);
                if (flock(4, LOCK_EX | LOCK_NB) == 0) /* ours already: a no-op */
                        return 4;
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        for (int i = 0; i < 50; i++) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return fd;
                if (errno != EWOULDBLOCK)
                        break;
                (void)poll(NULL, 0, 10);
        }
        r = errno == EWOULDBLOCK ? -EALREADY : negative_errno();
        close(fd);
        return r;
}

int ob_env_supervise(const char *state_dir, const char *id, int notify)
{
        supervisor sv = {.state_dir = state_dir, .listen_fd = -1, .sig_fd = -1, .final_client = -1};
        ob_env_config cfg;
        ob_error err = {0};
        char sock[PATH_MAX], line[600];
        sigset_t set;
        int lock, r;

        snprintf(sv.id, sizeof(sv.id), "%s", id);
        /* a creator that went away must not kill us through the notify pipe;
         * decrypted secrets pass through this process: no core, no ptrace */
        signal(SIGPIPE, SIG_IGN);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        (void)setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        lock = lock_env(state_dir, id);
        r = lock < 0 ? ob_error_set(&err, 0, 0, -lock, "%s: already supervised (%s)", id,
                                    strerror(-lock))
                     : 0;
        if (r >= 0)
                r = ob_env_config_load(NULL, &cfg, &err);
        if (r >= 0)
                r = ob_store_open(state_dir, &sv.store, &err);
        if (r >= 0)
                r = ob_store_get(sv.store, id, &sv.rec, &err);
        sv.idle_s = r >= 0 ? cfg.idle_stop_after_s : 0;
        sv.spare_idle_s = r >= 0 ? cfg.exec_spare_idle_s : 0;
        sv.last_activity = now_s();
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        sv.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (r >= 0)
                r = first_start(&sv, &err);
        if (r >= 0)
                r = ob_env_path(state_dir, id, "control.sock", sock, sizeof(sock));
        if (r >= 0 && (r = ob_ctl_listen(sock, &sv.listen_fd)) < 0)
                ob_error_set(&err, 0, 0, -r, "control socket %s: %s", sock, strerror(-r));
        if (r >= 0)
                r = ob_store_transition(sv.store, id, 1u << OB_ENV_CREATING | 1u << OB_ENV_STOPPED,
                                        OB_ENV_RUNNING, NULL, &err);
        if (r >= 0)
                (void)ob_store_set_supervisor(sv.store, id, getpid(), NULL);
        if (r < 0) {
                snprintf(line, sizeof(line), "%s\n", err.message[0] ? err.message : strerror(-r));
                (void)!write(notify, line, strlen(line));
                stop_sandbox(&sv);
                if (lock >= 0 && ob_env_path(state_dir, id, NULL, sock, sizeof(sock)) >= 0)
                        (void)ob_workspace_unmount(sock, NULL); /* sock: the env dir here */
        } else {
                const char *kv[] = {"sandbox_id", ob_run_id(sv.run)};
                emit(&sv, OB_EVENT_ENVIRONMENT_STARTED, kv, ARRAY_SIZE(kv));
                snprintf(line, sizeof(line), "ok %d\n", (int)getpid());
                (void)!write(notify, line, strlen(line));
                close(notify);
                notify = -1;
                make_spare(&sv);
                loop(&sv);
                finish(&sv);
        }
        if (notify >= 0)
                close(notify);
        closep(&sv.listen_fd);
        closep(&sv.sig_fd);
        sv.caps = ob_capset_free(sv.caps);
        sv.tpl = ob_template_free(sv.tpl);
        ob_env_record_done(&sv.rec);
        sv.store = ob_store_close(sv.store);
        if (lock >= 0)
                close(lock);
        return r < 0 ? 1 : 0;
}

const char *ob_env_supervisor_binary(void)
{
        const char *env = getenv("OMNIBASE_SUPERVISOR");

        if (env && *env)
                return env;
        if (access(OB_SUPERVISOR_BUILD_PATH, X_OK) == 0)
                return OB_SUPERVISOR_BUILD_PATH;
        return OB_SUPERVISOR_INSTALLED_PATH;
}

/* The grandchild: own session, stdio to supervisor.log, the notify pipe as
 * fd 3 and no other fd, then a fresh program (no SQLite connection, no
 * memory of the caller's crosses into it). */
static _Noreturn void become_supervisor(const char *state_dir, const char *id, int notify,
                                        int lock_fd)
{
        const char *bin = ob_env_supervisor_binary();
        char log[PATH_MAX];
        sigset_t none;
        int fd;

        (void)setsid();
        if (fork() != 0)
                _exit(0);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* out of the way first: either may be 0 to 4 now */
        notify = fcntl(notify, F_DUPFD_CLOEXEC, 10);
        if (lock_fd >= 0)
                lock_fd = fcntl(lock_fd, F_DUPFD_CLOEXEC, 10);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && fd != 0) {
                dup2(fd, 0);
                close(fd);
        }
        if (ob_env_path(state_dir, id, "supervisor.log", log, sizeof(log)) >= 0 &&
            (fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
        }
        if (notify < 0 || dup2(notify, 3) < 0 || (lock_fd >= 0 && dup2(lock_fd, 4) < 0))
                _exit(127);
        (void)syscall(SYS_close_range, lock_fd >= 0 ? 5 : 4, ~0U, 0);
        execl(bin, "omnibase-supervisor", ob_env_state_dir(state_dir), id, (char *)NULL);
        dprintf(3, "%s: %s\n", bin, strerror(errno));
        _exit(127);
}

int ob_env_supervisor_spawn(const char *state_dir, const char *id, int lock_fd, pid_t *ret_pid,
                            ob_error *err)
{
        char buf[600];
        size_t len = 0;
        int p[2], status;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return ob_error_set(err, 0, 0, errno, "supervisor: %s", strerror(errno));
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return ob_error_set(err, 0, 0, errno, "supervisor: fork: %s", strerror(errno));
        }
        if (pid == 0) {
                close(p[0]);
                become_supervisor(state_dir, id, p[1], lock_fd);
        }
        close(p[1]);
        (void)waitpid(pid, &status, 0);
        for (;;) {
                struct pollfd f = {.fd = p[0], .events = POLLIN};
                ssize_t n;
                if (poll(&f, 1, START_TIMEOUT_MS + 15000) <= 0)
                        break;
                n = read(p[0], buf + len, sizeof(buf) - 1 - len);
                if (n <= 0 || (len += (size_t)n) >= sizeof(buf) - 1)
                        break;
        }
        close(p[0]);
        buf[len] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (strncmp(buf, "ok ", 3) == 0) {
                *ret_pid = (pid_t)atoi(buf + 3);
                return 0;
        }
        return ob_error_set(err, 0, 0, EIO, "%s", buf[0] ? buf : "the supervisor died");
}
