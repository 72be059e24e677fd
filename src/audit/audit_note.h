/* audit_note.h - C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys:
 * signing, verification, and the verifier key text "<name>+<hex8 id>+<base64(0x01||key)>".
 *
 * The signer is the one place that holds the log's private key; it is wiped by
 * cs_audit_signer_wipe. The private key text is the one Go's golang.org/x/mod/sumdb/note
 * reads: "PRIVATE+KEY+<name>+<hex8 id>+<base64(0x01||32-byte seed)>". */
#ifndef CS_AUDIT_NOTE_H
#define CS_AUDIT_NOTE_H

#include "util/buf.h"
#include "util/error.h"

#include <stddef.h>
#include <stdint.h>

#define CS_AUDIT_NAME_MAX 255
/* Notes bigger than this are refused before they are parsed. */
#define CS_AUDIT_NOTE_MAX (1024 * 1024)
#define CS_AUDIT_NOTE_MAX_SIGS 100

typedef struct cs_audit_signer {
    char name[CS_AUDIT_NAME_MAX + 1];
    uint32_t key_id;
    uint8_t pub[32];
    uint8_t sec[64]; /* libsodium Ed25519 secret key (seed || public key) */
} cs_audit_signer;

typedef struct cs_audit_verifier {
    char name[CS_AUDIT_NAME_MAX + 1];
    uint32_t key_id;
    uint8_t pub[32];
} cs_audit_verifier;

/* A verified note: the signed text (a copy, NUL-terminated) and signature counts. */
typedef struct cs_audit_note {
    char *text;
    size_t text_len;
    unsigned verified;   /* signatures by one of the given verifiers */
    unsigned unverified; /* signatures by unknown keys, ignored */
} cs_audit_note;

/* A key name is valid when it is non-empty UTF-8 without spaces, controls or '+'. */
int cs_audit_key_name_valid(const char *name, size_t len);
/* The signed-note key id: first 4 bytes (big endian) of SHA-256(name || 0x0A || 0x01 || pub). */
uint32_t cs_audit_key_id(const char *name, const uint8_t pub[32]);

int cs_audit_signer_from_seed(cs_audit_signer *s, const char *name, const uint8_t seed[32],
                              cs_err *err);
int cs_audit_signer_generate(cs_audit_signer *s, const char *name, cs_err *err);
int cs_audit_signer_parse(cs_audit_signer *s, const char *skey, size_t len, cs_err *err);
int cs_audit_signer_skey(const cs_audit_signer *s, cs_buf *out);
int cs_audit_signer_vkey(const cs_audit_signer *s, cs_buf *out);
void cs_audit_signer_wipe(cs_audit_signer *s);
void cs_audit_signer_verifier(const cs_audit_signer *s, cs_audit_verifier *v);

int cs_audit_verifier_parse(cs_audit_verifier *v, const char *vkey, size_t len, cs_err *err);
int cs_audit_verifier_vkey(const cs_audit_verifier *v, cs_buf *out);

/* Appends the signed note (text, blank line, signature line) to out. The text must be
 * valid note text ending in a newline. */
int cs_audit_note_sign(const cs_audit_signer *s, const char *text, size_t len, cs_buf *out,
                       cs_err *err);
/* Parses and verifies a signed note. Succeeds when at least one signature is by one of
 * the `nv` verifiers and every signature by a known key is valid; signatures by
 * unknown keys are ignored. Returns 0, CS_EPARSE (malformed note) or CS_EAUTH (no valid
 * known signature, or a bad one). The caller frees note->text with cs_audit_note_free. */
int cs_audit_note_open(const char *msg, size_t len, const cs_audit_verifier *v, size_t nv,
                       cs_audit_note *note, cs_err *err);
void cs_audit_note_free(cs_audit_note *note);

#endif
