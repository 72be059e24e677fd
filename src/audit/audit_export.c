/* audit_export.c - JSON Lines, CSV (RFC 4180) and OCSF 1.1 (https://schema.ocsf.io)
 * records of audit entries, with the compliance controls each event evidences. */
#include "audit/audit_export.h"

#include "util/alloc.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OCSF_VERSION "1.1.0"

static const char *const SOC2_ACCESS[] = {"CC6.1", "CC6.3", NULL};
static const char *const SOC2_CHANGE[] = {"CC6.1", "CC8.1", NULL};
static const char *const SOC2_ALL[] = {"CC6.1", "CC6.3", "CC8.1", NULL};
static const char *const SOC2_CC81[] = {"CC8.1", NULL};
static const char *const SOC2_CC61[] = {"CC6.1", NULL};
static const char *const SOC2_NONE[] = {NULL};

static const char *const ISO_SOD[] = {"A.5.3", "A.8.2", "A.8.15", NULL};
static const char *const ISO_REQ[] = {"A.8.2", "A.8.15", "A.8.32", NULL};
static const char *const ISO_VOTE[] = {"A.5.3", "A.8.2", "A.8.15", "A.8.32", NULL};
static const char *const ISO_CHANGE[] = {"A.8.15", "A.8.32", NULL};
static const char *const ISO_ACCESS[] = {"A.8.2", "A.8.15", NULL};
static const char *const ISO_LOG[] = {"A.8.15", NULL};

static const char *const NIST_REQ[] = {"AU-9", "AU-10", "CM-3", NULL};
static const char *const NIST_VOTE[] = {"AC-3(2)", "AC-5", "AU-9", "AU-10", "CM-3", NULL};
static const char *const NIST_REFUSED[] = {"AC-3(2)", "AC-5", "AU-9", "AU-10", NULL};
static const char *const NIST_DECIDED[] = {"AC-3(2)", "AU-9", "CM-3", NULL};
static const char *const NIST_CHANGE[] = {"AU-9", "CM-3", NULL};
static const char *const NIST_RECEIPT[] = {"AC-3(2)", "AU-9", "AU-10", NULL};
static const char *const NIST_TOKEN[] = {"AC-5", "AU-9", "AU-10", NULL};
static const char *const NIST_LOG[] = {"AU-9", NULL};

/* Event -> controls; a name ending in '.' matches every event with that prefix. The
 * table is the one in docs/audit.md ("Evidence and controls"). */
static const struct {
    const char *event;
    cs_audit_controls c;
} control_table[] = {
    {"action.submitted", {SOC2_CHANGE, ISO_REQ, NIST_REQ}},
    {"action.vote_refused", {SOC2_ACCESS, ISO_SOD, NIST_REFUSED}},
    {"action.vote", {SOC2_ALL, ISO_VOTE, NIST_VOTE}},
    {"action.approved", {SOC2_CHANGE, ISO_VOTE, NIST_DECIDED}},
    {"action.denied", {SOC2_CHANGE, ISO_VOTE, NIST_DECIDED}},
    {"action.expired", {SOC2_CC81, ISO_CHANGE, NIST_CHANGE}},
    {"action.cancelled", {SOC2_CC81, ISO_CHANGE, NIST_CHANGE}},
    {"action.outcome", {SOC2_CC81, ISO_CHANGE, NIST_REQ}},
    {"receipt.", {SOC2_CC61, ISO_ACCESS, NIST_RECEIPT}},
    {"token.", {SOC2_ACCESS, ISO_SOD, NIST_TOKEN}},
    {"freeze.", {SOC2_ACCESS, ISO_ACCESS, NIST_CHANGE}},
    {"policy.", {SOC2_CC81, ISO_CHANGE, NIST_CHANGE}},
    {"server.", {SOC2_NONE, ISO_LOG, NIST_LOG}},
};

void cs_audit_controls_for(const char *event, cs_audit_controls *c)
{
    *c = (cs_audit_controls){SOC2_NONE, ISO_LOG, NIST_LOG}; /* every entry is protected log data */
    for (size_t i = 0; event && i < sizeof control_table / sizeof control_table[0]; i++) {
        const char *e = control_table[i].event;
        size_t n = strlen(e);
        if (e[n - 1] == '.' ? !strncmp(event, e, n) : !strcmp(event, e)) {
            *c = control_table[i].c;
            return;
        }
    }
}

int cs_audit_format_parse(const char *name, cs_audit_format *f)
{
    if (name == NULL) return CS_EINVAL;
    if (!strcmp(name, "jsonl"))
        *f = CS_AUDIT_JSONL;
    else if (!strcmp(name, "csv"))
        *f = CS_AUDIT_CSV;
    else if (!strcmp(name, "ocsf"))
        *f = CS_AUDIT_OCSF;
    else
        return CS_EINVAL;
    return 0;
}

const char *cs_audit_format_media_type(cs_audit_format f)
{
    return f == CS_AUDIT_CSV ? "text/csv; charset=utf-8; header=present" : "application/jsonl";
}

static json_t *id_list(const char *const *ids)
{
    json_t *a = json_array();
    for (; *ids; ids++)
        json_array_append_new(a, json_string(*ids));
    return a;
}

static json_t *controls_json(const char *event)
{
    cs_audit_controls c;
    cs_audit_controls_for(event, &c);
    return json_pack("{s:o,s:o,s:o}", "soc2", id_list(c.soc2), "iso27001_2022", id_list(c.iso27001),
                     "nist_800_53", id_list(c.nist));
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int cs_audit_time_parse(const char *text, long long *ms)
{
    if (text == NULL || !*text) return CS_EINVAL;
    char *end;
    if (strspn(text, "0123456789") == strlen(text)) {
        *ms = strtoll(text, &end, 10);
        return 0;
    }
    struct tm tm = {0};
    int frac = 0, n = 0;
    const char *p = strptime(text, "%Y-%m-%d", &tm);
    if (p == NULL) return CS_EINVAL;
    if (*p == 'T') {
        p = strptime(p + 1, "%H:%M:%S", &tm);
        if (p == NULL) return CS_EINVAL;
        if (*p == '.') {
            for (p++; isdigit((unsigned char)*p); p++, n++)
                if (n < 3) frac = frac * 10 + (*p - '0');
            if (n == 0) return CS_EINVAL;
            while (n++ < 3)
                frac *= 10;
        }
        if (strcmp(p, "Z") != 0) return CS_EINVAL;
    } else if (*p) {
        return CS_EINVAL;
    }
    *ms = (long long)timegm(&tm) * 1000 + frac;
    return 0;
}

static void csv_field(cs_buf *out, const char *v, int last)
{
    if (strpbrk(v, ",\"\r\n")) {
        cs_buf_putc(out, '"');
        for (; *v; v++) {
            if (*v == '"') cs_buf_putc(out, '"');
            cs_buf_putc(out, *v);
        }
        cs_buf_putc(out, '"');
    } else {
        cs_buf_puts(out, v);
    }
    cs_buf_puts(out, last ? "\r\n" : ",");
}

static char *join(const char *const *ids)
{
    cs_buf b;
    cs_buf_init(&b, 4096);
    for (const char *const *p = ids; *p; p++)
        cs_buf_printf(&b, "%s%s", p == ids ? "" : " ", *p);
    return b.data ? cs_buf_steal(&b) : cs_strdup("");
}

static const char *const csv_columns[] = {
    "index",  "time", "event",         "actor_kind",  "actor_name", "source", "action_id",
    "status", "soc2", "iso27001_2022", "nist_800_53", "details",    NULL};

int cs_audit_export_begin(cs_audit_format f, cs_buf *out)
{
    if (f != CS_AUDIT_CSV) return 0;
    for (size_t i = 0; csv_columns[i]; i++)
        csv_field(out, csv_columns[i], csv_columns[i + 1] == NULL);
    return 0;
}

static int csv_record(uint64_t index, const json_t *e, cs_buf *out)
{
    json_t *actor = json_object_get(e, "actor"), *details = json_object_get(e, "details");
    cs_audit_controls c;
    cs_audit_controls_for(str(e, "event"), &c);
    char idx[32], *soc2 = join(c.soc2), *iso = join(c.iso27001), *nist = join(c.nist);
    char *det = json_dumps(details ? details : json_null(),
                           JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    snprintf(idx, sizeof idx, "%llu", (unsigned long long)index);
    const char *vals[] = {idx,
                          str(e, "time"),
                          str(e, "event"),
                          str(actor, "kind"),
                          str(actor, "name"),
                          str(e, "source"),
                          str(e, "action_id"),
                          str(details, "status"),
                          soc2,
                          iso,
                          nist,
                          det ? det : "null"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        csv_field(out, vals[i], i + 1 == sizeof vals / sizeof vals[0]);
    free(soc2);
    free(iso);
    free(nist);
    free(det);
    return 0;
}

static int put_json_line(cs_buf *out, json_t *o)
{
    char *t = json_dumps(o, JSON_COMPACT);
    int rc = cs_buf_puts(out, t);
    if (rc == 0) rc = cs_buf_putc(out, '\n');
    free(t);
    return rc;
}

/* OCSF classes: {class_uid, class_name, category_uid, category_name}. */
typedef struct ocsf_class {
    int uid;
    const char *name;
    int category;
    const char *category_name;
} ocsf_class;

static const ocsf_class API_ACTIVITY = {6003, "API Activity", 6, "Application Activity"};
static const ocsf_class APP_LIFECYCLE = {6002, "Application Lifecycle", 6, "Application Activity"};
static const ocsf_class ACCOUNT_CHANGE = {3001, "Account Change", 3,
                                          "Identity & Access Management"};
static const ocsf_class DETECTION = {2004, "Detection Finding", 2, "Findings"};

/* Class and activity of an event (docs/audit.md, "OCSF mapping"). */
static const ocsf_class *ocsf_pick(const char *ev, int *activity, const char **activity_name)
{
    static const struct {
        const char *event;
        const ocsf_class *cls;
        int activity;
        const char *name;
    } map[] = {
        {"action.submitted", &API_ACTIVITY, 1, "Create"},
        {"receipt.issued", &API_ACTIVITY, 1, "Create"},
        {"token.created", &ACCOUNT_CHANGE, 1, "Create"},
        {"token.revoked", &ACCOUNT_CHANGE, 6, "Delete"},
        {"freeze.set", &ACCOUNT_CHANGE, 9, "Lock"},
        {"freeze.cleared", &ACCOUNT_CHANGE, 99, "Unlock"},
        {"server.started", &APP_LIFECYCLE, 3, "Start"},
        {"server.stopped", &APP_LIFECYCLE, 4, "Stop"},
        {"receipt.refused", &DETECTION, 1, "Create"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(ev, map[i].event) == 0) {
            *activity = map[i].activity;
            *activity_name = map[i].name;
            return map[i].cls;
        }
    }
    *activity = 3;
    *activity_name = "Update";
    return &API_ACTIVITY;
}

/* security_control profile: was the thing asked for allowed or blocked? 0 = n/a. */
static int ocsf_allowed(const char *ev, const json_t *details)
{
    const char *st = str(details, "status");
    if (!strcmp(ev, "action.vote_refused") || !strcmp(ev, "receipt.refused")) return 2;
    if (!strcmp(st, "allowed") || !strcmp(st, "approved")) return 1;
    if (!strcmp(st, "denied") || !strcmp(st, "expired") || !strcmp(st, "cancelled")) return 2;
    return 0;
}

static void ocsf_security_control(json_t *o, const char *ev, const json_t *details)
{
    int a = ocsf_allowed(ev, details);
    json_object_set_new(json_object_get(o, "metadata"), "profiles",
                        json_pack("[s]", "security_control"));
    if (a == 0) {
        json_object_set_new(o, "action_id", json_integer(0));
        json_object_set_new(o, "action",
                            json_string(!strcmp(str(details, "status"), "pending")
                                            ? "Held for approval"
                                            : "Unknown"));
        json_object_set_new(o, "disposition_id",
                            json_integer(!strcmp(str(details, "status"), "pending") ? 99 : 0));
        return;
    }
    json_object_set_new(o, "action_id", json_integer(a));
    json_object_set_new(o, "action", json_string(a == 1 ? "Allowed" : "Denied"));
    json_object_set_new(o, "disposition_id", json_integer(a == 1 ? 1 : 2));
    json_object_set_new(o, "disposition", json_string(a == 1 ? "Allowed" : "Blocked"));
    json_t *pol = json_object_get(details, "policy");
    if (pol)
        json_object_set_new(o, "policy",
                            json_pack("{s:s,s:s,s:O*}", "name", "countersign policy", "version",
                                      str(pol, "version"), "desc",
                                      json_object_get(pol, "explanation")));
}

static json_t *ocsf_base(const ocsf_class *cls, int activity, const char *activity_name,
                         long long ms)
{
    return json_pack("{s:i,s:s,s:i,s:s,s:i,s:s,s:I,s:I,s:i,s:s}", "class_uid", cls->uid,
                     "class_name", cls->name, "category_uid", cls->category, "category_name",
                     cls->category_name, "activity_id", activity, "activity_name", activity_name,
                     "type_uid", (json_int_t)cls->uid * 100 + activity, "time", (json_int_t)ms,
                     "severity_id", 1, "severity", "Informational");
}

static json_t *ocsf_metadata(uint64_t index, const char *ev)
{
    return json_pack("{s:s,s:{s:s,s:s},s:s,s:I,s:s,s:[]}", "version", OCSF_VERSION, "product",
                     "name", "countersign", "vendor_name", "countersign", "log_name", "audit",
                     "sequence", (json_int_t)index, "event_code", ev, "profiles");
}

static void ocsf_parties(json_t *o, const json_t *e)
{
    json_t *actor = json_object_get(e, "actor");
    json_object_set_new(
        o, "actor",
        json_pack("{s:{s:s,s:s}}", "user", "name", str(actor, "name"), "type", str(actor, "kind")));
    const char *src = str(e, "source");
    const char *colon = strchr(src, ':');
    json_t *ep = json_pack("{s:s}", "name", src);
    if (colon && colon[1]) json_object_set_new(ep, "ip", json_string(colon + 1));
    json_object_set_new(o, "src_endpoint", ep);
    if (json_is_string(json_object_get(e, "action_id")))
        json_object_set_new(
            o, "resources",
            json_pack("[{s:s,s:s}]", "uid", str(e, "action_id"), "type", "countersign action"));
}

static int ocsf_record(uint64_t index, const json_t *e, const char *raw, cs_buf *out)
{
    const char *ev = str(e, "event");
    json_t *details = json_object_get(e, "details");
    int activity;
    const char *aname;
    const ocsf_class *cls = ocsf_pick(ev, &activity, &aname);
    long long ms = 0;
    cs_audit_time_parse(str(e, "time"), &ms);
    json_t *o = ocsf_base(cls, activity, aname, ms);
    json_object_set_new(o, "metadata", ocsf_metadata(index, ev));
    ocsf_parties(o, e);
    int blocked = ocsf_allowed(ev, details) == 2;
    json_object_set_new(o, "status_id", json_integer(blocked ? 2 : 1));
    json_object_set_new(o, "status", json_string(blocked ? "Failure" : "Success"));
    json_object_set_new(o, "message", json_string(ev));
    if (cls == &API_ACTIVITY) {
        json_object_set_new(
            o, "api",
            json_pack("{s:s,s:{s:s}}", "operation", ev, "service", "name", "countersign"));
        ocsf_security_control(o, ev, details);
    } else if (cls == &ACCOUNT_CHANGE) {
        json_object_set_new(o, "user", json_pack("{s:s}", "name", str(details, "name")));
    } else if (cls == &DETECTION) {
        json_object_set_new(o, "finding_info",
                            json_pack("{s:s,s:s,s:s}", "title", "receipt verification failed",
                                      "uid", ev, "desc", str(details, "refusal")));
        json_object_set_new(o, "severity_id", json_integer(3));
        json_object_set_new(o, "severity", json_string("Medium"));
    } else if (cls == &APP_LIFECYCLE) {
        json_object_set_new(
            o, "app", json_pack("{s:s,s:s}", "name", "countersign", "vendor_name", "countersign"));
    }
    json_object_set_new(o, "raw_data", json_string(raw));
    json_object_set_new(
        o, "unmapped",
        json_pack("{s:I,s:o}", "log_index", (json_int_t)index, "controls", controls_json(ev)));
    int rc = put_json_line(out, o);
    json_decref(o);
    return rc;
}

int cs_audit_export_record(cs_audit_format f, uint64_t index, const char *entry, size_t len,
                           cs_buf *out, cs_err *err)
{
    json_t *e = json_loadb(entry, len, 0, NULL);
    if (!json_is_object(e)) {
        json_decref(e);
        return cs_err_set(err, CS_EPARSE, "entry %llu is not a JSON object",
                          (unsigned long long)index);
    }
    int rc;
    if (f == CS_AUDIT_CSV) {
        rc = csv_record(index, e, out);
    } else if (f == CS_AUDIT_OCSF) {
        char *raw = cs_strndup(entry, len);
        rc = ocsf_record(index, e, raw, out);
        free(raw);
    } else {
        json_object_set_new(e, "index", json_integer((json_int_t)index));
        json_object_set_new(e, "controls", controls_json(str(e, "event")));
        rc = put_json_line(out, e);
    }
    json_decref(e);
    return rc;
}

int cs_audit_export_finding(const cs_audit_report *r, const char *source, long long time_ms,
                            cs_buf *out)
{
    json_t *o = ocsf_base(&DETECTION, 1, "Create", time_ms);
    json_object_set_new(o, "metadata",
                        ocsf_metadata(r->first_bad_index >= 0 ? (uint64_t)r->first_bad_index : 0,
                                      "audit.verify_failed"));
    json_object_set_new(o, "severity_id", json_integer(5));
    json_object_set_new(o, "severity", json_string("Critical"));
    json_object_set_new(o, "status_id", json_integer(2));
    json_object_set_new(o, "status", json_string("Failure"));
    json_object_set_new(o, "message", json_string(r->problem));
    json_object_set_new(o, "finding_info",
                        json_pack("{s:s,s:s,s:s}", "title", "audit log verification failed", "uid",
                                  "audit.verify_failed", "desc", r->problem));
    json_object_set_new(
        o, "unmapped",
        json_pack("{s:s,s:s,s:I,s:I,s:o}", "origin", r->origin, "source", source ? source : "",
                  "first_bad_index", (json_int_t)r->first_bad_index, "checkpoint_size",
                  (json_int_t)r->size, "controls", controls_json("audit.verify_failed")));
    int rc = put_json_line(out, o);
    json_decref(o);
    return rc;
}
