/* SPDX-License-Identifier: Apache-2.0 */
/* A small open-addressing hash map of rule-number buckets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capabilities/index.h"

/* FNV-1a of key[0..len). */
uint64_t cap_hash(const void *key, size_t len)
{
        const unsigned char *p = key;
        uint64_t h = CAP_FNV_OFFSET;
        for (size_t i = 0; i < len; i++)
                h = cap_fnv_step(h, p[i]);
        return h;
}

/* FNV-1a of key[0..len) read from the last byte to the first. */
uint64_t cap_hash_rev(const void *key, size_t len)
{
        const unsigned char *p = key;
        uint64_t h = CAP_FNV_OFFSET;
        for (size_t i = len; i > 0; i--)
                h = cap_fnv_step(h, p[i - 1]);
        return h;
}

static cap_slot *find_slot(cap_slot *slots, size_t n_slots, uint64_t hash, const void *key,
                           size_t len)
{
        size_t mask = n_slots - 1;
        for (size_t i = (size_t)(hash ^ (hash >> 32)) & mask;; i = (i + 1) & mask) {
                cap_slot *s = &slots[i];
                if (!s->key)
                        return s;
                if (s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0)
                        return s;
        }
}

static int grow(cap_map *m)
{
        size_t n = m->n_slots ? m->n_slots * 2 : 16;
        cap_slot *slots = calloc(n, sizeof(*slots));

        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_slots; i++)
                if (m->slots[i].key)
                        *find_slot(slots, n, m->slots[i].hash, m->slots[i].key,
                                   m->slots[i].key_len) = m->slots[i];
        free(m->slots);
        m->slots = slots;
        m->n_slots = n;
        return 0;
}

/* Appends idx to the bucket of key, creating it; 0 or -ENOMEM. */
int cap_map_add(cap_map *m, uint64_t hash, const void *key, size_t len, uint32_t idx)
{
        cap_slot *s;
        cap_bucket *b;

        if ((m->n_used + 1) * 2 > m->n_slots) {
                int r = grow(m);
                if (r < 0)
                        return r;
        }
        s = find_slot(m->slots, m->n_slots, hash, key, len);
        if (!s->key) {
                s->key = malloc(len + 1);
                if (!s->key)
                        return -ENOMEM;
                memcpy(s->key, key, len);
                s->key[len] = '\0';
                s->key_len = len;
                s->hash = hash;
                m->n_used++;
        }
        b = &s->bucket;
        if (b->n == b->cap) {
                uint32_t ncap = b->cap ? b->cap * 2 : 2;
                uint32_t *nb = realloc(b->idx, ncap * sizeof(*nb));
                if (!nb)
                        return -ENOMEM;
                b->idx = nb;
                b->cap = ncap;
        }
        b->idx[b->n++] = idx;
        return 0;
}

/* The bucket of key, or NULL. */
const cap_bucket *cap_map_get(const cap_map *m, uint64_t hash, const void *key, size_t len)
{
        const cap_slot *s;

        if (m->n_used == 0)
                return NULL;
        s = find_slot(m->slots, m->n_slots, hash, key, len);
        return s->key ? &s->bucket : NULL;
}

/* Frees the map's slots, keys and buckets; leaves it empty. */
void cap_map_done(cap_map *m)
{
        for (size_t i = 0; i < m->n_slots; i++) {
                free(m->slots[i].key);
                free(m->slots[i].bucket.idx);
        }
        free(m->slots);
        memset(m, 0, sizeof(*m));
}

/* Frees every table of the index. */
void cap_index_done(cap_index *ix)
{
        cap_map_done(&ix->literal);
        cap_map_done(&ix->prefix);
        cap_map_done(&ix->suffix);
        free(ix->suffix_lens);
        cap_map_done(&ix->net);
        free(ix->prefix_lens);
        memset(ix, 0, sizeof(*ix));
}
