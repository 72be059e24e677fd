/* fuzz_audit_export.c - the export formatter and the since/until parser on any input:
 * no crash, JSON Lines and OCSF records parse back as JSON objects, CSV rows end in
 * CRLF with balanced quotes. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_export.h"
#include "util/alloc.h"

static void check_json_line(const cs_buf *b)
{
    json_t *v = json_loadb(b->data, b->len, 0, NULL);
    if (!json_is_object(v) || b->data[b->len - 1] != '\n') abort();
    json_decref(v);
}

static void check_csv_row(const cs_buf *b)
{
    size_t quotes = 0;
    for (size_t i = 0; i < b->len; i++)
        quotes += b->data[i] == '"';
    if (b->len < 2 || memcmp(b->data + b->len - 2, "\r\n", 2) != 0 || quotes % 2 != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = cs_strndup((const char *)data, size);
    long long ms;
    cs_audit_time_parse(text, &ms);
    free(text);
    static const cs_audit_format formats[] = {CS_AUDIT_JSONL, CS_AUDIT_CSV, CS_AUDIT_OCSF};
    for (size_t i = 0; i < 3; i++) {
        cs_buf b;
        cs_err err = {0};
        cs_buf_init(&b, 1 << 24);
        if (cs_audit_export_record(formats[i], 42, (const char *)data, size, &b, &err) == 0) {
            if (formats[i] == CS_AUDIT_CSV)
                check_csv_row(&b);
            else
                check_json_line(&b);
        }
        cs_buf_free(&b);
    }
    return 0;
}
