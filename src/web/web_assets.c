/* web_assets.c - serves the dashboard's files from the table compiled into the
 * binary, so the gateway needs nothing on disk (and nothing from the network). */
#include "web/web_assets.h"
#include "web/web_int.h"

#include <string.h>

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext)) return types[i].type;
    return "application/octet-stream";
}

int cs_web_asset(cs_req *r, const char *name)
{
    for (size_t i = 0; i < cs_web_n_files; i++) {
        const cs_web_file *f = &cs_web_files[i];
        if (strcmp(f->name, name) != 0) continue;
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(f->len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(name));
        /* Revalidate every time: the binary may have been upgraded underneath. */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        cs_web_headers(resp);
        MHD_queue_response(r->conn, 200, resp);
        MHD_destroy_response(resp);
        r->state = RS_DONE;
        return 0;
    }
    return CS_ENOTFOUND;
}
