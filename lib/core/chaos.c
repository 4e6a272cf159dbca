/*
 * chaos.c - faults on request, for users' own tests: supv_chaos() and
 * the SUPV_CHAOS environment variable make chosen workers fail, hang or
 * miss their ready deadline on their N-th (or every N-th) run.  A rule
 * hangs off its child's spec; a run learns its fate when it is numbered
 * (run.c, with the tree's lock held), so a tree without rules pays one
 * test of a NULL pointer per run start and one branch in the thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define CHAOS_MAX_RULES 64

static bool
parse_uint(const char **p, unsigned long max, unsigned long *out)
{
	char *end;

	if (**p < '0' || **p > '9')
		return false;
	errno = 0;
	*out = strtoul(*p, &end, 10);
	if (errno != 0 || *out > max)
		return false;
	*p = end;
	return true;
}

/* PATH:ACTION[=CODE][@N|%N], up to a ',' or the end. */
static int
parse_rule(const char **sp, struct supv__chaos_rule *r)
{
	static const struct { const char *name; enum supv__chaos_act act; } acts[] = {
		{ "fail", SUPV__CHAOS_FAIL },
		{ "hang", SUPV__CHAOS_HANG },
		{ "noready", SUPV__CHAOS_NOREADY },
	};
	const char *p = *sp, *colon = NULL, *end;
	unsigned long v;
	size_t len, i;

	for (end = p; *end != '\0' && *end != ','; end++)
		if (*end == ':')
			colon = end;
	if (colon == NULL || colon == p || (size_t)(colon - p) >= sizeof(r->path))
		return EINVAL;
	memcpy(r->path, p, (size_t)(colon - p));
	r->path[colon - p] = '\0';
	p = colon + 1;
	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		len = strlen(acts[i].name);
		if (strncmp(p, acts[i].name, len) == 0 && strchr("=@%,", p[len]) != NULL)
			break;
	}
	if (i == sizeof(acts) / sizeof(acts[0]))
		return EINVAL;
	r->c = (struct supv__chaos){ .act = acts[i].act, .code = 1, .n = 1 };
	p += len;
	if (*p == '=') {
		/* The whole range of int, INT_MIN included. */
		bool neg = *++p == '-';

		p += neg;
		if (r->c.act != SUPV__CHAOS_FAIL ||
		    !parse_uint(&p, neg ? (unsigned long)INT_MAX + 1 : INT_MAX, &v))
			return EINVAL;
		r->c.code = neg ? (int)(-(long long)v) : (int)v;
	}
	if (*p == '@' || *p == '%') {
		r->c.every = *p++ == '%';
		if (!parse_uint(&p, UINT_MAX, &v) || v == 0)
			return EINVAL;
		r->c.n = (unsigned)v;
	}
	if (p != end)
		return EINVAL;
	*sp = *end == ',' ? end + 1 : end;
	return 0;
}

/* The worker that path names below top ("top/a/b"), or NULL. */
static struct child *
resolve(struct supv *top, const char *path, int *rc)
{
	struct child *c;
	int e;

	if ((e = supv__resolve_path(top, path, &c)) != 0) {
		*rc = e == ENOENT ? ENOENT : EINVAL;
		return NULL;
	}
	if (c->sup != NULL || c->is_proc || c->fn == NULL) {
		*rc = EINVAL;	/* not a worker */
		return NULL;
	}
	return c;
}

/* Takes every rule off s's subtree, onto the list at *old. */
static void
clear_rules(struct supv *s, struct supv__chaos ***old, size_t *n, size_t cap)
{
	struct child *c;

	TAILQ_FOREACH(c, &s->children, order) {
		if (c->chaos != NULL && *n < cap) {
			(*old)[(*n)++] = c->chaos;
			c->chaos = NULL;
		}
		if (c->sup != NULL)
			clear_rules(c->sup, old, n, cap);
	}
}

static size_t
count_rules(const struct supv *s)
{
	const struct child *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &s->children, order)
		n += (c->chaos != NULL) + (c->sup != NULL ? count_rules(c->sup) : 0);
	return n;
}

/*
 * Parses spec (NULL or "": no rule) and allocates its rules, without a
 * lock; nothing is applied yet.
 */
int
supv__chaos_prepare(const char *spec, struct supv__chaos_prep *pp)
{
	const char *p = spec;
	size_t i;
	int rc = 0;

	memset(pp, 0, sizeof(*pp));
	if (spec == NULL || *spec == '\0')
		return 0;
	if (spec[strlen(spec) - 1] == ',')
		return EINVAL;		/* an empty last rule */
	if ((pp->rules = supv__xcalloc(CHAOS_MAX_RULES, sizeof(*pp->rules))) == NULL)
		return ENOMEM;
	while (*p != '\0' && rc == 0) {
		if (pp->n == CHAOS_MAX_RULES)
			rc = EINVAL;
		else
			rc = parse_rule(&p, &pp->rules[pp->n++]);
	}
	for (i = 0; i < pp->n && rc == 0; i++)
		if ((pp->rules[i].fresh = supv__xcalloc(1,
		    sizeof(*pp->rules[i].fresh))) == NULL)
			rc = ENOMEM;
	if (rc != 0)
		supv__chaos_prep_free(pp);
	return rc;
}

/*
 * The first half of replacing the rules of sup's subtree with those of
 * pp: every path resolved and checked, and the room to take the old
 * rules off allocated.  It changes nothing: a failure here, or anything
 * the caller finds before supv__chaos_commit(), leaves the rules as they
 * were.  A caller that dropped the lock since checks again.  Called with
 * the tree's lock held.
 */
int
supv__chaos_check(struct supv *sup, struct supv__chaos_prep *pp)
{
	size_t i, j, cap;
	int rc = 0;

	free(pp->old);		/* checked before: again, for what changed since */
	pp->old = NULL;
	pp->nold = pp->cap = 0;
	for (i = 0; i < pp->n && rc == 0; i++) {
		pp->rules[i].child = resolve(sup, pp->rules[i].path, &rc);
		for (j = 0; j < i && rc == 0; j++)
			if (pp->rules[j].child == pp->rules[i].child)
				rc = EINVAL;	/* one rule per child */
	}
	if (rc != 0)
		return rc;
	if ((cap = count_rules(sup)) > 0 &&
	    (pp->old = calloc(cap, sizeof(*pp->old))) == NULL)
		return ENOMEM;
	pp->cap = cap;
	return 0;
}

/*
 * The second half, which cannot fail: the old rules go (freed by
 * supv__chaos_prep_free()), the new come.  Called with the tree's lock
 * held since supv__chaos_check().
 */
void
supv__chaos_commit(struct supv *sup, struct supv__chaos_prep *pp)
{
	size_t i;

	clear_rules(sup, &pp->old, &pp->nold, pp->cap);
	for (i = 0; i < pp->n; i++) {
		struct supv__chaos *k = pp->rules[i].fresh;

		*k = pp->rules[i].c;
		k->base = pp->rules[i].child->epochs;
		pp->rules[i].child->chaos = k;
		pp->rules[i].fresh = NULL;
	}
}

void
supv__chaos_prep_free(struct supv__chaos_prep *pp)
{
	size_t i;

	for (i = 0; i < pp->nold; i++)
		free(pp->old[i]);
	free(pp->old);
	for (i = 0; pp->rules != NULL && i < pp->n; i++)
		free(pp->rules[i].fresh);
	free(pp->rules);
	memset(pp, 0, sizeof(*pp));
}

SUPV_EXPORT int
supv_chaos(struct supv *sup, const char *spec)
{
	struct supv__chaos_prep prep;
	int rc;

	if (sup == NULL)
		return EINVAL;
	if ((rc = supv__check_owner(sup)) != 0 ||
	    (rc = supv__chaos_prepare(spec, &prep)) != 0)
		return rc;
	supv__lock_sup(sup);
	if ((rc = supv__chaos_check(sup, &prep)) == 0)
		supv__chaos_commit(sup, &prep);
	supv__unlock_sup(sup);
	supv__chaos_prep_free(&prep);
	return rc;
}
