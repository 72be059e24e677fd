/* slack.c - POST /integrations/slack/interactions: hands the raw body and Slack's
 * signature headers to the notifier (src/notify/), which verifies before parsing. */
#include "http/http_int.h"

#include "notify/notify.h"

#include <stdlib.h>
#include <string.h>

void cs_http_slack(cs_req *r)
{
    if (strcmp(r->method, "POST") != 0) {
        cs_reply_not_allowed(&r->reply, "POST", "use POST");
        return;
    }
    cs_slack_request req = {
        .body = r->body.data ? r->body.data : "",
        .len = r->body.len,
        .timestamp =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Slack-Request-Timestamp"),
        .signature = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Slack-Signature"),
        .peer = strncmp(r->addr, "api:", 4) ? r->addr : r->addr + 4,
    };
    cs_slack_answer ans = {0};
    cs_notify_slack_interaction(cs_gateway_notify(r->http->gw), &req, &ans);
    size_t len = ans.body ? strlen(ans.body) : 0;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, ans.body ? ans.body : (char *)"",
                                        ans.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (ans.content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ans.content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_queue_response(r->conn, (unsigned)ans.status, resp);
    MHD_destroy_response(resp);
    r->state = RS_DONE;
}
