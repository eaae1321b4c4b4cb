/* SPDX-License-Identifier: Apache-2.0 */
/* An example validator: runs an untrusted script in a sandbox through the
 * public C API (libomnibase, `pkg-config omnibase`) and judges its output.
 *
 *   ob_example_validator SCRIPT CAPABILITY_FILE EXPECTED_STDOUT
 *
 * Prints "PASS", "FAIL: <why>" or "ERROR: <why>" and exits 0, 1 or 2. */
#include <stdio.h>
#include <string.h>

#include <omnibase/capabilities.h>
#include <omnibase/sandbox.h>

static int judge(const ob_sandbox_result *res, const char *expected)
{
        if (res->status != OB_SANDBOX_OK) {
                printf("FAIL: sandbox %s ended with status %s%s%s (exit %d)\n", res->sandbox_id,
                       ob_sandbox_status_to_string(res->status), res->limit ? ", limit " : "",
                       res->limit ? res->limit : "", res->exit_code);
                return 1;
        }
        if (res->exit_code != 0) {
                printf("FAIL: the script exited %d\n", res->exit_code);
                return 1;
        }
        if (res->stdout_len != strlen(expected) ||
            memcmp(res->stdout_buf, expected, res->stdout_len)) {
                printf("FAIL: unexpected output: %.*s", (int)res->stdout_len, res->stdout_buf);
                return 1;
        }
        printf("PASS (%lld ms wall, %lld ms CPU, %lld KiB peak)\n", (long long)res->usage.wall_ms,
               (long long)res->usage.cpu_ms, (long long)res->usage.max_rss_kb);
        return 0;
}

int main(int argc, char **argv)
{
        ob_sandbox_options opts;
        ob_sandbox_result res = {0};
        ob_capset *caps = NULL;
        ob_error err = {0};
        char expected[4096];
        int code;

        if (argc != 4) {
                fprintf(stderr, "usage: %s SCRIPT CAPABILITY_FILE EXPECTED_STDOUT\n", argv[0]);
                return 2;
        }
        if (ob_capset_load(argv[2], &caps, &err) < 0) {
                printf("ERROR: %s:%u:%u: %s\n", argv[2], err.line, err.column, err.message);
                return 2;
        }
        snprintf(expected, sizeof(expected), "%s\n", argv[3]);

        ob_sandbox_options_init(&opts);
        opts.caps = caps;
        opts.script = argv[1];
        opts.capture = true;        /* keep the output for judging; print nothing live */
        opts.limits.timeout_s = 10; /* never above what the capability file allows */
        if (ob_capset_limits_const(caps)->timeout_s != OB_LIMIT_UNSET &&
            ob_capset_limits_const(caps)->timeout_s < 10)
                opts.limits.timeout_s = OB_LIMIT_UNSET;

        if (ob_sandbox_run(&opts, &res, &err) < 0) {
                printf("ERROR: %s\n", err.message); /* nothing ran */
                code = 2;
        } else {
                code = judge(&res, expected);
        }
        ob_sandbox_result_done(&res);
        ob_capset_free(caps);
        return code;
}
