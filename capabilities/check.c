/* SPDX-License-Identifier: Apache-2.0 */
/* Indexing rules and deciding requests. A request is matched only against
 * candidates: literal rules by hash of the whole target, wildcard rules by
 * hash of their literal prefix at each prefix length some rule has, and
 * address rules by hash of the masked address at each prefix length in use. */
#include <arpa/inet.h>

#include "capabilities/capset.h"
#include "capabilities/path.h"
#include "capabilities/pattern.h"
#include "common/error.h"

/* Key of an address rule or request: family, prefix length, masked address. */
static size_t net_key(int af, const uint8_t *addr, unsigned len, uint8_t *key)
{
        size_t n = af == AF_INET ? 4 : 16;
        key[0] = (uint8_t)af;
        key[1] = (uint8_t)len;
        memset(key + 2, 0, n);
        memcpy(key + 2, addr, len / 8);
        if (len % 8)
                key[2 + len / 8] = addr[len / 8] & (uint8_t)(0xff << (8 - len % 8));
        return n + 2;
}

static size_t bucket_size(const cap_map *m, uint64_t hash, const char *key, size_t n)
{
        const cap_bucket *b = cap_map_get(m, hash, key, n);
        return b ? b->n : 0;
}

static int lenset_add(cap_lenset **ls, size_t n)
{
        if (!*ls && !(*ls = calloc(1, sizeof(**ls))))
                return -ENOMEM;
        cap_lenset_add(*ls, n);
        return 0;
}

/* Indexes a text pattern (path or host): literal, or under its literal
 * prefix or suffix, whichever bucket is smaller now (ties: the longer). */
static int index_text(cap_index *ix, cap_rule_info *info, const char *pattern, uint32_t idx)
{
        size_t off = cap_pattern_wild_offset(pattern), soff, np, ns, bp, bs;
        char pre[PATH_MAX + 1], suf[PATH_MAX + 1];
        uint64_t hp, hs;
        int r;

        np = cap_pattern_unescape(pattern, off, pre);
        if (pattern[off] == '\0') {
                info->rest_off = UINT32_MAX;
                return cap_map_add(&ix->literal, cap_hash(pre, np), pre, np, idx);
        }
        soff = cap_pattern_suffix_offset(pattern);
        ns = cap_pattern_unescape(pattern + soff, strlen(pattern + soff), suf);
        hp = cap_hash(pre, np);
        hs = cap_hash_rev(suf, ns);
        bp = bucket_size(&ix->prefix, hp, pre, np);
        bs = bucket_size(&ix->suffix, hs, suf, ns);
        if (bs < bp || (bs == bp && ns > np)) {
                info->rest_off = CAP_BY_SUFFIX;
                r = lenset_add(&ix->suffix_lens, ns);
                return r < 0 ? r : cap_map_add(&ix->suffix, hs, suf, ns, idx);
        }
        info->rest_off = (uint32_t)off;
        r = lenset_add(&ix->prefix_lens, np);
        return r < 0 ? r : cap_map_add(&ix->prefix, hp, pre, np, idx);
}

/* Adds rule idx of side (already stored) to the index of its kind. */
int cap_index_rule(cap_side *side, ob_cap_kind kind, uint32_t idx)
{
        cap_index *ix = &side->ix[kind];
        cap_rule_info *info = &side->info[idx];
        const char *target = side->rules[idx]->target;
        uint8_t key[18];
        size_t n;
        int r;

        memset(info, 0, sizeof(*info));
        if (kind != OB_CAP_NETWORK_CONNECT)
                return index_text(ix, info, target, idx);
        r = cap_endpoint_parse(target, true, &info->ep, NULL);
        if (r < 0)
                return r;
        if (info->ep.family == AF_UNSPEC)
                return index_text(ix, info, info->ep.host, idx);
        info->rest_off = UINT32_MAX;
        n = net_key(info->ep.family, info->ep.addr, info->ep.prefix_len, key);
        r = cap_map_add(&ix->net, cap_hash(key, n), key, n, idx);
        if (r < 0)
                return r;
        if (info->ep.family == AF_INET)
                ix->v4_lens |= 1ULL << info->ep.prefix_len;
        else
                ix->v6_lens[info->ep.prefix_len / 64] |= 1ULL << (info->ep.prefix_len % 64);
        return 0;
}

static inline bool port_ok(const cap_rule_info *info, int port)
{
        return port < 0 || (port >= info->ep.port_lo && port <= info->ep.port_hi);
}

/* The pattern text of rule idx: its target, or the host of an endpoint. */
static inline const char *rule_text(const cap_side *side, uint32_t idx, int port)
{
        return port < 0 ? side->rules[idx]->target : side->info[idx].ep.host;
}

/* First rule in b (below *best) that matches s[0..len); a prefix rule is
 * matched from after its prefix (k bytes), a suffix rule in whole. */
static void scan_bucket(const cap_side *side, const cap_bucket *b, const char *s, size_t k,
                        size_t len, int port, uint32_t *best)
{
        for (uint32_t i = 0; i < b->n && b->idx[i] < *best; i++) {
                const cap_rule_info *info = &side->info[b->idx[i]];
                const char *text = rule_text(side, b->idx[i], port);
                bool m = info->rest_off == CAP_BY_SUFFIX
                             ? cap_pattern_match_n(text, s, len)
                             : cap_pattern_match_n(text + info->rest_off, s + k, len - k);
                if (m && port_ok(info, port)) {
                        *best = b->idx[i];
                        return;
                }
        }
}

/* Wildcard rules indexed by suffix: one backward pass over s. */
static void match_suffixes(const cap_side *side, const cap_index *ix, const char *s, size_t len,
                           int port, uint32_t *best)
{
        const cap_lenset *ls = ix->suffix_lens;
        uint64_t h = CAP_FNV_OFFSET;
        const cap_bucket *b;

        for (size_t k = 0; k <= len && k < ls->max; k++) {
                if (cap_lenset_has(ls, k) && (b = cap_map_get(&ix->suffix, h, s + len - k, k)))
                        scan_bucket(side, b, s, 0, len, port, best);
                if (k < len)
                        h = cap_fnv_step(h, (unsigned char)s[len - 1 - k]);
        }
}

/* First text rule (literal or wildcard) matching s[0..len); port < 0 for
 * paths. Updates *best. */
static void match_text(const cap_side *side, const cap_index *ix, const char *s, size_t len,
                       int port, uint32_t *best)
{
        const cap_lenset *ls = ix->prefix_lens;
        const cap_bucket *b;
        uint64_t h = CAP_FNV_OFFSET;

        for (size_t k = 0; k <= len; k++) {
                if (ls && k < ls->max && cap_lenset_has(ls, k) &&
                    (b = cap_map_get(&ix->prefix, h, s, k)))
                        scan_bucket(side, b, s, k, len, port, best);
                if (k < len)
                        h = cap_fnv_step(h, (unsigned char)s[k]);
        }
        b = cap_map_get(&ix->literal, h, s, len);
        for (uint32_t i = 0; b && i < b->n && b->idx[i] < *best; i++)
                if (port_ok(&side->info[b->idx[i]], port)) {
                        *best = b->idx[i];
                        break;
                }
        if (ix->suffix_lens)
                match_suffixes(side, ix, s, len, port, best);
}

static void match_net(const cap_side *side, const cap_index *ix, const cap_endpoint *req,
                      uint32_t *best)
{
        unsigned max = req->family == AF_INET ? 32 : 128;
        uint8_t key[18];

        for (unsigned len = 0; len <= max; len++) {
                const cap_bucket *b;
                size_t n;
                bool in = req->family == AF_INET ? (ix->v4_lens >> len) & 1
                                                 : (ix->v6_lens[len / 64] >> (len % 64)) & 1;
                if (!in)
                        continue;
                n = net_key(req->family, req->addr, len, key);
                b = cap_map_get(&ix->net, cap_hash(key, n), key, n);
                for (uint32_t i = 0; b && i < b->n && b->idx[i] < *best; i++)
                        if (port_ok(&side->info[b->idx[i]], req->port_lo)) {
                                *best = b->idx[i];
                                break;
                        }
        }
}

/* Number of the first rule of side matching the request, UINT32_MAX if none. */
static uint32_t first_match(const cap_side *side, ob_cap_kind kind, const char *path, size_t len,
                            const cap_endpoint *req)
{
        const cap_index *ix = &side->ix[kind];
        uint32_t best = UINT32_MAX;

        if (side->n == 0)
                return best;
        if (!req) {
                match_text(side, ix, path, len, -1, &best);
                return best;
        }
        if (req->family != AF_UNSPEC)
                match_net(side, ix, req, &best);
        match_text(side, ix, req->host, strlen(req->host), req->port_lo, &best);
        return best;
}

/* Decides (kind, target): denial first, then grant, else default deny. */
int ob_capset_check(const ob_capset *set, ob_cap_kind kind, const char *target, ob_decision *ret)
{
        char path[PATH_MAX + 1];
        cap_endpoint req, *preq = NULL;
        size_t len = 0;
        uint32_t i;
        int r;

        if (!set || !target || !ret || (unsigned)kind >= OB_CAP_KIND_MAX)
                return -EINVAL;
        if (kind == OB_CAP_NETWORK_CONNECT) {
                r = cap_endpoint_parse(target, false, &req, NULL);
                preq = &req;
        } else {
                r = cap_path_canonicalize_buf(target, path, &len);
        }
        if (r < 0)
                return r;
        i = first_match(&set->side[1], kind, path, len, preq);
        if (i != UINT32_MAX) {
                *ret = (ob_decision){false, true, set->side[1].rules[i]};
                return 0;
        }
        i = first_match(&set->side[0], kind, path, len, preq);
        *ret =
            (ob_decision){i != UINT32_MAX, false, i != UINT32_MAX ? set->side[0].rules[i] : NULL};
        return 0;
}
