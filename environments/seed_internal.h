/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by seed.c (references, MANIFEST, hashing) and seed_install.c
 * (walking, verifying, installing); internal. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct seed_entry {
        char *path; /* relative to the bundle */
        uint8_t sha[32];
} seed_entry;

typedef struct seed_bundle {
        seed_entry *entries; /* sorted by path (strcmp), MANIFEST excepted */
        size_t n;
        char *manifest; /* the MANIFEST's bytes, NUL-terminated */
        size_t manifest_len;
} seed_bundle;

void seed_bundle_done(seed_bundle *b);
/* Reads and checks dirfd's MANIFEST (format, order, bounds) into *b (zeroed
 * by the caller, freed with seed_bundle_done even on failure). */
int seed_manifest_read(int dirfd, const char *ref, seed_bundle *b, ob_error *err);
/* -EBADMSG with code "seed_corrupt": "seed REF: FILE: why". */
int seed_corrupt(ob_error *err, const char *ref, const char *file, const char *fmt, ...)
    _printf_(4, 5);
/* SHA-256 of fd's remaining bytes (EVP), copied to out_fd when >= 0; adds
 * to *total and fails with -EFBIG past OB_SEED_MAX_BYTES. */
int seed_hash_fd(int fd, int out_fd, uint8_t md[32], uint64_t *total);
