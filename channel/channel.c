/* SPDX-License-Identifier: Apache-2.0 */
/* The sidecar's event channel: schema, encoder, strict decoder, line reader. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "common/json.h"
#include "common/utf8.h"
#include "channel/channel.h"

typedef enum field_kind { FIELD_STRING, FIELD_INT } field_kind;
typedef bool (*string_check_fn)(const char *s);

typedef struct field {
        const char *name;
        field_kind kind;
        size_t offset;
        int64_t min, max; /* integer range, or string byte length range */
        string_check_fn check;
} field;

static bool is_capability(const char *s)
{
        static const char *const names[] = {"FILE_READ", "FILE_WRITE", "FILE_EXEC",
                                            "NETWORK_CONNECT", "SYSCALL"};
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (streq(s, names[i]))
                        return true;
        return false;
}

static bool is_layer(const char *s)
{
        return streq(s, "sidecar") || streq(s, "seccomp");
}

static bool is_syscall_name(const char *s)
{
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
                        return false;
        return true;
}

static bool no_control_chars(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

#define F_STR(n, lo, hi, chk)                                                                      \
        {                                                                                          \
#n, FIELD_STRING, offsetof(ob_channel_msg, n), lo, hi, chk                         \
        }
#define F_INT(n, lo, hi)                                                                           \
        {                                                                                          \
#n, FIELD_INT, offsetof(ob_channel_msg, n), lo, hi, NULL                           \
        }
#define MAX_SAFE_INT 9007199254740991LL

static const field start_fields[] = {
    F_INT(pid, 1, 4194304),
    F_STR(argv0, 1, OB_CHANNEL_MAX_ARGV0, NULL),
};
static const field denied_fields[] = {
    F_STR(capability, 1, 32, is_capability),
    F_STR(target, 1, OB_CHANNEL_MAX_TARGET, NULL),
    F_STR(syscall, 1, OB_CHANNEL_MAX_SYSCALL, is_syscall_name),
    F_INT(pid, 1, 4194304),
    F_STR(policy_id, 1, OB_CHANNEL_MAX_POLICY_ID, no_control_chars),
    F_STR(layer, 1, 16, is_layer),
};
static const field exit_fields[] = {
    F_INT(exit_code, 0, 255),
    F_INT(signal, 0, 64),
    F_INT(denials, 0, MAX_SAFE_INT),
    F_INT(dropped, 0, MAX_SAFE_INT),
    F_INT(pids_refused, 0, MAX_SAFE_INT),
};

static const struct {
        const char *name;
        const field *fields;
        size_t n_fields;
} schema[OB_CHANNEL_TYPE_MAX] = {
    [OB_CHANNEL_SANDBOX_START] = {"SandboxStart", start_fields, ARRAY_SIZE(start_fields)},
    [OB_CHANNEL_CAPABILITY_DENIED] = {"CapabilityDenied", denied_fields, ARRAY_SIZE(denied_fields)},
    [OB_CHANNEL_SANDBOX_EXIT] = {"SandboxExit", exit_fields, ARRAY_SIZE(exit_fields)},
};

const char *ob_channel_type_to_string(ob_channel_type type)
{
        if ((unsigned)type >= OB_CHANNEL_TYPE_MAX)
                return NULL;
        return schema[type].name;
}

static char **str_at(const ob_channel_msg *msg, const field *f)
{
        return (char **)((char *)msg + f->offset);
}

static int64_t *int_at(const ob_channel_msg *msg, const field *f)
{
        return (int64_t *)((char *)msg + f->offset);
}

static bool utf8_valid(const char *s)
{
        return ob_utf8_valid(s, strlen(s));
}

/* A copy of s with every byte that is not part of valid UTF-8 replaced by
 * U+FFFD. Returns NULL on allocation failure. */
static char *utf8_sanitize(const char *s)
{
        return ob_utf8_sanitize_dup(s, strlen(s), false, NULL);
}

static int validate_field(const ob_channel_msg *msg, const field *f, ob_error *err)
{
        if (f->kind == FIELD_INT) {
                int64_t v = *int_at(msg, f);
                if (v < f->min || v > f->max)
                        return ob_error_set(
                            err, 0, 0, EINVAL, "\"%s\" out of range (%lld, allowed %lld..%lld)",
                            f->name, (long long)v, (long long)f->min, (long long)f->max);
                return 0;
        }
        const char *s = *str_at(msg, f);
        size_t len = s ? strlen(s) : 0;
        if (!s)
                return ob_error_set(err, 0, 0, EINVAL, "\"%s\" missing", f->name);
        if ((int64_t)len < f->min || (int64_t)len > f->max)
                return ob_error_set(err, 0, 0, EINVAL, "\"%s\" has %zu bytes (allowed %lld..%lld)",
                                    f->name, len, (long long)f->min, (long long)f->max);
        if (!utf8_valid(s))
                return ob_error_set(err, 0, 0, EINVAL, "\"%s\" is not valid UTF-8", f->name);
        if (f->check && !f->check(s))
                return ob_error_set(err, 0, 0, EINVAL, "\"%s\" has an invalid value", f->name);
        return 0;
}

int ob_channel_msg_validate(const ob_channel_msg *msg, ob_error *err)
{
        if ((unsigned)msg->type >= OB_CHANNEL_TYPE_MAX)
                return ob_error_set(err, 0, 0, EINVAL, "unknown message type %d", (int)msg->type);
        for (size_t i = 0; i < schema[msg->type].n_fields; i++) {
                int r = validate_field(msg, &schema[msg->type].fields[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_field(cJSON *obj, const ob_channel_msg *msg, const field *f)
{
        if (f->kind == FIELD_INT)
                return cJSON_AddNumberToObject(obj, f->name, (double)*int_at(msg, f)) ? 0 : -ENOMEM;
        _cleanup_free_ char *clean = utf8_sanitize(*str_at(msg, f));
        if (!clean)
                return -ENOMEM;
        return cJSON_AddStringToObject(obj, f->name, clean) ? 0 : -ENOMEM;
}

int ob_channel_encode(const ob_channel_msg *msg, char **ret, size_t *ret_len)
{
        cJSON *obj = NULL;
        char *text = NULL;
        size_t len;
        int r = 0;

        if ((unsigned)msg->type >= OB_CHANNEL_TYPE_MAX)
                return -EINVAL;
        for (size_t i = 0; i < schema[msg->type].n_fields; i++)
                if (schema[msg->type].fields[i].kind == FIELD_STRING &&
                    !*str_at(msg, &schema[msg->type].fields[i]))
                        return -EINVAL;
        obj = cJSON_CreateObject();
        if (!obj || !cJSON_AddStringToObject(obj, "type", schema[msg->type].name))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < schema[msg->type].n_fields; i++)
                r = add_field(obj, msg, &schema[msg->type].fields[i]);
        if (r == 0) {
                text = cJSON_PrintUnformatted(obj);
                if (!text)
                        r = -ENOMEM;
        }
        cJSON_Delete(obj);
        if (r < 0)
                return r;
        /* Check the sanitised form with the same decoder the runner uses. */
        len = strlen(text);
        ob_channel_msg check = {0};
        r = len > OB_CHANNEL_MAX_LINE ? -E2BIG : ob_channel_decode(text, len, &check, NULL);
        ob_channel_msg_done(&check);
        if (r < 0) {
                free(text);
                return r;
        }
        char *line = realloc(text, len + 2);
        if (!line) {
                free(text);
                return -ENOMEM;
        }
        line[len] = '\n';
        line[len + 1] = '\0';
        *ret = line;
        if (ret_len)
                *ret_len = len + 1;
        return 0;
}

static int decode_field(const ob_json_doc *doc, const cJSON *item, const field *f,
                        ob_channel_msg *msg, ob_error *err)
{
        if (f->kind == FIELD_INT) {
                double d;
                if (!cJSON_IsNumber(item))
                        return ob_json_error(err, doc, item, false, EINVAL,
                                             "\"%s\" must be an integer, not %s", f->name,
                                             ob_json_type_name(item));
                d = item->valuedouble;
                /* range first (NaN and ±inf fail it), so the cast below is defined */
                if (!(d >= (double)f->min && d <= (double)f->max) ||
                    fabs(d) >= 9007199254740992.0 || d != (double)(int64_t)d)
                        return ob_json_error(err, doc, item, false, EINVAL,
                                             "\"%s\" must be an integer in %lld..%lld", f->name,
                                             (long long)f->min, (long long)f->max);
                *int_at(msg, f) = (int64_t)d;
                return 0;
        }
        if (!cJSON_IsString(item))
                return ob_json_error(err, doc, item, false, EINVAL,
                                     "\"%s\" must be a string, not %s", f->name,
                                     ob_json_type_name(item));
        *str_at(msg, f) = item->valuestring; /* borrowed until validated and copied */
        return 0;
}

static int copy_strings(ob_channel_msg *msg)
{
        for (size_t i = 0; i < schema[msg->type].n_fields; i++) {
                const field *f = &schema[msg->type].fields[i];
                char **p = str_at(msg, f);
                if (f->kind != FIELD_STRING)
                        continue;
                *p = strdup(*p);
                if (!*p) {
                        /* the rest are still borrowed: forget them */
                        for (size_t j = i + 1; j < schema[msg->type].n_fields; j++)
                                if (schema[msg->type].fields[j].kind == FIELD_STRING)
                                        *str_at(msg, &schema[msg->type].fields[j]) = NULL;
                        return -ENOMEM;
                }
        }
        return 0;
}

static int decode_doc(const ob_json_doc *doc, ob_channel_msg *msg, ob_error *err)
{
        const cJSON *root = doc->root, *type, *item;
        const field *fields;
        size_t n_fields, n_members = 0;

        if (!cJSON_IsObject(root))
                return ob_json_error(err, doc, root, false, EINVAL, "message must be an object");
        type = cJSON_GetObjectItemCaseSensitive(root, "type");
        if (!cJSON_IsString(type))
                return ob_json_error(err, doc, type ? type : root, false, EINVAL,
                                     "\"type\" missing or not a string");
        for (msg->type = 0; msg->type < OB_CHANNEL_TYPE_MAX; msg->type++)
                if (streq(type->valuestring, schema[msg->type].name))
                        break;
        if (msg->type == OB_CHANNEL_TYPE_MAX)
                return ob_json_error(err, doc, type, false, EINVAL,
                                     "unknown message type \"%.64s\"", type->valuestring);
        fields = schema[msg->type].fields;
        n_fields = schema[msg->type].n_fields;
        cJSON_ArrayForEach (item, root) {
                size_t i;
                n_members++;
                if (streq(item->string, "type"))
                        continue;
                for (i = 0; i < n_fields && !streq(item->string, fields[i].name); i++)
                        ;
                if (i == n_fields)
                        return ob_json_error(err, doc, item, true, EINVAL,
                                             "unknown key \"%.64s\" in %s", item->string,
                                             schema[msg->type].name);
                int r = decode_field(doc, item, &fields[i], msg, err);
                if (r < 0)
                        return r;
        }
        if (n_members != n_fields + 1)
                return ob_json_error(err, doc, root, false, EINVAL, "%s needs exactly: type%s",
                                     schema[msg->type].name,
                                     msg->type == OB_CHANNEL_SANDBOX_START ? ", pid, argv0"
                                     : msg->type == OB_CHANNEL_SANDBOX_EXIT
                                         ? ", exit_code, signal, denials, dropped"
                                         : ", capability, target, syscall, pid, policy_id, layer");
        return ob_channel_msg_validate(msg, err);
}

int ob_channel_decode(const char *line, size_t len, ob_channel_msg *ret, ob_error *err)
{
        ob_json_doc doc = {0};
        ob_channel_msg msg = {0};
        int r;

        if (len > OB_CHANNEL_MAX_LINE)
                return ob_error_set(err, 0, 0, E2BIG, "line of %zu bytes over the limit of %d", len,
                                    OB_CHANNEL_MAX_LINE);
        r = ob_json_parse(line, len, OB_CHANNEL_MAX_LINE, &doc, err);
        if (r < 0)
                return r;
        r = decode_doc(&doc, &msg, err);
        if (r == 0)
                r = copy_strings(&msg);
        else
                memset(&msg, 0, sizeof(msg)); /* only borrowed strings so far */
        ob_json_doc_done(&doc);
        if (r < 0) {
                ob_channel_msg_done(&msg);
                return r;
        }
        *ret = msg;
        return 0;
}

void ob_channel_msg_done(ob_channel_msg *msg)
{
        if ((unsigned)msg->type < OB_CHANNEL_TYPE_MAX)
                for (size_t i = 0; i < schema[msg->type].n_fields; i++)
                        if (schema[msg->type].fields[i].kind == FIELD_STRING)
                                free(*str_at(msg, &schema[msg->type].fields[i]));
        memset(msg, 0, sizeof(*msg));
}

int ob_channel_send(int fd, const ob_channel_msg *msg)
{
        _cleanup_free_ char *line = NULL;
        size_t len, off = 0;
        int r = ob_channel_encode(msg, &line, &len);

        if (r < 0)
                return r;
        while (off < len) {
                /* a socket; or a pipe or file (a pod's PID 1 writes its
                 * events to its stdout: docs/kubernetes.md) */
                ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
                if (n < 0 && errno == ENOTSOCK)
                        n = write(fd, line + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                off += (size_t)n;
        }
        return 0;
}

int ob_channel_reader_feed(ob_channel_reader *r, const void *data, size_t len)
{
        char *nb;

        if (len == 0)
                return 0;
        /* At most one full line plus its newline is ever held unconsumed. */
        if (r->len + len > 2 * (OB_CHANNEL_MAX_LINE + 1))
                return -E2BIG;
        nb = realloc(r->buf, r->len + len);
        if (!nb)
                return -ENOMEM;
        memcpy(nb + r->len, data, len);
        r->buf = nb;
        r->len += len;
        return 0;
}

int ob_channel_reader_fill(ob_channel_reader *r, int fd)
{
        char chunk[16384];
        ssize_t n;
        int k;

        do
                n = read(fd, chunk, sizeof(chunk));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if (n == 0) {
                r->eof = true;
                return 0;
        }
        k = ob_channel_reader_feed(r, chunk, (size_t)n);
        return k < 0 ? k : (int)n;
}

int ob_channel_reader_next(ob_channel_reader *r, char **ret, size_t *ret_len)
{
        char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
        char *line;
        size_t len;

        if (!nl) {
                if (r->len > OB_CHANNEL_MAX_LINE)
                        return -E2BIG;
                return r->eof && r->len > 0 ? -EBADMSG : 0;
        }
        len = (size_t)(nl - r->buf);
        if (len > OB_CHANNEL_MAX_LINE)
                return -E2BIG;
        line = malloc(len + 1);
        if (!line)
                return -ENOMEM;
        memcpy(line, r->buf, len);
        line[len] = '\0';
        memmove(r->buf, nl + 1, r->len - len - 1);
        r->len -= len + 1;
        *ret = line;
        if (ret_len)
                *ret_len = len;
        return 1;
}

void ob_channel_reader_done(ob_channel_reader *r)
{
        free(r->buf);
        *r = (ob_channel_reader){0};
}
