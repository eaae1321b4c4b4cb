/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the audit log shared by its files, the tests and the fuzzer. */
#pragma once

#include <omnibase/audit.h>
#include <sys/types.h>

#include "common/error.h"

#define OB_AUDIT_HASH_HEX  64
#define OB_AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define OB_AUDIT_HASH_KEY  ",\"hash\":\""
/* Bytes of `,"hash":"<64 hex>"}` at the end of every line. */
#define OB_AUDIT_SUFFIX_LEN (sizeof(OB_AUDIT_HASH_KEY) - 1 + OB_AUDIT_HASH_HEX + 2)
/* seq is a JSON number: exact up to 2^53-1. */
#define OB_AUDIT_MAX_SEQ 9007199254740991ULL

/* One decoded line. */
typedef struct ob_audit_record {
        uint64_t seq;
        char *type;
        char *sandbox_id; /* NULL when null */
        char prev_hash[OB_AUDIT_HASH_HEX + 1];
        char hash[OB_AUDIT_HASH_HEX + 1]; /* as written */
        bool hash_ok;                     /* the canonical bytes hash to .hash */
} ob_audit_record;

/* Decodes and checks one line (len bytes, no newline): strict JSON, the
 * common members in their places, hash last in canonical form; computes
 * whether the hash matches (ret->hash_ok). On failure returns -errno with
 * *err filled (column within the line) and *ret untouched. */
int ob_audit_line_decode(const char *line, size_t len, ob_audit_record *ret, ob_error *err);
/* Frees what a decoded record owns; accepts a zeroed record. */
void ob_audit_record_done(ob_audit_record *rec);

/* Lowercase hex SHA-256 of a[0..alen) followed by b[0..blen). */
int ob_audit_sha256_hex(const void *a, size_t alen, const void *b, size_t blen,
                        char ret[OB_AUDIT_HASH_HEX + 1]);

/* 0 when s is "YYYY-MM-DDTHH:MM:SS.ffffffZ", -EINVAL otherwise. */
int ob_audit_check_time(const char *s);

/* Builds the line (with its newline) for event at seq after prev_hash:
 * *ret_line malloc'd, *ret_len bytes, ret_hash its hash. */
int ob_audit_line_build(const cJSON *event, uint64_t seq, const char *prev_hash, char **ret_line,
                        size_t *ret_len, char ret_hash[OB_AUDIT_HASH_HEX + 1]);

/* The last complete line of the open file fd of size `size`: its decoded
 * record in *ret_rec (seq 0 and zero hash when the file is empty), and in
 * *ret_torn the number of bytes after it that do not end in a newline.
 * -EBADMSG when the last complete line does not decode. */
int ob_audit_read_tail(int fd, off_t size, ob_audit_record *ret_rec, off_t *ret_torn);

/* Like ob_audit_follow(), but reads the log at path once, from its start
 * to its end, and never waits: fn gets each matching complete line (lines
 * over OB_AUDIT_MAX_LINE and lines that do not decode are skipped), never
 * NULL. With since_seq, where the log starts later, the rotated files
 * (LOG.1, LOG.2, ...) that hold seq since_seq on are read first; a long
 * log is entered by bisection on seq. A missing file has no lines.
 * Returns fn's positive value, 0 at the end, or -errno. */
int ob_audit_scan(const char *path, const ob_audit_filter *filter, ob_audit_follow_fn fn,
                  void *userdata);

/* Name LOG.N+1 of the predecessor of LOG.N (LOG.1 for LOG); malloc'd. */
int ob_audit_predecessor_path(const char *path, char **ret);

/* D-Bus: a system bus connection or NULL when none is reachable. */
typedef struct sd_bus sd_bus;
sd_bus *ob_audit_bus_open(void);
/* Emits Event(seq, type, sandbox_id or "", line without newline); errors
 * are ignored: the log is authoritative. */
void ob_audit_bus_emit(sd_bus *bus, uint64_t seq, const char *type, const char *sandbox_id,
                       const char *line, size_t len);
/* Flushes and closes; accepts NULL. */
void ob_audit_bus_close(sd_bus *bus);
