/* SPDX-License-Identifier: Apache-2.0 */
/* Workspace snapshots (DESIGN §6): a portable archive (libarchive, pax tar,
 * gzip) of a directory tree with a SHA-256 manifest and a tree hash, so a
 * snapshot taken on one machine restores byte for byte on another.
 * Layout: "omnibase-snapshot.json" first (format 1, meta object given by the
 * caller, the tree hash, the file count), then "MANIFEST" (sorted lines
 * "<sha256>  <mode octal>  <type f|d|l>  <path>", symlink targets hashed as
 * their text), then the tree under "workspace/". Only regular files,
 * directories and symlinks; uid/gid not kept (restored as the caller says).
 * docs/environments.md §Snapshots. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define OB_SNAPSHOT_MAX_FILES 100000
#define OB_SNAPSHOT_MAX_BYTES (8LL * 1024 * 1024 * 1024)
#define OB_SNAPSHOT_HASH_HEX  65

/* The tree hash of dir: SHA-256 over its MANIFEST text. ret: 64 hex + NUL. */
int ob_snapshot_tree_hash(const char *dir, char ret[OB_SNAPSHOT_HASH_HEX], ob_error *err);
/* Writes dir as an archive to out_path (made 0600 via a temp name and
 * rename; never follows symlinks in dir). meta_json: a JSON object text put
 * under "meta" (env id, owner, template, seed, flags...; never secrets). */
int ob_snapshot_write(const char *dir, const char *meta_json, const char *out_path,
                      char ret_hash[OB_SNAPSHOT_HASH_HEX], ob_error *err);
/* The same with an environment's memory image (memory_image: a file, runsc
 * checkpoint's checkpoint.img; NULL: none) as the last entry,
 * "memory/checkpoint.img", its SHA-256 and size in the header's "memory". */
int ob_snapshot_write_memory(const char *dir, const char *meta_json, const char *memory_image,
                             const char *out_path, char ret_hash[OB_SNAPSHOT_HASH_HEX],
                             ob_error *err);
/* Reads the header only: *ret_meta_json malloc'd (the "meta" object). */
int ob_snapshot_read_meta(const char *archive, char **ret_meta_json, ob_error *err);
/* The same, and whether the archive holds a memory image. */
int ob_snapshot_read_info(const char *archive, char **ret_meta_json, bool *ret_memory,
                          ob_error *err);
/* Verifies the whole archive against its manifest and tree hash and
 * extracts the tree into dest_dir (must exist and be empty), files owned by
 * uid:gid. Entries outside workspace/, absolute paths, "..", hard links,
 * devices, a truncated or edited archive: -EBADMSG with code
 * "snapshot_corrupt" and nothing left in dest_dir. */
int ob_snapshot_restore(const char *archive, const char *dest_dir, uid_t uid, gid_t gid,
                        char ret_hash[OB_SNAPSHOT_HASH_HEX], ob_error *err);
/* The same; an archive's memory image is checked against the header and
 * written to memory_out (root's, mode 0600, a new file; NULL: checked only);
 * *ret_memory (may be NULL) says whether one was written. On any error
 * nothing is left in dest_dir or at memory_out. */
int ob_snapshot_restore_memory(const char *archive, const char *dest_dir, uid_t uid, gid_t gid,
                               const char *memory_out, bool *ret_memory,
                               char ret_hash[OB_SNAPSHOT_HASH_HEX], ob_error *err);
