/* SPDX-License-Identifier: Apache-2.0 */
/* The seven limits, once: name, unit, default, bounds, CLI flag. The
 * capability file, the CLI, the runner, the result and the events all read
 * this table (docs/capabilities.md §limits). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <omnibase/capabilities.h>

typedef struct ob_limit_info {
        const char *key;  /* in the capability file and the plan: "memory_mb" */
        const char *flag; /* the CLI override: "--memory" */
        const char *unit; /* of the stored value: "MiB", "milli-CPUs" ... */
        size_t off;       /* in ob_limits */
        int64_t def, min, max;
        bool fractional; /* "cpus": a number with at most 3 decimals, stored in thousandths */
        bool zero_off;   /* 0 means "no bound" and is allowed below min ("write_mb") */
} ob_limit_info;

#define OB_LIMIT_COUNT 7
extern const ob_limit_info ob_limit_table[OB_LIMIT_COUNT];

static inline int64_t *ob_limit_slot(ob_limits *l, const ob_limit_info *d)
{
        return (int64_t *)((char *)l + d->off);
}

static inline int64_t ob_limit_get(const ob_limits *l, const ob_limit_info *d)
{
        return *(const int64_t *)((const char *)l + d->off);
}

/* Whether a grants more than b (0 is no bound where zero_off says so). */
static inline bool ob_limit_looser(const ob_limit_info *d, int64_t a, int64_t b)
{
        if (d->zero_off && (a == 0 || b == 0))
                return a == 0 && b != 0;
        return a > b;
}

/* The entry of key (capability-file name) or flag; NULL when none. */
const ob_limit_info *ob_limit_by_key(const char *key);
const ob_limit_info *ob_limit_by_flag(const char *flag);
/* "limit memory_mb: 16 is below 32 (the least it may be)" style message in
 * buf for a value outside the bounds; false when v is inside them. */
bool ob_limit_out_of_bounds(const ob_limit_info *d, int64_t v, char *buf, size_t size);
