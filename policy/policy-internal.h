/* SPDX-License-Identifier: Apache-2.0 */
/* The parsed form of a Cedar JSON policy set (omnibase's subset), shared by
 * the parser, the evaluator, the checker and the compiler. Every node keeps
 * the line:column of the JSON value it came from. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <omnibase/policy.h>

#define OB_POLICY_MAX_ID_LEN 256
/* Elements of one set literal: set equality is quadratic, so bounded. */
#define OB_POLICY_MAX_SET 1000

typedef enum pol_vtype {
        PV_BOOL,
        PV_LONG,
        PV_STRING,
        PV_ENTITY,
        PV_SET,
        PV_RECORD, /* only the (empty) context record exists in the subset */
} pol_vtype;

/* A value: constants in the tree and the evaluator's results. Strings are
 * borrowed from the tree or the request; set items from an arena. */
typedef struct pol_value {
        pol_vtype type;
        bool b;
        int64_t l;
        const char *s;     /* string, or entity id */
        const char *etype; /* entity type */
        const struct pol_value *items;
        size_t n_items;
} pol_value;

typedef enum pol_var {
        PVAR_PRINCIPAL,
        PVAR_ACTION,
        PVAR_RESOURCE,
        PVAR_CONTEXT,
} pol_var;

typedef enum pol_ekind {
        PE_VALUE,
        PE_VAR,
        PE_NOT,
        PE_AND,
        PE_OR,
        PE_EQ,
        PE_NE,
        PE_LT,
        PE_LE,
        PE_GT,
        PE_GE,
        PE_IN,
        PE_CONTAINS,
        PE_ATTR,
        PE_HAS,
        PE_LIKE,
        PE_IS,
        PE_SET,
} pol_ekind;

/* One element of a `like` pattern: a literal run or a wildcard. */
typedef struct pol_pat_elem {
        bool wildcard;
        char *lit;
} pol_pat_elem;

typedef struct pol_expr {
        pol_ekind kind;
        unsigned line, column;
        struct pol_expr *a, *b;  /* operands (b unused for unary ones) */
        pol_var var;             /* PE_VAR */
        pol_value val;           /* PE_VALUE */
        char *str;               /* attribute (PE_ATTR, PE_HAS), entity type (PE_IS) */
        struct pol_expr **items; /* PE_SET */
        size_t n_items;
        pol_pat_elem *pat; /* PE_LIKE */
        size_t n_pat;
} pol_expr;

typedef enum pol_scope_op {
        PS_ALL,
        PS_EQ,     /* == entity */
        PS_IN,     /* in entity (no hierarchy: same as ==) */
        PS_IS,     /* is type [in entity] */
        PS_IN_SET, /* action in [entities] */
} pol_scope_op;

typedef struct pol_entity {
        char *type;
        char *id;
} pol_entity;

typedef struct pol_scope {
        pol_scope_op op;
        unsigned line, column;
        char *is_type;   /* PS_IS */
        bool has_entity; /* PS_EQ, PS_IN, PS_IS with "in" */
        pol_entity entity;
        pol_entity *entities; /* PS_IN_SET */
        size_t n_entities;
} pol_scope;

typedef struct pol_cond {
        bool unless;
        pol_expr *body;
} pol_cond;

typedef struct pol_policy {
        char *id;
        bool forbid;
        unsigned line, column; /* of the policy object */
        pol_scope principal, action, resource;
        pol_cond *conds;
        size_t n_conds;
} pol_policy;

/* The set's tree lives in one arena: few large allocations, freed at once. */
typedef struct pol_chunk {
        struct pol_chunk *next;
        size_t used, cap;
        max_align_t data[];
} pol_chunk;

struct ob_policy_set {
        pol_policy *policies;
        size_t n_policies;
        pol_chunk *chunks;
};

/* Zeroed memory from the set's arena (freed with the set); NULL on ENOMEM. */
void *pol_alloc(ob_policy_set *set, size_t size);
/* A copy of s in the set's arena; NULL on ENOMEM. */
char *pol_strdup(ob_policy_set *set, const char *s);

/* A concrete request as the evaluator sees it: the resource's attributes
 * are derived from its id (DESIGN §4). */
typedef struct pol_request {
        const char *principal; /* Component id */
        const char *action;    /* Action id, "FILE_READ"... */
        const char *rtype;     /* "File" or "Endpoint" */
        const char *rid;
        const char *path; /* File */
        const char *host; /* Endpoint */
        int64_t port;
} pol_request;

/* Result of evaluating one policy for one request. */
typedef enum pol_result {
        PR_NOT_SATISFIED,
        PR_SATISFIED,
        PR_ERROR,
} pol_result;

/* Evaluates one policy; on PR_ERROR writes a one-line reason to msg. */
pol_result pol_eval_policy(const pol_policy *p, const pol_request *req, char *msg, size_t msg_len);

/* Cedar `like` over a pattern of literal runs and wildcards. */
bool pol_like(const pol_pat_elem *pat, size_t n_pat, const char *s);

/* Cedar `==` on two values (never an error; different types are unequal). */
bool pol_value_eq(const pol_value *a, const pol_value *b);

/* Canonical form of a request target "host:port" or "[v6]:port": the
 * host in lower case (*ret_host), the port in 1..65535, and the resource id
 * built from them (*ret_rid, "[v6]:port" for IPv6). -EINVAL otherwise. */
int pol_endpoint_canonical(const char *target, char **ret_host, int64_t *ret_port, char **ret_rid);

/* Whether a scope admits an entity, without hierarchy (Cedar with no
 * parents: `in` means `==`). */
bool pol_scope_match(const pol_scope *s, const char *type, const char *id);

/* Name of an expression kind as written in the JSON format ("&&", "like"...). */
const char *pol_ekind_name(pol_ekind k);
