/* SPDX-License-Identifier: Apache-2.0 */
/* common/json.c: strict parsing, positions of values and keys, errors. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

static void test_positions(void **state)
{
        static const char text[] =
            "{\n  \"a\": 1,\n  \"bé\": [true, null, \"x\"],\n  \"c\": {\"d\": -2.5e3}\n}";
        ob_json_doc doc = {0};
        ob_error err = {0};
        const cJSON *a, *b, *c, *d;
        unsigned line, col;

        assert_int_equal(ob_json_parse(text, strlen(text), 1024, &doc, &err), 0);
        a = cJSON_GetObjectItemCaseSensitive(doc.root, "a");
        b = cJSON_GetObjectItemCaseSensitive(doc.root, "bé");
        c = cJSON_GetObjectItemCaseSensitive(doc.root, "c");
        d = cJSON_GetObjectItemCaseSensitive(c, "d");
        ob_json_position(&doc, a, false, &line, &col);
        assert_int_equal(line, 2);
        assert_int_equal(col, 8);
        ob_json_position(&doc, a, true, &line, &col);
        assert_int_equal(line, 2);
        assert_int_equal(col, 3);
        ob_json_position(&doc, b->child->next->next, false, &line, &col);
        assert_int_equal(line, 3);
        assert_int_equal(col, 22); /* columns count characters, "é" is one */
        ob_json_position(&doc, d, false, &line, &col);
        assert_int_equal(line, 4);
        assert_int_equal(col, 14);
        /* an array element has no key: key position falls back to the value */
        ob_json_position(&doc, b->child, true, &line, &col);
        assert_int_equal(col, 10);
        ob_json_position(&doc, doc.root, false, &line, &col);
        assert_int_equal(line, 1);
        assert_int_equal(col, 1);
        /* unknown node: 0:0 */
        ob_json_position(&doc, (const cJSON *)text, false, &line, &col);
        assert_int_equal(line, 0);
        assert_int_equal(col, 0);
        ob_json_position(NULL, a, false, &line, &col);
        assert_int_equal(line, 0);
        assert_int_equal(ob_json_error(&err, &doc, d, true, EINVAL, "bad %s", "d"), -EINVAL);
        assert_int_equal(err.line, 4);
        assert_int_equal(err.column, 9);
        assert_string_equal(err.message, "bad d");
        assert_int_equal(ob_json_error(NULL, &doc, d, false, 0, "x"), -EINVAL);
        ob_json_doc_done(&doc);
        ob_json_doc_done(&doc); /* twice is fine */
        ob_json_doc_done(NULL);
}

static void bad(const char *text, size_t len, int want, unsigned line, unsigned col,
                const char *msg)
{
        ob_json_doc doc = {0};
        ob_error err = {0};
        int r = ob_json_parse(text, len, 4096, &doc, &err);
        if (r != want || !strstr(err.message, msg) || err.line != line || err.column != col)
                fail_msg("\"%.40s\": got %d %u:%u %s; want %d %u:%u ...%s...", text, r, err.line,
                         err.column, err.message, want, line, col, msg);
        assert_null(doc.root);
}

static void test_errors(void **state)
{
        char deep[200];
        bad("{\"a\": 1,}", 9, -EINVAL, 1, 9, "invalid JSON");
        bad("{\"a\": 1} x", 10, -EINVAL, 1, 10, "trailing characters");
        bad("{\"a\": 1, \"a\": 2}", 16, -EINVAL, 1, 10, "duplicate key \"a\"");
        bad("[\"\xff\"]", 4, -EILSEQ, 1, 3, "invalid UTF-8");
        bad("[1,\0 2]", 6, -EINVAL, 1, 4, "NUL byte");
        bad("\"abc", 4, -EINVAL, 1, 1, "unterminated string");
        bad("\"\\q\"", 4, -EINVAL, 1, 2, "invalid escape");
        bad("\"\\u12G4\"", 8, -EINVAL, 1, 6, "escape");
        bad("[01]", 4, -EINVAL, 1, 3, "");
        bad("[1.]", 4, -EINVAL, 1, 2, "invalid number");
        bad("[1e]", 4, -EINVAL, 1, 2, "invalid number");
        bad("[-]", 3, -EINVAL, 1, 2, "invalid number");
        bad("[12345678901234567890]", 22, -EINVAL, 1, 2, "integer out of range");
        bad("[9007199254740993]", 18, -EINVAL, 1, 2, "2^53");
        bad("[tru]", 5, -EINVAL, 1, 2, "");
        bad("", 0, -EINVAL, 1, 1, "");
        bad("\"a\tb\"", 5, -EINVAL, 1, 3, "");
        memset(deep, '[', sizeof(deep));
        bad(deep, sizeof(deep), -EINVAL, 1, 65, "deep");
        bad("[1]", 5000, -EFBIG, 0, 0, "too large");
}

static void test_accepts(void **state)
{
        static const char *ok[] = {"0",    "-0.5e-3",           "\"\\u00e9\\n\\\"\"", "[]",
                                   "{}",   " [ 1 , 2 ] ",       "\"\\ud83d\\ude00\"", "null",
                                   "true", "[9007199254740991]"};
        for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
                ob_json_doc doc = {0};
                ob_error err = {0};
                if (ob_json_parse(ok[i], strlen(ok[i]), 64, &doc, &err) < 0)
                        fail_msg("%s: %s", ok[i], err.message);
                ob_json_doc_done(&doc);
        }
}

static void test_type_names(void **state)
{
        ob_json_doc doc = {0};
        static const char text[] = "[\"s\", 1, true, null, [], {}]";
        const cJSON *n;
        static const char *want[] = {"string", "number", "boolean", "null", "array", "object"};
        size_t i = 0;
        cJSON raw = {0};

        assert_int_equal(ob_json_parse(text, strlen(text), 64, &doc, NULL), 0);
        cJSON_ArrayForEach (n, doc.root)
                assert_string_equal(ob_json_type_name(n), want[i++]);
        assert_string_equal(ob_json_type_name(NULL), "nothing");
        assert_string_equal(ob_json_type_name(&raw), "unknown");
        ob_json_doc_done(&doc);
}

static void test_text_position(void **state)
{
        unsigned line, col;
        ob_text_position("ab\ncé\nx", 6, &line, &col);
        assert_int_equal(line, 2);
        assert_int_equal(col, 3);
        ob_text_position("ab\ncé\nx", 7, &line, &col);
        assert_int_equal(line, 3);
        assert_int_equal(col, 1);
        ob_text_position("ab", 99, &line, &col); /* stops at NUL */
        assert_int_equal(col, 3);
}

/* Freed blocks that still hold the secret: counted by cJSON's free hook. */
static const char secret[] = "s3cret-Value-42";
static int freed_with_secret;

static void checking_free(void *p)
{
        if (p && memmem(p, malloc_usable_size(p), secret, strlen(secret)))
                freed_with_secret++;
        free(p);
}

static cJSON *tree_with_secrets(void)
{
        cJSON *root = cJSON_CreateObject(), *env = cJSON_AddObjectToObject(root, "env");
        cJSON *list = cJSON_AddArrayToObject(root, "list");

        assert_non_null(cJSON_AddStringToObject(env, "TOKEN", secret));
        assert_non_null(cJSON_AddStringToObject(env, secret, "as a key"));
        cJSON_AddItemToArray(list, cJSON_CreateString(secret));
        return root;
}

static void test_delete_wiped(void **state)
{
        cJSON_Hooks hooks = {.malloc_fn = malloc, .free_fn = checking_free};

        (void)state;
        cJSON_InitHooks(&hooks);
        /* the check sees secrets left in freed memory: plain delete leaves three */
        freed_with_secret = 0;
        cJSON_Delete(tree_with_secrets());
        assert_int_equal(freed_with_secret, 3);
        freed_with_secret = 0;
        ob_json_delete_wiped(tree_with_secrets());
        assert_int_equal(freed_with_secret, 0);
        ob_json_delete_wiped(NULL);
        cJSON_InitHooks(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_positions),     cmocka_unit_test(test_errors),
            cmocka_unit_test(test_accepts),       cmocka_unit_test(test_type_names),
            cmocka_unit_test(test_text_position), cmocka_unit_test(test_delete_wiped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
