/* SPDX-License-Identifier: Apache-2.0 */
/* The warm pool (docs/runner.md §10): the daemon (pool.c), its clients
 * (pool_client.c) and what both speak (pool_wire.c). Requests and answers
 * are JSON lines over STATE/pool/pool.sock, with the caller's stdout,
 * stderr and script passed as SCM_RIGHTS (environments/control.c). */
#pragma once

#include <omnibase/sandbox.h>

#include "runner/runner.h"

#define OB_POOL_DIR  "pool"
#define OB_POOL_SOCK "pool.sock"
#define OB_POOL_LOCK "pool.lock" /* flock'd by the daemon for its life */
#define OB_POOL_LOG  "pool.log"

/* STATE/pool/LEAF into buf. */
int ob_pool_path(const char *state_dir, const char *leaf, char *buf, size_t size);
/* What a warm run must match exactly: the profile (name and file), the
 * capability set (its JSON, principal and limits included) and the
 * effective limits, as one canonical JSON text; *ret malloc'd. */
int ob_pool_key(const ob_run_plan *plan, const ob_capset *caps, char **ret);
/* SHA-256 of text, hex (65 bytes with the NUL). */
int ob_pool_key_hash(const char *text, char hex[65]);
/* A result as one JSON line for the wire: the --json object plus what it
 * leaves out (limit value and unit, warm, the exact output bytes). */
int ob_pool_result_encode(const ob_sandbox_result *r, char **ret);
int ob_pool_result_decode(const char *line, ob_sandbox_result *ret);

/* The daemon's body (pool.c): serves until stopped; notify_fd gets
 * "ok PID\n" once it listens, or one error line. Returns an exit code. */
int ob_pool_serve(const ob_pool_options *opts, int notify_fd);
/* What a warm run tries first (pool_client.c): 1 ran warm (*ret filled),
 * 0 run cold (on_verbose said why), -errno with err. */
int ob_pool_try_run(const ob_sandbox_options *opts, ob_sandbox_result *ret, ob_error *err);
/* gc's part: a pool whose daemon is gone leaves its socket and lock. */
void ob_pool_gc(const char *state_dir);
