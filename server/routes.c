/* SPDX-License-Identifier: Apache-2.0 */
/* Routing: a few static routes of the server's own, then every operation of
 * the table (api/api.h), matched by method and route pattern ("{name}"
 * segments are path parameters). Nothing here names an operation: a new one
 * in the table is a new route. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "web/assets.h"
#include "server/server.h"

#define OB_SRV_MAX_SEGMENTS 16

/* {"status": "ok", "version"}, and who the caller is when it said (the
 * dashboard's sign-in: a wrong token is a 401 before this). */
static enum MHD_Result healthz(ob_srv_req *r)
{
        cJSON *j = cJSON_CreateObject();

        cJSON_AddStringToObject(j, "status", "ok");
        cJSON_AddStringToObject(j, "version", OB_VERSION);
        if (r->identified) {
                cJSON *c = cJSON_AddObjectToObject(j, "caller");
                cJSON_AddStringToObject(c, "name", r->ctx.caller.name);
                cJSON_AddStringToObject(c, "role", ob_api_role_to_string(r->ctx.caller.role));
        }
        return ob_srv_respond_json(r->conn, 200, j);
}

/* The dashboard's files (web/), compiled in. They hold no data: the page
 * asks the API, with the caller's token, for everything it shows. */
static enum MHD_Result dashboard(ob_srv_req *r)
{
        const ob_web_asset *a = ob_web_find(r->url);

        if (!a)
                return ob_srv_respond_error(r->conn, 404, "not_found", "no route GET %s", r->url);
        return ob_srv_respond_asset(r->conn, a->data, a->len, a->content_type);
}

static enum MHD_Result openapi(ob_srv_req *r)
{
        cJSON *doc = ob_api_openapi();

        if (!doc)
                return ob_srv_respond_error(r->conn, 500, "internal", "out of memory");
        return ob_srv_respond_json(r->conn, 200, doc);
}

/* The host of an Origin ("https://host:port" -> "host:port"). */
static const char *origin_host(const char *origin)
{
        const char *p = strstr(origin, "://");
        return p ? p + 3 : origin;
}

/* MCP's Streamable HTTP (revision 2025-11-25), stateless: each POST is one
 * JSON-RPC message, answered by a worker with application/json (200) or
 * 202. No server-initiated stream: GET is 405, as the transport allows. A
 * browser's Origin must be this server (Host): a page elsewhere may not
 * drive it, on top of the identity every request needs (docs/server.md). */
static enum MHD_Result mcp(ob_srv_req *r)
{
        const char *origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
        const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
        const char *version =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "MCP-Protocol-Version");
        static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
        bool known = !version;
        int res;

        if (origin && (!host || !streq(origin_host(origin), host)))
                return ob_srv_respond_error(r->conn, 403, "forbidden",
                                            "Origin %.100s is not this server", origin);
        for (size_t i = 0; version && i < ARRAY_SIZE(versions); i++)
                known |= streq(version, versions[i]);
        if (!known)
                return ob_srv_respond_error(r->conn, 400, "invalid",
                                            "MCP-Protocol-Version %.40s: this server speaks "
                                            "2025-11-25, 2025-06-18 and 2025-03-26",
                                            version);
        res = ob_srv_worker_start_mcp(r->srv, &r->ctx, r->body, r->body_len, version, &r->worker);
        if (res == -EAGAIN)
                return ob_srv_respond_error(r->conn, 503, "busy", "%d operations are running",
                                            OB_SRV_MAX_WORKERS);
        if (res < 0)
                return ob_srv_respond_error(r->conn, 500, "internal", "fork: %s", strerror(-res));
        r->worker->req = r;
        r->state = OB_REQ_WORKER;
        ob_srv_req_suspend(r);
        return MHD_YES;
}

/* The server's own routes, matched before the table. */
static const ob_srv_static_route static_routes[] = {
    {"GET", "/healthz", healthz, true},
    {"GET", "/openapi.json", openapi, false},
    {"POST", "/mcp", mcp, false},
};
static const ob_srv_static_route dashboard_route = {"GET", NULL, dashboard, true};

/* Splits a path into segments (in place); -EINVAL when over the bound. */
static int split(char *path, char **seg, size_t *ret_n)
{
        size_t n = 0;
        char *save = NULL;

        for (char *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
                if (n == OB_SRV_MAX_SEGMENTS)
                        return -EINVAL;
                seg[n++] = s;
        }
        *ret_n = n;
        return 0;
}

/* Does route match the url's segments? Path parameters into args (may be
 * NULL: only the match is asked). */
static bool route_match(const char *route, char **useg, size_t un, cJSON *args)
{
        char copy[256], *rseg[OB_SRV_MAX_SEGMENTS];
        size_t rn;

        if (strlen(route) >= sizeof(copy))
                return false;
        strcpy(copy, route);
        if (split(copy, rseg, &rn) < 0 || rn != un)
                return false;
        for (size_t i = 0; i < rn; i++) {
                size_t l = strlen(rseg[i]);
                if (rseg[i][0] == '{' && l > 2 && rseg[i][l - 1] == '}')
                        continue;
                if (!streq(rseg[i], useg[i]))
                        return false;
        }
        for (size_t i = 0; args && i < rn; i++) {
                size_t l = strlen(rseg[i]);
                if (rseg[i][0] == '{' && l > 2 && rseg[i][l - 1] == '}') {
                        rseg[i][l - 1] = '\0';
                        cJSON_AddStringToObject(args, rseg[i] + 1, useg[i]);
                }
        }
        return true;
}

static void allow_add(char *allow, size_t size, const char *method)
{
        size_t l = strlen(allow);

        if (strstr(allow, method))
                return;
        snprintf(allow + l, size - l, "%s%s", l ? ", " : "", method);
}

int ob_srv_route(const char *method, const char *url, const ob_srv_static_route **ret_static,
                 const ob_api_op **ret_op, cJSON **ret_path_args, char *ret_allow,
                 size_t allow_size)
{
        char path[1024], *useg[OB_SRV_MAX_SEGMENTS];
        size_t un, n_ops;
        const ob_api_op *ops = ob_api_ops(&n_ops);
        bool path_known = false;

        ret_allow[0] = '\0';
        for (size_t i = 0; i < ARRAY_SIZE(static_routes); i++)
                if (streq(url, static_routes[i].path)) {
                        if (streq(method, static_routes[i].method)) {
                                *ret_static = &static_routes[i];
                                return OB_ROUTE_FOUND;
                        }
                        path_known = true;
                        allow_add(ret_allow, allow_size, static_routes[i].method);
                }
        if (ob_web_find(url)) {
                if (streq(method, "GET")) {
                        *ret_static = &dashboard_route;
                        return OB_ROUTE_FOUND;
                }
                path_known = true;
                allow_add(ret_allow, allow_size, "GET");
        }
        if (strlen(url) >= sizeof(path))
                return OB_ROUTE_NOT_FOUND;
        strcpy(path, url);
        if (split(path, useg, &un) < 0)
                return OB_ROUTE_NOT_FOUND;
        for (size_t i = 0; i < n_ops; i++) {
                if (!ops[i].route || !route_match(ops[i].route, useg, un, NULL))
                        continue;
                if (!streq(method, ops[i].method)) {
                        path_known = true;
                        allow_add(ret_allow, allow_size, ops[i].method);
                        continue;
                }
                cJSON *args = cJSON_CreateObject();
                if (!args)
                        return -ENOMEM;
                route_match(ops[i].route, useg, un, args);
                *ret_op = &ops[i];
                *ret_path_args = args;
                return OB_ROUTE_FOUND;
        }
        return path_known ? OB_ROUTE_BAD_METHOD : OB_ROUTE_NOT_FOUND;
}

static const ob_api_param *param_of(const ob_api_op *op, const char *name)
{
        for (size_t i = 0; i < OB_API_MAX_PARAMS && op->params[i].name; i++)
                if (streq(op->params[i].name, name))
                        return &op->params[i];
        return NULL;
}

/* One query value as the JSON value of its parameter's type; NULL with a
 * message when it does not convert. Unknown keys stay strings (the table
 * refuses them by name). */
static cJSON *query_value(const ob_api_param *p, const char *v, char *msg, size_t size)
{
        char *end;

        switch (p ? p->type : OB_API_STRING) {
        case OB_API_INTEGER: {
                errno = 0;
                long long x = strtoll(v, &end, 10);
                if (!*v || *end || errno || x > (1LL << 53) || x < -(1LL << 53)) {
                        snprintf(msg, size, "query parameter \"%s\": \"%s\" is not an integer",
                                 p->name, v);
                        return NULL;
                }
                return cJSON_CreateNumber((double)x);
        }
        case OB_API_NUMBER: {
                errno = 0;
                double x = strtod(v, &end);
                if (!*v || *end || errno || !isfinite(x)) {
                        snprintf(msg, size, "query parameter \"%s\": \"%s\" is not a number",
                                 p->name, v);
                        return NULL;
                }
                return cJSON_CreateNumber(x);
        }
        case OB_API_BOOLEAN:
                if (streq(v, "true") || streq(v, "false"))
                        return cJSON_CreateBool(streq(v, "true"));
                snprintf(msg, size, "query parameter \"%s\": \"%s\" is not true or false", p->name,
                         v);
                return NULL;
        case OB_API_STRINGS: {
                cJSON *a = cJSON_CreateArray();
                _cleanup_free_ char *copy = strdup(v);
                char *save = NULL;
                if (!a || !copy) {
                        cJSON_Delete(a);
                        snprintf(msg, size, "out of memory");
                        return NULL;
                }
                for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save))
                        cJSON_AddItemToArray(a, cJSON_CreateString(s));
                return a;
        }
        case OB_API_FLAGS:
        case OB_API_OBJECT:
                snprintf(msg, size, "query parameter \"%s\" is an object: send it in a body",
                         p->name);
                return NULL;
        case OB_API_STRING:
        default:
                return cJSON_CreateString(v);
        }
}

struct query_ctx {
        const ob_api_op *op;
        cJSON *args;
        const char *const *skip;
        char msg[512];
        bool failed;
};

static enum MHD_Result query_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
        struct query_ctx *q = cls;
        cJSON *v;

        for (const char *const *s = q->skip; s && *s; s++)
                if (streq(*s, key))
                        return MHD_YES;
        if (cJSON_GetObjectItemCaseSensitive(q->args, key)) {
                snprintf(q->msg, sizeof(q->msg), "parameter \"%s\" given twice", key);
                q->failed = true;
                return MHD_NO;
        }
        v = query_value(param_of(q->op, key), value ? value : "", q->msg, sizeof(q->msg));
        if (!v) {
                q->failed = true;
                return MHD_NO;
        }
        cJSON_AddItemToObject(q->args, key, v);
        return MHD_YES;
}

/* The JSON body's members merged into args (a path parameter in the body is
 * refused: the path says which). */
static int merge_body(ob_srv_req *r, cJSON *args, unsigned *ret_status, cJSON **ret_json)
{
        ob_json_doc doc = {0};
        ob_error err = {0};
        cJSON *m;
        int res;

        if (r->body_len == 0)
                return 0;
        res = ob_json_parse(r->body, r->body_len, OB_SRV_MAX_BODY, &doc, &err);
        if (res < 0) {
                *ret_status = 400;
                *ret_json = err.line ? ob_srv_error_json("invalid", "body: %u:%u: %s", err.line,
                                                         err.column, err.message)
                                     : ob_srv_error_json("invalid", "body: %s", err.message);
                return res;
        }
        if (!cJSON_IsObject(doc.root)) {
                *ret_status = 400;
                *ret_json =
                    ob_srv_error_json("invalid", "body: 1:1: expected a JSON object, got %s",
                                      ob_json_type_name(doc.root));
                ob_json_doc_done(&doc);
                return -EINVAL;
        }
        while ((m = doc.root->child)) {
                if (cJSON_GetObjectItemCaseSensitive(args, m->string)) {
                        unsigned line, col;
                        ob_json_position(&doc, m, true, &line, &col);
                        *ret_status = 400;
                        *ret_json =
                            ob_srv_error_json("invalid", "body: %u:%u: \"%s\" is given by the path",
                                              line, col, m->string);
                        ob_json_doc_done(&doc);
                        return -EINVAL;
                }
                cJSON_AddItemToObject(args, m->string, cJSON_DetachItemViaPointer(doc.root, m));
        }
        ob_json_doc_done(&doc);
        return 0;
}

static int add_headers(ob_srv_req *r, cJSON *args)
{
        for (size_t i = 0; i < OB_API_MAX_PARAMS && r->op->params[i].name; i++) {
                const ob_api_param *p = &r->op->params[i];
                const char *v;
                if (p->where != OB_API_HEADER || !p->header)
                        continue;
                v = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, p->header);
                if (v && !cJSON_GetObjectItemCaseSensitive(args, p->name))
                        cJSON_AddStringToObject(args, p->name, v);
        }
        return 0;
}

int ob_srv_build_args(ob_srv_req *r, const char *const *skip, cJSON **ret, unsigned *ret_status,
                      cJSON **ret_json)
{
        cJSON *args = cJSON_Duplicate(r->path_args, true);
        struct query_ctx q = {.op = r->op, .skip = skip};
        const char *method = r->op->method;

        if (!args)
                return -ENOMEM;
        q.args = args;
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_one, &q);
        if (q.failed) {
                *ret_status = 400;
                *ret_json = ob_srv_error_json("invalid", "%s", q.msg);
                cJSON_Delete(args);
                return -EINVAL;
        }
        if ((streq(method, "GET") || streq(method, "DELETE")) && r->body_len) {
                *ret_status = 400;
                *ret_json = ob_srv_error_json("invalid",
                                              "a %s takes its arguments in the query "
                                              "string, not in a body",
                                              method);
                cJSON_Delete(args);
                return -EINVAL;
        }
        if (!streq(method, "GET") && !streq(method, "DELETE") &&
            merge_body(r, args, ret_status, ret_json) < 0) {
                cJSON_Delete(args);
                return -EINVAL;
        }
        add_headers(r, args);
        *ret = args;
        return 0;
}
