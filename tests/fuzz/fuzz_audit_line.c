/* SPDX-License-Identifier: Apache-2.0 */
/* The audit line decoder that `omnibase events verify` and `follow` run on
 * every line of a log (which anyone who can write the file controls). */
#include <stdint.h>
#include <string.h>

#include "audit/audit-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ob_audit_record rec = {0};
        ob_error err = {0};

        if (ob_audit_line_decode((const char *)data, size, &rec, &err) == 0) {
                /* A decoded line has its invariants, whatever the input. */
                if (rec.seq == 0 || !rec.type || strlen(rec.hash) != 64 ||
                    strlen(rec.prev_hash) != 64)
                        __builtin_trap();
                ob_audit_record_done(&rec);
        } else if (err.message[0] == '\0') {
                __builtin_trap(); /* every refusal says why */
        }
        return 0;
}
