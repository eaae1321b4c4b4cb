/* SPDX-License-Identifier: Apache-2.0 */
/* Cedar `like` matching, containment and overlap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include <omnibase/capabilities.h>

#include "capabilities/pattern.h"

static void test_match_basic(void **state)
{
        assert_true(ob_pattern_match("/data/x", "/data/x"));
        assert_false(ob_pattern_match("/data/x", "/data/xy"));
        assert_false(ob_pattern_match("/data/xy", "/data/x"));
        assert_true(ob_pattern_match("/data/*", "/data/"));
        assert_true(ob_pattern_match("/data/*", "/data/a/b/c")); /* '*' crosses '/' */
        assert_false(ob_pattern_match("/data/*", "/dat"));
        assert_true(ob_pattern_match("*", ""));
        assert_true(ob_pattern_match("", ""));
        assert_false(ob_pattern_match("", "a"));
        assert_true(ob_pattern_match("a*b*c", "abc"));
        assert_true(ob_pattern_match("a*b*c", "aXbYbZc"));
        assert_false(ob_pattern_match("a*b*c", "aXbYbZ"));
        assert_true(ob_pattern_match("**", "anything"));
        assert_true(ob_pattern_match("*.py", "/x/y.py"));
        assert_false(ob_pattern_match("*.py", "/x/y.pyc"));
        assert_false(ob_pattern_match(NULL, "a"));
        assert_false(ob_pattern_match("a", NULL));
}

static void test_match_escapes(void **state)
{
        assert_true(ob_pattern_match("/a\\*", "/a*"));
        assert_false(ob_pattern_match("/a\\*", "/ab"));
        assert_true(ob_pattern_match("/a\\**", "/a*bc"));
        assert_false(ob_pattern_match("/a\\**", "/abc"));
        /* a backslash before anything else is itself */
        assert_true(ob_pattern_match("/a\\b", "/a\\b"));
        assert_false(ob_pattern_match("/a\\b", "/ab"));
        assert_true(ob_pattern_match("/a\\", "/a\\"));
        /* "\\*": a literal backslash, then a literal star */
        assert_true(ob_pattern_match("\\\\*", "\\*"));
        assert_false(ob_pattern_match("\\\\*", "\\x"));
}

static void test_match_linear(void **state)
{
        /* *a*a*a...*b against a long run of a: no exponential backtracking */
        char pat[201], subj[20001];
        struct timespec t0, t1;
        for (int i = 0; i < 100; i++) {
                pat[2 * i] = '*';
                pat[2 * i + 1] = 'a';
        }
        pat[199] = 'b';
        pat[200] = '\0';
        memset(subj, 'a', 20000);
        subj[20000] = '\0';
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_false(ob_pattern_match(pat, subj));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* 200 x 20000 steps at most; generous bound even under ASan */
        assert_true((t1.tv_sec - t0.tv_sec) < 5);
        subj[19999] = 'b';
        assert_true(ob_pattern_match(pat, subj));
}

static bool contained(const char *p, const char *q)
{
        cap_tokens a, b;
        bool r;
        assert_int_equal(cap_pattern_tokens(p, &a), 0);
        assert_int_equal(cap_pattern_tokens(q, &b), 0);
        r = cap_tokens_contained(&a, &b);
        cap_tokens_done(&a);
        cap_tokens_done(&b);
        return r;
}

static bool overlap(const char *p, const char *q)
{
        cap_tokens a, b;
        bool r = false;
        assert_int_equal(cap_pattern_tokens(p, &a), 0);
        assert_int_equal(cap_pattern_tokens(q, &b), 0);
        assert_int_equal(cap_tokens_overlap(&a, &b, &r), 0);
        cap_tokens_done(&a);
        cap_tokens_done(&b);
        return r;
}

static void test_contained(void **state)
{
        assert_true(contained("/data/x", "/data/*"));
        assert_true(contained("/data/a/*", "/data/*"));
        assert_false(contained("/data/*", "/data/a/*"));
        assert_true(contained("/data/*.txt", "/data/*"));
        assert_true(contained("/data/*/x", "*/x"));
        assert_false(contained("/data/*", "/data/*.txt"));
        assert_true(contained("/a*b*c", "/a*c"));
        assert_false(contained("/a*c", "/a*b*c"));
        assert_false(contained("/a\\*", "/a*b")); /* literal star is not a wildcard */
        assert_true(contained("/a\\*", "/a*"));
        assert_false(contained("/a*", "/a\\*"));
        assert_true(contained("*", "**"));
}

static void test_overlap(void **state)
{
        assert_true(overlap("/data/*", "/data/secret/*"));
        assert_true(overlap("/data/*.txt", "/data/secret/*"));
        assert_false(overlap("/data/*", "/etc/*"));
        assert_false(overlap("/data/x", "/data/y"));
        assert_true(overlap("*a", "b*"));
        assert_false(overlap("a*", "b*"));
        assert_false(overlap("*a", "*b"));
        assert_true(overlap("/x/*.log", "*/y.*"));
        assert_false(overlap("/x/*.log", "/x/*.txt"));
        assert_true(overlap("", "*"));
        assert_false(overlap("", "a"));
}

static void test_helpers(void **state)
{
        char out[32];
        assert_true(cap_pattern_has_wildcard("/a/*"));
        assert_false(cap_pattern_has_wildcard("/a/\\*"));
        assert_int_equal(cap_pattern_wild_offset("/a\\*b*c"), 5);
        assert_int_equal(cap_pattern_wild_offset("/abc"), 4);
        assert_int_equal(cap_pattern_unescape("/a\\*b*c", 5, out), 4);
        assert_string_equal(out, "/a*b");
}

/* Brute force: containment and overlap agree with matching over all short
 * strings of a small alphabet. */
static void test_algebra_bruteforce(void **state)
{
        static const char *pats[] = {"",    "*",   "a",   "b",   "ab",  "a*",   "*a",   "*b*",
                                     "a*b", "ab*", "*ab", "a*a", "**b", "b*a*", "a\\*", "\\**"};
        static const char alpha[] = "ab*";
        char s[8];
        for (size_t i = 0; i < sizeof(pats) / sizeof(*pats); i++)
                for (size_t j = 0; j < sizeof(pats) / sizeof(*pats); j++) {
                        bool sub = true, ov = false;
                        /* every string over {a,b,*} up to length 5 */
                        for (int len = 0; len <= 5; len++) {
                                int total = 1;
                                for (int k = 0; k < len; k++)
                                        total *= 3;
                                for (int c = 0; c < total; c++) {
                                        int x = c;
                                        bool mi, mj;
                                        for (int k = 0; k < len; k++, x /= 3)
                                                s[k] = alpha[x % 3];
                                        s[len] = '\0';
                                        mi = ob_pattern_match(pats[i], s);
                                        mj = ob_pattern_match(pats[j], s);
                                        if (mi && !mj)
                                                sub = false;
                                        if (mi && mj)
                                                ov = true;
                                }
                        }
                        /* containment over short strings is necessary for
                         * the exact answer; the exact one implies it */
                        if (contained(pats[i], pats[j]))
                                assert_true(sub);
                        if (!sub)
                                assert_false(contained(pats[i], pats[j]));
                        assert_int_equal(overlap(pats[i], pats[j]), ov);
                }
}

static uint64_t rng = 7;

static unsigned rnd(unsigned n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned)(rng % n);
}

/* A random pattern of at most 3 literals and 3 wildcards over {a, b, \*}. */
static void rand_pattern(char *buf)
{
        static const char *const tok[] = {"a", "b", "\\*", "*"};
        unsigned lits = 0, stars = 0, n = rnd(6);
        buf[0] = '\0';
        for (unsigned i = 0; i < n; i++) {
                unsigned t = rnd(4);
                if ((t == 3 && stars == 3) || (t < 3 && lits == 3))
                        continue;
                t == 3 ? stars++ : lits++;
                strcat(buf, tok[t]);
        }
}

/* Random pairs: containment and overlap against every string over
 * {a, b, *, c} of length <= 6 ('c' appears in no pattern). */
static void test_algebra_random(void **state)
{
        static const char alpha[] = "ab*c";
        char p[32], q[32], s[8];
        for (int pair = 0; pair < 1000; pair++) {
                bool sub = true, ov = false, c, o;
                rand_pattern(p);
                rand_pattern(q);
                for (int len = 0; len <= 6; len++) {
                        int total = 1 << (2 * len);
                        for (int x = 0; x < total; x++) {
                                bool mp, mq;
                                for (int k = 0; k < len; k++)
                                        s[k] = alpha[(x >> (2 * k)) & 3];
                                s[len] = '\0';
                                mp = ob_pattern_match(p, s);
                                mq = ob_pattern_match(q, s);
                                sub = sub && (!mp || mq);
                                ov = ov || (mp && mq);
                        }
                }
                c = contained(p, q);
                o = overlap(p, q);
                if (c != sub || o != ov)
                        fail_msg(
                            "p=\"%s\" q=\"%s\": contained %d (brute %d), overlap %d (brute %d)", p,
                            q, c, sub, o, ov);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_match_basic),
            cmocka_unit_test(test_match_escapes),
            cmocka_unit_test(test_match_linear),
            cmocka_unit_test(test_contained),
            cmocka_unit_test(test_overlap),
            cmocka_unit_test(test_helpers),
            cmocka_unit_test(test_algebra_bruteforce),
            cmocka_unit_test(test_algebra_random),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
