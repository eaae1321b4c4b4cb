/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets of an environment (DESIGN §6): sealed at rest with AES-256-GCM
 * (OpenSSL) under a root-only host key, opened only into memory that is
 * wiped (ob_secret_free), destroyed at delete/expiry, rotated on reset.
 * docs/environments-vault.md describes the formats. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define OB_SECRET_MAX_BYTES (64 * 1024)
#define OB_SECRET_MAX_NAMES 32
#define OB_SECRET_NAME_MAX  64
#define OB_SECRET_KEY_BYTES 32

/* Loads the host key state_dir/secrets.key (32 random bytes, mode 0400,
 * owned by the caller's euid), making it on first use (atomic: written to a
 * temp name then link()ed, so two racing creators agree on one key). A key
 * file that is not a regular file, not owned by euid or with any group/other
 * bit is refused with -EPERM. */
int ob_secret_key_load(const char *state_dir, uint8_t ret_key[32], ob_error *err);

/* 0 when name is a valid secret name: [A-Z_][A-Z0-9_]{0,63}, and not PATH,
 * HOME, LANG, USER, LOGNAME, SHELL, TERM, PWD, LD_* or OMNIBASE_*; else
 * -EINVAL with code "invalid". */
int ob_secret_name_check(const char *name, ob_error *err);

/* Parses "NAME=@FILE" and reads FILE (a regular file of at most
 * OB_SECRET_MAX_BYTES). *ret_name is malloc'd (free()), *ret_value malloc'd
 * and NUL-terminated beyond *ret_len (free with ob_secret_free). Errors carry
 * code "invalid" and name the secret and the file. */
int ob_secret_read_arg(const char *arg, char **ret_name, uint8_t **ret_value, size_t *ret_len,
                       ob_error *err);

/* explicit_bzero(p, len) then free(p); accepts NULL. */
void ob_secret_free(void *p, size_t len);

/* A fresh random value for a generated secret: 32 lowercase hex chars and a
 * NUL. Returns 0 or -EIO. */
int ob_secret_generate(char ret[33]);

/* What the audit log may show of a value: the first 12 hex digits of
 * HMAC-SHA256(key, value) and a NUL (not brute-forceable without the key). */
void ob_secret_fingerprint(const uint8_t key[32], const void *value, size_t len, char ret[13]);

/* Seals value as env_dir/secrets/NAME ("OBS1" | 12-byte nonce | ciphertext |
 * 16-byte tag, AAD = env_id "\0" NAME), mode 0600, written atomically
 * (temp + fsync + rename + fsync of the directory). Makes env_dir/secrets
 * (0700) if needed. At most OB_SECRET_MAX_NAMES names per environment. */
int ob_secrets_put(const char *env_dir, const uint8_t key[32], const char *env_id, const char *name,
                   const void *value, size_t len, ob_error *err);

/* Opens one sealed secret: *ret_value malloc'd, NUL-terminated beyond
 * *ret_len (free with ob_secret_free). -ENOENT (code "not_found") when
 * absent, -EBADMSG (code "invalid") when it fails authentication. */
int ob_secrets_get(const char *env_dir, const uint8_t key[32], const char *env_id, const char *name,
                   uint8_t **ret_value, size_t *ret_len, ob_error *err);

/* The names held, sorted; *ret an array of *ret_n malloc'd strings (free
 * with ob_strv_free_n; NULL and 0 when there are none). */
int ob_secrets_list(const char *env_dir, char ***ret, size_t *ret_n, ob_error *err);

/* Frees n strings of v and v itself; accepts NULL. */
void ob_strv_free_n(char **v, size_t n);

/* Re-seals every secret under a fresh nonce; the names in generated[0..n)
 * get a new random value (ob_secret_generate) instead, and are made if
 * absent. Every blob is opened before any is rewritten, so a tampered one
 * stops the rotation before it changes anything. */
int ob_secrets_rotate(const char *env_dir, const uint8_t key[32], const char *env_id,
                      const char *const *generated, size_t n, ob_error *err);

/* Revocation: overwrites each file of env_dir/secrets with zeros, fsyncs,
 * unlinks it, removes the directory. Idempotent (0 when there is none). */
int ob_secrets_revoke_all(const char *env_dir, ob_error *err);
