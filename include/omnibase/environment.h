/* SPDX-License-Identifier: Apache-2.0 */
/* Environments (docs/environments.md): long-lived, owned, TTL'd sandboxes
 * made from approved templates, each kept alive by a supervisor of its own.
 * This is the library under `omnibase env`: every call here is one
 * subcommand, with the same checks, errors (ob_error.code: "not_found",
 * "quota_exceeded", "approval_required", ...) and audit events.
 *
 * state_dir NULL everywhere: $OMNIBASE_STATE_DIR or the built-in default. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <omnibase/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OB_ENV_ID_LEN 16 /* "env-" + 12 lowercase hex digits */

typedef enum ob_env_state {
        OB_ENV_CREATING,
        OB_ENV_RUNNING,
        OB_ENV_STOPPED,
        OB_ENV_EXPIRED,
        OB_ENV_DELETING,
        OB_ENV_DELETED,
        OB_ENV_FAILED,
} ob_env_state;

/* "creating", "running", ...; NULL for a bad value. */
OB_EXPORT const char *ob_env_state_to_string(ob_env_state s);

/* One environment. Times are Unix seconds. Strings are malloc'd and owned by
 * the record (ob_env_record_done). */
typedef struct ob_env_record {
        char id[OB_ENV_ID_LEN + 1];
        char *name;
        char *owner;
        char *template_name;
        ob_env_state state;
        char *reason; /* why failed/stopped/expired, or NULL */
        int64_t created_at;
        int64_t expires_at;
        int64_t last_activity_at;
        char *seed;             /* "synthetic:v1" or NULL */
        char **flags;           /* the flags that are on, sorted, NULL-terminated (may be NULL) */
        char **secret_names;    /* sorted, NULL-terminated (may be NULL) */
        int64_t memory_mb;      /* the environment's memory limit (for the owner quota) */
        char *approved_by;      /* who approved a TTL beyond the limit, or NULL */
        char *idempotency_key;  /* or NULL */
        int64_t supervisor_pid; /* 0 when none */
} ob_env_record;

OB_EXPORT void ob_env_record_done(ob_env_record *r);
/* n records and the array (ob_env_list's). */
OB_EXPORT void ob_env_records_free(ob_env_record *v, size_t n);
/* The --json object: id, name, owner, template, state, reason, created_at,
 * expires_at, last_activity_at (ISO-8601 UTC), seed, feature_flags,
 * secrets (names only), memory_mb, approved_by. *ret malloc'd, one line,
 * no newline. */
OB_EXPORT int ob_env_record_to_json(const ob_env_record *r, char **ret);

/* `env create`. Initialise with ob_env_create_opts_init() (struct_size, as
 * ob_sandbox_options: another size is refused). */
typedef struct ob_env_create_opts {
        size_t struct_size;          /* sizeof(ob_env_create_opts) of the caller's header */
        const char *owner;           /* required */
        const char *template_name;   /* required */
        const char *ttl;             /* a duration ("48h"); NULL: the template's default */
        const char *seed;            /* "name:version"; NULL: the template's default */
        const char *const *flags;    /* NULL-terminated; NULL: the template's defaults */
        const char *const *secrets;  /* "NAME=@FILE", NULL-terminated (may be NULL) */
        const char *name;            /* NULL: the id */
        const char *idempotency_key; /* may be NULL */
        const char *approved_by;     /* for a TTL past max_ttl_without_approval */
        const char *restore_from;    /* a snapshot archive: its tree is the workspace (no seed) */
} ob_env_create_opts;

OB_EXPORT void ob_env_create_opts_init(ob_env_create_opts *o);

/* Validates everything, checks the quota (in one transaction with the
 * insert), makes the workspace (seed installed), flags and secrets, starts
 * the supervisor and waits for the sandbox. On any error nothing is left
 * (no row, directory, mount, loop device, sandbox). *ret the new record;
 * *ret_existed (may be NULL) true when the idempotency key named an
 * existing environment, which *ret then is. */
OB_EXPORT int ob_env_create(const char *state_dir, const ob_env_create_opts *o, ob_env_record *ret,
                            bool *ret_existed, ob_error *err);
/* `env show` (by id or name) and `env list` (owner NULL: everyone's; all:
 * deleted and expired ones too). */
OB_EXPORT int ob_env_get(const char *state_dir, const char *id_or_name, ob_env_record *ret,
                         ob_error *err);
OB_EXPORT int ob_env_list(const char *state_dir, const char *owner, bool all, ob_env_record **ret,
                          size_t *ret_n, ob_error *err);

/* `env exec`. Initialise with ob_env_exec_opts_init() (fds 0, 1, 2; no tty). */
typedef struct ob_env_exec_opts {
        size_t struct_size; /* sizeof(ob_env_exec_opts) of the caller's header */
        const char *const *argv;
        const char *cwd;    /* NULL: /workspace */
        int64_t timeout_ms; /* 0: none */
        int fds[3];         /* the command's stdin, stdout, stderr */
        /* A pseudo-terminal inside (env exec -t, env shell): the command's
         * stdin, stdout and stderr are its slave; what it writes comes out
         * on fds[1]. rows, cols: its first size (0: 24x80); term: TERM
         * inside (NULL: xterm). winch_fd (-1: none) is readable when the
         * caller's terminal changed size (a SIGWINCH): it is drained and the
         * new size read from fds[0] (TIOCGWINSZ) and sent in. The caller
         * sets its own terminal's modes (raw) itself. */
        bool tty;
        unsigned rows, cols;
        const char *term;
        int winch_fd;
} ob_env_exec_opts;

OB_EXPORT void ob_env_exec_opts_init(ob_env_exec_opts *o);

/* Runs a command in a running environment (through its supervisor);
 * *ret_json the result as `sandbox run --json` gives it (plus env_id),
 * malloc'd, and *ret_exit_code what `env exec` exits with. */
OB_EXPORT int ob_env_exec(const char *state_dir, const char *id_or_name, const ob_env_exec_opts *o,
                          char **ret_json, int *ret_exit_code, ob_error *err);
/* `env extend`: a new TTL from now (approved_by past the limit). */
OB_EXPORT int ob_env_extend(const char *state_dir, const char *id_or_name, const char *ttl,
                            const char *approved_by, ob_env_record *ret, ob_error *err);
/* `env flags --set`: set holds "name=on" / "name=off" strings (may be NULL:
 * only *ret). */
OB_EXPORT int ob_env_flags(const char *state_dir, const char *id_or_name, const char *const *set,
                           ob_env_record *ret, ob_error *err);
OB_EXPORT int ob_env_stop(const char *state_dir, const char *id_or_name, ob_error *err);
OB_EXPORT int ob_env_start(const char *state_dir, const char *id_or_name, ob_error *err);
OB_EXPORT int ob_env_delete(const char *state_dir, const char *id_or_name, ob_error *err);
/* `env snapshot`: the workspace as a snapshot archive at out (NULL:
 * state_dir/snapshots/<id>-<time>.tar.gz); *ret_path malloc'd, ret_hash the
 * tree hash. */
OB_EXPORT int ob_env_snapshot(const char *state_dir, const char *id_or_name, const char *out,
                              char **ret_path, char ret_hash[65], ob_error *err);
/* The same; with memory, its processes' memory too (`env snapshot --memory`,
 * runsc checkpoint; a running environment with no exec running, no network
 * grant and no secret: "busy" / "invalid" otherwise). The environment
 * pauses while it is saved and goes on where it was. */
OB_EXPORT int ob_env_snapshot_memory(const char *state_dir, const char *id_or_name, const char *out,
                                     bool memory, char **ret_path, char ret_hash[65],
                                     ob_error *err);
/* `env restore`: a new environment from a snapshot: its template, flags and
 * seed name from the archive's meta, owner and name given (NULL owner: the
 * archive's). */
OB_EXPORT int ob_env_restore(const char *state_dir, const char *archive, const char *owner,
                             const char *name, ob_env_record *ret, ob_error *err);
/* `env reset`: back to the post-seed state: every process killed (the
 * sandbox is restarted), the workspace as it was right after the seed,
 * secrets re-sealed, flags back to the template's defaults. */
OB_EXPORT int ob_env_reset(const char *state_dir, const char *id_or_name, ob_error *err);
/* What `gc` does for environments: expires what is past its TTL and has no
 * supervisor, marks environments whose supervisor died failed and removes
 * their sandboxes; *ret_n counts. */
OB_EXPORT int ob_env_sweep(const char *state_dir, unsigned *ret_n, ob_error *err);

#ifdef __cplusplus
}
#endif
