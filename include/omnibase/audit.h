/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log: an append-only, hash-chained file of JSON lines
 * ($OMNIBASE_STATE_DIR/audit.jsonl). Every line carries seq, time, type,
 * sandbox_id, principal, the event's own fields, prev_hash and hash; the
 * format, the canonical bytes that are hashed, the fsync policy, rotation and
 * the D-Bus signal are specified in docs/events.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <omnibase/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* No line of the log is longer than this (bytes, without the newline). */
#define OB_AUDIT_MAX_LINE (64 * 1024)
/* At most this many events per ob_audit_append_batch() call. */
#define OB_AUDIT_MAX_BATCH 4096

#define OB_AUDIT_DBUS_PATH      "/org/omnibase/Sandbox1"
#define OB_AUDIT_DBUS_INTERFACE "org.omnibase.Sandbox1"
#define OB_AUDIT_DBUS_SIGNAL    "Event"

typedef struct ob_audit_log ob_audit_log;

/* ob_audit_open() flags. */
enum {
        OB_AUDIT_NO_DBUS = 1u << 0, /* do not emit D-Bus signals */
};

/* $OMNIBASE_STATE_DIR/audit.jsonl (default state dir /var/lib/omnibase);
 * *ret is malloc'd. */
OB_EXPORT int ob_audit_default_path(char **ret);

/* Opens (creating it, mode 0640, and its parent directory when missing) the
 * log at path, or the default path when path is NULL. Nothing is locked
 * until an append. *ret is owned by the caller: ob_audit_close(). */
OB_EXPORT int ob_audit_open(const char *path, unsigned flags, ob_audit_log **ret);
/* Closes the log; accepts NULL; returns NULL. */
OB_EXPORT ob_audit_log *ob_audit_close(ob_audit_log *log);

/* Appends one event: an object with a string "type", optional "sandbox_id"
 * and "principal" (string or null), an optional "time" (RFC 3339 UTC with
 * microseconds; now when absent) and any other members, which are kept in
 * order ("seq", "prev_hash" and "hash" of the input are ignored). Takes the
 * writer lock, chains the line to the last one, writes it with one write()
 * and fdatasync()s before returning: on success the event is durable and
 * *ret_seq (may be NULL) is its seq. -E2BIG over OB_AUDIT_MAX_LINE,
 * -EINVAL for an unusable event, -EBADMSG when the log's last line is corrupt
 * (see ob_audit_verify). */
OB_EXPORT int ob_audit_append(ob_audit_log *log, const cJSON *event, uint64_t *ret_seq);

/* ob_audit_append() of an event given as JSON text (an object; len bytes),
 * e.g. a line of the event model's serialiser: its "seq" is replaced by the
 * log's own. -EINVAL when the text is not strict JSON. */
OB_EXPORT int ob_audit_append_json(ob_audit_log *log, const char *json, size_t len,
                                   uint64_t *ret_seq);

/* Appends n (1..OB_AUDIT_MAX_BATCH) events under one lock, one write() and
 * one fdatasync(); all or none are appended. *ret_first_seq may be NULL. */
OB_EXPORT int ob_audit_append_batch(ob_audit_log *log, const cJSON *const *events, size_t n,
                                    uint64_t *ret_first_seq);

/* Rotates the log: LOG.N are renamed LOG.N+1, LOG becomes LOG.1, and a new
 * LOG starts with an AuditLogRotated event chained to LOG.1's last line.
 * *ret_last_seq (may be NULL) is the last seq in LOG.1; 0 and nothing done
 * when the log is empty. */
OB_EXPORT int ob_audit_rotate(ob_audit_log *log, uint64_t *ret_last_seq);

/* ob_audit_verify() flags. */
enum {
        OB_AUDIT_VERIFY_CONTINUE = 1u << 0, /* trust the first line's seq and prev_hash */
};

/* What a verification found. ok false names the first bad position. */
typedef struct ob_audit_verify_result {
        bool ok;
        uint64_t n_events;
        uint64_t last_seq;
        char last_hash[65];
        uint64_t bad_seq;    /* the seq expected at the first bad line */
        uint64_t bad_line;   /* 1-based line number */
        unsigned bad_column; /* 1-based when the line is not valid JSON, else 0 */
        char reason[512];
} ob_audit_verify_result;

/* Checks every line of the log at path: format, seq strictly +1, prev_hash
 * equal to the previous line's hash, hash over the canonical bytes, and no
 * torn last line. A log whose first line is not seq 1 with a zero prev_hash
 * continues its rotated predecessor (LOG.1 for LOG, LOG.N+1 for LOG.N), whose
 * last line must match, unless OB_AUDIT_VERIFY_CONTINUE. Returns 0 when the
 * check ran (the verdict is in *ret), -errno when the file cannot be read. */
OB_EXPORT int ob_audit_verify(const char *path, unsigned flags, ob_audit_verify_result *ret);

/* What ob_audit_follow() passes on; NULL/0 members match everything. */
typedef struct ob_audit_filter {
        const char *type;
        const char *sandbox_id;
        uint64_t since_seq; /* > 0: start at the file's beginning, pass seq >= since_seq */
} ob_audit_filter;

/* Called once per matching line (len bytes, no newline, NUL-terminated),
 * and with line NULL after each wait for the file to change (at least every
 * 0.5 s, and when a signal interrupts the wait), so that the caller can stop.
 * Return 0 to go on, > 0 to stop following, < 0 (-errno) to fail. */
typedef int (*ob_audit_follow_fn)(const char *line, size_t len, void *userdata);

/* Follows the log at path (waiting for it to appear), calling fn for every
 * matching complete line appended from now on (or, with since_seq, already
 * in the file). Survives rotation: the old file is drained, then the new one
 * is read from its start. Returns fn's positive value or -errno. */
OB_EXPORT int ob_audit_follow(const char *path, const ob_audit_filter *filter,
                              ob_audit_follow_fn fn, void *userdata);

#ifdef __cplusplus
}
#endif
