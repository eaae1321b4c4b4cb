/* SPDX-License-Identifier: Apache-2.0 */
/* The event model (DESIGN §4): one JSON object per line with seq, time
 * (RFC 3339 UTC, microseconds), type, sandbox_id, principal and the
 * type's own fields. The audit log (hash chain) and the sidecar's events
 * build on this module; it only models and serialises. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* No serialised event is longer than this (bytes, without the newline). */
#define OB_EVENT_MAX_LINE (64 * 1024)

typedef enum ob_event_type {
        OB_EVENT_SANDBOX_START,
        OB_EVENT_SANDBOX_EXIT,
        OB_EVENT_RESOURCE_LIMIT_EXCEEDED,
        OB_EVENT_CAPABILITY_DENIED,
        OB_EVENT_CAPABILITY_DENIED_SUMMARY,
        /* the environment layer (docs/environments.md): each carries env_id
         * and owner; sandbox_id is the environment's id */
        OB_EVENT_ENVIRONMENT_CREATED,
        OB_EVENT_ENVIRONMENT_STARTED,
        OB_EVENT_ENVIRONMENT_STOPPED,
        OB_EVENT_ENVIRONMENT_EXTENDED,
        OB_EVENT_ENVIRONMENT_EXPIRED,
        OB_EVENT_ENVIRONMENT_DELETED,
        OB_EVENT_ENVIRONMENT_FAILED,
        OB_EVENT_ENVIRONMENT_RESET,
        OB_EVENT_FLAGS_CHANGED,
        OB_EVENT_EXEC_STARTED,
        OB_EVENT_EXEC_EXITED,
        OB_EVENT_SECRET_INJECTED,
        OB_EVENT_SECRET_REVOKED,
        OB_EVENT_SECRET_ROTATED,
        OB_EVENT_SNAPSHOT_TAKEN,
        OB_EVENT_SNAPSHOT_RESTORED,
        OB_EVENT_QUOTA_REFUSED,
        OB_EVENT_TYPE_MAX,
} ob_event_type;

typedef struct ob_event {
        uint64_t seq;    /* set by ob_event_emit() */
        int64_t time_us; /* microseconds since the epoch, UTC; 0 = now at emit */
        ob_event_type type;
        char *sandbox_id;
        char *principal; /* NULL serialises as null */
        cJSON *fields;   /* the type-specific members, in order */
} ob_event;

/* Delivers serialised events (no trailing newline) in seq order. */
typedef struct ob_event_sink {
        uint64_t next_seq; /* first event gets 1 when 0 */
        void (*fn)(const char *line, void *userdata);
        void *userdata;
        const char *owner; /* who started the run: added as "owner" to every
                              event that has none (NULL: nothing added) */
} ob_event_sink;

/* "SandboxStart", ...; NULL when out of range. */
const char *ob_event_type_to_string(ob_event_type type);

/* A new event of a type; sandbox_id and principal are copied (may be NULL). */
int ob_event_new(ob_event_type type, const char *sandbox_id, const char *principal, ob_event **ret);
/* Frees the event; accepts NULL; returns NULL. */
ob_event *ob_event_free(ob_event *ev);

/* Type-specific members; keys must be unique and not one of the common keys
 * (-EINVAL). value strings are copied. */
int ob_event_add_string(ob_event *ev, const char *key, const char *value);
int ob_event_add_int(ob_event *ev, const char *key, int64_t value);
int ob_event_add_bool(ob_event *ev, const char *key, bool value);

/* Formats time_us as "2026-01-02T03:04:05.123456Z" into buf (>= 32 bytes). */
int ob_event_format_time(int64_t time_us, char *buf, size_t size);

/* One JSON line (no newline): seq, time, type, sandbox_id, principal, then
 * the fields. -E2BIG over OB_EVENT_MAX_LINE. *ret malloc'd. */
int ob_event_to_json_line(const ob_event *ev, char **ret);

/* Stamps ev with the sink's next seq (and the time when 0), serialises it
 * and hands the line to the sink; a sink without fn only counts. */
int ob_event_emit(ob_event_sink *sink, ob_event *ev);

static inline void ob_event_freep(ob_event **ev)
{
        ob_event_free(*ev);
}
#define _cleanup_event_ __attribute__((cleanup(ob_event_freep)))
