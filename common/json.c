/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "common/json.h"
#include "common/utf8.h"

typedef struct scanner {
        const char *s;
        size_t len;
        size_t i;
        unsigned depth;
        ob_json_pos *pos;
        size_t n_pos, cap_pos;
        size_t err_off;
        char err_msg[256];
} scanner;

static int scan_fail(scanner *sc, size_t off, const char *msg)
{
        sc->err_off = off;
        snprintf(sc->err_msg, sizeof(sc->err_msg), "%s", msg);
        return -EINVAL;
}

void ob_text_position(const char *text, size_t off, unsigned *ret_line, unsigned *ret_column)
{
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < off && text[i]; i++) {
                unsigned char c = (unsigned char)text[i];
                if (c == '\n') {
                        line++;
                        col = 1;
                } else if ((c & 0xC0) != 0x80) {
                        col++;
                }
        }
        *ret_line = line;
        *ret_column = col;
}

static void skip_ws(scanner *sc)
{
        while (sc->i < sc->len && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
                                   sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r'))
                sc->i++;
}

static int hex4(scanner *sc, size_t at, unsigned *ret)
{
        unsigned v = 0;
        if (at + 4 > sc->len)
                return scan_fail(sc, at, "truncated \\u escape");
        for (size_t k = 0; k < 4; k++) {
                char c = sc->s[at + k];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned)(c - 'A' + 10);
                else
                        return scan_fail(sc, at + k, "invalid \\u escape");
        }
        *ret = v;
        return 0;
}

static int scan_string(scanner *sc)
{
        size_t start = sc->i;
        sc->i++; /* opening quote */
        while (sc->i < sc->len) {
                unsigned char c = (unsigned char)sc->s[sc->i];
                if (c == '"') {
                        sc->i++;
                        return 0;
                }
                if (c < 0x20)
                        return scan_fail(sc, sc->i, "control character in string");
                if (c == '\\') {
                        char e;
                        if (sc->i + 1 >= sc->len)
                                break;
                        e = sc->s[sc->i + 1];
                        if (e == 'u') {
                                unsigned v, lo;
                                if (hex4(sc, sc->i + 2, &v) < 0)
                                        return -EINVAL;
                                if (v == 0)
                                        return scan_fail(sc, sc->i, "NUL character in string");
                                if (v >= 0xDC00 && v <= 0xDFFF)
                                        return scan_fail(sc, sc->i, "unpaired UTF-16 surrogate");
                                if (v >= 0xD800 && v <= 0xDBFF) {
                                        if (sc->i + 12 > sc->len || sc->s[sc->i + 6] != '\\' ||
                                            sc->s[sc->i + 7] != 'u' ||
                                            hex4(sc, sc->i + 8, &lo) < 0 || lo < 0xDC00 ||
                                            lo > 0xDFFF)
                                                return scan_fail(sc, sc->i,
                                                                 "unpaired UTF-16 surrogate");
                                        sc->i += 12;
                                } else {
                                        sc->i += 6;
                                }
                                continue;
                        }
                        if (!strchr("\"\\/bfnrt", e) || e == '\0')
                                return scan_fail(sc, sc->i, "invalid escape in string");
                        sc->i += 2;
                        continue;
                }
                sc->i++;
        }
        return scan_fail(sc, start, "unterminated string");
}

static int scan_number(scanner *sc)
{
        size_t start = sc->i;
        bool integral = true;

        if (sc->s[sc->i] == '-')
                sc->i++;
        if (sc->i >= sc->len || sc->s[sc->i] < '0' || sc->s[sc->i] > '9')
                return scan_fail(sc, start, "invalid number");
        if (sc->s[sc->i] == '0')
                sc->i++;
        else
                while (sc->i < sc->len && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
                        sc->i++;
        if (sc->i < sc->len && sc->s[sc->i] == '.') {
                integral = false;
                sc->i++;
                if (sc->i >= sc->len || sc->s[sc->i] < '0' || sc->s[sc->i] > '9')
                        return scan_fail(sc, start, "invalid number");
                while (sc->i < sc->len && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
                        sc->i++;
        }
        if (sc->i < sc->len && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
                integral = false;
                sc->i++;
                if (sc->i < sc->len && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
                        sc->i++;
                if (sc->i >= sc->len || sc->s[sc->i] < '0' || sc->s[sc->i] > '9')
                        return scan_fail(sc, start, "invalid number");
                while (sc->i < sc->len && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
                        sc->i++;
        }
        /* cJSON stores numbers as doubles: refuse integers it cannot hold exactly. */
        if (integral && sc->i - start > 15) {
                char buf[32];
                size_t n = sc->i - start;
                if (n >= sizeof(buf))
                        return scan_fail(sc, start, "integer out of range");
                memcpy(buf, sc->s + start, n);
                buf[n] = '\0';
                if (fabs(strtod(buf, NULL)) > 9007199254740991.0)
                        return scan_fail(sc, start, "integer out of range (|n| > 2^53-1)");
        }
        return 0;
}

static int record(scanner *sc, size_t key_off, size_t val_off)
{
        if (sc->n_pos == sc->cap_pos) {
                size_t ncap = sc->cap_pos ? sc->cap_pos * 2 : 64;
                ob_json_pos *np = realloc(sc->pos, ncap * sizeof(*np));
                if (!np)
                        return -ENOMEM;
                sc->pos = np;
                sc->cap_pos = ncap;
        }
        sc->pos[sc->n_pos++] = (ob_json_pos){
            .node = NULL,
            .key_off = key_off == SIZE_MAX ? UINT32_MAX : (uint32_t)key_off,
            .val_off = (uint32_t)val_off,
        };
        return 0;
}

static int scan_value(scanner *sc, size_t key_off);

static int scan_container(scanner *sc, bool object)
{
        size_t start = sc->i;
        char close = object ? '}' : ']';

        if (++sc->depth > OB_JSON_MAX_DEPTH)
                return scan_fail(sc, start, "nesting too deep (limit 64 levels)");
        sc->i++;
        skip_ws(sc);
        if (sc->i < sc->len && sc->s[sc->i] == close) {
                sc->i++;
                sc->depth--;
                return 0;
        }
        for (;;) {
                size_t key_off = SIZE_MAX;
                int r;
                skip_ws(sc);
                if (object) {
                        if (sc->i >= sc->len || sc->s[sc->i] != '"')
                                return scan_fail(sc, sc->i, "expected a string key");
                        key_off = sc->i;
                        r = scan_string(sc);
                        if (r < 0)
                                return r;
                        skip_ws(sc);
                        if (sc->i >= sc->len || sc->s[sc->i] != ':')
                                return scan_fail(sc, sc->i, "expected ':' after key");
                        sc->i++;
                }
                r = scan_value(sc, key_off);
                if (r < 0)
                        return r;
                skip_ws(sc);
                if (sc->i < sc->len && sc->s[sc->i] == ',') {
                        sc->i++;
                        continue;
                }
                if (sc->i < sc->len && sc->s[sc->i] == close) {
                        sc->i++;
                        sc->depth--;
                        return 0;
                }
                return scan_fail(sc, sc->i, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
}

static int scan_literal(scanner *sc, const char *word)
{
        size_t n = strlen(word);
        if (sc->len - sc->i < n || memcmp(sc->s + sc->i, word, n) != 0)
                return scan_fail(sc, sc->i, "invalid literal");
        sc->i += n;
        return 0;
}

static int scan_value(scanner *sc, size_t key_off)
{
        int r;
        char c;

        skip_ws(sc);
        if (sc->i >= sc->len)
                return scan_fail(sc, sc->i, "unexpected end of input");
        r = record(sc, key_off, sc->i);
        if (r < 0)
                return r;
        c = sc->s[sc->i];
        switch (c) {
        case '{':
                return scan_container(sc, true);
        case '[':
                return scan_container(sc, false);
        case '"':
                return scan_string(sc);
        case 't':
                return scan_literal(sc, "true");
        case 'f':
                return scan_literal(sc, "false");
        case 'n':
                return scan_literal(sc, "null");
        default:
                if (c == '-' || (c >= '0' && c <= '9'))
                        return scan_number(sc);
                return scan_fail(sc, sc->i, "unexpected character");
        }
}

/* Pairs scanner records with cJSON nodes: both are in document pre-order. */
static int assign_nodes(const cJSON *node, ob_json_pos *pos, size_t n_pos, size_t *idx)
{
        if (*idx >= n_pos)
                return -EINVAL;
        pos[(*idx)++].node = node;
        if (cJSON_IsArray(node) || cJSON_IsObject(node)) {
                const cJSON *child;
                cJSON_ArrayForEach (child, node) {
                        int r = assign_nodes(child, pos, n_pos, idx);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int cmp_pos(const void *a, const void *b)
{
        uintptr_t x = (uintptr_t)((const ob_json_pos *)a)->node;
        uintptr_t y = (uintptr_t)((const ob_json_pos *)b)->node;
        return x < y ? -1 : x > y;
}

static int cmp_keyp(const void *a, const void *b)
{
        const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
        return strcmp(x->string, y->string);
}

/* Of two members of one object, the one that comes later in the text. */
static const cJSON *later_sibling(const cJSON *a, const cJSON *b)
{
        for (const cJSON *p = a->next; p; p = p->next)
                if (p == b)
                        return b;
        return a;
}

/* Finds a duplicate member name anywhere in the tree; returns it or NULL. */
static const cJSON *find_duplicate_key(const cJSON *node)
{
        const cJSON *child;
        if (cJSON_IsObject(node)) {
                int n = cJSON_GetArraySize(node), k = 0;
                const cJSON **keys;
                const cJSON *dup = NULL;
                if (n > 1) {
                        keys = malloc(sizeof(*keys) * (size_t)n);
                        if (!keys)
                                return node; /* treated as an error by the caller */
                        cJSON_ArrayForEach (child, node)
                                keys[k++] = child;
                        qsort(keys, (size_t)n, sizeof(*keys), cmp_keyp);
                        for (k = 1; k < n && !dup; k++)
                                if (streq(keys[k - 1]->string, keys[k]->string))
                                        dup = later_sibling(keys[k - 1], keys[k]);
                        free(keys);
                        if (dup)
                                return dup;
                }
        }
        if (cJSON_IsArray(node) || cJSON_IsObject(node))
                cJSON_ArrayForEach (child, node) {
                        const cJSON *d = find_duplicate_key(child);
                        if (d)
                                return d;
                }
        return NULL;
}

int ob_json_parse(const char *text, size_t len, size_t max_len, ob_json_doc *ret, ob_error *err)
{
        scanner sc = {.s = text, .len = len};
        ob_json_doc doc = {.text = text, .len = len};
        unsigned line, col;
        size_t idx = 0;
        int r;

        if (len > max_len)
                return ob_error_set(err, 0, 0, EFBIG, "input too large (%zu bytes, limit %zu)", len,
                                    max_len);
        if (len >= UINT32_MAX)
                return ob_error_set(err, 0, 0, EFBIG, "input too large");
        for (size_t i = 0; i < len;) {
                size_t n;
                if (text[i] == '\0') {
                        ob_text_position(text, i, &line, &col);
                        return ob_error_set(err, line, col, EINVAL, "NUL byte in input");
                }
                n = ob_utf8_seq((const unsigned char *)text + i, len - i);
                if (n == 0) {
                        ob_text_position(text, i, &line, &col);
                        return ob_error_set(err, line, col, EILSEQ, "invalid UTF-8");
                }
                i += n;
        }
        r = scan_value(&sc, SIZE_MAX);
        if (r == 0) {
                skip_ws(&sc);
                if (sc.i != len)
                        r = scan_fail(&sc, sc.i, "trailing characters after JSON value");
        }
        if (r < 0) {
                free(sc.pos);
                if (r == -ENOMEM)
                        return ob_error_set(err, 0, 0, ENOMEM, "out of memory");
                ob_text_position(text, sc.err_off, &line, &col);
                return ob_error_set(err, line, col, EINVAL, "invalid JSON: %s", sc.err_msg);
        }
        doc.root = cJSON_ParseWithLength(text, len);
        if (!doc.root || assign_nodes(doc.root, sc.pos, sc.n_pos, &idx) < 0 || idx != sc.n_pos) {
                cJSON_Delete(doc.root);
                free(sc.pos);
                return ob_error_set(err, 1, 1, EINVAL, "invalid JSON");
        }
        doc.pos = sc.pos;
        doc.n_pos = sc.n_pos;
        qsort(doc.pos, doc.n_pos, sizeof(*doc.pos), cmp_pos);
        {
                const cJSON *dup = find_duplicate_key(doc.root);
                if (dup) {
                        r = ob_json_error(err, &doc, dup, true, EINVAL, "duplicate key \"%s\"",
                                          dup->string ? dup->string : "");
                        ob_json_doc_done(&doc);
                        return r;
                }
        }
        *ret = doc;
        return 0;
}

void ob_json_doc_done(ob_json_doc *doc)
{
        if (!doc)
                return;
        cJSON_Delete(doc->root);
        free(doc->pos);
        doc->root = NULL;
        doc->pos = NULL;
        doc->n_pos = 0;
}

void ob_json_position(const ob_json_doc *doc, const cJSON *node, bool key, unsigned *ret_line,
                      unsigned *ret_column)
{
        ob_json_pos k = {.node = node};
        const ob_json_pos *p = NULL;

        *ret_line = *ret_column = 0;
        if (doc && doc->pos)
                p = bsearch(&k, doc->pos, doc->n_pos, sizeof(k), cmp_pos);
        if (!p)
                return;
        ob_text_position(doc->text, key && p->key_off != UINT32_MAX ? p->key_off : p->val_off,
                         ret_line, ret_column);
}

int ob_json_error(ob_error *err, const ob_json_doc *doc, const cJSON *node, bool key, int errnum,
                  const char *fmt, ...)
{
        unsigned line, col;
        va_list ap;

        ob_json_position(doc, node, key, &line, &col);
        if (err) {
                err->line = line;
                err->column = col;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return errnum > 0 ? -errnum : -EINVAL;
}

const char *ob_json_type_name(const cJSON *node)
{
        if (!node)
                return "nothing";
        if (cJSON_IsString(node))
                return "string";
        if (cJSON_IsNumber(node))
                return "number";
        if (cJSON_IsBool(node))
                return "boolean";
        if (cJSON_IsNull(node))
                return "null";
        if (cJSON_IsArray(node))
                return "array";
        if (cJSON_IsObject(node))
                return "object";
        return "unknown";
}

static void wipe(cJSON *node)
{
        if (node->valuestring)
                explicit_bzero(node->valuestring, strlen(node->valuestring));
        if (node->string && !(node->type & cJSON_StringIsConst))
                explicit_bzero(node->string, strlen(node->string));
        for (cJSON *c = node->child; c; c = c->next)
                wipe(c);
}

void ob_json_delete_wiped(cJSON *node)
{
        if (!node)
                return;
        wipe(node);
        cJSON_Delete(node);
}
