/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by every test program. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

/* Skips the test (exit 77, CTest's SKIP_RETURN_CODE) with a reason; when
 * OMNIBASE_MUST_WORK is set (CI), a skip is a failure instead (exit 1). */
static inline __attribute__((noreturn)) void ob_test_skip(const char *reason)
{
        const char *must = getenv("OMNIBASE_MUST_WORK");
        if (must && *must && *must != '0') {
                fprintf(stderr, "FAIL (skip not allowed, OMNIBASE_MUST_WORK): %s\n", reason);
                exit(1);
        }
        fprintf(stderr, "SKIP: %s\n", reason);
        exit(77);
}
