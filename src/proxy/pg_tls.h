/* pg_tls.h - TLS termination for PostgreSQL clients (PostgreSQL docs 55.2.10 "SSL
 * Session Encryption"): the proxy answers SSLRequest with 'S' and runs the server
 * side of TLS on the client socket with OpenSSL; the upstream leg stays as it is. */
#ifndef CS_PROXY_PG_TLS_H
#define CS_PROXY_PG_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

typedef struct cs_pg_tls cs_pg_tls; /* the certificate and key (one per proxy) */
typedef struct cs_pg_tls_conn cs_pg_tls_conn;

int cs_pg_tls_new(const char *cert_file, const char *key_file, cs_pg_tls **out, cs_err *err);
void cs_pg_tls_free(cs_pg_tls *t);

cs_pg_tls_conn *cs_pg_tls_accept(cs_pg_tls *t, int fd);
void cs_pg_tls_conn_free(cs_pg_tls_conn *c);

enum { CS_PG_TLS_OK = 0, CS_PG_TLS_AGAIN = 1 };

/* Advances the handshake: CS_PG_TLS_OK when done, CS_PG_TLS_AGAIN when it waits
 * for the socket, negative on failure (err filled). */
int cs_pg_tls_handshake(cs_pg_tls_conn *c, cs_err *err);
/* Like read(2)/write(2) on a non-blocking socket: bytes moved, 0 on a clean close
 * (read), or -1 with errno EAGAIN when the socket must become ready first, or -1
 * with another errno on failure. */
ssize_t cs_pg_tls_read(cs_pg_tls_conn *c, void *buf, size_t n);
ssize_t cs_pg_tls_write(cs_pg_tls_conn *c, const void *buf, size_t n);
/* Decrypted bytes already buffered (no socket event will announce them). */
int cs_pg_tls_pending(cs_pg_tls_conn *c);
/* The last operation needs the socket writable (EPOLLOUT) to go on. */
int cs_pg_tls_wants_write(const cs_pg_tls_conn *c);

#endif
