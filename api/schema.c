/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON Schemas of the operations and the OpenAPI 3.1 document, all
 * generated from the table (api.h), so that REST, MCP and the document
 * cannot drift apart. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "common/macros.h"

static cJSON *type_schema(const ob_api_param *p)
{
        cJSON *s = cJSON_CreateObject();

        switch (p->type) {
        case OB_API_STRING:
                cJSON_AddStringToObject(s, "type", "string");
                break;
        case OB_API_INTEGER:
                cJSON_AddStringToObject(s, "type", "integer");
                break;
        case OB_API_NUMBER:
                cJSON_AddStringToObject(s, "type", "number");
                break;
        case OB_API_BOOLEAN:
                cJSON_AddStringToObject(s, "type", "boolean");
                break;
        case OB_API_STRINGS:
                cJSON_AddStringToObject(s, "type", "array");
                cJSON_AddStringToObject(cJSON_AddObjectToObject(s, "items"), "type", "string");
                break;
        case OB_API_FLAGS:
                cJSON_AddStringToObject(s, "type", "object");
                cJSON_AddStringToObject(cJSON_AddObjectToObject(s, "additionalProperties"), "type",
                                        "boolean");
                break;
        case OB_API_OBJECT:
                cJSON_AddStringToObject(s, "type", "object");
                break;
        }
        if (p->description)
                cJSON_AddStringToObject(s, "description", p->description);
        return s;
}

/* The object schema of op's parameters at `where` (all of them when
 * where < 0). */
static cJSON *params_schema(const ob_api_op *op, int where)
{
        cJSON *s = cJSON_CreateObject(), *props, *req;

        cJSON_AddStringToObject(s, "type", "object");
        props = cJSON_AddObjectToObject(s, "properties");
        req = cJSON_CreateArray();
        for (const ob_api_param *p = op->params; p->name; p++) {
                if (where >= 0 && (int)p->where != where)
                        continue;
                cJSON_AddItemToObject(props, p->name, type_schema(p));
                if (p->required)
                        cJSON_AddItemToArray(req, cJSON_CreateString(p->name));
        }
        if (cJSON_GetArraySize(req) > 0)
                cJSON_AddItemToObject(s, "required", req);
        else
                cJSON_Delete(req);
        cJSON_AddBoolToObject(s, "additionalProperties", false);
        return s;
}

cJSON *ob_api_input_schema(const ob_api_op *op)
{
        return params_schema(op, -1);
}

cJSON *ob_api_output_schema(const ob_api_op *op)
{
        cJSON *s = op->output_schema ? cJSON_Parse(op->output_schema) : NULL;

        if (!s) { /* a table bug; tests/api catches it */
                s = cJSON_CreateObject();
                cJSON_AddStringToObject(s, "type", "object");
        }
        return s;
}

static bool body_in_query(const ob_api_op *op)
{
        return streq(op->method, "GET") || streq(op->method, "DELETE");
}

static void add_parameters(cJSON *oper, const ob_api_op *op)
{
        cJSON *params = cJSON_CreateArray();

        for (const ob_api_param *p = op->params; p->name; p++) {
                const char *in = p->where == OB_API_PATH     ? "path"
                                 : p->where == OB_API_HEADER ? "header"
                                 : body_in_query(op)         ? "query"
                                                             : NULL;
                cJSON *o;
                if (!in)
                        continue;
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", p->where == OB_API_HEADER ? p->header : p->name);
                cJSON_AddStringToObject(o, "in", in);
                cJSON_AddBoolToObject(o, "required", p->where == OB_API_PATH || p->required);
                if (p->description)
                        cJSON_AddStringToObject(o, "description", p->description);
                cJSON *ts = type_schema(p);
                cJSON_DeleteItemFromObjectCaseSensitive(ts, "description");
                cJSON_AddItemToObject(o, "schema", ts);
                cJSON_AddItemToArray(params, o);
        }
        if (cJSON_GetArraySize(params) > 0)
                cJSON_AddItemToObject(oper, "parameters", params);
        else
                cJSON_Delete(params);
}

static cJSON *error_response(const char *what)
{
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "description", what);
        cJSON *s = cJSON_AddObjectToObject(
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(r, "content"), "application/json"),
            "schema");
        cJSON_AddStringToObject(s, "$ref", "#/components/schemas/Error");
        return r;
}

static cJSON *operation(const ob_api_op *op)
{
        cJSON *o = cJSON_CreateObject(), *resp, *ok, *content;
        char status[8];

        cJSON_AddStringToObject(o, "operationId", op->name);
        cJSON_AddStringToObject(o, "summary", op->title);
        cJSON_AddStringToObject(o, "description", op->description);
        cJSON_AddItemToObject(o, "x-omnibase-cli", cJSON_CreateString(op->cli));
        add_parameters(o, op);
        if (!body_in_query(op)) {
                cJSON *rb = cJSON_AddObjectToObject(o, "requestBody");
                cJSON_AddBoolToObject(rb, "required", false);
                cJSON_AddItemToObject(
                    cJSON_AddObjectToObject(cJSON_AddObjectToObject(rb, "content"),
                                            "application/json"),
                    "schema", params_schema(op, OB_API_BODY));
        }
        resp = cJSON_AddObjectToObject(o, "responses");
        ok = cJSON_CreateObject();
        cJSON_AddStringToObject(ok, "description", op->title);
        content = cJSON_AddObjectToObject(ok, "content");
        if (op->flags & OB_API_STREAM) {
                cJSON *sse = cJSON_AddObjectToObject(content, "text/event-stream");
                cJSON_AddStringToObject(cJSON_AddObjectToObject(sse, "schema"), "type", "string");
                cJSON_AddStringToObject(sse, "x-omnibase-event",
                                        "id: <seq>, event: <type>, data: <the event JSON>");
        } else {
                cJSON_AddItemToObject(cJSON_AddObjectToObject(content, "application/json"),
                                      "schema", ob_api_output_schema(op));
        }
        snprintf(status, sizeof(status), "%d", op->http_status ? op->http_status : 200);
        cJSON_AddItemToObject(resp, status, ok);
        cJSON_AddItemToObject(resp, "default", error_response("an error (see the code)"));
        return o;
}

static void lower(const char *s, char *buf, size_t size)
{
        size_t i = 0;
        for (; s[i] && i + 1 < size; i++)
                buf[i] = (char)tolower((unsigned char)s[i]);
        buf[i] = '\0';
}

cJSON *ob_api_openapi(void)
{
        cJSON *doc = cJSON_CreateObject(), *info, *paths, *schemas, *err, *props;
        size_t n;
        const ob_api_op *ops = ob_api_ops(&n);

        cJSON_AddStringToObject(doc, "openapi", "3.1.0");
        info = cJSON_AddObjectToObject(doc, "info");
        cJSON_AddStringToObject(info, "title", "omnibase");
        cJSON_AddStringToObject(info, "version", "1");
        cJSON_AddStringToObject(info, "description",
                                "Sandboxes and long-lived environments under gVisor. Generated "
                                "from the operation table that also makes the MCP tools "
                                "(docs/server.md).");
        paths = cJSON_AddObjectToObject(doc, "paths");
        for (size_t i = 0; i < n; i++) {
                cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, ops[i].route);
                char method[8];
                if (!item)
                        item = cJSON_AddObjectToObject(paths, ops[i].route);
                lower(ops[i].method, method, sizeof(method));
                cJSON_AddItemToObject(item, method, operation(&ops[i]));
        }
        schemas = cJSON_AddObjectToObject(cJSON_AddObjectToObject(doc, "components"), "schemas");
        err = cJSON_AddObjectToObject(schemas, "Error");
        cJSON_AddStringToObject(err, "type", "object");
        props = cJSON_AddObjectToObject(
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(err, "properties"), "error"),
            "properties");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "code"), "type", "string");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "message"), "type", "string");
        cJSON_AddItemToObject(err, "required",
                              cJSON_CreateStringArray((const char *[]){"error"}, 1));
        return doc;
}
