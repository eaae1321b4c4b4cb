/* SPDX-License-Identifier: Apache-2.0 */
/* The audit line decoder that `omnibase events verify` and `follow` run on
 * every line of a log (which anyone who can write the file controls), and
 * the verifier itself on the input taken as a whole log. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit/audit-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_line(const uint8_t *data, size_t size)
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
}

static void verify_log(const uint8_t *data, size_t size)
{
        ob_audit_verify_result res, cont;
        char path[64];
        int fd = memfd_create("audit.jsonl", MFD_CLOEXEC);

        if (fd < 0)
                return;
        if (write(fd, data, size) != (ssize_t)size) {
                close(fd);
                return;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (ob_audit_verify(path, 0, &res) == 0 &&
            ob_audit_verify(path, OB_AUDIT_VERIFY_CONTINUE, &cont) == 0) {
                /* No predecessor exists: an intact log starts at seq 1. */
                if (res.ok && res.last_seq != res.n_events)
                        __builtin_trap();
                if (!res.ok && (res.bad_line == 0 || !res.reason[0]))
                        __builtin_trap();
                if (cont.ok && cont.n_events > cont.last_seq)
                        __builtin_trap();
                if (res.ok && !cont.ok)
                        __builtin_trap(); /* --continue only relaxes the start */
        }
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        decode_line(data, size);
        verify_log(data, size);
        return 0;
}
