/* store.c - backend selection and the shared audit entry encoding. */
#include "store/store.h"

#include "util/alloc.h"
#include "util/jcs.h"

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

/* `Agent::"x"` -> {"kind":"agent","name":"x"}; System::"countersign" -> kind system. */
static json_t *actor_json(const char *uid)
{
    const char *sep = uid ? strstr(uid, "::\"") : NULL;
    if (sep == NULL) return json_pack("{s:s,s:s}", "kind", "system", "name", uid ? uid : "");
    const char *kind = !strncmp(uid, "Agent", 5)  ? "agent"
                       : !strncmp(uid, "User", 4) ? "user"
                                                  : "system";
    const char *name = sep + 3;
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '"') n--;
    return json_pack("{s:s,s:s%}", "kind", kind, "name", name, n);
}

static json_t *rfc3339(long long ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[96];
    snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string(s);
}

/* The entry layout follows the event catalogue draft in docs/audit.md: common
 * members at the top, the event's own members under "details". */
char *cs_audit_entry_json(long long index, const cs_audit_row *row)
{
    json_t *e = json_pack("{s:i,s:I,s:o,s:s,s:o,s:s,s:O}", "v", 1, "index", (json_int_t)index,
                          "time", rfc3339(row->time_ms), "event", row->type, "actor",
                          actor_json(row->actor), "source", row->source ? row->source : "",
                          "details", row->details ? row->details : json_null());
    json_object_set_new(e, "action_id", row->action_id ? json_string(row->action_id) : json_null());
    char *s = cs_jcs_dumps(e);
    json_decref(e);
    return s;
}
