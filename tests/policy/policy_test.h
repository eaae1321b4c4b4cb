/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the policy unit tests. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omnibase/policy.h>

#define P1 "3f2a9c1e-0000-4000-8000-000000000001"
#define P2 "3f2a9c1e-0000-4000-8000-000000000002"

#define RES_PATH "{\".\":{\"left\":{\"Var\":\"resource\"},\"attr\":\"path\"}}"
#define RES_HOST "{\".\":{\"left\":{\"Var\":\"resource\"},\"attr\":\"host\"}}"
#define RES_PORT "{\".\":{\"left\":{\"Var\":\"resource\"},\"attr\":\"port\"}}"
#define SCOPE_ALL                                                                                  \
        "\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"}"

/* A one-policy set text: effect, the scope JSON members, and one when body
 * (or none when body is NULL). Caller frees. */
#define POLICY_FMT(cond)                                                                           \
        "{\"staticPolicies\":{\"p\":{\"effect\":\"%s\",%s,\"conditions\":[" cond "]}}}"
#define POLICY_WHEN POLICY_FMT("{\"kind\":\"when\",\"body\":%s}")

static inline char *policy_text(const char *effect, const char *scope, const char *body)
{
        const char *b = body ? body : "";
        int n = body ? snprintf(NULL, 0, POLICY_WHEN, effect, scope, b)
                     : snprintf(NULL, 0, POLICY_FMT("%s"), effect, scope, b);
        char *s = malloc((size_t)n + 1);

        assert_non_null(s);
        if (body)
                snprintf(s, (size_t)n + 1, POLICY_WHEN, effect, scope, b);
        else
                snprintf(s, (size_t)n + 1, POLICY_FMT("%s"), effect, scope, b);
        return s;
}

/* Parses text, failing the test on an error. */
static inline ob_policy_set *parse_ok(const char *text)
{
        ob_policy_set *set = NULL;
        ob_error err = {0};
        int r = ob_policy_parse(text, strlen(text), &set, &err);
        if (r < 0)
                fail_msg("parse failed: %u:%u: %s\n  in %s", err.line, err.column, err.message,
                         text);
        return set;
}

/* Parses a one-policy set with the given when body (all-scope). */
static inline ob_policy_set *parse_body(const char *effect, const char *body)
{
        char *t = policy_text(effect, SCOPE_ALL, body);
        ob_policy_set *set = parse_ok(t);
        free(t);
        return set;
}
