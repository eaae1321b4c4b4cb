/* SPDX-License-Identifier: Apache-2.0 */
/* The compiler's insides: partial evaluation (residual.c) into formulas over
 * the resource's attributes, their DNF, and rule emission (compile.c). */
#pragma once

#include <inttypes.h>

#include "common/macros.h"
#include "policy/policy-internal.h"

#define CC_MAX_TERMS 256 /* DNF terms per policy and action */
#define CC_MAX_LITS  64  /* literals per term */

typedef enum cc_akind {
        CA_PATH, /* resource.path like pattern */
        CA_HOST, /* resource.host like pattern */
        CA_PORT, /* resource.port <op> n */
} cc_akind;

/* An atom of a residual formula. Exact matches are literal-only patterns. */
typedef struct cc_atom {
        cc_akind kind;
        const pol_pat_elem *pat;
        size_t n_pat;
        pol_ekind op; /* CA_PORT: PE_LT, PE_LE, PE_GT, PE_GE, PE_EQ */
        int64_t n;
        const pol_expr *at; /* where it came from, for errors */
} cc_atom;

typedef enum cc_fkind {
        CF_FALSE,
        CF_TRUE,
        CF_ATOM,
        CF_AND,
        CF_OR,
        CF_NOT,
} cc_fkind;

typedef struct cc_form {
        cc_fkind kind;
        cc_atom atom;
        struct cc_form *l, *r; /* CF_NOT uses l */
} cc_form;

typedef struct cc_lit {
        const cc_atom *atom;
        bool neg;
} cc_lit;

typedef struct cc_term {
        cc_lit *lits;
        size_t n;
} cc_term;

typedef struct cc_dnf {
        cc_term *terms;
        size_t n;
} cc_dnf;

typedef struct cctx {
        const pol_policy *p;
        const char *principal;
        const char *action;
        ob_cap_kind kind;
        const char *rtype; /* "File" or "Endpoint" */
        ob_error *err;
        bool failed;
        void **allocs; /* everything below lives until the next policy */
        size_t n_allocs, cap_allocs;
} cctx;

/* Fills *c->err once (naming the policy, the action and the position of at,
 * or the policy's when at is NULL) and returns -EINVAL. */
int cc_fail(cctx *c, const pol_expr *at, const char *fmt, ...) _printf_(3, 4);
/* Zeroed memory that lives until the policy is done; NULL on ENOMEM. */
void *cc_alloc(cctx *c, size_t size);

/* The policy's residual formula for c->principal, c->action (scope of the
 * resource and every condition). */
int cc_policy_formula(cctx *c, cc_form **ret);
/* Disjunctive normal form of f (of !f when neg); port atoms are negated by
 * flipping their comparison. Bounded by CC_MAX_TERMS and CC_MAX_LITS. */
int cc_to_dnf(cctx *c, const cc_form *f, bool neg, cc_dnf *ret);
/* Narrows [*lo, *hi] by `port op n`. */
void cc_port_bounds(pol_ekind op, int64_t n, int64_t *lo, int64_t *hi);
