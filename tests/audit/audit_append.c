/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper (not installed): appends COUNT events to an audit log through
 * the library, as the runner does.
 *   audit_append LOG COUNT [TYPE [SANDBOX_ID [BATCH]]]
 * Each event is {"type": TYPE, "sandbox_id": SANDBOX_ID, "principal": ...,
 * "pid": <pid>, "n": <i>}; BATCH > 1 appends that many per call. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omnibase/audit.h>

#define PRINCIPAL "3f2a9c1e-0000-4000-8000-000000000001"

static cJSON *make_event(const char *type, const char *sandbox, long n)
{
        cJSON *ev = cJSON_CreateObject();

        if (!ev || !cJSON_AddStringToObject(ev, "type", type) ||
            !cJSON_AddStringToObject(ev, "sandbox_id", sandbox) ||
            !cJSON_AddStringToObject(ev, "principal", PRINCIPAL) ||
            !cJSON_AddNumberToObject(ev, "pid", (double)getpid()) ||
            !cJSON_AddNumberToObject(ev, "n", (double)n)) {
                cJSON_Delete(ev);
                return NULL;
        }
        return ev;
}

static int append_some(ob_audit_log *log, const char *type, const char *sandbox, long from, long k)
{
        cJSON *evs[OB_AUDIT_MAX_BATCH];
        int r = 0;

        for (long i = 0; i < k; i++)
                if (!(evs[i] = make_event(type, sandbox, from + i)))
                        r = -ENOMEM;
        if (r == 0)
                r = k == 1 ? ob_audit_append(log, evs[0], NULL)
                           : ob_audit_append_batch(log, (const cJSON *const *)evs, (size_t)k, NULL);
        for (long i = 0; i < k; i++)
                cJSON_Delete(evs[i]);
        return r;
}

int main(int argc, char **argv)
{
        const char *type = argc > 3 ? argv[3] : "SandboxStart";
        char sandbox[64];
        long count, batch = argc > 5 ? atol(argv[5]) : 1;
        ob_audit_log *log = NULL;
        int r;

        if (argc < 3 || (count = atol(argv[2])) < 0 || batch < 1 || batch > OB_AUDIT_MAX_BATCH) {
                fputs("usage: audit_append LOG COUNT [TYPE [SANDBOX_ID [BATCH]]]\n", stderr);
                return 2;
        }
        snprintf(sandbox, sizeof(sandbox), "%s", argc > 4 ? argv[4] : "sb-test");
        r = ob_audit_open(argv[1], 0, &log);
        for (long i = 0; r >= 0 && i < count; i += batch)
                r = append_some(log, type, sandbox, i, count - i < batch ? count - i : batch);
        ob_audit_close(log);
        if (r < 0) {
                fprintf(stderr, "audit_append: %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        return 0;
}
