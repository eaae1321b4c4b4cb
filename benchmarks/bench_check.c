/* SPDX-License-Identifier: Apache-2.0 */
/* ob_capset_check latency at 10 / 100 / 1,000 rules of one kind: median and
 * p99 per check, against a naive scan of the same rules in set order (the
 * baseline, measured in the same run), with the ratio. Usage:
 *   bench_check [REQUESTS_PER_SIZE]      (default 20000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omnibase/capabilities.h>

#include "capabilities/endpoint.h"

static uint64_t rng = 42;

static unsigned rnd(unsigned n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned)(rng % n);
}

static inline uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* Rule i of a realistic mix; deny set when the rule is a denial. */
/* Rule shapes: 0 a realistic mix; 1 every wildcard shares one literal
 * prefix; 2 (the worst case) every rule shares both its prefix and its
 * suffix, so all are candidates, and every request misses. */
static void file_rule(unsigned i, int shape, char *buf, size_t size, bool *deny)
{
        *deny = false;
        if (shape) {
                snprintf(buf, size, shape == 1 ? "/data/*x%u" : "/data/*x%u*", i);
                return;
        }
        switch (i % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
                snprintf(buf, size, "/data/proj%u/file%u.txt", i, i);
                break;
        case 5:
        case 6:
        case 7:
                snprintf(buf, size, "/srv/app%u/*", i);
                break;
        case 8:
                snprintf(buf, size, "/home/u%u/*.log", i);
                break;
        default:
                snprintf(buf, size, "/srv/app%u/secret/*", i - 2);
                *deny = true;
        }
}

static void file_request(unsigned n, int shape, char *buf, size_t size)
{
        unsigned i = rnd(n);
        if (shape == 2) { /* the worst case: a miss that every rule must try */
                snprintf(buf, size, "/data/some/long/path/y%u", i);
                return;
        }
        if (rnd(2)) { /* a miss */
                snprintf(buf, size, "/data/proj%u/other%u/x.txt", i, rnd(1000));
                return;
        }
        if (shape) {
                snprintf(buf, size, "/data/some/long/path/x%u", i);
                return;
        }
        switch (i % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
                snprintf(buf, size, "/data/proj%u/file%u.txt", i, i);
                break;
        case 5:
        case 6:
        case 7:
                snprintf(buf, size, "/srv/app%u/lib/x%u.py", i, rnd(100));
                break;
        case 8:
                snprintf(buf, size, "/home/u%u/logs/day%u.log", i, rnd(30));
                break;
        default:
                snprintf(buf, size, "/srv/app%u/secret/key", i - 2);
        }
}

static void net_rule(unsigned i, char *buf, size_t size, bool *deny)
{
        *deny = false;
        switch (i % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
                snprintf(buf, size, "10.%u.%u.1:443", (i >> 8) & 255, i & 255);
                break;
        case 4:
        case 5:
        case 6:
                snprintf(buf, size, "172.%u.%u.0/24:8000-8999", 16 + (i >> 8) % 16, i & 255);
                break;
        case 7:
        case 8:
                snprintf(buf, size, "svc%u.example.com:443", i);
                break;
        default:
                snprintf(buf, size, "*.zone%u.example.org:*", i);
                *deny = i % 20 == 9;
        }
}

static void net_request(unsigned n, char *buf, size_t size)
{
        unsigned i = rnd(n);
        switch (i % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
                snprintf(buf, size, "10.%u.%u.%u:443", (i >> 8) & 255, i & 255, 1 + rnd(2));
                break;
        case 4:
        case 5:
        case 6:
                snprintf(buf, size, "172.%u.%u.%u:%u", 16 + (i >> 8) % 16, i & 255, rnd(256),
                         8000 + rnd(2000));
                break;
        case 7:
        case 8:
                snprintf(buf, size, "svc%u.example.com:%u", i + rnd(2), 443);
                break;
        default:
                snprintf(buf, size, "host%u.zone%u.example.org:22", rnd(50), i);
        }
}

/* The baseline: first denial, then first grant, scanning every rule. */
static const ob_capability *naive(const ob_capset *s, ob_cap_kind k, const char *target)
{
        char *canon = NULL;
        cap_endpoint req;
        const ob_capability *hit = NULL;

        if (k == OB_CAP_NETWORK_CONNECT ? cap_endpoint_parse(target, false, &req, NULL) < 0
                                        : ob_path_canonicalize(target, &canon) < 0)
                return NULL;
        for (int deny = 1; deny >= 0 && !hit; deny--)
                for (size_t i = 0; i < ob_capset_count(s, deny) && !hit; i++) {
                        const ob_capability *c = ob_capset_get(s, deny, i);
                        cap_endpoint r;
                        if (c->kind != k)
                                continue;
                        if (k != OB_CAP_NETWORK_CONNECT)
                                hit = ob_pattern_match(c->target, canon) ? c : NULL;
                        else if (cap_endpoint_parse(c->target, true, &r, NULL) == 0 &&
                                 cap_endpoint_match(&r, &req))
                                hit = c;
                }
        free(canon);
        return hit;
}

typedef struct stats {
        double median, p99;
} stats;

static stats measure(const ob_capset *s, ob_cap_kind k, char **reqs, unsigned n, bool baseline,
                     uint64_t overhead)
{
        uint64_t *t = malloc(n * sizeof(*t));
        stats st;
        for (unsigned i = 0; i < n; i++) {
                ob_decision d;
                uint64_t t0 = now_ns(), t1;
                if (baseline)
                        (void)naive(s, k, reqs[i]);
                else if (ob_capset_check(s, k, reqs[i], &d) < 0)
                        abort();
                t1 = now_ns();
                t[i] = t1 - t0 > overhead ? t1 - t0 - overhead : 0;
        }
        qsort(t, n, sizeof(*t), cmp_u64);
        st.median = (double)t[n / 2];
        st.p99 = (double)t[(size_t)n * 99 / 100];
        free(t);
        return st;
}

static void run(const char *label, ob_cap_kind k, int shape, unsigned nrules, unsigned nreq,
                uint64_t overhead)
{
        ob_capset *s = NULL;
        char **reqs = malloc(nreq * sizeof(*reqs)), buf[256];
        unsigned allowed = 0;
        stats fast, slow;

        if (ob_capset_new(&s) < 0)
                abort();
        for (unsigned i = 0; i < nrules; i++) {
                bool deny;
                ob_error err;
                if (k == OB_CAP_NETWORK_CONNECT)
                        net_rule(i, buf, sizeof(buf), &deny);
                else
                        file_rule(i, shape, buf, sizeof(buf), &deny);
                if (ob_capset_add(s, deny, k, buf, NULL, &err) < 0) {
                        fprintf(stderr, "%s: %s\n", buf, err.message);
                        abort();
                }
        }
        for (unsigned i = 0; i < nreq; i++) {
                ob_decision d;
                if (k == OB_CAP_NETWORK_CONNECT)
                        net_request(nrules, buf, sizeof(buf));
                else
                        file_request(nrules, shape, buf, sizeof(buf));
                reqs[i] = strdup(buf);
                if (ob_capset_check(s, k, buf, &d) < 0 || d.rule != naive(s, k, buf))
                        abort(); /* the figures are only worth something if both agree */
                allowed += d.allowed;
        }
        measure(s, k, reqs, nreq / 10, false, overhead); /* warm up */
        fast = measure(s, k, reqs, nreq, false, overhead);
        slow = measure(s, k, reqs, nreq, true, overhead);
        printf("%-28s %6u  %9.0f %9.0f  %9.0f %9.0f  %7.1fx  %3u%%\n", label, nrules, fast.median,
               fast.p99, slow.median, slow.p99, slow.median / (fast.median > 0 ? fast.median : 1),
               allowed * 100 / nreq);
        for (unsigned i = 0; i < nreq; i++)
                free(reqs[i]);
        free(reqs);
        ob_capset_free(s);
}

int main(int argc, char **argv)
{
        unsigned nreq = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 20000;
        static const unsigned sizes[] = {10, 100, 1000};
        uint64_t ov[1001];

        if (nreq < 100)
                nreq = 100;
        for (int i = 0; i < 1001; i++) {
                uint64_t t0 = now_ns();
                ov[i] = now_ns() - t0;
        }
        qsort(ov, 1001, sizeof(*ov), cmp_u64);
        printf("ob_capset_check latency in ns (timer overhead %llu ns subtracted), %u requests "
               "per row, about half of them misses\n",
               (unsigned long long)ov[500], nreq);
        printf("baseline: naive scan of every rule in set order (same requests, same run)\n\n");
        printf("%-28s %6s  %9s %9s  %9s %9s  %8s  %4s\n", "rules", "n", "median", "p99", "base med",
               "base p99", "speedup", "allow");
        for (unsigned i = 0; i < 3; i++)
                run("FILE_READ mixed", OB_CAP_FILE_READ, 0, sizes[i], nreq, ov[500]);
        for (unsigned i = 0; i < 3; i++)
                run("NETWORK_CONNECT mixed", OB_CAP_NETWORK_CONNECT, 0, sizes[i], nreq, ov[500]);
        for (unsigned i = 0; i < 3; i++)
                run("FILE_READ shared prefix", OB_CAP_FILE_READ, 1, sizes[i], nreq, ov[500]);
        for (unsigned i = 0; i < 3; i++)
                run("FILE_READ worst: /data/*xN*", OB_CAP_FILE_READ, 2, sizes[i], nreq, ov[500]);
        return 0;
}
