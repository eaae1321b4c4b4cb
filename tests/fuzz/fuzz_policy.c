/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the Cedar JSON policy parser and what runs on its output: check,
 * evaluation and compilation. Invariants: every refusal says why; a set
 * that passes check never errors when evaluated; and a set that compiles
 * decides every probe request exactly as the evaluator does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omnibase/policy.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PRINCIPAL "3f2a9c1e-0000-4000-8000-000000000001"

static const struct {
        ob_cap_kind kind;
        const char *target;
} probes[] = {
    {OB_CAP_FILE_READ, "/data/x"},
    {OB_CAP_FILE_READ, "/"},
    {OB_CAP_FILE_WRITE, "/data/secret/k"},
    {OB_CAP_FILE_EXEC, "/usr/bin/python3"},
    {OB_CAP_FILE_READ, "/a*b"},
    {OB_CAP_NETWORK_CONNECT, "10.0.0.5:443"},
    {OB_CAP_NETWORK_CONNECT, "example.com:80"},
    {OB_CAP_NETWORK_CONNECT, "[::1]:8080"},
};

static void probe(const ob_policy_set *set, bool checked, const ob_capset *caps)
{
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
                ob_policy_response resp = {0};
                ob_decision d;
                if (ob_policy_is_authorized(set, PRINCIPAL, probes[i].kind, probes[i].target,
                                            &resp) < 0)
                        __builtin_trap();
                if (checked && resp.n_errors > 0)
                        __builtin_trap(); /* check let through a policy that errors */
                if (resp.allow && resp.n_reasons == 0)
                        __builtin_trap();
                if (caps && (ob_capset_check(caps, probes[i].kind, probes[i].target, &d) < 0 ||
                             d.allowed != resp.allow))
                        __builtin_trap(); /* compiled set disagrees with Cedar semantics */
                ob_policy_response_done(&resp);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ob_policy_set *set = NULL;
        ob_capset *caps = NULL;
        ob_error err = {0};
        bool checked;

        if (ob_policy_parse((const char *)data, size, &set, &err) < 0) {
                if (err.message[0] == '\0')
                        __builtin_trap();
                return 0;
        }
        checked = ob_policy_check(set, &err) == 0;
        if (!checked && err.message[0] == '\0')
                __builtin_trap();
        if (checked && ob_policy_compile(set, PRINCIPAL, &caps, &err) < 0 && err.message[0] == '\0')
                __builtin_trap();
        probe(set, checked, caps);
        ob_capset_free(caps);
        ob_policy_set_free(set);
        return 0;
}
