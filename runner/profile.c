/* SPDX-License-Identifier: Apache-2.0 */
/* Profiles: the interpreter and the read-only system paths a kind of
 * workload needs (profiles/NAME.json, documented in profiles/README.md). */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "common/json.h"
#include "runner/runner.h"

#define PROFILE_MAX_BYTES (256 * 1024)
#define PROFILE_MAX_ITEMS 1024

ob_profile *ob_profile_free(ob_profile *p)
{
        if (!p)
                return NULL;
        free(p->name);
        free(p->file);
        free(p->description);
        ob_strv_free(p->interpreter);
        ob_strv_free(p->paths);
        for (size_t i = 0; i < p->n_symlinks; i++) {
                free(p->symlinks[i].path);
                free(p->symlinks[i].target);
        }
        free(p->symlinks);
        free(p);
        return NULL;
}

static bool is_clean_abs_path(const char *s)
{
        _cleanup_free_ char *canon = NULL;
        return s[0] == '/' && ob_path_canonicalize(s, &canon) >= 0 && streq(canon, s) &&
               !strchr(s, '*') && strlen(s) < PATH_MAX;
}

/* A JSON array of strings into a NULL-terminated vector; paths=true checks
 * that each is an absolute canonical path. */
static int parse_strv(const ob_json_doc *doc, const cJSON *arr, bool paths, const char *file,
                      char ***ret, size_t *ret_n, ob_error *err)
{
        size_t n = 0, i = 0;
        char **v;
        const cJSON *it;

        if (!cJSON_IsArray(arr))
                return ob_json_error(err, doc, arr, false, EINVAL, "\"%s\" must be an array",
                                     arr->string);
        cJSON_ArrayForEach (it, arr)
                n++;
        if (n > PROFILE_MAX_ITEMS)
                return ob_json_error(err, doc, arr, false, E2BIG, "too many entries");
        v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        cJSON_ArrayForEach (it, arr) {
                if (!cJSON_IsString(it) || !it->valuestring[0] ||
                    (paths && !is_clean_abs_path(it->valuestring))) {
                        ob_strv_free(v);
                        return ob_json_error(err, doc, it, false, EINVAL, "expected %s",
                                             paths ? "an absolute canonical path without '*'"
                                                   : "a non-empty string");
                }
                v[i] = strdup(it->valuestring);
                if (!v[i++]) {
                        ob_strv_free(v);
                        return -ENOMEM;
                }
        }
        *ret = v;
        if (ret_n)
                *ret_n = n;
        return 0;
}

static int parse_symlinks(const ob_json_doc *doc, const cJSON *obj, const char *file, ob_profile *p,
                          ob_error *err)
{
        const cJSON *it;
        size_t n = 0;

        if (!cJSON_IsObject(obj))
                return ob_json_error(err, doc, obj, false, EINVAL,
                                     "\"symlinks\" must be an object");
        cJSON_ArrayForEach (it, obj)
                n++;
        if (n > PROFILE_MAX_ITEMS)
                return ob_json_error(err, doc, obj, false, E2BIG, "too many symlinks");
        p->symlinks = calloc(n ? n : 1, sizeof(ob_symlink));
        if (!p->symlinks)
                return -ENOMEM;
        cJSON_ArrayForEach (it, obj) {
                if (!is_clean_abs_path(it->string) || streq(it->string, "/"))
                        return ob_json_error(err, doc, it, true, EINVAL,
                                             "symlink path must be absolute and canonical");
                if (!cJSON_IsString(it) || !it->valuestring[0] || strstr(it->valuestring, ".."))
                        return ob_json_error(err, doc, it, false, EINVAL,
                                             "symlink target must be a string without \"..\"");
                p->symlinks[p->n_symlinks].path = strdup(it->string);
                p->symlinks[p->n_symlinks].target = strdup(it->valuestring);
                p->n_symlinks++;
                if (!p->symlinks[p->n_symlinks - 1].path || !p->symlinks[p->n_symlinks - 1].target)
                        return -ENOMEM;
        }
        return 0;
}

static int parse_member(const ob_json_doc *doc, const cJSON *it, const char *file, ob_profile *p,
                        ob_error *err)
{
        if (streq(it->string, "version")) {
                if (!cJSON_IsNumber(it) || it->valuedouble != 1)
                        return ob_json_error(err, doc, it, false, EINVAL, "\"version\" must be 1");
                return 0;
        }
        if (streq(it->string, "description")) {
                if (!cJSON_IsString(it))
                        return ob_json_error(err, doc, it, false, EINVAL,
                                             "\"description\" must be a string");
                p->description = strdup(it->valuestring);
                return p->description ? 0 : -ENOMEM;
        }
        if (streq(it->string, "interpreter"))
                return parse_strv(doc, it, false, file, &p->interpreter, NULL, err);
        if (streq(it->string, "paths"))
                return parse_strv(doc, it, true, file, &p->paths, &p->n_paths, err);
        if (streq(it->string, "symlinks"))
                return parse_symlinks(doc, it, file, p, err);
        return ob_json_error(err, doc, it, true, EINVAL, "unknown key \"%s\"", it->string);
}

/* Makes err->message "FILE:LINE:COL: message" (position cleared). */
static int prefix_error(ob_error *err, const char *file, int r)
{
        char msg[sizeof(err->message)];
        size_t n;
        int k;

        if (!err)
                return r;
        memcpy(msg, err->message, sizeof(msg));
        msg[sizeof(msg) - 1] = '\0';
        if (err->line)
                k = snprintf(err->message, sizeof(err->message), "%s:%u:%u: ", file, err->line,
                             err->column);
        else
                k = snprintf(err->message, sizeof(err->message), "%s: ", file);
        n = k < 0 ? 0 : (size_t)k;
        if (n < sizeof(err->message) - 1) {
                size_t room = sizeof(err->message) - 1 - n, ml = strlen(msg);
                memcpy(err->message + n, msg, ml < room ? ml : room);
                err->message[n + (ml < room ? ml : room)] = '\0';
        }
        err->line = err->column = 0;
        return r;
}

int ob_profile_parse(const char *text, size_t len, const char *file, ob_profile **ret,
                     ob_error *err)
{
        ob_json_doc doc = {0};
        ob_profile *p;
        const cJSON *it;
        int r;

        r = ob_json_parse(text, len, PROFILE_MAX_BYTES, &doc, err);
        if (r < 0)
                return prefix_error(err, file, r);
        p = calloc(1, sizeof(*p));
        if (!p) {
                ob_json_doc_done(&doc);
                return -ENOMEM;
        }
        if (!cJSON_IsObject(doc.root))
                r = ob_json_error(err, &doc, doc.root, false, EINVAL, "a profile is a JSON object");
        for (it = r >= 0 ? doc.root->child : NULL; it && r >= 0; it = it->next)
                r = parse_member(&doc, it, file, p, err);
        if (r >= 0 && (!p->interpreter || !p->interpreter[0] || !p->paths))
                r = ob_error_set(err, 1, 1, EINVAL,
                                 "a profile needs \"interpreter\" and \"paths\"");
        if (r >= 0 && p->interpreter[0][0] != '/')
                r = ob_error_set(err, 1, 1, EINVAL, "the interpreter must be an absolute path");
        if (r >= 0 && (!(p->file = strdup(file))))
                r = -ENOMEM;
        ob_json_doc_done(&doc);
        if (r < 0) {
                ob_profile_free(p);
                return prefix_error(err, file, r);
        }
        *ret = p;
        return 0;
}

static bool valid_name(const char *name)
{
        if (!name[0] || strlen(name) > 64)
                return false;
        for (const char *c = name; *c; c++)
                if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
                        return false;
        return true;
}

static int find_profile(const char *name, char **ret)
{
        const char *dirs[] = {getenv("OMNIBASE_PROFILE_DIR"), OB_SOURCE_PROFILE_DIR,
                              OB_INSTALLED_PROFILE_DIR};

        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                char *path;
                if (!dirs[i] || !dirs[i][0])
                        continue;
                if (asprintf(&path, "%s/%s.json", dirs[i], name) < 0)
                        return -ENOMEM;
                if (access(path, R_OK) == 0) {
                        *ret = path;
                        return 0;
                }
                free(path);
        }
        return -ENOENT;
}

int ob_profile_load(const char *name, ob_profile **ret, ob_error *err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        ob_profile *p = NULL;
        size_t len;
        int r;

        if (strchr(name, '/')) {
                path = strdup(name);
                if (!path)
                        return -ENOMEM;
        } else {
                if (!valid_name(name))
                        return ob_error_set(err, 0, 0, EINVAL, "invalid profile name \"%s\"", name);
                r = find_profile(name, &path);
                if (r < 0)
                        return ob_error_set(err, 0, 0, r, "unknown profile \"%s\"", name);
        }
        r = ob_read_file(path, PROFILE_MAX_BYTES, &text, &len);
        if (r < 0)
                return ob_error_set(err, 0, 0, r, "profile %s: %s", path, strerror(-r));
        r = ob_profile_parse(text, len, path, &p, err);
        if (r < 0)
                return r;
        if (strchr(name, '/')) {
                const char *base = strrchr(name, '/') + 1;
                p->name = strndup(base, strcspn(base, "."));
        } else {
                p->name = strdup(name);
        }
        if (!p->name) {
                ob_profile_free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}
