/* mcp_proxy.c - the stdio relay (MCP 2025-06-18 stdio transport): client on our
 * stdin/stdout, server as a child process; tools/call gated, the rest relayed as
 * the bytes we read.
 *
 * Threads: one thread reads the server; the client is read by pool threads taking
 * turns (leader/follower): the thread that reads a tools/call hands reading on to
 * another pool thread and gates the call itself, so the call does not wait for a
 * thread to wake up, and a held call never blocks other traffic (requests, pings,
 * notifications, other calls). The main thread waits for the client's end and then
 * shuts down. Writes to each side are whole lines under a mutex. */
#include "proxy/mcp_proxy.h"

#include "proxy/mcp_pool.h"
#include "proxy/mcp_stdio.h"
#include "util/alloc.h"
#include "util/log.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define GATED_MAX 256 /* tool calls being gated or held at once */

typedef struct relay {
    cs_mcp_gate *gate;
    const cs_mcp_opts *o;
    cs_mcp_child child;
    pthread_mutex_t out_mu;   /* our stdout (to the client) */
    pthread_mutex_t child_mu; /* the child's stdin */
    pthread_mutex_t mu;       /* everything below */
    pthread_cond_t cv;
    json_t *inflight;     /* id key -> action id (gated calls) or null: requests the server owes an
                             answer */
    cs_mcp_pool *pool;    /* the client reader and a thread per gated call in flight */
    cs_rpc_reader client; /* used by the one thread reading the client at a time */
    int client_done;      /* the client's input ended (under mu, signals cv) */
    int child_gone;
    int wake[2]; /* wakes the main thread: the server is gone, or a stop signal came */
    atomic_int ending;
} relay;

typedef struct job {
    relay *r;
    cs_mcp_call *call;
    char *raw;
    size_t len;
} job;

static void to_client(relay *r, const char *data, size_t len, int newline)
{
    pthread_mutex_lock(&r->out_mu);
    if (newline)
        cs_write_line(1, data, len);
    else
        cs_write_all(1, data, len);
    pthread_mutex_unlock(&r->out_mu);
}

static void to_client_line(void *ctx, const char *line)
{
    to_client(ctx, line, strlen(line), 0);
}

static void reply_line(relay *r, char *line)
{
    to_client(r, line, strlen(line), 0);
    free(line);
}

/* Sends raw to the server; the request (when id_key) is recorded first so that a
 * server that dies owes it an error. Returns 0, or CS_EIO when the server is gone. */
static int to_server(relay *r, const char *id_key, const char *action_id, const char *raw,
                     size_t len)
{
    pthread_mutex_lock(&r->mu);
    int gone = r->child_gone;
    if (!gone && id_key)
        json_object_set_new(r->inflight, id_key, action_id ? json_string(action_id) : json_null());
    pthread_mutex_unlock(&r->mu);
    if (gone) return CS_EIO;
    pthread_mutex_lock(&r->child_mu);
    if (r->child.to_child >= 0) cs_write_line(r->child.to_child, raw, len);
    pthread_mutex_unlock(&r->child_mu);
    return 0; /* a failed write means the server is dying: its reader answers for it */
}

static void run_job(void *arg)
{
    job *j = arg;
    relay *r = j->r;
    cs_mcp_verdict v;
    cs_mcp_gate_run(r->gate, j->call, to_client_line, r, &v);
    if (v.kind == CS_MCP_FORWARD) {
        if (to_server(r, j->call->id_key, j->call->action_id, j->raw, j->len) != 0)
            reply_line(
                r, cs_rpc_error_line(j->call->id, CS_RPC_SERVER_GONE, "the MCP server has exited"));
    } else if (v.kind == CS_MCP_RESPOND) {
        to_client(r, v.response, strlen(v.response), 0);
    }
    cs_mcp_gate_acted(r->gate);
    cs_mcp_verdict_clear(&v);
    cs_mcp_call_free(j->call);
    free(j->raw);
    free(j);
}

static void client_reader(void *arg);

/* A gated call is run by the thread that read it, once another pool thread has
 * taken over reading the client: *out is the job to run then. */
static void start_gated(relay *r, const cs_rpc_msg *m, const char *raw, size_t len, job **out)
{
    cs_mcp_call *call = NULL;
    char *err_line = NULL;
    if (cs_mcp_call_new(m, "", &call, &err_line) != 0) return reply_line(r, err_line);
    job *j = cs_calloc(1, sizeof *j);
    *j = (job){r, call, cs_strndup(raw, len), len};
    cs_mcp_gate_track(r->gate, call); /* a cancellation that follows at once finds it */
    if (cs_mcp_pool_run(r->pool, client_reader, r) == 0) {
        *out = j;
        return;
    }
    cs_mcp_gate_drop(r->gate, call);
    reply_line(r, cs_rpc_error_line(call->id, CS_RPC_INTERNAL_ERROR,
                                    "countersign mcp-proxy: too many tool calls in flight; "
                                    "try again when some have finished"));
    cs_mcp_call_free(call);
    free(j->raw);
    free(j);
}

/* A batch (MCP 2025-03-26) is relayed as is unless it holds a tools/call, which
 * cannot be gated inside a batch: then every request in it gets an error. */
static void client_batch(relay *r, const cs_rpc_msg *m, const char *raw, size_t len)
{
    size_t i;
    json_t *el;
    int gated = 0;
    json_array_foreach(m->root, i, el) gated |=
        json_is_string(json_object_get(el, "method")) &&
        !strcmp(json_string_value(json_object_get(el, "method")), "tools/call");
    if (!gated) {
        to_server(r, NULL, NULL, raw, len);
        return;
    }
    json_t *errors = json_array();
    json_array_foreach(m->root, i, el)
    {
        json_t *id = json_object_get(el, "id");
        if (!id || !json_object_get(el, "method")) continue;
        json_array_append_new(
            errors,
            json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id, "error", "code",
                      CS_RPC_INVALID_REQUEST, "message",
                      "countersign: tools/call cannot be sent inside a batch; send it on its own"));
    }
    char *text = json_dumps(errors, JSON_COMPACT);
    json_decref(errors);
    if (strcmp(text, "[]")) to_client(r, text, strlen(text), 1);
    free(text);
}

static void client_message(relay *r, const char *raw, size_t len, job **gated)
{
    cs_rpc_msg m;
    if (cs_rpc_parse(raw, len, &m) != 0) {
        char *why = cs_sprintf("countersign mcp-proxy: %s", m.why);
        reply_line(r, cs_rpc_error_line(
                          m.id, m.parse_error ? CS_RPC_PARSE_ERROR : CS_RPC_INVALID_REQUEST, why));
        free(why);
    } else if (m.kind == CS_RPC_BATCH) {
        client_batch(r, &m, raw, len);
    } else if (m.kind == CS_RPC_REQUEST && !strcmp(m.method, "tools/call")) {
        start_gated(r, &m, raw, len, gated);
    } else if (m.kind == CS_RPC_REQUEST) {
        if (to_server(r, m.id_key, NULL, raw, len) != 0)
            reply_line(r, cs_rpc_error_line(m.id, CS_RPC_SERVER_GONE, "the MCP server has exited"));
    } else {
        char key[160];
        json_t *rid = json_object_get(json_object_get(m.root, "params"), "requestId");
        /* Cancelling a held call ends it here; the server never saw that request. */
        int held = m.kind == CS_RPC_NOTIFICATION && !strcmp(m.method, "notifications/cancelled") &&
                   rid && cs_rpc_id_key(rid, key, sizeof key) == 0 &&
                   cs_mcp_gate_cancel(r->gate, "", key);
        if (!held) to_server(r, NULL, NULL, raw, len);
    }
    cs_rpc_msg_clear(&m);
}

/* One message from the server: relayed as read; a response settles its request
 * (and, for a gated call, its outcome is reported). The request is settled before
 * the answer goes out, so that a client reusing the id at once is not confused
 * with it. */
static void server_message(relay *r, const char *raw, size_t len)
{
    cs_rpc_msg m;
    char *aid = NULL;
    int parsed = cs_rpc_parse(raw, len, &m) == 0;
    if (parsed && m.kind == CS_RPC_RESPONSE) {
        pthread_mutex_lock(&r->mu);
        json_t *v = json_object_get(r->inflight, m.id_key);
        if (json_is_string(v)) aid = cs_strdup(json_string_value(v));
        if (v) json_object_del(r->inflight, m.id_key);
        pthread_mutex_unlock(&r->mu);
    }
    to_client(r, raw, len, 1);
    if (aid) cs_mcp_gate_outcome(r->gate, aid, &m, raw, len);
    free(aid);
    cs_rpc_msg_clear(&m);
}

/* An answer from the server over the cap is dropped; the request it answered (when
 * its id could be found) gets an error instead of waiting forever. */
static void server_too_big(relay *r, const char *id_text)
{
    cs_warn("mcp-proxy: dropped a message from the server larger than %zu bytes",
            r->o->max_server_msg);
    json_t *id = id_text ? json_loads(id_text, JSON_DECODE_ANY, NULL) : NULL;
    char key[160];
    json_t *v = NULL;
    if (id && cs_rpc_id_key(id, key, sizeof key) == 0) {
        pthread_mutex_lock(&r->mu);
        v = json_incref(json_object_get(r->inflight, key));
        json_object_del(r->inflight, key);
        pthread_mutex_unlock(&r->mu);
    }
    if (v) {
        char *why =
            cs_sprintf("countersign mcp-proxy: the MCP server's answer was larger than %zu bytes",
                       r->o->max_server_msg);
        char *line = cs_rpc_error_line(id, CS_RPC_INTERNAL_ERROR, why);
        to_client(r, line, strlen(line), 0);
        cs_rpc_msg m = {0};
        if (json_is_string(v) && cs_rpc_parse(line, strlen(line) - 1, &m) == 0)
            cs_mcp_gate_outcome(r->gate, json_string_value(v), &m, line, strlen(line) - 1);
        if (json_is_string(v)) cs_rpc_msg_clear(&m);
        free(line);
        free(why);
    }
    json_decref(v);
    json_decref(id);
}

/* The server is gone: every request it owed an answer gets an error. */
static void server_gone(relay *r)
{
    pthread_mutex_lock(&r->mu);
    r->child_gone = 1;
    json_t *owed = r->inflight;
    r->inflight = json_object();
    pthread_mutex_unlock(&r->mu);
    const char *key;
    json_t *v;
    json_object_foreach(owed, key, v)
    {
        json_t *id = json_loads(key, JSON_DECODE_ANY, NULL);
        reply_line(r, cs_rpc_error_line(id, CS_RPC_SERVER_GONE,
                                        "the MCP server exited before answering this request"));
        json_decref(id);
    }
    json_decref(owed);
    cs_mcp_gate_abort_all(r->gate);
}

static void *server_reader(void *arg)
{
    relay *r = arg;
    cs_rpc_reader rd;
    cs_rpc_reader_init(&rd, r->child.from_child, r->o->max_server_msg);
    const char *data;
    size_t len;
    int rc;
    while ((rc = cs_rpc_read(&rd, &data, &len)) != CS_EIO) {
        if (rc == CS_ETOOBIG)
            server_too_big(r, rd.big_id);
        else
            server_message(r, data, len);
    }
    cs_rpc_reader_free(&rd);
    server_gone(r);
    if (cs_write_all(r->wake[1], "x", 1) != 0) cs_warn("mcp-proxy: cannot wake the main thread");
    return NULL;
}

/* Reads the client until a tools/call is handed to this thread (reading goes on in
 * another) or the input ends (the main thread is told). */
static void client_reader(void *arg)
{
    relay *r = arg;
    const char *data;
    size_t len;
    int rc;
    while ((rc = cs_rpc_read(&r->client, &data, &len)) != CS_EIO) {
        if (rc == CS_ETOOBIG) {
            /* Answered with the request's id when it could be found: no client waits. */
            json_t *id =
                r->client.big_id ? json_loads(r->client.big_id, JSON_DECODE_ANY, NULL) : NULL;
            char *why = cs_sprintf("countersign mcp-proxy: message larger than %zu bytes",
                                   r->o->max_client_msg);
            reply_line(r, cs_rpc_error_line(id, CS_RPC_INVALID_REQUEST, why));
            free(why);
            json_decref(id);
            continue;
        }
        job *gated = NULL;
        client_message(r, data, len, &gated);
        if (gated) {
            run_job(gated);
            return;
        }
    }
    pthread_mutex_lock(&r->mu);
    r->client_done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Starts the first client reader and waits for the client's input to end. */
static void client_loop(relay *r)
{
    cs_rpc_reader_init(&r->client, 0, r->o->max_client_msg);
    r->client.wake_fd = r->wake[0];
    if (cs_mcp_pool_run(r->pool, client_reader, r) != 0) {
        cs_error("mcp-proxy: cannot start reading the client");
        r->client_done = 1;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->client_done)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

/* SIGINT/SIGTERM (blocked in every thread) end the relay like a closed stdin, so the
 * server is still stopped and reaped. */
static void *signal_waiter(void *arg)
{
    relay *r = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    if (!atomic_load(&r->ending)) {
        cs_info("mcp-proxy: stopping on signal %d", sig);
        if (cs_write_all(r->wake[1], "s", 1) != 0)
            cs_warn("mcp-proxy: cannot wake the main thread");
    }
    return NULL;
}

int cs_mcp_proxy_stdio(cs_mcp_gate *gate, const cs_mcp_opts *o, char *const argv[])
{
    relay r = {.gate = gate, .o = o};
    cs_err err = {0};
    if (cs_mcp_child_spawn(argv, &r.child, &err) != 0) {
        cs_error("mcp-proxy: %s", err.msg);
        return 1;
    }
    pthread_mutex_init(&r.out_mu, NULL);
    pthread_mutex_init(&r.child_mu, NULL);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.inflight = json_object();
    r.pool = cs_mcp_pool_new(GATED_MAX + 1); /* + the client reader */
    if (pipe2(r.wake, O_CLOEXEC) != 0) abort();
    pthread_t reader, signals;
    pthread_create(&reader, NULL, server_reader, &r);
    pthread_create(&signals, NULL, signal_waiter, &r);
    client_loop(&r);
    atomic_store(&r.ending, 1);
    pthread_kill(signals, SIGTERM); /* blocked, so only its sigwait() sees it */
    pthread_join(signals, NULL);
    pthread_mutex_lock(&r.mu);
    int died = r.child_gone;
    pthread_mutex_unlock(&r.mu);
    /* Held calls end (their requests are cancelled), then the server stops. */
    cs_mcp_gate_abort_all(gate);
    pthread_mutex_lock(&r.child_mu);
    int code = cs_mcp_child_stop(&r.child, o->stop_grace_ms);
    pthread_mutex_unlock(&r.child_mu);
    pthread_join(reader, NULL);
    cs_mcp_pool_free(r.pool);
    cs_rpc_reader_free(&r.client);
    if (died) cs_error("mcp-proxy: the MCP server %s exited (code %d)", argv[0], code);
    cs_mcp_child_free(&r.child);
    json_decref(r.inflight);
    close(r.wake[0]);
    close(r.wake[1]);
    pthread_mutex_destroy(&r.out_mu);
    pthread_mutex_destroy(&r.child_mu);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    return died ? 1 : 0;
}
