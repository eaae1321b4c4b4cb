/* SPDX-License-Identifier: Apache-2.0 */
/* The event channel between the sidecar (inside the sandbox) and the runner
 * (outside): one JSON object per line over a Unix stream socket. The sidecar
 * only encodes; the runner decodes with a strict schema (known types only,
 * exact key sets, bounded strings and integers, lines of at most
 * OB_CHANNEL_MAX_LINE bytes). docs/sidecar.md describes the protocol. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* No line on the channel is longer than this (bytes, without the newline). */
#define OB_CHANNEL_MAX_LINE (64 * 1024)
/* Bounds on the string members (bytes, after UTF-8 sanitising). */
#define OB_CHANNEL_MAX_TARGET    16384
#define OB_CHANNEL_MAX_ARGV0     4096
#define OB_CHANNEL_MAX_POLICY_ID 256
#define OB_CHANNEL_MAX_SYSCALL   32

typedef enum ob_channel_type {
        OB_CHANNEL_SANDBOX_START,     /* pid, argv0 */
        OB_CHANNEL_CAPABILITY_DENIED, /* capability, target, syscall, pid, policy_id, layer */
        OB_CHANNEL_SANDBOX_EXIT,      /* exit_code, signal, denials, dropped, pids_refused */
        OB_CHANNEL_TYPE_MAX,
} ob_channel_type;

/* One message. Strings are owned by the message after a decode (free them
 * with ob_channel_msg_done) and borrowed for an encode. */
typedef struct ob_channel_msg {
        ob_channel_type type;
        int64_t pid;       /* START, DENIED: the workload (thread group) pid */
        char *argv0;       /* START */
        char *capability;  /* DENIED: FILE_READ, FILE_WRITE, FILE_EXEC, NETWORK_CONNECT, SYSCALL */
        char *target;      /* DENIED: canonical path, ip:port, or the syscall name */
        char *syscall;     /* DENIED: e.g. "openat" */
        char *policy_id;   /* DENIED: deciding policy id, or "default-deny" */
        char *layer;       /* DENIED: "sidecar" or "seccomp" */
        int64_t exit_code; /* EXIT: the sidecar's exit status (128+signal when killed) */
        int64_t signal;    /* EXIT: the signal that killed the workload, 0 when none */
        int64_t denials;   /* EXIT: how many denials happened */
        int64_t dropped;   /* EXIT: how many of them were not sent (over the cap) */
        int64_t pids_refused; /* EXIT: forks/threads refused at the pids limit */
} ob_channel_msg;

/* "SandboxStart", "CapabilityDenied", "SandboxExit"; NULL when out of range. */
const char *ob_channel_type_to_string(ob_channel_type type);

/* Checks a message against the schema; -EINVAL and *err (may be NULL) on a
 * violation. Strings must already be valid UTF-8. */
int ob_channel_msg_validate(const ob_channel_msg *msg, ob_error *err);

/* Encodes one message as a JSON line ending in '\n'. Strings that are not
 * valid UTF-8 (a path is just bytes) get U+FFFD for each bad byte. *ret is
 * malloc'd; -EINVAL when the message breaks the schema, -E2BIG over the line
 * limit. */
int ob_channel_encode(const ob_channel_msg *msg, char **ret, size_t *ret_len);

/* Decodes one line (without its newline). Refuses anything but an exact
 * schema match with -EINVAL (or -E2BIG over the limit) and a one-line
 * reason in *err; *ret is untouched on failure. */
int ob_channel_decode(const char *line, size_t len, ob_channel_msg *ret, ob_error *err);

/* Frees the strings of a decoded message and zeroes it; accepts a zeroed one. */
void ob_channel_msg_done(ob_channel_msg *msg);

/* Encodes and writes one message to a stream socket (whole line, EINTR
 * retried, no SIGPIPE). Returns 0 or -errno. */
int ob_channel_send(int fd, const ob_channel_msg *msg);

/* Splits a byte stream into bounded lines. */
typedef struct ob_channel_reader {
        char *buf;
        size_t len; /* bytes held */
        bool eof;
} ob_channel_reader;

/* Reads what is available from fd into the reader (one read(2)). Returns
 * the number of bytes read, 0 at end of stream, or -errno (-EAGAIN on a
 * non-blocking fd with nothing to read). */
int ob_channel_reader_fill(ob_channel_reader *r, int fd);
/* Appends bytes that came by another path (used by tests and fuzzers). */
int ob_channel_reader_feed(ob_channel_reader *r, const void *data, size_t len);
/* Takes the next complete line: 1 with *ret (malloc'd, NUL-terminated,
 * without the newline) and *ret_len; 0 when no complete line is held yet;
 * -E2BIG when more than OB_CHANNEL_MAX_LINE bytes came without a newline;
 * -EBADMSG at end of stream with a torn (unterminated) last line. */
int ob_channel_reader_next(ob_channel_reader *r, char **ret, size_t *ret_len);
/* Frees the buffer; the reader may be reused after. */
void ob_channel_reader_done(ob_channel_reader *r);
