/* pg_tls.c - server-side TLS for PostgreSQL clients on non-blocking sockets with
 * OpenSSL (PostgreSQL docs 55.2.10 "SSL Session Encryption"). TLS 1.2 or later. */
#include "proxy/pg_tls.h"

#include "util/alloc.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>

struct cs_pg_tls {
    SSL_CTX *ctx;
};

struct cs_pg_tls_conn {
    SSL *ssl;
    int wants_write;
};

static void ssl_error(cs_err *err, const char *what)
{
    char buf[256] = "unknown error";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    cs_err_set(err, CS_EINVAL, "%s: %s", what, buf);
}

int cs_pg_tls_new(const char *cert_file, const char *key_file, cs_pg_tls **out, cs_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        ssl_error(err, "TLS context");
        return CS_EINVAL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        ssl_error(err, cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error(err, key_file);
        goto fail;
    }
    *out = cs_calloc(1, sizeof **out);
    (*out)->ctx = ctx;
    return 0;
fail:
    SSL_CTX_free(ctx);
    return CS_EINVAL;
}

void cs_pg_tls_free(cs_pg_tls *t)
{
    if (t == NULL) return;
    SSL_CTX_free(t->ctx);
    free(t);
}

cs_pg_tls_conn *cs_pg_tls_accept(cs_pg_tls *t, int fd)
{
    cs_pg_tls_conn *c = cs_calloc(1, sizeof *c);
    c->ssl = SSL_new(t->ctx);
    SSL_set_fd(c->ssl, fd);
    SSL_set_accept_state(c->ssl);
    return c;
}

void cs_pg_tls_conn_free(cs_pg_tls_conn *c)
{
    if (c == NULL) return;
    SSL_free(c->ssl);
    free(c);
}

/* Maps an OpenSSL result to the read/write convention; rc is the call's result. */
static ssize_t outcome(cs_pg_tls_conn *c, int rc)
{
    int e = SSL_get_error(c->ssl, rc);
    c->wants_write = e == SSL_ERROR_WANT_WRITE;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    ERR_clear_error();
    errno = EPROTO;
    return -1;
}

int cs_pg_tls_handshake(cs_pg_tls_conn *c, cs_err *err)
{
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
        c->wants_write = 0;
        return CS_PG_TLS_OK;
    }
    int e = SSL_get_error(c->ssl, rc);
    c->wants_write = e == SSL_ERROR_WANT_WRITE;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return CS_PG_TLS_AGAIN;
    ssl_error(err, "TLS handshake");
    return CS_EIO;
}

ssize_t cs_pg_tls_read(cs_pg_tls_conn *c, void *buf, size_t n)
{
    size_t got = 0;
    int rc = SSL_read_ex(c->ssl, buf, n, &got);
    if (rc == 1) {
        c->wants_write = 0;
        return (ssize_t)got;
    }
    return outcome(c, rc);
}

ssize_t cs_pg_tls_write(cs_pg_tls_conn *c, const void *buf, size_t n)
{
    size_t put = 0;
    int rc = SSL_write_ex(c->ssl, buf, n, &put);
    if (rc == 1) {
        c->wants_write = 0;
        return (ssize_t)put;
    }
    return outcome(c, rc);
}

int cs_pg_tls_pending(cs_pg_tls_conn *c)
{
    return SSL_pending(c->ssl) > 0;
}

int cs_pg_tls_wants_write(const cs_pg_tls_conn *c)
{
    return c->wants_write;
}
