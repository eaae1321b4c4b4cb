/* SPDX-License-Identifier: Apache-2.0 */
/* Environment templates: where they are found ($OMNIBASE_TEMPLATE_DIR or the
 * source tree's templates/, then the installed ones), listing, loading and
 * printing them back as JSON. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/json.h"
#include "environments/template_internal.h"

#define TEMPLATE_MAX_LISTED 4096

/* The directories searched, in order; entries may be NULL. */
static void template_dirs(const char *ret[2])
{
        const char *env = getenv("OMNIBASE_TEMPLATE_DIR");

        ret[0] = env && env[0] ? env : OB_SOURCE_TEMPLATE_DIR;
        ret[1] = OB_INSTALLED_TEMPLATE_DIR;
}

const char *ob_template_search_path(void)
{
        static char buf[2 * PATH_MAX + 8];
        const char *dirs[2];

        template_dirs(dirs);
        snprintf(buf, sizeof(buf), "%s, %s", dirs[0], dirs[1]);
        return buf;
}

/* The path of NAME.json in the first directory that has it; -ENOENT with
 * code "template_not_found" otherwise, -EINVAL (code "invalid") for a name
 * that is not [a-z0-9][a-z0-9-]{0,62}. *ret_path malloc'd. */
int ob_template_find(const char *name, char **ret_path, ob_error *err)
{
        const char *dirs[2];

        if (!name || !template_name_valid(name, OB_TEMPLATE_NAME_MAX))
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "invalid template name \"%s\" (expected "
                                         "[a-z0-9][a-z0-9-]{0,62})",
                                         name ? name : "");
        template_dirs(dirs);
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                struct stat st;
                char *path;
                if (asprintf(&path, "%s/%s.json", dirs[i], name) < 0)
                        return -ENOMEM;
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                        *ret_path = path;
                        return 0;
                }
                free(path);
        }
        return ob_error_set_code(err, "template_not_found", ENOENT, "template %s not found in %s",
                                 name, ob_template_search_path());
}

/* Loads a name (found with ob_template_find) or a path (contains '/'). */
int ob_template_load(const char *name_or_path, ob_template **ret, ob_error *err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len = 0;
        int r;

        if (err)
                err->code = NULL;
        if (!name_or_path || !ret)
                return ob_error_set_code(err, "invalid", EINVAL, "no template");
        if (strchr(name_or_path, '/')) {
                path = strdup(name_or_path);
                if (!path)
                        return -ENOMEM;
        } else {
                r = ob_template_find(name_or_path, &path, err);
                if (r < 0)
                        return r;
        }
        r = ob_read_file(path, TEMPLATE_MAX_BYTES, &text, &len);
        if (r == -ENOENT)
                return ob_error_set_code(err, "template_not_found", ENOENT, "%s: no such file",
                                         path);
        if (r == -EFBIG)
                return ob_error_set_code(err, "invalid", EFBIG, "%s: larger than %d bytes", path,
                                         TEMPLATE_MAX_BYTES);
        if (r < 0)
                return ob_error_set_code(err, "invalid", -r, "%s: %s", path, strerror(-r));
        return ob_template_parse(text, len, path, ret, err);
}

static int list_add(char ***v, size_t *n, const char *name)
{
        char **nv;

        for (size_t i = 0; i < *n; i++)
                if (streq((*v)[i], name))
                        return 0;
        if (*n >= TEMPLATE_MAX_LISTED)
                return -E2BIG;
        nv = realloc(*v, (*n + 2) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[*n] = strdup(name);
        if (!nv[*n])
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

static int list_dir(const char *dir, char ***v, size_t *n)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return errno == ENOENT || errno == ENOTDIR ? 0 : negative_errno();
        while (r >= 0 && (de = readdir(d))) {
                size_t len = strlen(de->d_name);
                char name[OB_TEMPLATE_NAME_MAX + 1];
                if (len <= 5 || len - 5 > OB_TEMPLATE_NAME_MAX ||
                    !streq(de->d_name + len - 5, ".json"))
                        continue;
                memcpy(name, de->d_name, len - 5);
                name[len - 5] = '\0';
                if (template_name_valid(name, OB_TEMPLATE_NAME_MAX))
                        r = list_add(v, n, name);
        }
        closedir(d);
        return r;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every template name found, sorted, NULL-terminated. */
int ob_template_list(char ***ret, ob_error *err)
{
        const char *dirs[2];
        char **v = calloc(1, sizeof(char *));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        template_dirs(dirs);
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                int r = list_dir(dirs[i], &v, &n);
                if (r < 0) {
                        ob_strv_free(v);
                        return ob_error_set_code(err, "invalid", -r, "cannot list %s: %s", dirs[i],
                                                 strerror(-r));
                }
        }
        qsort(v, n, sizeof(char *), cmp_str);
        *ret = v;
        return 0;
}

/* "3d", "90m", "45s": the largest unit that divides s. */
static void duration_format(int64_t s, char *buf, size_t len)
{
        if (s > 0 && s % 86400 == 0)
                snprintf(buf, len, "%lldd", (long long)(s / 86400));
        else if (s > 0 && s % 3600 == 0)
                snprintf(buf, len, "%lldh", (long long)(s / 3600));
        else if (s > 0 && s % 60 == 0)
                snprintf(buf, len, "%lldm", (long long)(s / 60));
        else
                snprintf(buf, len, "%llds", (long long)s);
}

static cJSON *strv_to_json(char **v)
{
        cJSON *a = cJSON_CreateArray();

        for (size_t i = 0; a && v && v[i]; i++)
                if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i]))) {
                        cJSON_Delete(a);
                        return NULL;
                }
        return a;
}

static bool add_ttl_flags(cJSON *root, const ob_template *t)
{
        cJSON *ttl = cJSON_AddObjectToObject(root, "ttl"), *flags;
        char d[24], m[24];

        duration_format(t->default_ttl_s, d, sizeof(d));
        duration_format(t->max_ttl_s, m, sizeof(m));
        if (!ttl || !cJSON_AddStringToObject(ttl, "default", d) ||
            !cJSON_AddStringToObject(ttl, "max", m))
                return false;
        if (t->default_seed ? !cJSON_AddStringToObject(root, "default_seed", t->default_seed)
                            : !cJSON_AddNullToObject(root, "default_seed"))
                return false;
        flags = cJSON_AddObjectToObject(root, "feature_flags");
        return flags &&
               cJSON_AddItemToObject(flags, "available", strv_to_json(t->flags_available)) &&
               cJSON_AddItemToObject(flags, "default", strv_to_json(t->flags_default)) &&
               cJSON_AddNumberToObject(root, "workspace_mb", (double)t->workspace_mb);
}

static bool add_head(cJSON *root, const ob_template *t)
{
        return cJSON_AddStringToObject(root, "name", t->name) &&
               cJSON_AddStringToObject(root, "description", t->description) &&
               cJSON_AddBoolToObject(root, "approved", t->approved) &&
               (!t->approved_by || cJSON_AddStringToObject(root, "approved_by", t->approved_by)) &&
               cJSON_AddStringToObject(root, "data_classification", t->data_classification) &&
               cJSON_AddStringToObject(root, "profile", t->profile);
}

/* The template as JSON, the keys of the file; *ret malloc'd, ends in a
 * newline. */
int ob_template_to_json(const ob_template *t, char **ret)
{
        _cleanup_free_ char *caps_text = NULL;
        cJSON *root, *caps;
        char *text, *out = NULL;
        int r;

        if (!t || !ret)
                return -EINVAL;
        r = ob_capset_to_json(t->caps, &caps_text);
        if (r < 0)
                return r;
        caps = cJSON_Parse(caps_text);
        root = cJSON_CreateObject();
        if (!caps || !root || !add_head(root, t) ||
            !cJSON_AddItemToObject(root, "capabilities", caps)) {
                cJSON_Delete(caps);
                cJSON_Delete(root);
                return -ENOMEM;
        }
        if (!add_ttl_flags(root, t)) {
                cJSON_Delete(root);
                return -ENOMEM;
        }
        text = cJSON_Print(root);
        cJSON_Delete(root);
        if (text && asprintf(&out, "%s\n", text) < 0)
                out = NULL;
        free(text);
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

cJSON *ob_template_summary_json(const ob_template *t)
{
        cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddStringToObject(o, "name", t->name) ||
            !cJSON_AddBoolToObject(o, "approved", t->approved) ||
            !cJSON_AddStringToObject(o, "profile", t->profile) ||
            !cJSON_AddStringToObject(o, "description", t->description) ||
            !cJSON_AddStringToObject(o, "file", t->file ? t->file : "")) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}
