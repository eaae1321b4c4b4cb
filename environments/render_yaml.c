/* SPDX-License-Identifier: Apache-2.0 */
/* A YAML emitter for the renderer's cJSON trees, small on purpose: block
 * mappings and sequences, every key and string double-quoted with JSON's
 * escapes (a double-quoted YAML 1.2 scalar accepts them all), plus \u
 * escapes for what YAML does not allow raw (DEL, C1 controls, BOM). No YAML
 * library is needed, and python3-yaml reads the same tree back (tested). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "environments/render_k8s.h"

/* The length of the UTF-8 sequence at s and its code point (1 and the
 * byte for anything malformed: escaped as such). */
static size_t utf8_next(const unsigned char *s, unsigned *ret_cp)
{
        size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
        unsigned cp = n == 1 ? s[0] : s[0] & (0x3f >> (n - 1));

        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80) {
                        *ret_cp = 0xfffd;
                        return 1;
                }
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        *ret_cp = cp;
        return n;
}

static void put_string(FILE *f, const char *text)
{
        const unsigned char *s = (const unsigned char *)text;

        fputc('"', f);
        while (*s) {
                unsigned cp;
                size_t n = utf8_next(s, &cp);
                if (cp == '"' || cp == '\\')
                        fprintf(f, "\\%c", (int)cp);
                else if (cp == '\n')
                        fputs("\\n", f);
                else if (cp == '\t')
                        fputs("\\t", f);
                else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0xfeff ||
                         cp == 0xfffd || cp > 0x10ffff)
                        fprintf(f, "\\u%04x", cp > 0xffff ? 0xfffd : cp);
                else
                        fwrite(s, 1, n, f);
                s += n;
        }
        fputc('"', f);
}

static void put_scalar(FILE *f, const cJSON *v)
{
        if (cJSON_IsString(v)) {
                put_string(f, v->valuestring);
        } else if (cJSON_IsBool(v)) {
                fputs(cJSON_IsTrue(v) ? "true" : "false", f);
        } else if (cJSON_IsNumber(v)) {
                char *t = cJSON_PrintUnformatted(v);
                fputs(t ? t : "0", f);
                free(t);
        } else if (cJSON_IsObject(v)) {
                fputs("{}", f); /* only empty ones get here */
        } else if (cJSON_IsArray(v)) {
                fputs("[]", f);
        } else {
                fputs("null", f);
        }
}

static bool is_block(const cJSON *v)
{
        return (cJSON_IsObject(v) || cJSON_IsArray(v)) && v->child;
}

static void put_node(FILE *f, const cJSON *v, int indent, bool inline_first);

/* Entries of a mapping or a sequence at indent; inline_first: the first one
 * goes on the current line (after "- "). */
static void put_block(FILE *f, const cJSON *v, int indent, bool inline_first)
{
        bool first = true;

        for (const cJSON *c = v->child; c; c = c->next, first = false) {
                if (!(first && inline_first))
                        fprintf(f, "%*s", indent, "");
                if (cJSON_IsArray(v)) {
                        fputs("- ", f);
                        if (is_block(c) && cJSON_IsObject(c)) {
                                put_block(f, c, indent + 2, true);
                                continue;
                        }
                } else {
                        put_string(f, c->string);
                        fputc(':', f);
                        if (!is_block(c))
                                fputc(' ', f);
                }
                put_node(f, c, indent + 2, false);
        }
}

static void put_node(FILE *f, const cJSON *v, int indent, bool inline_first)
{
        if (!is_block(v)) {
                put_scalar(f, v);
                fputc('\n', f);
                return;
        }
        if (!inline_first)
                fputc('\n', f);
        put_block(f, v, indent, inline_first);
}

/* See render_k8s.h. */
int ob_k8s_yaml(const cJSON *list, char **ret)
{
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        const cJSON *it;

        if (!f)
                return -ENOMEM;
        cJSON_ArrayForEach (it, items) {
                fputs("---\n", f);
                if (is_block(it))
                        put_block(f, it, 0, true);
                else
                        put_node(f, it, 0, true);
        }
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}
