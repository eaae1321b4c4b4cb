/* SPDX-License-Identifier: Apache-2.0 */
/* The C side of the differential test: reads the cases (gen.js) and Cedar's
 * answers (cedar_driver.js), answers every request with libomnibase, and
 * compares decision, determining policy ids and erroring policy ids. For
 * sets that `policy check` accepts it also verifies that Cedar reported no
 * errors, and for sets that compile for the request's principal that the
 * capability set decides like Cedar (and names one of Cedar's reasons).
 * Usage: policy_diff CASES EXPECTED; exit 0 when all agree, 1 otherwise. */
#include <cjson/cJSON.h>
#include <omnibase/policy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define MAX_SHOWN 8

typedef struct stats {
        size_t requests, disagree, checked_sets, rejected_sets, compiled_sets, compile_refused,
            caps_requests;
} stats;

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "[a,b]" of the sorted ids, or of the ids before ':' for errors. */
static char *ids_json(char **v, size_t n, bool strip)
{
        cJSON *arr = cJSON_CreateArray();
        char **copy = calloc(n + 1, sizeof(*copy));
        char *s;

        for (size_t i = 0; i < n; i++) {
                copy[i] = strdup(v[i]);
                if (strip && strstr(copy[i], ": "))
                        *strstr(copy[i], ": ") = '\0';
        }
        qsort(copy, n, sizeof(*copy), cmp_str);
        for (size_t i = 0; i < n; i++) {
                cJSON_AddItemToArray(arr, cJSON_CreateString(copy[i]));
                free(copy[i]);
        }
        free(copy);
        s = cJSON_PrintUnformatted(arr);
        cJSON_Delete(arr);
        return s;
}

static void report(stats *st, int id, int req, const char *what, const char *ours,
                   const char *theirs, const char *policies)
{
        st->disagree++;
        if (st->disagree > MAX_SHOWN)
                return;
        fprintf(stderr, "DISAGREE case %d request %d: %s: omnibase %s, cedar %s\n  policies: %s\n",
                id, req, what, ours, theirs, policies);
}

static bool in_list(const cJSON *arr, const char *id)
{
        const cJSON *m;
        cJSON_ArrayForEach (m, arr)
                if (strcmp(m->valuestring, id) == 0)
                        return true;
        return false;
}

/* Compares the compiled set's decision with Cedar's for one request. */
static void compare_caps(stats *st, const ob_capset *caps, int id, int ri, ob_cap_kind kind,
                         const char *target, const cJSON *exp, const char *ptext)
{
        ob_decision d;
        bool allow = strcmp(cJSON_GetObjectItem(exp, "decision")->valuestring, "Allow") == 0;
        const cJSON *reasons = cJSON_GetObjectItem(exp, "reasons");

        if (ob_capset_check(caps, kind, target, &d) < 0) {
                report(st, id, ri, "capset check failed", target, "-", ptext);
                return;
        }
        st->caps_requests++;
        if (d.allowed != allow)
                report(st, id, ri, "compiled capability set", d.allowed ? "Allow" : "Deny",
                       allow ? "Allow" : "Deny", ptext);
        else if (d.rule && d.rule->policy_id && !in_list(reasons, d.rule->policy_id))
                report(st, id, ri, "compiled rule's policy id", d.rule->policy_id, "(not a reason)",
                       ptext);
}

static void compare_one(stats *st, const ob_policy_set *set, bool checked, int id, int ri,
                        const cJSON *req, const cJSON *exp, const char *ptext)
{
        const char *principal = cJSON_GetObjectItem(req, "principal")->valuestring;
        const char *target = cJSON_GetObjectItem(req, "target")->valuestring;
        ob_policy_response resp = {0};
        ob_cap_kind kind;
        char *ours, *theirs;

        st->requests++;
        if (ob_cap_kind_from_string(cJSON_GetObjectItem(req, "action")->valuestring, &kind) < 0 ||
            ob_policy_is_authorized(set, principal, kind, target, &resp) < 0) {
                report(st, id, ri, "request", "refused", "-", ptext);
                return;
        }
        if (resp.allow != (strcmp(cJSON_GetObjectItem(exp, "decision")->valuestring, "Allow") == 0))
                report(st, id, ri, "decision", resp.allow ? "Allow" : "Deny",
                       cJSON_GetObjectItem(exp, "decision")->valuestring, ptext);
        ours = ids_json(resp.reasons, resp.n_reasons, false);
        theirs = cJSON_PrintUnformatted(cJSON_GetObjectItem(exp, "reasons"));
        if (strcmp(ours, theirs) != 0)
                report(st, id, ri, "reasons", ours, theirs, ptext);
        free(ours);
        free(theirs);
        ours = ids_json(resp.errors, resp.n_errors, true);
        theirs = cJSON_PrintUnformatted(cJSON_GetObjectItem(exp, "errors"));
        if (strcmp(ours, theirs) != 0)
                report(st, id, ri, "errors", ours, theirs, ptext);
        if (checked && strcmp(theirs, "[]") != 0)
                report(st, id, ri, "check accepted a set that errors", "ok", theirs, ptext);
        free(ours);
        free(theirs);
        ob_policy_response_done(&resp);
}

static void compiled_requests(stats *st, const ob_policy_set *set, const cJSON *c, cJSON **exps,
                              const char *ptext)
{
        const cJSON *reqs = cJSON_GetObjectItem(c, "requests"), *req;
        int id = cJSON_GetObjectItem(c, "id")->valueint, ri = 0;

        cJSON_ArrayForEach (req, reqs) {
                const char *principal = cJSON_GetObjectItem(req, "principal")->valuestring;
                ob_capset *caps = NULL;
                ob_error err = {0};
                ob_cap_kind kind;

                ob_cap_kind_from_string(cJSON_GetObjectItem(req, "action")->valuestring, &kind);
                if (ob_policy_compile(set, principal, &caps, &err) < 0) {
                        st->compile_refused++;
                        if (getenv("POLICY_DIFF_VERBOSE"))
                                fprintf(stderr, "case %d: compile: %u:%u: %s\n", id, err.line,
                                        err.column, err.message);
                } else {
                        st->compiled_sets++;
                        compare_caps(st, caps, id, ri, kind,
                                     cJSON_GetObjectItem(req, "target")->valuestring, exps[ri],
                                     ptext);
                        ob_capset_free(caps);
                }
                ri++;
        }
}

static int run_case(stats *st, const cJSON *c, cJSON **exps, size_t n_exps)
{
        const cJSON *reqs = cJSON_GetObjectItem(c, "requests"), *req;
        char *ptext = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "policies"));
        int id = cJSON_GetObjectItem(c, "id")->valueint, ri = 0;
        ob_policy_set *set = NULL;
        ob_error err = {0};
        bool checked;

        if (ob_policy_parse(ptext, strlen(ptext), &set, &err) < 0) {
                report(st, id, -1, "parse", err.message, "parsed", ptext);
                free(ptext);
                return 0;
        }
        checked = ob_policy_check(set, &err) == 0;
        st->checked_sets += checked;
        st->rejected_sets += !checked;
        cJSON_ArrayForEach (req, reqs) {
                if ((size_t)ri >= n_exps || cJSON_GetObjectItem(exps[ri], "parse_error")) {
                        report(st, id, ri, "parse", "parsed", "refused", ptext);
                        break;
                }
                compare_one(st, set, checked, id, ri, req, exps[ri], ptext);
                ri++;
        }
        if (checked)
                compiled_requests(st, set, c, exps, ptext);
        ob_policy_set_free(set);
        free(ptext);
        return 0;
}

static cJSON **read_lines(const char *path, size_t *ret_n)
{
        char *text = NULL, *line, *save = NULL;
        size_t len, n = 0, cap = 0;
        cJSON **v = NULL;

        if (ob_read_file(path, 1u << 30, &text, &len) < 0)
                return NULL;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 1024;
                        v = realloc(v, cap * sizeof(*v));
                }
                v[n++] = cJSON_Parse(line);
        }
        free(text);
        *ret_n = n;
        return v;
}

int main(int argc, char **argv)
{
        size_t n_cases = 0, n_exp = 0, e = 0;
        cJSON **cases, **exps;
        stats st = {0};

        if (argc != 3) {
                fprintf(stderr, "usage: policy_diff CASES EXPECTED\n");
                return 2;
        }
        cases = read_lines(argv[1], &n_cases);
        exps = read_lines(argv[2], &n_exp);
        if (!cases || !exps) {
                fprintf(stderr, "policy_diff: cannot read input\n");
                return 2;
        }
        for (size_t i = 0; i < n_cases; i++) {
                size_t k = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(cases[i], "requests"));
                run_case(&st, cases[i], exps + e, e + k <= n_exp ? k : n_exp - e);
                e += k;
        }
        printf("policy_diff: %zu requests over %zu policy sets (%zu pass check, %zu rejected); "
               "compiled for %zu requests (%zu refused), %zu capability-set decisions compared; "
               "%zu disagreements\n",
               st.requests, n_cases, st.checked_sets, st.rejected_sets, st.compiled_sets,
               st.compile_refused, st.caps_requests, st.disagree);
        for (size_t i = 0; i < n_cases; i++)
                cJSON_Delete(cases[i]);
        for (size_t i = 0; i < n_exp; i++)
                cJSON_Delete(exps[i]);
        free(cases);
        free(exps);
        return st.disagree == 0 && st.requests >= 5000 ? 0 : 1;
}
