/* SPDX-License-Identifier: Apache-2.0 */
/* Evaluation with Cedar's semantics over the request entities of DESIGN §4:
 * the principal Component::"<uuid>" (no attributes), the action (not in the
 * entity store), the resource File::"<path>" {path} or
 * Endpoint::"<host>:<port>" {host, port}, and the empty context. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>

#include "common/error.h"
#include "policy/policy-internal.h"

typedef struct ectx {
        const pol_request *req;
        char *msg;
        size_t msg_len;
        void **allocs;
        size_t n_allocs, cap_allocs;
} ectx;

static int fail(ectx *c, const pol_expr *e, const char *fmt, ...) _printf_(3, 4);
static int fail(ectx *c, const pol_expr *e, const char *fmt, ...)
{
        va_list ap;
        int n = snprintf(c->msg, c->msg_len, "%u:%u: ", e->line, e->column);
        if (n < 0 || (size_t)n >= c->msg_len)
                return -1;
        va_start(ap, fmt);
        vsnprintf(c->msg + n, c->msg_len - (size_t)n, fmt, ap);
        va_end(ap);
        return -1;
}

static const char *type_name(pol_vtype t)
{
        static const char *const names[] = {"bool", "long", "string", "entity", "set", "record"};
        return names[t];
}

/* Cedar equality: same type and value; sets as sets; never an error. */
bool pol_value_eq(const pol_value *a, const pol_value *b)
{
        if (a->type != b->type)
                return false;
        switch (a->type) {
        case PV_BOOL:
                return a->b == b->b;
        case PV_LONG:
                return a->l == b->l;
        case PV_STRING:
                return streq(a->s, b->s);
        case PV_ENTITY:
                return streq(a->etype, b->etype) && streq(a->s, b->s);
        case PV_RECORD:
                return true; /* only the empty record exists */
        case PV_SET:
                for (int pass = 0; pass < 2; pass++) {
                        const pol_value *x = pass ? b : a, *y = pass ? a : b;
                        for (size_t i = 0; i < x->n_items; i++) {
                                size_t j;
                                for (j = 0; j < y->n_items; j++)
                                        if (pol_value_eq(&x->items[i], &y->items[j]))
                                                break;
                                if (j == y->n_items)
                                        return false;
                        }
                }
                return true;
        }
        return false;
}

/* Cedar `like` on a normalised pattern (no adjacent literals or
 * wildcards, no empty literal): prefix, suffix, then leftmost middles. */
bool pol_like(const pol_pat_elem *pat, size_t n, const char *s)
{
        const char *p = s, *e = s + strlen(s);
        size_t i = 0, j = n;

        if (n == 0)
                return *s == '\0';
        if (n == 1 && !pat[0].wildcard)
                return streq(pat[0].lit, s);
        /* The parser merged adjacent literals and wildcards: from here on the
         * pattern has at least one wildcard. */
        if (!pat[0].wildcard) {
                size_t l = strlen(pat[0].lit);
                if ((size_t)(e - p) < l || memcmp(p, pat[0].lit, l) != 0)
                        return false;
                p += l;
                i = 1;
        }
        if (!pat[n - 1].wildcard) {
                size_t l = strlen(pat[n - 1].lit);
                if ((size_t)(e - p) < l || memcmp(e - l, pat[n - 1].lit, l) != 0)
                        return false;
                e -= l;
                j = n - 1;
        }
        for (size_t k = i; k < j; k++) {
                const char *f;
                size_t l;
                if (pat[k].wildcard)
                        continue;
                l = strlen(pat[k].lit);
                f = memmem(p, (size_t)(e - p), pat[k].lit, l);
                if (!f)
                        return false;
                p = f + l;
        }
        return true;
}

/* Looks an entity up in the request's entity store. */
static void lookup(const ectx *c, const pol_value *ent, bool *ret_exists, const char *attr,
                   pol_value *ret_val, bool *ret_found)
{
        const pol_request *r = c->req;

        *ret_found = false;
        if (streq(ent->etype, r->rtype) && streq(ent->s, r->rid)) {
                *ret_exists = true;
                if (r->path && streq(attr, "path")) {
                        *ret_val = (pol_value){.type = PV_STRING, .s = r->path};
                        *ret_found = true;
                } else if (r->host && streq(attr, "host")) {
                        *ret_val = (pol_value){.type = PV_STRING, .s = r->host};
                        *ret_found = true;
                } else if (r->host && streq(attr, "port")) {
                        *ret_val = (pol_value){.type = PV_LONG, .l = r->port};
                        *ret_found = true;
                }
                return;
        }
        *ret_exists = streq(ent->etype, "Component") && streq(ent->s, r->principal);
}

static int eval(ectx *c, const pol_expr *e, pol_value *ret);

static int eval_bool(ectx *c, const pol_expr *e, const char *op, bool *ret)
{
        pol_value v;
        if (eval(c, e, &v) < 0)
                return -1;
        if (v.type != PV_BOOL)
                return fail(c, e, "type error: %s expects a bool, got %s", op, type_name(v.type));
        *ret = v.b;
        return 0;
}

static int eval_attr(ectx *c, const pol_expr *e, pol_value *ret)
{
        pol_value v;
        bool exists, found;

        if (eval(c, e->a, &v) < 0)
                return -1;
        if (v.type == PV_RECORD) {
                if (e->kind == PE_HAS) {
                        *ret = (pol_value){.type = PV_BOOL, .b = false};
                        return 0;
                }
                return fail(c, e, "record does not have the attribute \"%s\"", e->str);
        }
        if (v.type != PV_ENTITY)
                return fail(c, e, "type error: \"%s\" expects an entity or record, got %s",
                            e->kind == PE_HAS ? "has" : ".", type_name(v.type));
        lookup(c, &v, &exists, e->str, ret, &found);
        if (e->kind == PE_HAS) {
                *ret = (pol_value){.type = PV_BOOL, .b = exists && found};
                return 0;
        }
        if (!exists)
                return fail(c, e, "entity %s::\"%s\" does not exist", v.etype, v.s);
        if (!found)
                return fail(c, e, "%s::\"%s\" does not have the attribute \"%s\"", v.etype, v.s,
                            e->str);
        return 0;
}

static int eval_set(ectx *c, const pol_expr *e, pol_value *ret)
{
        pol_value *items = NULL;

        if (e->n_items > 0) {
                if (c->n_allocs == c->cap_allocs) {
                        size_t ncap = c->cap_allocs ? c->cap_allocs * 2 : 8;
                        void **na = realloc(c->allocs, ncap * sizeof(*na));
                        if (!na)
                                return fail(c, e, "out of memory");
                        c->allocs = na;
                        c->cap_allocs = ncap;
                }
                items = calloc(e->n_items, sizeof(*items));
                if (!items)
                        return fail(c, e, "out of memory");
                c->allocs[c->n_allocs++] = items;
        }
        for (size_t i = 0; i < e->n_items; i++)
                if (eval(c, e->items[i], &items[i]) < 0)
                        return -1;
        *ret = (pol_value){.type = PV_SET, .items = items, .n_items = e->n_items};
        return 0;
}

static int eval_in(ectx *c, const pol_expr *e, const pol_value *l, const pol_value *r,
                   pol_value *ret)
{
        if (l->type != PV_ENTITY)
                return fail(c, e, "type error: \"in\" expects an entity on the left, got %s",
                            type_name(l->type));
        if (r->type == PV_ENTITY) {
                *ret = (pol_value){.type = PV_BOOL, .b = pol_value_eq(l, r)};
                return 0;
        }
        if (r->type != PV_SET)
                return fail(c, e,
                            "type error: \"in\" expects an entity or a set on the right, "
                            "got %s",
                            type_name(r->type));
        *ret = (pol_value){.type = PV_BOOL};
        for (size_t i = 0; i < r->n_items; i++)
                if (r->items[i].type != PV_ENTITY)
                        return fail(c, e, "type error: \"in\" expects a set of entities");
        for (size_t i = 0; i < r->n_items; i++)
                ret->b = ret->b || pol_value_eq(l, &r->items[i]);
        return 0;
}

static int eval_binary(ectx *c, const pol_expr *e, pol_value *ret)
{
        pol_value l, r;

        if (eval(c, e->a, &l) < 0 || eval(c, e->b, &r) < 0)
                return -1;
        *ret = (pol_value){.type = PV_BOOL};
        switch (e->kind) {
        case PE_EQ:
        case PE_NE:
                ret->b = pol_value_eq(&l, &r) == (e->kind == PE_EQ);
                return 0;
        case PE_IN:
                return eval_in(c, e, &l, &r, ret);
        case PE_CONTAINS:
                if (l.type != PV_SET)
                        return fail(c, e, "type error: \"contains\" expects a set, got %s",
                                    type_name(l.type));
                for (size_t i = 0; i < l.n_items && !ret->b; i++)
                        ret->b = pol_value_eq(&l.items[i], &r);
                return 0;
        default:
                break;
        }
        if (l.type != PV_LONG || r.type != PV_LONG)
                return fail(c, e, "type error: \"%s\" expects longs, got %s and %s",
                            pol_ekind_name(e->kind), type_name(l.type), type_name(r.type));
        ret->b = e->kind == PE_LT   ? l.l < r.l
                 : e->kind == PE_LE ? l.l <= r.l
                 : e->kind == PE_GT ? l.l > r.l
                                    : l.l >= r.l;
        return 0;
}

static int eval_var(ectx *c, const pol_expr *e, pol_value *ret)
{
        const pol_request *r = c->req;
        switch (e->var) {
        case PVAR_PRINCIPAL:
                *ret = (pol_value){.type = PV_ENTITY, .etype = "Component", .s = r->principal};
                break;
        case PVAR_ACTION:
                *ret = (pol_value){.type = PV_ENTITY, .etype = "Action", .s = r->action};
                break;
        case PVAR_RESOURCE:
                *ret = (pol_value){.type = PV_ENTITY, .etype = r->rtype, .s = r->rid};
                break;
        case PVAR_CONTEXT:
                *ret = (pol_value){.type = PV_RECORD};
                break;
        }
        return 0;
}

static int eval_logic(ectx *c, const pol_expr *e, pol_value *ret)
{
        bool a = false, b = false;
        const char *op = pol_ekind_name(e->kind);

        if (eval_bool(c, e->a, op, &a) < 0)
                return -1;
        if (e->kind == PE_NOT) {
                b = !a;
        } else if (e->kind == PE_AND ? a : !a) {
                if (eval_bool(c, e->b, op, &b) < 0)
                        return -1;
        } else {
                b = a;
        }
        *ret = (pol_value){.type = PV_BOOL, .b = b};
        return 0;
}

static int eval(ectx *c, const pol_expr *e, pol_value *ret)
{
        pol_value v;

        switch (e->kind) {
        case PE_VALUE:
                *ret = e->val;
                return 0;
        case PE_VAR:
                return eval_var(c, e, ret);
        case PE_NOT:
        case PE_AND:
        case PE_OR:
                return eval_logic(c, e, ret);
        case PE_ATTR:
        case PE_HAS:
                return eval_attr(c, e, ret);
        case PE_SET:
                return eval_set(c, e, ret);
        case PE_LIKE:
                if (eval(c, e->a, &v) < 0)
                        return -1;
                if (v.type != PV_STRING)
                        return fail(c, e, "type error: \"like\" expects a string, got %s",
                                    type_name(v.type));
                *ret = (pol_value){.type = PV_BOOL, .b = pol_like(e->pat, e->n_pat, v.s)};
                return 0;
        case PE_IS:
                if (eval(c, e->a, &v) < 0)
                        return -1;
                if (v.type != PV_ENTITY)
                        return fail(c, e, "type error: \"is\" expects an entity, got %s",
                                    type_name(v.type));
                *ret = (pol_value){.type = PV_BOOL, .b = streq(v.etype, e->str)};
                return 0;
        default:
                return eval_binary(c, e, ret);
        }
}

/* Whether a scope admits the entity type::"id" (no hierarchy). */
bool pol_scope_match(const pol_scope *s, const char *type, const char *id)
{
        switch (s->op) {
        case PS_ALL:
                return true;
        case PS_EQ:
        case PS_IN:
                return streq(s->entity.type, type) && streq(s->entity.id, id);
        case PS_IS:
                return streq(s->is_type, type) &&
                       (!s->has_entity || (streq(s->entity.type, type) && streq(s->entity.id, id)));
        case PS_IN_SET:
                for (size_t i = 0; i < s->n_entities; i++)
                        if (streq(s->entities[i].type, type) && streq(s->entities[i].id, id))
                                return true;
                return false;
        }
        return false;
}

/* Scope, then conditions in order with && short-circuit; PR_ERROR with
 * "line:col: why" in msg when an expression errors. */
pol_result pol_eval_policy(const pol_policy *p, const pol_request *req, char *msg, size_t msg_len)
{
        ectx c = {.req = req, .msg = msg, .msg_len = msg_len};
        pol_result res = PR_SATISFIED;

        if (!pol_scope_match(&p->principal, "Component", req->principal) ||
            !pol_scope_match(&p->action, "Action", req->action) ||
            !pol_scope_match(&p->resource, req->rtype, req->rid))
                return PR_NOT_SATISFIED;
        for (size_t i = 0; i < p->n_conds && res == PR_SATISFIED; i++) {
                bool b = false;
                if (eval_bool(&c, p->conds[i].body, p->conds[i].unless ? "unless" : "when", &b) < 0)
                        res = PR_ERROR;
                else if (b == p->conds[i].unless)
                        res = PR_NOT_SATISFIED;
        }
        for (size_t i = 0; i < c.n_allocs; i++)
                free(c.allocs[i]);
        free(c.allocs);
        return res;
}

/* An IPv6 host in inet_ntop's canonical text, or the IPv4 address an
 * IPv4-mapped one stands for (as the enforcement layer reads it). */
static int canonical_v6(char **host, bool *v6)
{
        char buf[INET6_ADDRSTRLEN];
        struct in6_addr a;

        if (inet_pton(AF_INET6, *host, &a) != 1)
                return -EINVAL;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
                if (!inet_ntop(AF_INET, &a.s6_addr[12], buf, sizeof(buf)))
                        return -EINVAL;
                *v6 = false;
        } else if (!inet_ntop(AF_INET6, &a, buf, sizeof(buf))) {
                return -EINVAL;
        }
        free(*host);
        *host = strdup(buf);
        return *host ? 0 : -ENOMEM;
}

/* See policy-internal.h. */
int pol_endpoint_canonical(const char *target, char **ret_host, int64_t *ret_port, char **ret_rid)
{
        const char *colon = strrchr(target, ':'), *h = target;
        _cleanup_free_ char *host = NULL;
        int64_t port = 0;
        size_t hlen;
        bool v6 = false;
        char *rid;
        int r;

        if (!colon || !colon[1] || strlen(colon + 1) > 5 || colon[1] == '0')
                return -EINVAL;
        for (const char *p = colon + 1; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                port = port * 10 + (*p - '0');
        }
        if (port > 65535)
                return -EINVAL;
        hlen = (size_t)(colon - target);
        if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
                h++;
                hlen -= 2;
                v6 = true;
        }
        if (hlen == 0 || hlen > 253 || memchr(h, '[', hlen) || memchr(h, ']', hlen) ||
            memchr(h, '/', hlen) || (!v6 && memchr(h, ':', hlen)) || (v6 && !memchr(h, ':', hlen)))
                return -EINVAL;
        if (!(host = strndup(h, hlen)))
                return -ENOMEM;
        for (char *p = host; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
        if (v6 && (r = canonical_v6(&host, &v6)) < 0)
                return r;
        if (asprintf(&rid, v6 ? "[%s]:%" PRId64 : "%s:%" PRId64, host, port) < 0)
                return -ENOMEM;
        *ret_host = TAKE_PTR(host);
        *ret_port = port;
        *ret_rid = rid;
        return 0;
}

static int strv_push(char ***v, size_t *n, const char *fmt, ...) _printf_(3, 4);
static int strv_push(char ***v, size_t *n, const char *fmt, ...)
{
        char **nv = realloc(*v, (*n + 1) * sizeof(**v));
        va_list ap;
        int r;

        if (!nv)
                return -ENOMEM;
        *v = nv;
        va_start(ap, fmt);
        r = vasprintf(&nv[*n], fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* Frees the lists a response holds and zeroes it; accepts NULL. */
void ob_policy_response_done(ob_policy_response *resp)
{
        if (!resp)
                return;
        for (size_t i = 0; i < resp->n_reasons; i++)
                free(resp->reasons[i]);
        for (size_t i = 0; i < resp->n_errors; i++)
                free(resp->errors[i]);
        for (size_t i = 0; resp->error_ids && i < resp->n_errors; i++)
                free(resp->error_ids[i]);
        free(resp->reasons);
        free(resp->errors);
        free(resp->error_ids);
        *resp = (ob_policy_response){0};
}

/* Evaluates every policy; forbids and permits collect the satisfied ids. */
static int authorize(const ob_policy_set *set, const pol_request *req, ob_policy_response *resp)
{
        ob_policy_response forbids = {0};
        char msg[512];
        int r = 0;

        for (size_t i = 0; i < set->n_policies && r == 0; i++) {
                const pol_policy *p = &set->policies[i];
                pol_result res = pol_eval_policy(p, req, msg, sizeof(msg));
                if (res == PR_ERROR) {
                        size_t n = resp->n_errors;
                        r = strv_push(&resp->error_ids, &n, "%s", p->id);
                        if (r == 0 && (r = strv_push(&resp->errors, &resp->n_errors, "%s: %s",
                                                     p->id, msg)) < 0)
                                free(resp->error_ids[n - 1]);
                } else if (res == PR_SATISFIED && p->forbid)
                        r = strv_push(&forbids.reasons, &forbids.n_reasons, "%s", p->id);
                else if (res == PR_SATISFIED)
                        r = strv_push(&resp->reasons, &resp->n_reasons, "%s", p->id);
        }
        if (r == 0 && forbids.n_reasons > 0) {
                for (size_t i = 0; i < resp->n_reasons; i++)
                        free(resp->reasons[i]);
                free(resp->reasons);
                resp->reasons = TAKE_PTR(forbids.reasons);
                resp->n_reasons = forbids.n_reasons;
                forbids.n_reasons = 0;
                resp->allow = false;
        } else {
                resp->allow = r == 0 && resp->n_reasons > 0;
        }
        ob_policy_response_done(&forbids);
        return r;
}

/* Canonicalises the target, builds the request entities and decides;
 * -EINVAL on a bad target or kind, *ret filled only on success. */
int ob_policy_is_authorized(const ob_policy_set *set, const char *principal, ob_cap_kind action,
                            const char *target, ob_policy_response *ret)
{
        static const char *const actions[] = {"FILE_READ", "FILE_WRITE", "FILE_EXEC",
                                              "NETWORK_CONNECT"};
        ob_policy_response resp = {0};
        _cleanup_free_ char *host = NULL, *canon = NULL;
        pol_request req = {.principal = principal};
        int r;

        if (!set || !principal || !target || !ret || (unsigned)action >= ARRAY_SIZE(actions))
                return -EINVAL;
        req.action = actions[action];
        if (action == OB_CAP_NETWORK_CONNECT) {
                r = pol_endpoint_canonical(target, &host, &req.port, &canon);
                req.rtype = "Endpoint";
                req.host = host;
        } else {
                r = ob_path_canonicalize(target, &canon);
                req.rtype = "File";
                req.path = canon;
        }
        if (r < 0)
                return r;
        req.rid = canon;
        r = authorize(set, &req, &resp);
        if (r < 0) {
                ob_policy_response_done(&resp);
                return r;
        }
        *ret = resp;
        return 0;
}
