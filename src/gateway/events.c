/* events.c - audit entries for events that change no other state: server start and
 * stop, policy loads (docs/audit.md has the catalogue). They go through the writer like
 * every other change, so they take their place in the one log sequence. */
#include "gateway/gateway_int.h"

#include "util/log.h"

#include <unistd.h>

int cs_gateway_record(cs_gateway *gw, const char *event, json_t *details)
{
    json_t *args =
        json_pack("{s:s,s:o}", "event", event, "details", details ? details : json_object());
    cs_op *op = cs_op_new(gw, CS_OP_EVENT, NULL, "system", NULL, args);
    json_decref(args);
    op->complete = cs_op_free;
    int rc = cs_gateway_run(gw, op);
    if (rc != 0) {
        cs_warn("audit: cannot record %s: the gateway is stopping", event);
        cs_op_free(op);
    }
    return rc;
}

void cs_gw_record_start(cs_gateway *gw)
{
    cs_policy_set *set = cs_gw_policy(gw);
    cs_gateway_record(gw, "server.started",
                      json_pack("{s:I,s:s,s:s,s:I}", "pid", (json_int_t)getpid(), "listen",
                                gw->cfg->listen, "audit_origin", gw->cfg->audit_origin,
                                "audit_size", (json_int_t)cs_audit_log_size(gw->audit)));
    cs_gateway_record(gw, "policy.loaded",
                      json_pack("{s:s,s:s,s:s}", "policy_version", cs_policy_set_version(set),
                                "policy_dir", gw->cfg->policy_dir, "trigger", "start"));
    cs_policy_set_release(set);
}

int cs_gw_apply_event(cs_gateway *gw, cs_op *op)
{
    const char *event = json_string_value(json_object_get(op->args, "event"));
    return cs_gw_audit(gw, op, event, json_object_get(op->args, "details"), NULL);
}

struct cs_audit_log *cs_gateway_audit_log(cs_gateway *gw)
{
    return gw->audit;
}
