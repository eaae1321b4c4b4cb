/* SPDX-License-Identifier: Apache-2.0 */
/* Lookup structures behind ob_capset_check (internal). Rules are numbered in
 * set order; every bucket lists rule numbers in ascending order, so the
 * first match in a bucket is the first in set order. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cap_bucket {
        uint32_t *idx;
        uint32_t n, cap;
} cap_bucket;

typedef struct cap_slot {
        uint64_t hash;
        char *key; /* NULL: empty slot */
        size_t key_len;
        cap_bucket bucket;
} cap_slot;

/* Open-addressing hash map from byte strings to buckets. */
typedef struct cap_map {
        cap_slot *slots;
        size_t n_slots, n_used;
} cap_map;

/* Set of lengths 0..CAP_LEN_MAX-1 (prefix lengths present in a map). */
#define CAP_LEN_MAX PATH_MAX
typedef struct cap_lenset {
        uint64_t bits[CAP_LEN_MAX / 64];
        size_t max; /* largest member + 1; 0 when empty */
} cap_lenset;

#define CAP_FNV_OFFSET 0xcbf29ce484222325ULL
#define CAP_FNV_PRIME  0x100000001b3ULL

static inline uint64_t cap_fnv_step(uint64_t h, unsigned char c)
{
        return (h ^ c) * CAP_FNV_PRIME;
}

uint64_t cap_hash(const void *key, size_t len);
/* FNV-1a of key's bytes taken last to first (suffix keys). */
uint64_t cap_hash_rev(const void *key, size_t len);

/* Appends rule number idx to the bucket of key (created when new). */
int cap_map_add(cap_map *m, uint64_t hash, const void *key, size_t len, uint32_t idx);
/* The bucket of key, or NULL. */
const cap_bucket *cap_map_get(const cap_map *m, uint64_t hash, const void *key, size_t len);
void cap_map_done(cap_map *m);

static inline void cap_lenset_add(cap_lenset *s, size_t len)
{
        s->bits[len / 64] |= 1ULL << (len % 64);
        if (len + 1 > s->max)
                s->max = len + 1;
}

static inline bool cap_lenset_has(const cap_lenset *s, size_t len)
{
        return (s->bits[len / 64] >> (len % 64)) & 1;
}

/* The index of one (polarity, kind). Paths and host names: literal rules
 * by their whole text; a wildcard rule by its literal prefix (text before
 * the first '*') or its literal suffix (after the last '*'), whichever
 * bucket is smaller when the rule is added. Addresses: net, keyed by
 * family, prefix length and masked address. */
typedef struct cap_index {
        cap_map literal;
        cap_map prefix;
        cap_map suffix;
        cap_lenset *prefix_lens; /* allocated with the first such rule */
        cap_lenset *suffix_lens;
        cap_map net;
        uint64_t v4_lens;    /* bit i: some rule is an IPv4 /i (0..32) */
        uint64_t v6_lens[3]; /* bit i: some rule is an IPv6 /i (0..128) */
} cap_index;

void cap_index_done(cap_index *ix);
