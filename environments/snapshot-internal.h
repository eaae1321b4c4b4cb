/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by snapshot.c (the archive) and snapshot-tree.c (the tree walk, the
 * MANIFEST text and its strict parser). Not part of the public interface. */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "environments/snapshot.h"

#define OB_SNAP_HEADER_NAME   "omnibase-snapshot.json"
#define OB_SNAP_MANIFEST_NAME "MANIFEST"
#define OB_SNAP_PREFIX        "workspace/"
#define OB_SNAP_MEMORY_NAME   "memory/checkpoint.img" /* last, when the header says "memory" */
#define OB_SNAP_HEADER_MAX    (256 * 1024)
#define OB_SNAP_MANIFEST_MAX  (64 * 1024 * 1024)
#define OB_SNAP_MAX_DEPTH     256
#define OB_SNAP_FORMAT        1
/* ext4's own directory at the top of a workspace: never snapshotted, and
 * allowed in an otherwise empty restore target. */
#define OB_SNAP_LOST_FOUND "lost+found"

typedef struct ob_snap_entry {
        char *path;   /* relative to the tree's root, no leading or trailing '/' */
        char type;    /* 'f', 'd' or 'l' */
        mode_t mode;  /* & 0777 */
        int64_t size; /* 'f': bytes */
        char *target; /* 'l': the link's text */
        char hash[OB_SNAPSHOT_HASH_HEX];
} ob_snap_entry;

typedef struct ob_snap_tree {
        ob_snap_entry *v; /* sorted by path (strcmp) */
        size_t n, cap;
        int64_t bytes;
} ob_snap_tree;

/* An incremental SHA-256 (OpenSSL EVP). */
typedef struct ob_sha256 {
        EVP_MD_CTX *ctx;
} ob_sha256;

int ob_sha256_init(ob_sha256 *s);
int ob_sha256_update(ob_sha256 *s, const void *data, size_t len);
/* Finishes into 64 lowercase hex digits + NUL and frees the context. */
int ob_sha256_final(ob_sha256 *s, char ret[OB_SNAPSHOT_HASH_HEX]);
/* Frees an unfinished context; accepts a finished or zeroed one. */
void ob_sha256_done(ob_sha256 *s);
int ob_sha256_hex(const void *data, size_t len, char ret[OB_SNAPSHOT_HASH_HEX]);
/* Reads fd to its end: its size and SHA-256. */
int ob_snap_hash_fd(int fd, int64_t *ret_size, char ret[OB_SNAPSHOT_HASH_HEX]);

/* Walks the tree under dirfd (never following a symlink), hashing every file,
 * into *ret sorted by path. Sockets, fifos and devices are skipped, and so
 * is the top-level lost+found. */
int ob_snap_tree_scan(int dirfd, ob_snap_tree *ret, ob_error *err);
void ob_snap_tree_done(ob_snap_tree *t);
/* The MANIFEST text of t (malloc'd, NUL-terminated). */
int ob_snap_manifest(const ob_snap_tree *t, char **ret_text, size_t *ret_len);
/* Parses a MANIFEST strictly (format, sort order, no duplicates, safe
 * relative paths whose parents are listed directories): -EBADMSG with code
 * "snapshot_corrupt" otherwise. */
int ob_snap_manifest_parse(const char *text, size_t len, ob_snap_tree *ret, ob_error *err);
/* Opens the parent directory of the relative path under rootfd, one
 * component at a time with O_NOFOLLOW; *ret_base points into path. */
int ob_snap_open_parent(int rootfd, const char *path, const char **ret_base);
/* Sets err's code to "snapshot_corrupt" and returns -EBADMSG. */
int ob_snap_corrupt(ob_error *err, const char *fmt, ...) _printf_(2, 3);
/* Checks fd's whole gzip layer (the fixed header ob_snapshot_write makes,
 * inflate, CRC-32 and length, nothing after) and rewinds it. */
int ob_snap_verify_gzip(int fd, ob_error *err);
