/* policy_diag.c - the list of problems found while loading policies. */
#include "policy/policy.h"

#include "util/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void cs_policy_diags_init(cs_policy_diags *d)
{
    d->items = NULL;
    d->n = d->cap = 0;
}

void cs_policy_diags_free(cs_policy_diags *d)
{
    if (d == NULL) return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].msg);
    }
    free(d->items);
    cs_policy_diags_init(d);
}

void cs_policy_diags_add(cs_policy_diags *d, const char *file, int line, int col, const char *fmt, ...)
{
    if (d == NULL) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->items = cs_grow(d->items, &d->cap, d->n + 1, sizeof *d->items);
    d->items[d->n++] = (cs_policy_diag){cs_strdup(file ? file : "<input>"), line, col, cs_strdup(msg)};
}
