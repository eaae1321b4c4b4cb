/* SPDX-License-Identifier: Apache-2.0 */
/* Policy benchmark, the C side (benchmarks/bench_policy.sh runs it with
 * cedar-wasm beside it and prints the ratios):
 *  - parse + check + compile time of sets of 10 / 100 / 1,000 / 10,000
 *    policies (median of several runs);
 *  - latency of ob_capset_check on the compiled set and of the evaluator
 *    (ob_policy_is_authorized) on the same requests, median and p99.
 * With --emit DIR it also writes DIR/policies-N.json and DIR/requests-N.txt
 * so that the same sets and requests can be timed in cedar-wasm.
 * Usage: bench_policy [--emit DIR] */
#define _GNU_SOURCE 1
#include <omnibase/policy.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define P1       "3f2a9c1e-0000-4000-8000-000000000001"
#define P2       "3f2a9c1e-0000-4000-8000-000000000002"
#define NREQ     2000
#define RUNS     7
#define SCOPE(k) "\"action\":{\"op\":\"==\",\"entity\":{\"type\":\"Action\",\"id\":\"" k "\"}}"
#define RES_PATH "{\".\":{\"left\":{\"Var\":\"resource\"},\"attr\":\"path\"}}"
#define RES_HOST "{\".\":{\"left\":{\"Var\":\"resource\"},\"attr\":\"host\"}}"
#define RES_PORT "{\".\":{\"left\":{\"Var\":\"resource\"},\"attr\":\"port\"}}"

static double now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU time of this thread: what the work costs, without the time other
 * processes on a shared machine take from it. */
static double cpu_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* Appends one policy of a realistic mix to buf (at *len). */
static void append_policy(char *buf, size_t *len, size_t cap, size_t i)
{
        const char *principal =
            i % 7 == 6   ? "{\"op\":\"==\",\"entity\":{\"type\":\"Component\",\"id\":\"" P2 "\"}}"
            : i % 5 == 4 ? "{\"op\":\"All\"}"
                         : "{\"op\":\"==\",\"entity\":{\"type\":\"Component\",\"id\":\"" P1 "\"}}";
        const char *sep = i ? "," : "";
        int n;

        switch (i % 4) {
        case 0:
                n = snprintf(buf + *len, cap - *len,
                             "%s\"read-%zu\":{\"effect\":\"permit\",\"principal\":%s," SCOPE(
                                 "FILE_READ") ",\"resource\":{\"op\":\"All\"},\"conditions\":[{"
                                              "\"kind\":\"when\","
                                              "\"body\":{\"like\":{\"left\":" RES_PATH
                                              ",\"pattern\":[{\"Literal\":"
                                              "\"/data/%zu/\"},\"Wildcard\"]}}}]}",
                             sep, i, principal, i);
                break;
        case 1:
                n = snprintf(
                    buf + *len, cap - *len,
                    "%s\"deny-%zu\":{\"effect\":\"forbid\",\"principal\":%s,\"action\":{"
                    "\"op\":\"in\",\"entities\":[{\"type\":\"Action\",\"id\":\"FILE_READ\"},"
                    "{\"type\":\"Action\",\"id\":\"FILE_WRITE\"}]},\"resource\":{\"op\":"
                    "\"All\"},\"conditions\":[{\"kind\":\"when\",\"body\":{\"like\":{"
                    "\"left\":" RES_PATH ",\"pattern\":[{\"Literal\":\"/data/%zu/secret/\"},"
                    "\"Wildcard\"]}}}]}",
                    sep, i, principal, i - 1);
                break;
        case 2:
                n = snprintf(
                    buf + *len, cap - *len,
                    "%s\"net-%zu\":{\"effect\":\"permit\",\"principal\":%s," SCOPE(
                        "NETWORK_CONNECT") ",\"resource\":{\"op\":\"All\"},\"conditions\":[{"
                                           "\"kind\":\"when\","
                                           "\"body\":{\"&&\":{\"left\":{\"==\":{\"left\":" RES_HOST
                                           ",\"right\":{"
                                           "\"Value\":\"10.%zu.%zu.%zu\"}}},\"right\":{\"&&\":{"
                                           "\"left\":{\">=\":{"
                                           "\"left\":" RES_PORT
                                           ",\"right\":{\"Value\":8000}}},\"right\":{\"<\":{"
                                           "\"left\":" RES_PORT
                                           ",\"right\":{\"Value\":9000}}}}}}}}]}",
                    sep, i, principal, (i >> 16) & 255, (i >> 8) & 255, i & 255);
                break;
        default:
                n = snprintf(buf + *len, cap - *len,
                             "%s\"exec-%zu\":{\"effect\":\"permit\",\"principal\":%s," SCOPE(
                                 "FILE_EXEC") ",\"resource\":{\"op\":\"==\",\"entity\":{\"type\":"
                                              "\"File\",\"id\":"
                                              "\"/usr/bin/tool%zu\"}},\"conditions\":[]}",
                             sep, i, principal, i);
                break;
        }
        *len += (size_t)n;
}

static char *make_set(size_t n, size_t *ret_len)
{
        size_t cap = n * 700 + 64, len = 0;
        char *buf = malloc(cap);
        if (!buf)
                abort();
        len += (size_t)snprintf(buf, cap, "{\"staticPolicies\":{");
        for (size_t i = 0; i < n; i++)
                append_policy(buf, &len, cap, i);
        len += (size_t)snprintf(buf + len, cap - len, "},\"templates\":{},\"templateLinks\":[]}\n");
        *ret_len = len;
        return buf;
}

typedef struct request {
        ob_cap_kind kind;
        char target[64];
} request;

static void make_requests(size_t n_policies, request *reqs)
{
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (size_t r = 0; r < NREQ; r++) {
                size_t i;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                i = (size_t)(x % (n_policies + n_policies / 4 + 1));
                switch ((x >> 32) % 4) {
                case 0:
                        reqs[r].kind = OB_CAP_FILE_READ;
                        snprintf(reqs[r].target, sizeof(reqs[r].target), "/data/%zu/x.csv",
                                 i & ~(size_t)3);
                        break;
                case 1:
                        reqs[r].kind = OB_CAP_FILE_READ;
                        snprintf(reqs[r].target, sizeof(reqs[r].target), "/data/%zu/secret/k",
                                 i & ~(size_t)3);
                        break;
                case 2:
                        reqs[r].kind = OB_CAP_NETWORK_CONNECT;
                        i = (i & ~(size_t)3) | 2;
                        snprintf(reqs[r].target, sizeof(reqs[r].target), "10.%zu.%zu.%zu:%d",
                                 (i >> 16) & 255, (i >> 8) & 255, i & 255,
                                 (x >> 40) % 2 ? 8080 : 443);
                        break;
                default:
                        reqs[r].kind = OB_CAP_FILE_EXEC;
                        snprintf(reqs[r].target, sizeof(reqs[r].target), "/usr/bin/tool%zu",
                                 (i & ~(size_t)3) | 3);
                        break;
                }
        }
}

/* Median times (ms) of parse and of check + compile, over RUNS runs. */
static void time_compile(const char *text, size_t len, double *ret_parse, double *ret_compile,
                         double *ret_cpu, size_t *ret_rules)
{
        double tp[RUNS], tc[RUNS], tu[RUNS];
        for (int k = 0; k < RUNS; k++) {
                ob_policy_set *set = NULL;
                ob_capset *caps = NULL;
                ob_error err = {0};
                double t0 = now_ns(), u0 = cpu_ns(), t1;
                if (ob_policy_parse(text, len, &set, &err) < 0)
                        goto fail;
                t1 = now_ns();
                if (ob_policy_compile(set, P1, &caps, &err) < 0)
                        goto fail;
                tc[k] = (now_ns() - t1) / 1e6;
                tu[k] = (cpu_ns() - u0) / 1e6;
                tp[k] = (t1 - t0) / 1e6;
                *ret_rules = ob_capset_count(caps, false) + ob_capset_count(caps, true);
                ob_capset_free(caps);
                ob_policy_set_free(set);
                continue;
        fail:
                fprintf(stderr, "bench_policy: %u:%u: %s\n", err.line, err.column, err.message);
                exit(1);
        }
        qsort(tp, RUNS, sizeof(tp[0]), cmp_double);
        qsort(tc, RUNS, sizeof(tc[0]), cmp_double);
        qsort(tu, RUNS, sizeof(tu[0]), cmp_double);
        *ret_cpu = tu[RUNS / 2];
        *ret_parse = tp[RUNS / 2];
        *ret_compile = tc[RUNS / 2];
}

static void latency(const ob_policy_set *set, const ob_capset *caps, const request *reqs,
                    double *ret_caps, double *ret_eval, size_t *ret_allowed)
{
        static double t[NREQ];
        size_t allowed = 0;

        for (int pass = 0; pass < 2; pass++) /* warm up, then measure */
                for (size_t r = 0; r < NREQ; r++) {
                        ob_decision d;
                        double t0 = now_ns();
                        ob_capset_check(caps, reqs[r].kind, reqs[r].target, &d);
                        t[r] = now_ns() - t0;
                        allowed += pass && d.allowed;
                }
        qsort(t, NREQ, sizeof(t[0]), cmp_double);
        ret_caps[0] = t[NREQ / 2];
        ret_caps[1] = t[NREQ * 99 / 100];
        for (size_t r = 0; r < NREQ; r++) {
                ob_policy_response resp = {0};
                double t0 = now_ns();
                ob_policy_is_authorized(set, P1, reqs[r].kind, reqs[r].target, &resp);
                t[r] = now_ns() - t0;
                ob_policy_response_done(&resp);
        }
        qsort(t, NREQ, sizeof(t[0]), cmp_double);
        ret_eval[0] = t[NREQ / 2];
        ret_eval[1] = t[NREQ * 99 / 100];
        *ret_allowed = allowed;
}

static void emit(const char *dir, size_t n, const char *text, size_t len, const request *reqs)
{
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/policies-%zu.json", dir, n);
        f = fopen(path, "we");
        if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0)
                exit(1);
        snprintf(path, sizeof(path), "%s/requests-%zu.txt", dir, n);
        f = fopen(path, "we");
        if (!f)
                exit(1);
        for (size_t r = 0; r < NREQ; r++)
                fprintf(f, "%s %s\n", ob_cap_kind_to_string(reqs[r].kind), reqs[r].target);
        fclose(f);
}

int main(int argc, char **argv)
{
        static const size_t sizes[] = {10, 100, 1000, 10000};
        static request reqs[NREQ];
        const char *dir = argc == 3 && strcmp(argv[1], "--emit") == 0 ? argv[2] : NULL;

        printf("# policies  rules  parse_ms  compile_ms  total_ms  total_cpu_ms  "
               "capset_check_med_ns  p99_ns  "
               "evaluate_med_ns  "
               "p99_ns  allowed/%d\n",
               NREQ);
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                size_t len, rules, allowed;
                char *text = make_set(sizes[s], &len);
                double pms, cms, ums, c[2], e[2];
                ob_policy_set *set = NULL;
                ob_capset *caps = NULL;

                time_compile(text, len, &pms, &cms, &ums, &rules);
                make_requests(sizes[s], reqs);
                if (ob_policy_parse(text, len, &set, NULL) < 0 ||
                    ob_policy_compile(set, P1, &caps, NULL) < 0)
                        return 1;
                latency(set, caps, reqs, c, e, &allowed);
                printf("%9zu %6zu %9.3f %11.3f %9.3f %13.3f %20.0f %7.0f %16.0f %7.0f %6zu\n",
                       sizes[s], rules, pms, cms, pms + cms, ums, c[0], c[1], e[0], e[1], allowed);
                if (dir)
                        emit(dir, sizes[s], text, len, reqs);
                ob_capset_free(caps);
                ob_policy_set_free(set);
                free(text);
        }
        return 0;
}
