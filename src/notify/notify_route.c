/* notify_route.c - who hears about an action (SPEC §2 @notify, §7 notify.routes)
 * and which event a stored version of an action announces. */
#include "notify/notify_int.h"

#include <string.h>

static void add_target(json_t *out, const char *t, size_t n)
{
    while (n > 0 && (*t == ' ' || *t == '\t'))
        t++, n--;
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 256 || memchr(t, ':', n) == NULL) return;
    size_t i;
    json_t *v;
    json_array_foreach(out, i, v) if (strlen(json_string_value(v)) == n &&
                                      !memcmp(json_string_value(v), t, n)) return;
    json_array_append_new(out, json_stringn(t, n));
}

/* "slack:#x, teams:dba" -> each target. */
static void add_list(json_t *out, const char *list)
{
    while (list && *list) {
        const char *comma = strchr(list, ',');
        size_t n = comma ? (size_t)(comma - list) : strlen(list);
        add_target(out, list, n);
        list = comma ? comma + 1 : NULL;
    }
}

json_t *cs_notify_targets(const cs_config *cfg, const json_t *doc)
{
    json_t *out = json_array();
    json_t *approval = json_object_get(doc, "approval");
    size_t i, j;
    json_t *req, *g, *t;
    json_array_foreach(json_object_get(approval, "requirements"), i, req)
    {
        const char *notify = json_string_value(json_object_get(req, "notify"));
        if (notify && *notify) {
            add_list(out, notify);
            continue;
        }
        json_array_foreach(json_object_get(req, "groups"), j, g)
        {
            size_t k;
            json_array_foreach(json_object_get(cfg->routes, json_string_value(g)), k, t)
                add_target(out, json_string_value(t), strlen(json_string_value(t)));
        }
    }
    return out;
}

const char *cs_notify_event(const json_t *doc)
{
    json_t *approval = json_object_get(doc, "approval");
    if (approval == NULL) return NULL; /* decided at once: nobody had to act */
    const char *st = json_string_value(json_object_get(doc, "status"));
    if (st == NULL) return NULL;
    if (json_object_get(doc, "outcome")) return "action.executed";
    if (!strcmp(st, "pending"))
        return json_array_size(json_object_get(approval, "votes")) ? "action.voted"
                                                                   : "action.pending";
    if (!strcmp(st, "approved")) return "action.approved";
    if (!strcmp(st, "denied")) return "action.denied";
    if (!strcmp(st, "expired")) return "action.expired";
    if (!strcmp(st, "cancelled")) return "action.cancelled";
    return NULL;
}
