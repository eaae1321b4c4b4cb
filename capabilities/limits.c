/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include <omnibase/sandbox.h>

#include "capabilities/limits.h"
#include "runner/workspace.h"

#define ROW(k, f, u, field, d, lo, hi, frac)                                                       \
        {                                                                                          \
                k, f, u, offsetof(ob_limits, field), d, lo, hi, frac, false                        \
        }

/* Bounds: memory below 32 MiB does not start the sentry and python; cpus
 * below 0.01 cannot be expressed as a CFS quota (1 ms per 100 ms period);
 * output above 64 MiB per stream is held in memory by the runner;
 * write_mb (0: no bound) is an ext4 image, and mkfs wants 8 MiB at least. */
const ob_limit_info ob_limit_table[OB_LIMIT_COUNT] = {
    ROW("memory_mb", "--memory", "MiB", memory_mb, OB_DEFAULT_MEMORY_MB, 32, 1024 * 1024, false),
    ROW("cpus", "--cpus", "milli-CPUs", cpus_milli, OB_DEFAULT_CPUS_MILLI, 10, 1024 * 1000, true),
    ROW("pids", "--pids", "tasks", pids, OB_DEFAULT_PIDS, 1, 1000000, false),
    ROW("timeout_s", "--timeout", "s", timeout_s, OB_DEFAULT_TIMEOUT_S, 1, 7 * 86400, false),
    ROW("tmpfs_mb", "--tmpfs", "MiB", tmpfs_mb, OB_DEFAULT_TMPFS_MB, 1, 1024 * 1024, false),
    ROW("output_kb", "--output", "KiB", output_kb, OB_DEFAULT_OUTPUT_KB, 1,
        OB_SANDBOX_MAX_OUTPUT_KB, false),
    {"write_mb", "--write", "MiB", offsetof(ob_limits, write_mb), OB_DEFAULT_WRITE_MB,
     OB_WORKSPACE_MIN_MB, OB_WORKSPACE_MAX_MB, false, true},
};

const ob_limit_info *ob_limit_by_key(const char *key)
{
        for (size_t i = 0; i < OB_LIMIT_COUNT; i++)
                if (strcmp(ob_limit_table[i].key, key) == 0)
                        return &ob_limit_table[i];
        return NULL;
}

const ob_limit_info *ob_limit_by_flag(const char *flag)
{
        for (size_t i = 0; i < OB_LIMIT_COUNT; i++)
                if (strcmp(ob_limit_table[i].flag, flag) == 0)
                        return &ob_limit_table[i];
        return NULL;
}

static void show(const ob_limit_info *d, int64_t v, char *buf, size_t size)
{
        if (d->fractional)
                snprintf(buf, size, "%lld.%03lld", (long long)(v / 1000), (long long)(v % 1000));
        else
                snprintf(buf, size, "%lld", (long long)v);
}

bool ob_limit_out_of_bounds(const ob_limit_info *d, int64_t v, char *buf, size_t size)
{
        char val[32], bound[32];

        if ((v >= d->min && v <= d->max) || (d->zero_off && v == 0))
                return false;
        show(d, v, val, sizeof(val));
        show(d, v < d->min ? d->min : d->max, bound, sizeof(bound));
        snprintf(buf, size, "%s: %s is %s %s%s", d->key, val,
                 v < d->min ? "below the minimum" : "above the maximum", bound,
                 d->zero_off ? " (unset: no bound)" : "");
        return true;
}
