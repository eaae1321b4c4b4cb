/* SPDX-License-Identifier: Apache-2.0 */
/* The environment layer's orchestrator (DESIGN §6, docs/environments.md):
 * the operations the CLI (and later the server and MCP) call, the
 * per-environment supervisor that owns each sandbox, and the control
 * socket between them. State is in the store (store.h); each environment
 * has a directory $STATE/envs/<id>/ (0700):
 *   supervisor.lock  flock'd by the live supervisor (liveness for gc)
 *   control.sock     the supervisor's control socket (0600)
 *   supervisor.log   what the supervisor could not say to anyone else
 *   workspace.img, workspace/   the size-limited /workspace (workspace.h)
 *   flags.json       /omnibase/flags.json inside (read-only)
 *   caps.json        the environment's capability set (template + its own)
 *   secrets/         sealed secrets (secrets.h) */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <omnibase/sandbox.h>

#include "common/error.h"
#include "environments/store.h"
#include "environments/template.h"
#include "events/event.h"

#define OB_ENV_WORKSPACE  "/workspace"
#define OB_ENV_FLAGS_FILE "/omnibase/flags.json"
#define OB_ENV_MAX_EXECS  16 /* concurrent execs per environment */
#define OB_CTL_MAX_LINE   (64 * 1024)
/* The secrets of one environment in an exec's header line, JSON-escaped
 * (the sidecar reads at most 1 MiB of header: sidecar/execio.c). */
#define OB_ENV_SECRETS_MAX_BYTES (512 * 1024)

/* A state dir resolved once ($OMNIBASE_STATE_DIR or the default). */
const char *ob_env_state_dir(const char *state_dir);
/* $STATE/envs/<id>[/<leaf>] into buf; -ENAMETOOLONG when it does not fit. */
int ob_env_path(const char *state_dir, const char *id, const char *leaf, char *buf, size_t size);
/* The principal UUID of an environment (its sandbox's events carry it):
 * 0e000000-0000-4000-8000-<the id's 12 hex digits>. buf >= 37. */
void ob_env_principal(const char *id, char *buf, size_t size);
/* true while a supervisor holds envs/<id>/supervisor.lock. */
bool ob_env_supervisor_alive(const char *state_dir, const char *id);

/* One audit event of the environment layer: type, with env_id and owner,
 * then the caller's fields (pairs of key, value; value NULL skips) to
 * state_dir/audit.jsonl, made durable before returning. */
int ob_env_emit(const char *state_dir, ob_event_type type, const ob_env_record *r,
                const char *const *kv, size_t n_kv);

/* ---- the control socket (control.c) ---- */

/* Connects to envs/<id>/control.sock; -ENOENT/-ECONNREFUSED when no
 * supervisor listens. */
int ob_ctl_connect(const char *state_dir, const char *id, int *ret_fd);
/* Listens on path (0600, removed first). */
int ob_ctl_listen(const char *path, int *ret_fd);
/* One JSON line, with up to 3 fds attached (SCM_RIGHTS). */
int ob_ctl_send(int fd, const char *line, const int *fds, size_t n_fds);
/* One JSON line (without '\n', at most OB_CTL_MAX_LINE) and the fds that
 * came with it (*ret_n_fds, at most 3; the caller's to close; ret_fds may
 * be NULL). timed: give up after a few seconds (the supervisor's side). */
int ob_ctl_recv(int fd, bool timed, char **ret_line, int ret_fds[3], size_t *ret_n_fds);
/* One request to rec's supervisor (no fds); an "ok" answer's key item
 * detached into *ret_obj (may be NULL), an error answer as err (its code). */
struct cJSON;
int ob_env_request(const char *state_dir, const ob_env_record *rec, const char *request,
                   const char *key, struct cJSON **ret_obj, ob_error *err);
/* Sends request and waits for the one-line answer (*ret_line malloc'd). */
int ob_ctl_call(const char *state_dir, const char *id, const char *request, const int *fds,
                size_t n_fds, char **ret_line, ob_error *err);

/* ---- the supervisor (supervisor.c) ---- */

/* Starts the supervisor of environment id (detached: double fork, own
 * session, exec of omnibase-supervisor) and waits until its sandbox is up
 * ("ok") or it failed (its one line in err). lock_fd (-1: none) is
 * envs/<id>/supervisor.lock already flock'ed by the caller: the supervisor
 * inherits the lock, so the environment is never seen without one. */
int ob_env_supervisor_spawn(const char *state_dir, const char *id, int lock_fd, pid_t *ret_pid,
                            ob_error *err);
/* Opens and flocks (exclusively, non-blocking) envs/<id>/supervisor.lock;
 * -EALREADY when a supervisor holds it. Returns the fd. */
int ob_env_lock(const char *state_dir, const char *id);
/* The supervisor's life (omnibase-supervisor's main): notify gets
 * "ok <pid>\n" once the sandbox is up, or one error line; returns the exit
 * status. */
int ob_env_supervise(const char *state_dir, const char *id, int notify);
/* $OMNIBASE_SUPERVISOR, the build tree's binary, or the installed one. */
const char *ob_env_supervisor_binary(void);

/* ---- the operations (env.c): the public ones are in <omnibase/environment.h> ---- */

/* A pure plan of ob_env_create (the Kubernetes renderer's input): the same
 * checks (owner, template approved, TTL, seed, flags; no secrets), and the
 * record a create at now would make, its id derived from the inputs and now
 * (same input, same id). Nothing is made or stored. *ret and *ret_tpl are
 * the caller's (ob_env_record_done, ob_template_free). */
int ob_env_plan(const ob_env_create_opts *o, int64_t now, ob_env_record *ret, ob_template **ret_tpl,
                ob_error *err);
/* The capability set of environment id: tpl_caps, its principal, and its own
 * /workspace (read, write, exec), flags file (read) and /etc/profile (read,
 * for env shell's login shell). *ret the caller's. */
int ob_env_caps(const ob_capset *tpl_caps, const char *id, ob_capset **ret, ob_error *err);
/* env logs: the record, and the environment's last activity now (reading
 * its logs keeps it from the idle stop). */
int ob_env_logs_touch(const char *state_dir, const char *id_or_name, ob_env_record *ret,
                      ob_error *err);

/* ---- shared by the supervisor and the operations (env.c, create.c) ---- */

/* envs/<id>/flags.json: {"env_id": id, "flags": {name: true, ...}}, 0644,
 * rewritten in place (the sandbox's bind mount keeps the inode). */
int ob_env_write_flags(const char *state_dir, const char *id, char *const *flags);
/* The snapshot's meta object of an environment (no secrets). *ret malloc'd. */
int ob_env_snapshot_meta(const ob_env_record *r, char **ret);
/* Rebuilds envs/<id>/workspace from envs/<id>/post-seed.tar.gz (made at
 * create): destroyed, made anew, restored. The sandbox must be stopped. */
int ob_env_workspace_reset(const char *state_dir, const char *id, int64_t size_mb, ob_error *err);

/* Ends an environment for good: workspace unmounted and (unless final
 * is OB_ENV_STOPPED) destroyed with its secrets and directory, the state
 * set to final with reason, and the event. The sandbox must be gone. */
int ob_env_teardown(const char *state_dir, ob_store *store, const ob_env_record *r,
                    ob_env_state final, const char *reason, ob_error *err);
