/* SPDX-License-Identifier: Apache-2.0 */
/* The compiler: a checked policy set and one principal → a capability set.
 * Each policy is partially evaluated for the principal and for each action
 * its scope admits; what is left is a formula over resource.path (File) or
 * resource.host and resource.port (Endpoint). Its disjunctive normal form
 * becomes one rule per term: a path pattern, or a host pattern with a port
 * range. permit → grants, forbid → denials; both keep the policy id. What
 * cannot be expressed exactly is an error with the policy id and position. */
#define _GNU_SOURCE 1
#include <ctype.h>
#include <stdarg.h>

#include "common/error.h"
#include "policy/compile-internal.h"

static const char *const kinds[] = {"FILE_READ", "FILE_WRITE", "FILE_EXEC", "NETWORK_CONNECT"};

/* See compile-internal.h: the first failure fills *err, later ones keep it. */
int cc_fail(cctx *c, const pol_expr *at, const char *fmt, ...)
{
        char what[400];
        va_list ap;

        if (c->failed)
                return -EINVAL;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        c->failed = true;
        return ob_error_set(c->err, at ? at->line : c->p->line, at ? at->column : c->p->column,
                            EINVAL, "policy \"%s\" cannot be compiled for %s: %s", c->p->id,
                            c->action, what);
}

/* Zeroed memory owned by c until cc_reset(); NULL on ENOMEM. */
void *cc_alloc(cctx *c, size_t size)
{
        void *p;
        if (c->n_allocs == c->cap_allocs) {
                size_t ncap = c->cap_allocs ? c->cap_allocs * 2 : 64;
                void **na = realloc(c->allocs, ncap * sizeof(*na));
                if (!na)
                        return NULL;
                c->allocs = na;
                c->cap_allocs = ncap;
        }
        p = calloc(1, size ? size : 1);
        if (p)
                c->allocs[c->n_allocs++] = p;
        return p;
}

static void cc_reset(cctx *c)
{
        for (size_t i = 0; i < c->n_allocs; i++)
                free(c->allocs[i]);
        c->n_allocs = 0;
}

/* Appends "lit" to buf, escaping '*' as "\*" (capability pattern syntax). */
static int put_literal(cctx *c, const pol_expr *at, char *buf, size_t *len, size_t size,
                       const char *lit, bool next_is_wildcard)
{
        for (const char *s = lit; *s; s++) {
                if (*len + 3 >= size)
                        return cc_fail(c, at, "pattern too long");
                if (*s == '*')
                        buf[(*len)++] = '\\';
                buf[(*len)++] = *s;
        }
        if (next_is_wildcard && lit[0] && lit[strlen(lit) - 1] == '\\')
                return cc_fail(c, at,
                               "a literal backslash before a wildcard has no capability-pattern "
                               "spelling");
        buf[*len] = '\0';
        return 0;
}

/* The capability-pattern spelling of a Cedar pattern. */
static int pattern_text(cctx *c, const cc_atom *a, char *buf, size_t size)
{
        size_t len = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < a->n_pat; i++) {
                int r;
                if (a->pat[i].wildcard) {
                        if (len + 2 >= size)
                                return cc_fail(c, a->at, "pattern too long");
                        buf[len++] = '*';
                        buf[len] = '\0';
                        continue;
                }
                r = put_literal(c, a->at, buf, &len, size, a->pat[i].lit,
                                i + 1 < a->n_pat && a->pat[i + 1].wildcard);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool pattern_is_literal(const cc_atom *a)
{
        return a->n_pat == 0 || (a->n_pat == 1 && !a->pat[0].wildcard);
}

static bool same_pattern(const cc_atom *a, const cc_atom *b)
{
        if (a->n_pat != b->n_pat)
                return false;
        for (size_t i = 0; i < a->n_pat; i++)
                if (a->pat[i].wildcard != b->pat[i].wildcard ||
                    (!a->pat[i].wildcard && !streq(a->pat[i].lit, b->pat[i].lit)))
                        return false;
        return true;
}

/* The conjunction of several patterns on one attribute as one pattern:
 * *ret NULL when no string matches them all. */
static int intersect(cctx *c, const cc_atom **atoms, size_t n, const cc_atom **ret)
{
        const cc_atom *lit = NULL;

        *ret = NULL;
        for (size_t i = 0; i < n && !lit; i++)
                if (pattern_is_literal(atoms[i]))
                        lit = atoms[i];
        if (lit) {
                const char *s = lit->n_pat ? lit->pat[0].lit : "";
                for (size_t i = 0; i < n; i++)
                        if (!pol_like(atoms[i]->pat, atoms[i]->n_pat, s))
                                return 0;
                *ret = lit;
                return 0;
        }
        for (size_t i = 1; i < n; i++)
                if (!same_pattern(atoms[0], atoms[i]))
                        return cc_fail(c, atoms[i]->at,
                                       "two different wildcard patterns on the same attribute "
                                       "in one conjunction have no single-pattern spelling");
        *ret = n ? atoms[0] : NULL;
        return 0;
}

/* Adds the rule and verifies that the set kept it as written (a pattern the
 * set would normalise means something else). */
static int add_rule(cctx *c, ob_capset *set, const pol_expr *at, ob_cap_kind kind,
                    const char *target)
{
        ob_error e = {0};
        const ob_capability *cap;
        bool deny = c->p->forbid;
        int r = ob_capset_add(set, deny, kind, target, c->p->id, &e);

        if (r < 0)
                return cc_fail(c, at, "capability target \"%s\": %s", target, e.message);
        cap = ob_capset_get(set, deny, ob_capset_count(set, deny) - 1);
        if (!streq(cap->target, target))
                return cc_fail(c, at,
                               "\"%s\" is not in canonical form (the capability set would read "
                               "it as \"%s\")",
                               target, cap->target);
        return 0;
}

static int emit_file(cctx *c, ob_capset *set, ob_cap_kind kind, const cc_term *t)
{
        const cc_atom *paths[CC_MAX_LITS], *pat;
        char buf[4200];
        size_t n = 0;
        int r;

        for (size_t i = 0; i < t->n; i++) {
                if (t->lits[i].neg)
                        return cc_fail(c, t->lits[i].atom->at,
                                       "a negated pattern has no capability spelling");
                paths[n++] = t->lits[i].atom;
        }
        if (n == 0)
                return add_rule(c, set, NULL, kind, "/*");
        if ((r = intersect(c, paths, n, &pat)) < 0 || !pat)
                return r;
        if ((r = pattern_text(c, pat, buf, sizeof(buf))) < 0)
                return r;
        if (buf[0] != '/')
                return cc_fail(c, pat->at, "path pattern \"%s\" does not start with \"/\"", buf);
        return add_rule(c, set, pat->at, kind, buf);
}

static int host_text(cctx *c, const cc_atom *h, char *buf, size_t size)
{
        int r;
        if (!h) {
                snprintf(buf, size, "*");
                return 0;
        }
        if ((r = pattern_text(c, h, buf, size - 2)) < 0)
                return r;
        for (const char *s = buf; *s; s++)
                if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
                      strchr(".-_*:", *s)))
                        return cc_fail(c, h->at,
                                       "host \"%s\" can match no request (hosts are lower-case "
                                       "names or IP addresses)",
                                       buf);
        if (strchr(buf, ':')) {
                if (strchr(buf, '*'))
                        return cc_fail(c, h->at, "IPv6 host patterns are not supported");
                memmove(buf + 1, buf, strlen(buf) + 1);
                buf[0] = '[';
                strcat(buf, "]");
        }
        return 0;
}

static int emit_endpoint(cctx *c, ob_capset *set, const cc_term *t)
{
        const cc_atom *hosts[CC_MAX_LITS], *h;
        int64_t lo = 1, hi = 65535;
        char hbuf[1100], target[1200];
        const pol_expr *at = NULL;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < t->n; i++) {
                const cc_atom *a = t->lits[i].atom;
                at = a->at;
                if (a->kind == CA_PORT) {
                        cc_port_bounds(a->op, a->n, &lo, &hi);
                        continue;
                }
                if (t->lits[i].neg)
                        return cc_fail(c, a->at,
                                       "a negated host pattern has no capability "
                                       "spelling");
                hosts[n++] = a;
        }
        if (lo > hi || (r = intersect(c, hosts, n, &h)) < 0 || (n && !h))
                return lo > hi ? 0 : r;
        if ((r = host_text(c, h, hbuf, sizeof(hbuf))) < 0)
                return r;
        if (lo == 1 && hi == 65535)
                snprintf(target, sizeof(target), "%s:*", hbuf);
        else if (lo == hi)
                snprintf(target, sizeof(target), "%s:%" PRId64, hbuf, lo);
        else
                snprintf(target, sizeof(target), "%s:%" PRId64 "-%" PRId64, hbuf, lo, hi);
        return add_rule(c, set, at, OB_CAP_NETWORK_CONNECT, target);
}

static int compile_env(cctx *c, ob_capset *set, ob_cap_kind kind)
{
        cc_form *f = NULL;
        cc_dnf d = {0};
        int r = cc_policy_formula(c, &f);

        if (r < 0)
                return r;
        if ((r = cc_to_dnf(c, f, false, &d)) < 0)
                return r;
        for (size_t i = 0; i < d.n && r == 0; i++)
                r = kind == OB_CAP_NETWORK_CONNECT ? emit_endpoint(c, set, &d.terms[i])
                                                   : emit_file(c, set, kind, &d.terms[i]);
        return r;
}

static int compile_policy(cctx *c, ob_capset *set)
{
        int r = 0;

        if (!pol_scope_match(&c->p->principal, "Component", c->principal))
                return 0;
        for (size_t k = 0; k < ARRAY_SIZE(kinds) && r == 0; k++) {
                if (!pol_scope_match(&c->p->action, "Action", kinds[k]))
                        continue;
                c->action = kinds[k];
                c->kind = (ob_cap_kind)k;
                c->rtype = k == OB_CAP_NETWORK_CONNECT ? "Endpoint" : "File";
                r = compile_env(c, set, (ob_cap_kind)k);
                cc_reset(c);
        }
        return r;
}

/* Checks the set, then compiles it for principal into a new set (*ret,
 * caller frees); on failure *ret is untouched and *err names the policy. */
int ob_policy_compile(const ob_policy_set *set, const char *principal, ob_capset **ret,
                      ob_error *err)
{
        ob_capset *caps = NULL;
        cctx c = {.principal = principal, .err = err};
        int r;

        if (!set || !principal || !ret)
                return ob_error_set(err, 0, 0, EINVAL, "invalid arguments");
        if ((r = ob_policy_check(set, err)) < 0)
                return r;
        if ((r = ob_capset_new(&caps)) < 0)
                return ob_error_set(err, 0, 0, -r, "out of memory");
        if ((r = ob_capset_set_principal(caps, principal)) < 0) {
                ob_capset_free(caps);
                return ob_error_set(err, 0, 0, EINVAL, "principal \"%s\" is not a UUID", principal);
        }
        c.principal = ob_capset_principal(caps); /* lower-cased, as everywhere */
        for (size_t i = 0; i < set->n_policies && r == 0; i++) {
                c.p = &set->policies[i];
                r = compile_policy(&c, caps);
        }
        cc_reset(&c);
        free(c.allocs);
        if (r < 0) {
                ob_capset_free(caps);
                return r;
        }
        *ret = caps;
        return 0;
}
