/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/* One line of the audit log: building it from an event and decoding it. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "audit/audit-internal.h"
#include "common/json.h"
#include "common/macros.h"
#include "common/utf8.h"

/* The members every line starts with, in this order. */
static const char *const head_keys[] = {"seq", "time", "type", "sandbox_id", "principal"};

/* The line's own members. */
typedef enum key_kind {
        KEY_OTHER,
        KEY_SEQ,
        KEY_TIME,
        KEY_TYPE,
        KEY_SANDBOX_ID,
        KEY_PRINCIPAL,
        KEY_PREV_HASH,
        KEY_HASH,
} key_kind;

/* Runs for every member of every event: the first byte decides first. */
static key_kind classify(const char *key)
{
        switch (key[0]) {
        case 's':
                return streq(key, "seq")          ? KEY_SEQ
                       : streq(key, "sandbox_id") ? KEY_SANDBOX_ID
                                                  : KEY_OTHER;
        case 't':
                return streq(key, "time") ? KEY_TIME : streq(key, "type") ? KEY_TYPE : KEY_OTHER;
        case 'p':
                return streq(key, "principal")   ? KEY_PRINCIPAL
                       : streq(key, "prev_hash") ? KEY_PREV_HASH
                                                 : KEY_OTHER;
        case 'h':
                return streq(key, "hash") ? KEY_HASH : KEY_OTHER;
        default:
                return KEY_OTHER;
        }
}

static bool is_reserved(const char *key)
{
        return classify(key) != KEY_OTHER;
}

/* The members of the event that the line's head takes. */
typedef struct head {
        const cJSON *time, *type, *sandbox_id, *principal;
} head;

static void find_head(const cJSON *event, head *h)
{
        *h = (head){0};
        for (const cJSON *f = event->child; f; f = f->next)
                switch (classify(f->string)) {
                case KEY_TIME:
                        h->time = f;
                        break;
                case KEY_TYPE:
                        h->type = f;
                        break;
                case KEY_SANDBOX_ID:
                        h->sandbox_id = f;
                        break;
                case KEY_PRINCIPAL:
                        h->principal = f;
                        break;
                default:
                        break;
                }
}

static EVP_MD *sha256_md;

static void fetch_sha256(void)
{
        /* An explicit fetch once: EVP_sha256() would look it up per digest. */
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 of a then b, as lowercase hex, through OpenSSL EVP. */
int ob_audit_sha256_hex(const void *a, size_t alen, const void *b, size_t blen,
                        char ret[OB_AUDIT_HASH_HEX + 1])
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        bool ok;

        if (!ctx)
                return -ENOMEM;
        pthread_once(&once, fetch_sha256);
        ok = EVP_DigestInit_ex(ctx, sha256_md ? sha256_md : EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, a, alen) == 1 &&
             (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
        EVP_MD_CTX_free(ctx);
        if (!ok)
                return -EIO;
        for (unsigned i = 0; i < 32; i++) {
                ret[2 * i] = hex[md[i] >> 4];
                ret[2 * i + 1] = hex[md[i] & 15];
        }
        ret[OB_AUDIT_HASH_HEX] = '\0';
        return 0;
}

static bool is_hash_hex(const char *s)
{
        size_t i;
        for (i = 0; s[i]; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return i == OB_AUDIT_HASH_HEX;
}

/* 0 for "YYYY-MM-DDTHH:MM:SS.ffffffZ" with a valid date and time. */
int ob_audit_check_time(const char *s)
{
        static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
        struct tm tm = {0};
        const char *end;

        if (strlen(s) != sizeof(shape) - 1)
                return -EINVAL;
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
                        return -EINVAL;
        end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end || *end != '.' || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23 ||
            tm.tm_min > 59 || tm.tm_sec > 60)
                return -EINVAL;
        return 0;
}

static int format_now(char *buf, size_t size)
{
        struct timespec ts;
        struct tm tm;
        char date[24];

        clock_gettime(CLOCK_REALTIME, &ts);
        if (!gmtime_r(&ts.tv_sec, &tm) ||
            strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                return -EINVAL;
        if ((size_t)snprintf(buf, size, "%s.%06ldZ", date, ts.tv_nsec / 1000) >= size)
                return -ENOBUFS;
        return 0;
}

/* Replaces every byte of *text that is not valid UTF-8 by U+FFFD. cJSON
 * copies strings byte for byte, and invalid bytes can only sit inside
 * strings, so the result is the same JSON with repaired strings. */
static int sanitize_utf8(char **text, size_t *len)
{
        char *out;

        if (ob_utf8_valid(*text, *len))
                return 0;
        out = ob_utf8_sanitize_dup(*text, *len, false, len);
        if (!out)
                return -ENOMEM;
        free(*text);
        *text = out;
        return 0;
}

/* An integral number of at most 2^53-1 as raw JSON digits, or NULL when v is
 * not one. cJSON would print it with "%1.15g" and read it back with sscanf()
 * to check, the dearest step of building a line. */
static cJSON *raw_integer(double v)
{
        char buf[32];

        if (v != floor(v) || fabs(v) > (double)OB_AUDIT_MAX_SEQ)
                return NULL;
        snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)v);
        return cJSON_CreateRaw(buf);
}

/* Adds key (a literal) with a borrowed string value, or null: no copies. */
static int add_borrowed(cJSON *out, const char *key, const char *value)
{
        cJSON *v = value ? cJSON_CreateStringReference(value) : cJSON_CreateNull();

        if (!v || !cJSON_AddItemToObjectCS(out, key, v)) {
                cJSON_Delete(v);
                return -ENOMEM;
        }
        return 0;
}

static int nullable_string(const cJSON *v, const char **ret)
{
        if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
                return -EINVAL;
        *ret = cJSON_IsString(v) ? v->valuestring : NULL;
        return 0;
}

/* seq, time, type, sandbox_id, principal; now[] must outlive out. The
 * event's keys are unique (check_value() ran). */
static int add_head(cJSON *out, const cJSON *event, uint64_t seq, char now[40])
{
        const char *sandbox_id, *principal;
        cJSON *n;
        head h;
        int r;

        find_head(event, &h);
        if (!cJSON_IsString(h.type) || !h.type->valuestring[0] || strlen(h.type->valuestring) > 128)
                return -EINVAL;
        if (h.time && (!cJSON_IsString(h.time) || ob_audit_check_time(h.time->valuestring) < 0))
                return -EINVAL;
        if (!h.time && (r = format_now(now, 40)) < 0)
                return r;
        if (nullable_string(h.sandbox_id, &sandbox_id) < 0 ||
            nullable_string(h.principal, &principal) < 0)
                return -EINVAL;
        n = raw_integer((double)seq);
        if (!n || !cJSON_AddItemToObjectCS(out, "seq", n)) {
                cJSON_Delete(n);
                return -ENOMEM;
        }
        r = add_borrowed(out, "time", h.time ? h.time->valuestring : now);
        if (r >= 0)
                r = add_borrowed(out, "type", h.type->valuestring);
        if (r >= 0)
                r = add_borrowed(out, "sandbox_id", sandbox_id);
        return r < 0 ? r : add_borrowed(out, "principal", principal);
}

/* What verify's strict reader would refuse in what cJSON prints: nesting
 * deeper than MAX_NESTING, integers beyond 2^53-1, duplicate keys, and keys
 * that are not UTF-8 (strings are repaired, keys would collide). */
#define MAX_NESTING 32

static bool valid_utf8(const char *s)
{
        return ob_utf8_valid(s, strlen(s));
}

static int check_value(const cJSON *v, unsigned depth)
{
        if (depth > MAX_NESTING)
                return -EINVAL;
        if (cJSON_IsNumber(v) && fabs(v->valuedouble) > (double)OB_AUDIT_MAX_SEQ)
                return -EINVAL;
        if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
                return 0;
        for (const cJSON *c = v->child; c; c = c->next) {
                if (cJSON_IsObject(v)) {
                        if (!c->string || !valid_utf8(c->string))
                                return -EINVAL;
                        for (const cJSON *d = v->child; d != c; d = d->next)
                                if (d->string[0] == c->string[0] && streq(d->string, c->string))
                                        return -EINVAL;
                }
                if (check_value(c, depth + 1) < 0)
                        return -EINVAL;
        }
        return 0;
}

/* The event's members other than the reserved ones, in order: integers as
 * raw digits, everything else by reference. */
static int add_fields(cJSON *out, const cJSON *event)
{
        for (const cJSON *f = event->child; f; f = f->next) {
                cJSON *raw;
                if (is_reserved(f->string))
                        continue;
                raw = cJSON_IsNumber(f) ? raw_integer(f->valuedouble) : NULL;
                if (raw && !cJSON_AddItemToObject(out, f->string, raw)) {
                        cJSON_Delete(raw);
                        return -ENOMEM;
                }
                if (!raw && !cJSON_AddItemReferenceToObject(out, f->string, (cJSON *)f))
                        return -ENOMEM;
        }
        return 0;
}

/* The canonical text: the line without its hash member, as printed. */
static int build_canonical(const cJSON *event, uint64_t seq, const char *prev_hash, char **ret,
                           size_t *ret_len)
{
        cJSON *out = cJSON_CreateObject();
        char *text = NULL, now[40];
        int r;

        if (!out)
                return -ENOMEM;
        r = check_value(event, 0);
        if (r >= 0)
                r = add_head(out, event, seq, now);
        if (r >= 0)
                r = add_fields(out, event);
        if (r >= 0)
                r = add_borrowed(out, "prev_hash", prev_hash);
        if (r >= 0 && !(text = cJSON_PrintUnformatted(out)))
                r = -ENOMEM;
        cJSON_Delete(out);
        if (r < 0)
                return r;
        *ret_len = strlen(text);
        *ret = text;
        return 0;
}

/* The line for event at seq after prev_hash; *ret_line is the caller's. */
int ob_audit_line_build(const cJSON *event, uint64_t seq, const char *prev_hash, char **ret_line,
                        size_t *ret_len, char ret_hash[OB_AUDIT_HASH_HEX + 1])
{
        _cleanup_free_ char *text = NULL;
        char hash[OB_AUDIT_HASH_HEX + 1], *line;
        size_t len, line_len;
        int r;

        if (!cJSON_IsObject(event) || seq == 0 || seq > OB_AUDIT_MAX_SEQ)
                return -EINVAL;
        r = build_canonical(event, seq, prev_hash, &text, &len);
        if (r < 0)
                return r;
        r = sanitize_utf8(&text, &len);
        if (r < 0)
                return r;
        line_len = len - 1 + OB_AUDIT_SUFFIX_LEN;
        if (line_len > OB_AUDIT_MAX_LINE)
                return -E2BIG;
        r = ob_audit_sha256_hex(text, len, NULL, 0, hash);
        if (r < 0)
                return r;
        line = malloc(line_len + 2);
        if (!line)
                return -ENOMEM;
        memcpy(line, text, len - 1);
        memcpy(line + len - 1, OB_AUDIT_HASH_KEY, sizeof(OB_AUDIT_HASH_KEY) - 1);
        memcpy(line + len - 1 + sizeof(OB_AUDIT_HASH_KEY) - 1, hash, OB_AUDIT_HASH_HEX);
        memcpy(line + line_len - 2, "\"}\n", 4);
        memcpy(ret_hash, hash, sizeof(hash));
        *ret_line = line;
        *ret_len = line_len + 1;
        return 0;
}

static int check_head(const ob_json_doc *doc, const cJSON **m, ob_error *err)
{
        const cJSON *seq = m[0], *time = m[1], *type = m[2];

        for (size_t i = 0; i < ARRAY_SIZE(head_keys); i++)
                if (!streq(m[i]->string, head_keys[i]))
                        return ob_json_error(err, doc, m[i], true, EBADMSG,
                                             "member %zu must be \"%s\"", i + 1, head_keys[i]);
        if (!cJSON_IsNumber(seq) || seq->valuedouble < 1 ||
            seq->valuedouble > (double)OB_AUDIT_MAX_SEQ ||
            seq->valuedouble != floor(seq->valuedouble))
                return ob_json_error(err, doc, seq, false, EBADMSG,
                                     "seq must be an integer from 1 to 2^53-1");
        if (!cJSON_IsString(time) || ob_audit_check_time(time->valuestring) < 0)
                return ob_json_error(err, doc, time, false, EBADMSG,
                                     "time must be RFC 3339 UTC with microseconds");
        if (!cJSON_IsString(type) || !type->valuestring[0])
                return ob_json_error(err, doc, type, false, EBADMSG,
                                     "type must be a non-empty string");
        for (size_t i = 3; i < 5; i++)
                if (!cJSON_IsString(m[i]) && !cJSON_IsNull(m[i]))
                        return ob_json_error(err, doc, m[i], false, EBADMSG,
                                             "%s must be a string or null", head_keys[i]);
        return 0;
}

static int check_tail(const ob_json_doc *doc, const cJSON *prev, const cJSON *hash, ob_error *err)
{
        const char *line = doc->text;
        size_t len = doc->len;

        if (!streq(prev->string, "prev_hash") || !cJSON_IsString(prev) ||
            !is_hash_hex(prev->valuestring))
                return ob_json_error(err, doc, prev, true, EBADMSG,
                                     "the member before the last must be \"prev_hash\" (64 hex)");
        if (!streq(hash->string, "hash") || !cJSON_IsString(hash) ||
            !is_hash_hex(hash->valuestring))
                return ob_json_error(err, doc, hash, true, EBADMSG,
                                     "the last member must be \"hash\" (64 hex)");
        if (len < OB_AUDIT_SUFFIX_LEN + 2 ||
            memcmp(line + len - OB_AUDIT_SUFFIX_LEN, OB_AUDIT_HASH_KEY,
                   sizeof(OB_AUDIT_HASH_KEY) - 1) != 0 ||
            memcmp(line + len - 2 - OB_AUDIT_HASH_HEX, hash->valuestring, OB_AUDIT_HASH_HEX) != 0 ||
            memcmp(line + len - 2, "\"}", 2) != 0)
                return ob_json_error(err, doc, hash, true, EBADMSG,
                                     "the line must end with ,\"hash\":\"<64 hex>\"}");
        return 0;
}

/* Decodes one line; ret owns copies of type and sandbox_id. */
int ob_audit_line_decode(const char *line, size_t len, ob_audit_record *ret, ob_error *err)
{
        _cleanup_(ob_json_doc_done) ob_json_doc doc = {0};
        const cJSON *m[7], *last = NULL, *before = NULL;
        ob_audit_record rec = {0};
        char computed[OB_AUDIT_HASH_HEX + 1];
        size_t n = 0;
        int r;

        if (len > OB_AUDIT_MAX_LINE)
                return ob_error_set(err, 0, 0, E2BIG, "line longer than %d bytes",
                                    OB_AUDIT_MAX_LINE);
        r = ob_json_parse(line, len, OB_AUDIT_MAX_LINE, &doc, err);
        if (r < 0)
                return r;
        if (!cJSON_IsObject(doc.root))
                return ob_error_set(err, 1, 1, EBADMSG, "a line must be a JSON object");
        for (const cJSON *c = doc.root->child; c; c = c->next, n++) {
                if (n < 5)
                        m[n] = c;
                before = last;
                last = c;
        }
        if (n < 7)
                return ob_error_set(err, 1, 1, EBADMSG,
                                    "a line needs seq, time, type, sandbox_id, principal, "
                                    "prev_hash and hash");
        r = check_head(&doc, m, err);
        if (r < 0)
                return r;
        r = check_tail(&doc, before, last, err);
        if (r < 0)
                return r;
        rec.seq = (uint64_t)m[0]->valuedouble;
        memcpy(rec.prev_hash, before->valuestring, sizeof(rec.prev_hash));
        memcpy(rec.hash, last->valuestring, sizeof(rec.hash));
        r = ob_audit_sha256_hex(line, len - OB_AUDIT_SUFFIX_LEN, "}", 1, computed);
        if (r < 0)
                return r;
        rec.hash_ok = streq(computed, rec.hash);
        rec.type = strdup(m[2]->valuestring);
        rec.sandbox_id = cJSON_IsString(m[3]) ? strdup(m[3]->valuestring) : NULL;
        if (!rec.type || (cJSON_IsString(m[3]) && !rec.sandbox_id)) {
                ob_audit_record_done(&rec);
                return -ENOMEM;
        }
        *ret = rec;
        return 0;
}

/* Frees what a record owns. */
void ob_audit_record_done(ob_audit_record *rec)
{
        free(rec->type);
        free(rec->sandbox_id);
        rec->type = rec->sandbox_id = NULL;
}
