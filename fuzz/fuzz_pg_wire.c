/* fuzz_pg_wire.c - libFuzzer target for the PostgreSQL proxy's parsers: a startup
 * packet, then a stream of typed frontend messages; each message body goes through
 * the field readers, and Query/Parse texts through the shape lexer and the
 * libpg_query classifier (PostgreSQL docs 55.7 "Message Formats"). */
#include "proxy/pg_classify.h"
#include "proxy/pg_shape.h"
#include "proxy/pg_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void sql(const char *text)
{
    cs_buf shape;
    cs_buf_init(&shape, 1 << 20);
    cs_pg_shape(text, &shape);
    cs_buf_free(&shape);
    cs_pg_stmts st;
    if (cs_pg_classify(text, &st, NULL) == 0) cs_pg_stmts_free(&st);
}

static void body(const cs_pg_msg *m)
{
    cs_pg_reader r;
    cs_pg_reader_init(&r, m->body, m->len);
    switch (m->type) {
    case 'Q': {
        const char *q = cs_pg_get_str(&r);
        if (!r.bad) sql(q);
        break;
    }
    case 'P': {
        cs_pg_get_str(&r);
        const char *q = cs_pg_get_str(&r);
        uint16_t n = cs_pg_get_u16(&r);
        for (uint16_t i = 0; i < n && !r.bad; i++)
            cs_pg_get_u32(&r);
        if (!r.bad) sql(q);
        break;
    }
    case 'E':
    case 'N':
        cs_pg_field(m, 'M');
        cs_pg_field(m, 'C');
        break;
    default:
        while (!r.bad)
            cs_pg_get_byte(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t n = size;
    cs_pg_startup s;
    int rc = cs_pg_startup_next(p, n, &s, NULL);
    if (rc == 1) {
        p += s.total;
        n -= s.total;
    }
    cs_pg_msg m;
    while (n > 0 && cs_pg_msg_next(p, n, 1 << 20, &m, NULL) == 1) {
        /* Copy the body so that reads past it are caught by ASan. */
        char *copy = malloc(m.len + 1);
        memcpy(copy, m.body, m.len);
        copy[m.len] = '\0';
        cs_pg_msg c = m;
        c.body = copy;
        body(&c);
        free(copy);
        p += m.total;
        n -= m.total;
    }
    return 0;
}
