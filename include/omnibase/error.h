/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Symbols of libomnibase that validators may use are marked OB_EXPORT;
 * everything else is hidden (-fvisibility=hidden). */
#define OB_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

/* What a user needs beyond an errno: the position (1-based; 0 when there is
 * none) and one line of text. Library functions fill it, never print it. */
typedef struct ob_error {
        unsigned line;
        unsigned column;
        char message[512];
        /* A stable machine-readable code for typed errors of the environment
         * layer ("quota_exceeded", "not_found", ...; docs/environments.md),
         * NULL otherwise. Points to a string literal. */
        const char *code;
} ob_error;

#ifdef __cplusplus
}
#endif
