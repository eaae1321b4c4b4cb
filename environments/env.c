/* SPDX-License-Identifier: Apache-2.0 */
/* The environment operations (DESIGN §6): each validates its input, works
 * on the store in single transactions, and leaves the sandbox to the
 * environment's supervisor (supervisor.c), which it talks to over the
 * control socket. A failed create undoes everything it made. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fs.h"
#include "environments/env.h"
#include "environments/secrets.h"
#include "environments/seed.h"
#include "environments/template.h"
#include "runner/workspace.h"
#include "runner/runner.h"

const char *ob_env_state_dir(const char *state_dir)
{
        return state_dir ? state_dir : ob_state_dir_default();
}

int ob_env_path(const char *state_dir, const char *id, const char *leaf, char *buf, size_t size)
{
        int n = snprintf(buf, size, "%s/envs/%s%s%s", ob_env_state_dir(state_dir), id,
                         leaf ? "/" : "", leaf ? leaf : "");
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void ob_env_principal(const char *id, char *buf, size_t size)
{
        const char *hex = strlen(id) > 4 ? id + 4 : "000000000000";
        snprintf(buf, size, "0e000000-0000-4000-8000-%.12s", hex);
}

bool ob_env_supervisor_alive(const char *state_dir, const char *id)
{
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;

        if (ob_env_path(state_dir, id, "supervisor.lock", path, sizeof(path)) < 0)
                return false;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return false;
        if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
                (void)flock(fd, LOCK_UN);
                return false;
        }
        return errno == EWOULDBLOCK;
}

int ob_env_lock(const char *state_dir, const char *id)
{
        char path[PATH_MAX];
        int fd, r = ob_env_path(state_dir, id, "supervisor.lock", path, sizeof(path));

        if (r < 0)
                return r;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EALREADY : negative_errno();
                close(fd);
                return r;
        }
        return fd;
}

typedef struct emit_ctx {
        ob_run_audit *audit;
} emit_ctx;

static void to_audit(const char *line, void *userdata)
{
        ob_run_audit_line(((emit_ctx *)userdata)->audit, line);
}

int ob_env_emit(const char *state_dir, ob_event_type type, const ob_env_record *r,
                const char *const *kv, size_t n_kv)
{
        emit_ctx c = {0};
        ob_event_sink sink = {.fn = to_audit, .userdata = &c};
        _cleanup_event_ ob_event *ev = NULL;
        char principal[40];
        int res;

        ob_env_principal(r->id, principal, sizeof(principal));
        res = ob_run_audit_open(NULL, ob_env_state_dir(state_dir), &c.audit, NULL);
        if (res < 0)
                return res;
        res = ob_event_new(type, r->id[0] ? r->id : NULL, r->id[0] ? principal : NULL, &ev);
        if (res >= 0) {
                if (r->id[0])
                        ob_event_add_string(ev, "env_id", r->id);
                ob_event_add_string(ev, "owner", r->owner);
                for (size_t i = 0; i + 1 < n_kv; i += 2)
                        if (kv[i + 1])
                                ob_event_add_string(ev, kv[i], kv[i + 1]);
                res = ob_event_emit(&sink, ev);
        }
        if (res >= 0)
                res = ob_run_audit_flush(c.audit);
        c.audit = ob_run_audit_close(c.audit);
        return res;
}

static int open_store(const char *state_dir, ob_store **ret, ob_error *err)
{
        return ob_store_open(ob_env_state_dir(state_dir), ret, err);
}

static void store_closep(ob_store **s)
{
        *s = ob_store_close(*s);
}
#define _cleanup_store_ _cleanup_(store_closep)

int ob_env_teardown(const char *state_dir, ob_store *store, const ob_env_record *r,
                    ob_env_state final, const char *reason, ob_error *err)
{
        static const ob_event_type types[] = {
            [OB_ENV_STOPPED] = OB_EVENT_ENVIRONMENT_STOPPED,
            [OB_ENV_EXPIRED] = OB_EVENT_ENVIRONMENT_EXPIRED,
            [OB_ENV_DELETED] = OB_EVENT_ENVIRONMENT_DELETED,
            [OB_ENV_FAILED] = OB_EVENT_ENVIRONMENT_FAILED,
        };
        char dir[PATH_MAX];
        bool keep = final == OB_ENV_STOPPED || final == OB_ENV_FAILED;
        int res = ob_env_path(state_dir, r->id, NULL, dir, sizeof(dir));

        if (res < 0 || (unsigned) final >= ARRAY_SIZE(types) || !types[final])
                return ob_error_set(err, 0, 0, EINVAL, "%s: cannot end as %s", r->id,
                                    ob_env_state_to_string(final));
        /* deleted goes through deleting: a crash half-way leaves a state gc knows */
        if (final == OB_ENV_DELETED && r->state != OB_ENV_DELETING)
                res = ob_store_transition(store, r->id, 0, OB_ENV_DELETING, reason, err);
        if (res < 0)
                return res;
        res = keep ? ob_workspace_unmount(dir, err) : ob_workspace_destroy(dir, err);
        if (res >= 0 && !keep) {
                res = ob_secrets_revoke_all(dir, err);
                for (size_t i = 0; res >= 0 && r->secret_names && r->secret_names[i]; i++) {
                        const char *kv[] = {"name", r->secret_names[i]};
                        (void)ob_env_emit(state_dir, OB_EVENT_SECRET_REVOKED, r, kv, 2);
                }
                if (res >= 0 && (res = ob_rm_rf(dir)) < 0 && res != -ENOENT)
                        res = ob_error_set(err, 0, 0, -res, "%s: %s", dir, strerror(-res));
                res = res == -ENOENT ? 0 : res;
        }
        if (res < 0)
                return res;
        res = ob_store_transition(store, r->id, 0, final, reason, err);
        if (res >= 0)
                (void)ob_store_set_supervisor(store, r->id, 0, NULL);
        if (res >= 0) {
                const char *kv[] = {"reason", reason};
                (void)ob_env_emit(state_dir, types[final], r, kv, 2);
        }
        return res;
}

int ob_env_get(const char *state_dir, const char *id_or_name, ob_env_record *ret, ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        int r = open_store(state_dir, &s, err);

        return r < 0 ? r : ob_store_get(s, id_or_name, ret, err);
}

int ob_env_list(const char *state_dir, const char *owner, bool all, ob_env_record **ret,
                size_t *ret_n, ob_error *err)
{
        _cleanup_store_ ob_store *s = NULL;
        int r = open_store(state_dir, &s, err);

        return r < 0 ? r : ob_store_list(s, owner, all, ret, ret_n, err);
}
