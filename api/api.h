/* SPDX-License-Identifier: Apache-2.0 */
/* The operation table (issue 11, DESIGN §7, docs/server.md): every operation
 * a person or an agent can ask of omnibase, described once. The REST routes
 * of omnibased, the MCP tools (`omnibase mcp`, /mcp) and the OpenAPI
 * document are generated from this table; the CLI verbs are named in it, and
 * tests/server/test_parity.* proves that the three agree.
 *
 * An operation takes one JSON object of arguments (REST: path parameters,
 * query and body merged; MCP: the tool's arguments) and gives one JSON value.
 * Arguments are checked against the operation's parameter list (unknown
 * fields, wrong types and missing required fields are "invalid" errors that
 * name the field). Who may call it is decided here, from the caller's
 * identity, never by the front end. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"
#include "environments/store.h"

/* Seed 003's roles. An owner has full control of its own environments and
 * sees nobody else's (another owner's environment is "not_found", so its
 * existence does not leak); an observer reads everything and changes
 * nothing; an admin does everything. */
typedef enum ob_api_role {
        OB_API_OWNER,
        OB_API_OBSERVER,
        OB_API_ADMIN,
} ob_api_role;

const char *ob_api_role_to_string(ob_api_role r);

typedef struct ob_api_caller {
        char name[OB_ENV_OWNER_MAX + 1]; /* the owner name this caller acts as */
        ob_api_role role;
} ob_api_caller;

/* The caller behind a Unix uid: its user name (getpwuid) as the owner name,
 * uid 0 always admin, else the role $OMNIBASE_CONFIG's "api" object gives
 * the name ("admins", "observers"; owner otherwise). A uid without a valid
 * user name is refused (-EPERM, code "forbidden"). */
int ob_api_caller_from_uid(uid_t uid, ob_api_caller *ret, ob_error *err);
/* The caller a bearer token names: $OMNIBASE_CONFIG's "api" "tokens" file
 * (lines "TOKEN OWNER", '#' comments; 0600, owned by root) is read by the
 * server; here only the role lookup for a name. */
int ob_api_caller_from_name(const char *name, ob_api_caller *ret, ob_error *err);

typedef struct ob_api_ctx {
        const char *state_dir; /* NULL: $OMNIBASE_STATE_DIR or the default */
        ob_api_caller caller;
} ob_api_ctx;

typedef enum ob_api_type {
        OB_API_STRING,
        OB_API_INTEGER,
        OB_API_NUMBER,
        OB_API_BOOLEAN,
        OB_API_STRINGS, /* an array of strings */
        OB_API_FLAGS,   /* an object of name -> boolean */
        OB_API_OBJECT,  /* any JSON object (a policy, a capability set, a template) */
} ob_api_type;

typedef enum ob_api_where {
        OB_API_BODY,   /* REST: the JSON body (GET/DELETE: the query string) */
        OB_API_PATH,   /* REST: {name} in the route */
        OB_API_HEADER, /* REST: a header (Idempotency-Key) */
} ob_api_where;

typedef struct ob_api_param {
        const char *name;
        ob_api_type type;
        bool required;
        ob_api_where where;
        const char *header; /* OB_API_HEADER: its name */
        const char *description;
} ob_api_param;

#define OB_API_MAX_PARAMS 20

/* What an operation does to state: read-only operations are the ones an
 * observer may call. */
enum {
        OB_API_READ = 1u << 0,        /* changes nothing */
        OB_API_ADMIN_ONLY = 1u << 1,  /* admins only (sweep) */
        OB_API_STREAM = 1u << 2,      /* REST serves it as Server-Sent Events */
        OB_API_DESTRUCTIVE = 1u << 3, /* removes state: an environment, what its workspace
                                       * gained, expired ones (MCP destructiveHint) */
        OB_API_IDEMPOTENT = 1u << 4,  /* repeating it leaves the same state (MCP
                                       * idempotentHint; READ operations are too) */
};

typedef int (*ob_api_fn)(const ob_api_ctx *ctx, const cJSON *args, cJSON **ret, ob_error *err);

typedef struct ob_api_op {
        const char *name;        /* the MCP tool: "env_create" */
        const char *cli;         /* the CLI verb: "env create" */
        const char *method;      /* "POST" */
        const char *route;       /* "/sandboxes/{id}/extend" */
        const char *title;       /* a few words */
        const char *description; /* what it does and what it may not do */
        unsigned flags;
        ob_api_param params[OB_API_MAX_PARAMS]; /* ends at name == NULL */
        const char *output_schema;              /* JSON Schema text of the result */
        int http_status;                        /* of a success (200, 201) */
        ob_api_fn call;
} ob_api_op;

/* The table, and one operation by tool name (NULL when none). */
const ob_api_op *ob_api_ops(size_t *ret_n);
const ob_api_op *ob_api_find(const char *name);

/* Checks args against op's parameters and the caller's role against op's
 * flags, then calls it. args may be NULL (no arguments). On success *ret is
 * the result (caller frees with cJSON_Delete). An env_exec whose command
 * was denied succeeds: its result has "status": "violation" and the
 * violations (ob_api_result_is_error tells). */
int ob_api_call(const ob_api_ctx *ctx, const ob_api_op *op, const cJSON *args, cJSON **ret,
                ob_error *err);
/* true for an exec or run result that ended in a violation or an error
 * (MCP: isError). */
bool ob_api_result_is_error(const cJSON *result);

/* The HTTP status of an error code ("quota_exceeded" -> 429, NULL -> 500). */
int ob_api_http_status(const char *code);
/* {"error": {"code": ..., "message": ...}}; code NULL: "internal". */
cJSON *ob_api_error_json(const ob_error *err);

/* The JSON Schema (draft 2020-12) of op's arguments: an object with
 * "properties", "required" and additionalProperties false. */
cJSON *ob_api_input_schema(const ob_api_op *op);
/* op's output schema, parsed. */
cJSON *ob_api_output_schema(const ob_api_op *op);
/* The OpenAPI 3.1 document of every route. */
cJSON *ob_api_openapi(void);

/* ---- for the files that implement operations ---- */

/* The table is the concatenation of these arrays (api.c). */
extern const ob_api_op ob_api_env_ops[]; /* ops_env.c: env_* */
extern const size_t ob_api_n_env_ops;
extern const ob_api_op
    ob_api_tool_ops[]; /* ops_tools.c: template_*, policy_*, sandbox_run, events_* */
extern const size_t ob_api_n_tool_ops;
extern const ob_api_op ob_api_pool_ops[]; /* ops_pool.c: pool_* */
extern const size_t ob_api_n_pool_ops;

/* An argument already checked by ob_api_call: the string (NULL when absent),
 * the integer (def when absent), the boolean (def when absent). */
const char *ob_api_str(const cJSON *args, const char *name);
long long ob_api_int(const cJSON *args, const char *name, long long def);
bool ob_api_bool(const cJSON *args, const char *name, bool def);

/* The events of the audit log ($STATE/audit.jsonl) with seq > after_seq,
 * of the given types (a comma-separated list; NULL: all) and environment
 * (NULL: all), that the caller may see (an owner: those of its own
 * environments), at most limit (1..1000) of them, oldest first. *ret_events
 * a JSON array, *ret_last_seq the seq of the last one (after_seq when none).
 * Never waits. Used by events_query and env_logs (and by the server's SSE
 * streams, which call it again whenever the log grows). */
int ob_api_events_query(const ob_api_ctx *ctx, const char *types, const char *env_id,
                        unsigned long long after_seq, size_t limit, cJSON **ret_events,
                        unsigned long long *ret_last_seq, ob_error *err);

/* obj[key] = the first 1 MiB of fd (read from offset 0: a memfd the command
 * wrote), obj[key + "_truncated"] = whether there was more. Used for the
 * stdout/stderr of env_exec and sandbox_run (and `env exec --json`). */
void ob_api_add_output(cJSON *obj, const char *key, int fd);
/* A memfd (O_CLOEXEC) holding len bytes of data, its offset at 0: a
 * command's stdin, or a secret handed to the library as a file. */
int ob_api_memfd(const char *name, const char *data, size_t len);
