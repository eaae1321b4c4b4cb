/* SPDX-License-Identifier: Apache-2.0 */
/* Audit writer throughput, all modes measured in one run on the same disk:
 *   plain write     pre-serialised lines of the same size, write() each, no
 *                   lock, no hash, no fsync (the baseline)
 *   plain + fsync   the same with fdatasync() after each line (what the
 *                   durability policy alone costs)
 *   audit append    ob_audit_append(): lock, chain, SHA-256, one write,
 *                   fdatasync, per event (the policy: acknowledged = durable)
 *   audit batch     ob_audit_append_batch() of BATCH events (and of the
 *                   maximum, 4096): one lock, one write, one fdatasync each
 *   line build      ob_audit_line_build() alone, per second of CPU time
 * Usage: bench_audit [DIR [N_SYNC [N_FAST [BATCH]]]]   (DIR default /var/tmp) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit-internal.h"

#define ROUNDS 5

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static double median(double *v)
{
        qsort(v, ROUNDS, sizeof(*v), cmp_double);
        return v[ROUNDS / 2];
}

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static cJSON *make_event(long i)
{
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "type", "CapabilityDenied");
        cJSON_AddStringToObject(ev, "sandbox_id", "sb-6f1c2a");
        cJSON_AddStringToObject(ev, "principal", "3f2a9c1e-0000-4000-8000-000000000001");
        cJSON_AddStringToObject(ev, "capability", "FILE_READ");
        cJSON_AddStringToObject(ev, "target", "/etc/passwd");
        cJSON_AddStringToObject(ev, "syscall", "openat");
        cJSON_AddNumberToObject(ev, "pid", 4242);
        cJSON_AddNumberToObject(ev, "n", (double)i);
        cJSON_AddStringToObject(ev, "policy_id", "default-deny");
        return ev;
}

static double bench_plain(const char *path, const char *line, size_t len, long n, bool sync)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
        double t0 = now_s();

        if (fd < 0)
                return -1;
        for (long i = 0; i < n; i++)
                if (write(fd, line, len) != (ssize_t)len || (sync && fdatasync(fd) < 0))
                        return close(fd), -1;
        t0 = now_s() - t0;
        close(fd);
        unlink(path);
        return (double)n / t0;
}

static double bench_audit(const char *path, cJSON **evs, long n, long batch)
{
        ob_audit_log *log = NULL;
        double t0;
        int r = ob_audit_open(path, OB_AUDIT_NO_DBUS, &log);

        t0 = now_s();
        for (long i = 0; r >= 0 && i < n; i += batch) {
                long k = n - i < batch ? n - i : batch;
                r = k == 1 ? ob_audit_append(log, evs[i % 4096], NULL)
                           : ob_audit_append_batch(log, (const cJSON *const *)evs, (size_t)k, NULL);
        }
        t0 = now_s() - t0;
        ob_audit_close(log);
        unlink(path);
        return r < 0 ? -1 : (double)n / t0;
}

static double cpu_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lines built per second of this process's CPU time: on a machine shared
 * with other work, wall time would measure the other work too. */
static double bench_build(cJSON **evs, long n)
{
        char hash[OB_AUDIT_HASH_HEX + 1];
        double t0 = cpu_s();

        for (long i = 0; i < n; i++) {
                char *line = NULL;
                size_t len;
                if (ob_audit_line_build(evs[i % 4096], (uint64_t)i + 1, OB_AUDIT_ZERO_HASH, &line,
                                        &len, hash) < 0)
                        return -1;
                free(line);
        }
        return (double)n / (cpu_s() - t0);
}

int main(int argc, char **argv)
{
        const char *dir = argc > 1 ? argv[1] : "/var/tmp";
        long n_sync = argc > 2 ? atol(argv[2]) : 1000, n_fast = argc > 3 ? atol(argv[3]) : 100000;
        long batch = argc > 4 ? atol(argv[4]) : 256;
        char path[4096], hash[OB_AUDIT_HASH_HEX + 1], *line = NULL;
        cJSON *evs[4096];
        size_t len;
        double plain, plain_sync, append, batched, batched_max, build, m[6][ROUNDS];

        if (n_sync < 1 || n_fast < 1 || batch < 2 || batch > OB_AUDIT_MAX_BATCH)
                return fprintf(stderr, "usage: bench_audit [DIR [N_SYNC [N_FAST [BATCH]]]]\n"), 2;
        snprintf(path, sizeof(path), "%s/bench-audit-%d.jsonl", dir, (int)getpid());
        for (int i = 0; i < 4096; i++)
                evs[i] = make_event(i);
        if (ob_audit_line_build(evs[0], 1, OB_AUDIT_ZERO_HASH, &line, &len, hash) < 0)
                return 1;
        /* Alternate the modes over ROUNDS rounds and keep each one's median,
         * so that a busy disk or CPU weighs on all of them alike. */
        for (int k = 0; k < ROUNDS; k++) {
                m[0][k] = bench_plain(path, line, len, n_fast, false);
                m[1][k] = bench_plain(path, line, len, n_sync, true);
                m[2][k] = bench_audit(path, evs, n_sync, 1);
                m[3][k] = bench_audit(path, evs, n_fast, batch);
                m[4][k] = bench_build(evs, n_fast);
                m[5][k] = bench_audit(path, evs, n_fast, OB_AUDIT_MAX_BATCH);
                for (int j = 0; j < 6; j++)
                        if (m[j][k] < 0)
                                return fprintf(stderr, "bench_audit: %s: %s\n", path,
                                               strerror(errno)),
                                       1;
        }
        plain = median(m[0]), plain_sync = median(m[1]), append = median(m[2]);
        batched = median(m[3]), build = median(m[4]), batched_max = median(m[5]);
        printf("audit writer, %zu-byte lines, files in %s, median of %d alternated rounds\n", len,
               dir, ROUNDS);
        printf("  plain write (baseline)      %10.0f events/s  (%ld events)\n", plain, n_fast);
        printf("  plain write + fdatasync     %10.0f events/s  (%ld events)\n", plain_sync, n_sync);
        printf("  audit append (durable)      %10.0f events/s  (%ld events)\n", append, n_sync);
        printf("  audit batch of %-4ld          %10.0f events/s  (%ld events)\n", batch, batched,
               n_fast);
        printf("  audit batch of %-4d          %10.0f events/s  (%ld events)\n", OB_AUDIT_MAX_BATCH,
               batched_max, n_fast);
        printf("  line build only             %10.0f events per CPU-second\n", build);
        printf("ratios: audit append / plain+fdatasync = %.2f; audit batch of %ld / plain write = "
               "%.2f; of %d / plain write = %.2f\n",
               append / plain_sync, batch, batched / plain, OB_AUDIT_MAX_BATCH,
               batched_max / plain);
        free(line);
        for (int i = 0; i < 4096; i++)
                cJSON_Delete(evs[i]);
        return 0;
}
