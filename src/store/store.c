/* store.c - backend selection and the shared audit entry encoding. */
#include "store/store.h"

#include "util/alloc.h"
#include "util/iso_time.h"
#include "util/jcs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int cs_store_open(const char *storage, const char *path, cs_store **out, cs_err *err)
{
    const cs_store_ops *ops = NULL;
    if (storage == NULL || !strcmp(storage, "sqlite"))
        ops = &cs_store_sqlite_ops;
    else
        return cs_err_set(err, CS_EINVAL, "storage backend '%s' is not available in this build",
                          storage);
    cs_store *s = cs_calloc(1, sizeof *s);
    s->ops = ops;
    int rc = ops->open(s, path, err);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void cs_store_close(cs_store *s)
{
    if (s == NULL) return;
    s->ops->close(s);
    free(s);
}

/* `Agent::"x"` -> {"kind":"agent","name":"x"}; System::"countersign" -> kind system.
 * Written canonically: the keys are in RFC 8785 order. */
static int write_actor(const char *uid, cs_buf *b)
{
    const char *sep = uid ? strstr(uid, "::\"") : NULL;
    const char *kind = "system", *name = uid ? uid : "";
    size_t n = strlen(name);
    if (sep) {
        kind = !strncmp(uid, "Agent", 5) ? "agent" : !strncmp(uid, "User", 4) ? "user" : "system";
        name = sep + 3;
        n = strlen(name);
        if (n > 0 && name[n - 1] == '"') n--;
    }
    int rc = cs_buf_puts(b, "{\"kind\":");
    if (!rc) rc = cs_jcs_write_string(kind, strlen(kind), b);
    if (!rc) rc = cs_buf_puts(b, ",\"name\":");
    if (!rc) rc = cs_jcs_write_string(name, n, b);
    return rc ? rc : cs_buf_putc(b, '}');
}

/* Writes the entry's text before its index ("...,\"index\":") to head and after it to
 * tail. The layout follows the event catalogue draft in docs/audit.md: common members
 * at the top, the event's own members under "details". The members are written in
 * their canonical (RFC 8785) order, so the text is the entry's JCS form without
 * building a JSON tree per entry. */
static int write_entry(const cs_audit_row *row, cs_buf *head, cs_buf *tail)
{
    char when[64];
    size_t wn = cs_iso_time(row->time_ms, when);
    const char *src = row->source ? row->source : "";
    int rc = cs_buf_puts(head, "{\"action_id\":");
    if (!rc)
        rc = row->action_id ? cs_jcs_write_string(row->action_id, strlen(row->action_id), head)
                            : cs_buf_puts(head, "null");
    if (!rc) rc = cs_buf_puts(head, ",\"actor\":");
    if (!rc) rc = write_actor(row->actor, head);
    if (!rc) rc = cs_buf_puts(head, ",\"details\":");
    if (!rc)
        rc = row->details_text ? cs_buf_puts(head, row->details_text)
             : row->details    ? cs_jcs_write(row->details, head)
                               : cs_buf_puts(head, "null");
    if (!rc) rc = cs_buf_puts(head, ",\"event\":");
    if (!rc) rc = cs_jcs_write_string(row->type, strlen(row->type), head);
    if (!rc) rc = cs_buf_puts(head, ",\"index\":");
    if (!rc) rc = cs_buf_puts(tail, ",\"source\":");
    if (!rc) rc = cs_jcs_write_string(src, strlen(src), tail);
    if (!rc) rc = cs_buf_puts(tail, ",\"time\":");
    if (!rc) rc = cs_jcs_write_string(when, wn, tail);
    if (!rc) rc = cs_buf_puts(tail, ",\"v\":1}");
    return rc;
}

int cs_audit_entry_parts(const cs_audit_row *row, char **head, char **tail)
{
    cs_buf h, t;
    /* 960: under glibc's large-bin size, no consolidation per entry. */
    cs_buf_init_reserve(&h, (size_t)1 << 30, 960);
    cs_buf_init_reserve(&t, (size_t)1 << 30, 128);
    int rc = write_entry(row, &h, &t);
    if (rc) {
        cs_buf_free(&h);
        cs_buf_free(&t);
        return rc;
    }
    *head = cs_buf_steal(&h);
    *tail = cs_buf_steal(&t);
    return 0;
}

long long cs_action_id_key(const char *id)
{
    if (id == NULL || strncmp(id, "act_", 4) != 0) return 0;
    unsigned long long k = 0;
    for (int i = 0; i < CS_ACTION_KEY_DIGITS; i++) {
        char c = id[4 + i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return 0;
        k = k << 4 | (unsigned)v;
    }
    /* A row key is a positive 64-bit integer. */
    return k > 0 && k <= (unsigned long long)INT64_MAX ? (long long)k : 0;
}

char *cs_audit_entry_join(long long index, const char *head, const char *tail)
{
    char num[24];
    size_t hn = strlen(head), nn = (size_t)snprintf(num, sizeof num, "%lld", index),
           tn = strlen(tail);
    char *e = cs_malloc(hn + nn + tn + 1);
    memcpy(e, head, hn);
    memcpy(e + hn, num, nn);
    memcpy(e + hn + nn, tail, tn + 1);
    return e;
}

char *cs_audit_entry_json(long long index, const cs_audit_row *row)
{
    if (row->pre_head && row->pre_tail)
        return cs_audit_entry_join(index, row->pre_head, row->pre_tail);
    char *head = NULL, *tail = NULL;
    if (cs_audit_entry_parts(row, &head, &tail) != 0) return NULL;
    char *e = cs_audit_entry_join(index, head, tail);
    free(head);
    free(tail);
    return e;
}
