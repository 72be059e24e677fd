/* cedar_diff_runner.c - the C half of the differential test against the Cedar
 * reference implementation (SPEC §2).
 *
 * Reads cases as JSON lines on stdin, one policy set per line:
 *   {"id": ..., "policies": "<cedar text>", "entities": [...] or "<json text>",
 *    "requests": [{"principal": {"type","id"}, "action": {...}, "resource": {...},
 *                  "context": {...}, "principal_groups": ["g", ...]?,
 *                  "principal_attrs": {...}?}, ...]}
 * (principal_groups/principal_attrs exercise the gateway's way of passing the
 * caller's groups and attributes with the request instead of entities.json).
 * and writes one JSON line per case on stdout:
 *   {"id": ..., "ok": true, "ids": ["policy0", ...],
 *    "results": [{"verdicts": [0|1|2, ...], "decision": "allowed"|"denied"|"pending",
 *                 "satisfied": [ids], "errored": [ids]}]}
 * or {"id": ..., "ok": false, "error": "<diagnostics>"} when the set does not load.
 * Verdicts are enum cs_verdict (0 false, 1 true, 2 error). The Node driver
 * (difftest.mjs) compares them with what @cedar-policy/cedar-wasm says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/policy.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

/* Fills ref from {"type": T, "id": I} (also accepted: {"__entity": {...}}). The
 * strings stay owned by the JSON document. */
static int uid_from_json(json_t *v, cs_uid_ref *ref, cs_err *err)
{
    json_t *inner = json_object_get(v, "__entity");
    if (inner != NULL) v = inner;
    const char *type = json_string_value(json_object_get(v, "type"));
    const char *id = json_string_value(json_object_get(v, "id"));
    if (type == NULL || id == NULL) return cs_err_set(err, CS_EINVAL, "bad entity reference");
    ref->type = type;
    ref->id = id;
    return 0;
}

/* Fills req from the JSON request r; *groups receives an array the caller frees. */
static int request_from_json(json_t *r, cs_policy_request *req, const char ***groups, cs_err *err)
{
    memset(req, 0, sizeof(*req));
    *groups = NULL;
    int rc = uid_from_json(json_object_get(r, "principal"), &req->principal, err);
    if (rc == 0) rc = uid_from_json(json_object_get(r, "action"), &req->action, err);
    if (rc == 0) rc = uid_from_json(json_object_get(r, "resource"), &req->resource, err);
    if (rc != 0) return rc;
    json_t *ctx = json_object_get(r, "context");
    req->context = json_is_object(ctx) ? ctx : NULL;
    json_t *pg = json_object_get(r, "principal_groups");
    if (json_is_array(pg)) {
        size_t n = json_array_size(pg);
        *groups = cs_calloc(n ? n : 1, sizeof **groups);
        for (size_t i = 0; i < n; i++) {
            (*groups)[i] = json_string_value(json_array_get(pg, i));
            if ((*groups)[i] == NULL)
                return cs_err_set(err, CS_EINVAL, "principal_groups: not a string");
        }
        req->principal_groups = *groups;
        req->n_principal_groups = n;
    }
    req->principal_attrs = json_object_get(r, "principal_attrs");
    return 0;
}

static json_t *diags_to_json(int rc, const cs_policy_diags *d)
{
    cs_buf b;
    cs_buf_init(&b, 1u << 20);
    cs_buf_printf(&b, "%s", cs_strerror(rc));
    for (size_t i = 0; i < d->n; i++)
        cs_buf_printf(&b, "; %s:%d:%d: %s", d->items[i].file ? d->items[i].file : "?",
                      d->items[i].line, d->items[i].col, d->items[i].msg ? d->items[i].msg : "");
    json_t *s = json_string(b.data ? b.data : "");
    cs_buf_free(&b);
    return s;
}

/* Evaluates one request with both entry points: the per-policy verdicts
 * (no index) and the combined decision (through the scope index). */
static json_t *eval_request(const cs_policy_set *set, json_t *r)
{
    json_t *out = json_object();
    cs_policy_request req;
    const char **groups = NULL;
    cs_err err;
    cs_err_clear(&err);
    if (request_from_json(r, &req, &groups, &err) != 0) {
        json_object_set_new(out, "error", json_string(err.msg));
        free(groups);
        return out;
    }
    size_t n = cs_policy_set_count(set);
    int *verdicts = cs_calloc(n ? n : 1, sizeof(int));
    int rc = cs_policy_eval_each(set, &req, verdicts, &err);
    if (rc != 0) {
        json_object_set_new(out, "error", json_sprintf("eval_each: %s", err.msg));
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_integer(verdicts[i]));
        json_object_set_new(out, "verdicts", arr);
    }
    free(verdicts);

    cs_decision d;
    memset(&d, 0, sizeof(d));
    cs_err_clear(&err);
    rc = cs_policy_decide(set, &req, &d, &err);
    if (rc != 0)
        json_object_set_new(out, "decide_error", json_string(err.msg));
    else {
        json_object_set_new(out, "decision", json_string(cs_decision_kind_name(d.kind)));
        /* What the decision says was satisfied and errored: through the scope index,
         * so a candidate the index misses shows up here. */
        json_t *sat = json_array(), *errs = json_array();
        for (size_t i = 0; i < d.n_satisfied; i++)
            json_array_append_new(sat, json_string(d.satisfied[i].id));
        for (size_t i = 0; i < d.n_errors; i++)
            json_array_append_new(errs, json_string(d.errors[i].id));
        json_object_set_new(out, "satisfied", sat);
        json_object_set_new(out, "errored", errs);
    }
    cs_decision_free(&d);
    free(groups);
    return out;
}

static json_t *run_case(json_t *c)
{
    json_t *out = json_object();
    json_t *id = json_object_get(c, "id");
    json_object_set(out, "id", id ? id : json_null());

    const char *text = json_string_value(json_object_get(c, "policies"));
    json_t *ents = json_object_get(c, "entities");
    char *ents_text = NULL;
    if (json_is_string(ents))
        ents_text = cs_strdup(json_string_value(ents));
    else if (ents != NULL && !json_is_null(ents))
        ents_text = json_dumps(ents, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) text = "";

    cs_policy_set *set = NULL;
    cs_policy_diags diags;
    cs_policy_diags_init(&diags);
    int rc = cs_policy_set_parse(text, strlen(text), "case.cedar", ents_text, &set, &diags);
    free(ents_text);
    if (rc != 0) {
        json_object_set_new(out, "ok", json_false());
        json_object_set_new(out, "error", diags_to_json(rc, &diags));
        cs_policy_diags_free(&diags);
        return out;
    }
    cs_policy_diags_free(&diags);

    json_t *ids = json_array();
    for (size_t i = 0; i < cs_policy_set_count(set); i++)
        json_array_append_new(ids, json_string(cs_policy_set_id(set, i)));
    json_t *results = json_array();
    size_t idx;
    json_t *r;
    json_array_foreach(json_object_get(c, "requests"), idx, r)
        json_array_append_new(results, eval_request(set, r));
    json_object_set_new(out, "ok", json_true());
    json_object_set_new(out, "ids", ids);
    json_object_set_new(out, "results", results);
    cs_policy_set_release(set);
    return out;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int status = 0;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (len == 1 && line[0] == '\n') continue;
        json_error_t jerr;
        json_t *c = json_loadb(line, (size_t)len, 0, &jerr);
        json_t *out;
        if (c == NULL) {
            out = json_pack("{s:n, s:b, s:s}", "id", "ok", 0, "error", jerr.text);
            status = 1;
        } else {
            out = run_case(c);
            json_decref(c);
        }
        char *s = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII);
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
        json_decref(out);
    }
    free(line);
    fflush(stdout);
    return status;
}
