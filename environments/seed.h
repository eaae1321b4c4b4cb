/* SPDX-License-Identifier: Apache-2.0 */
/* Seed profiles (DESIGN §6): versioned bundles of synthetic data,
 * seeds/<name>/<version>/ with a MANIFEST of SHA-256 sums ("<64 hex>  <path>"
 * per line, sorted by path, every file of the bundle listed, MANIFEST
 * itself excepted). Found in $OMNIBASE_SEED_DIR, else the source tree's
 * seeds/, else the installed ones. Installed into a workspace byte for byte
 * and deterministically (fixed mtimes and modes). */
#pragma once

#include <sys/types.h>

#include "common/error.h"

#define OB_SEED_MAX_FILES 4096
#define OB_SEED_MAX_BYTES (256 * 1024 * 1024)

/* Splits "name:version" ([a-z0-9][a-z0-9-]{0,62} : v[0-9]{1,6}); -EINVAL
 * with code "invalid" otherwise. *ret_name and *ret_version malloc'd. */
int ob_seed_parse_ref(const char *ref, char **ret_name, char **ret_version, ob_error *err);
/* The bundle's directory for a reference; -ENOENT with code "not_found"
 * ("seed synthetic:v9 not found in ..."). *ret malloc'd. */
int ob_seed_find(const char *ref, char **ret_dir, ob_error *err);
/* Checks every file against MANIFEST (and that no file is unlisted, no
 * listed file missing, nothing is a symlink or special file). -EBADMSG with
 * code "seed_corrupt" naming the first bad file ("seed synthetic:v1:
 * users.csv: SHA-256 mismatch"). */
int ob_seed_verify(const char *dir, const char *ref, ob_error *err);
/* Finds and verifies the bundle of ref, then its MANIFEST's SHA-256 as 64
 * lowercase hex digits (the whole bundle's identity: every file's sum is in
 * it) into hex. Same errors as ob_seed_find and ob_seed_verify. */
int ob_seed_manifest_sha256(const char *ref, char hex[65], ob_error *err);
/* Verifies, then copies the bundle into dest_dir/seed (made; must not exist)
 * with *at() calls and O_NOFOLLOW, files 0644 and directories 0755 owned by
 * uid:gid, every mtime set to 0 (1970-01-01): two installs are identical.
 * MANIFEST is copied too. On error nothing is left at dest_dir/seed. */
int ob_seed_install(const char *ref, const char *dest_dir, uid_t uid, gid_t gid, ob_error *err);
