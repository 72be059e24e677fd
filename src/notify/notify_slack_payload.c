/* notify_slack_payload.c - Slack interaction payloads
 * (https://api.slack.com/interactivity/handling): an application/x-www-form-urlencoded body whose
 * `payload` field is JSON. Parsed into cs_slack_interaction and validated completely before anyone
 * acts on it. */
#include "notify/notify_int.h"

#include "util/alloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) (with '+' as space); NULL on a bad escape or a NUL byte. */
static char *form_decode(const char *s, size_t n)
{
    char *out = cs_malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+')
            c = ' ';
        else if (c == '%') {
            if (i + 2 >= n) goto bad;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) goto bad;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') goto bad;
        out[j++] = c;
    }
    out[j] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* The raw value of the form field `name`, or NULL. */
static const char *form_field(const char *body, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
            *vlen = (size_t)(stop - p - (long)nl - 1);
            return p + nl + 1;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

/* Copies a string member that must match the allowed characters. */
static int copy_id(const json_t *o, const char *key, char *out, size_t cap, const char *extra,
                   int required)
{
    const char *s = json_string_value(json_object_get(o, key));
    out[0] = '\0';
    if (s == NULL) return required ? -1 : 0;
    size_t n = strlen(s);
    if (n == 0 || n >= cap) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i])) return -1;
    memcpy(out, s, n + 1);
    return 0;
}

static int parse_block_action(const json_t *p, cs_slack_interaction *out, cs_err *err)
{
    json_t *actions = json_object_get(p, "actions");
    json_t *a = json_array_get(actions, 0);
    if (!json_is_array(actions) || json_array_size(actions) != 1 || !json_is_object(a))
        return cs_err_set(err, CS_EINVAL, "block_actions needs exactly one action");
    const char *aid = json_string_value(json_object_get(a, "action_id"));
    if (aid == NULL) return cs_err_set(err, CS_EINVAL, "action without action_id");
    if (!strcmp(aid, "cs_approve"))
        out->verb = CS_SLACK_APPROVE;
    else if (!strcmp(aid, "cs_deny"))
        out->verb = CS_SLACK_DENY;
    else if (!strcmp(aid, "cs_open"))
        out->verb = CS_SLACK_OPEN;
    else
        return cs_err_set(err, CS_EINVAL, "unknown action_id");
    if (out->verb != CS_SLACK_OPEN &&
        copy_id(a, "value", out->action_id, sizeof out->action_id, "_-", 1) != 0)
        return cs_err_set(err, CS_EINVAL, "button without a valid action id");
    json_t *ch = json_object_get(p, "channel");
    if (copy_id(ch, "id", out->channel_id, sizeof out->channel_id, "", 0) != 0)
        return cs_err_set(err, CS_EINVAL, "bad channel id");
    if (copy_id(p, "trigger_id", out->trigger_id, sizeof out->trigger_id, "._-",
                out->verb == CS_SLACK_DENY) != 0)
        return cs_err_set(err, CS_EINVAL, "bad trigger_id");
    return 0;
}

/* The deny modal: private_metadata "<action id> <channel id>", the reason in
 * state.values.reason.reason.value. */
static int parse_view_submission(const json_t *p, cs_slack_interaction *out, cs_err *err)
{
    json_t *view = json_object_get(p, "view");
    const char *cb = json_string_value(json_object_get(view, "callback_id"));
    const char *meta = json_string_value(json_object_get(view, "private_metadata"));
    if (cb == NULL || strcmp(cb, "cs_deny") != 0 || meta == NULL)
        return cs_err_set(err, CS_EINVAL, "unknown view");
    const char *sp = strchr(meta, ' ');
    size_t n = sp ? (size_t)(sp - meta) : strlen(meta);
    json_t *tmp = json_pack("{s:s%,s:s}", "a", meta, n, "c", sp ? sp + 1 : "");
    int bad = copy_id(tmp, "a", out->action_id, sizeof out->action_id, "_-", 1) != 0 ||
              copy_id(tmp, "c", out->channel_id, sizeof out->channel_id, "", 0) != 0;
    json_decref(tmp);
    if (bad) return cs_err_set(err, CS_EINVAL, "bad private_metadata");
    json_t *val = json_object_get(
        json_object_get(json_object_get(json_object_get(view, "state"), "values"), "reason"),
        "reason");
    const char *reason = json_string_value(json_object_get(val, "value"));
    if (reason && strlen(reason) > CS_SLACK_REASON_MAX)
        return cs_err_set(err, CS_ETOOBIG, "reason too long");
    snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "");
    out->verb = CS_SLACK_DENY;
    return 0;
}

int cs_slack_interaction_parse(const char *body, size_t len, cs_slack_interaction *out, cs_err *err)
{
    memset(out, 0, sizeof *out);
    if (len > CS_SLACK_BODY_MAX)
        return cs_err_set(err, CS_ETOOBIG, "interaction larger than %d bytes", CS_SLACK_BODY_MAX);
    size_t vlen = 0;
    const char *raw = form_field(body, len, "payload", &vlen);
    if (raw == NULL) return cs_err_set(err, CS_EINVAL, "no payload field");
    char *text = form_decode(raw, vlen);
    if (text == NULL) return cs_err_set(err, CS_EINVAL, "bad percent-encoding in payload");
    json_error_t je;
    json_t *p = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!json_is_object(p)) {
        json_decref(p);
        return cs_err_set(err, CS_EPARSE, "payload is not a JSON object");
    }
    int rc;
    const char *type = json_string_value(json_object_get(p, "type"));
    if (copy_id(json_object_get(p, "user"), "id", out->user_id, sizeof out->user_id, "", 1) != 0)
        rc = cs_err_set(err, CS_EINVAL, "payload without a valid user.id");
    else if (type && !strcmp(type, "block_actions")) {
        out->type = CS_SLACK_BLOCK_ACTION;
        rc = parse_block_action(p, out, err);
    } else if (type && !strcmp(type, "view_submission")) {
        out->type = CS_SLACK_VIEW_SUBMISSION;
        rc = parse_view_submission(p, out, err);
    } else
        rc = cs_err_set(err, CS_EINVAL, "unsupported interaction type");
    json_decref(p);
    return rc;
}
