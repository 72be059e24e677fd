/* store.c - backend selection and the shared audit entry encoding. */
#include "store/store.h"

#include "util/alloc.h"
#include "util/jcs.h"

#include <string.h>

int cs_store_open(const char *storage, const char *path, cs_store **out, cs_err *err)
{
    const cs_store_ops *ops = NULL;
    if (storage == NULL || !strcmp(storage, "sqlite")) ops = &cs_store_sqlite_ops;
    else return cs_err_set(err, CS_EINVAL, "storage backend '%s' is not available in this build", storage);
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

char *cs_audit_entry_json(long long index, const cs_audit_row *row)
{
    json_t *e = json_pack("{s:I,s:s,s:I,s:s,s:s,s:O}", "index", (json_int_t)index, "type", row->type,
                          "time", (json_int_t)row->time_ms, "actor", row->actor ? row->actor : "",
                          "source", row->source ? row->source : "", "details",
                          row->details ? row->details : json_null());
    json_object_set_new(e, "action_id", row->action_id ? json_string(row->action_id) : json_null());
    char *s = cs_jcs_dumps(e);
    json_decref(e);
    return s;
}
