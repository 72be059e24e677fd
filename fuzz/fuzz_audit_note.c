/* fuzz_audit_note.c - libFuzzer target for the audit log's text parsers: C2SP signed
 * notes, tlog-checkpoint bodies, tlog-proof files, verifier and private key text,
 * tlog-tiles paths and entry bundles. The seed corpus is fuzz/corpus/audit_note/. */
#include "audit/audit_checkpoint.h"
#include "audit/audit_note.h"
#include "audit/audit_proof.h"
#include "audit/audit_tile.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The seed corpus is signed with this key (seed bytes 0..31, name "fuzz.example/log"), so
 * the fuzzer reaches the signature checks and the checkpoint parser behind them. */
static cs_audit_verifier verifier;

static void init(void)
{
    static int done;
    if (done) return;
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    cs_audit_signer s;
    if (cs_audit_signer_from_seed(&s, "fuzz.example/log", seed, NULL) != 0) abort();
    cs_audit_signer_verifier(&s, &verifier);
    cs_audit_signer_wipe(&s);
    done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    const char *text = (const char *)data;
    cs_err err;

    cs_audit_note note;
    if (cs_audit_note_open(text, size, &verifier, 1, &note, &err) == 0) {
        cs_audit_checkpoint cp;
        cs_audit_checkpoint_parse(note.text, note.text_len, &cp, &err);
        cs_audit_note_free(&note);
    }
    cs_audit_checkpoint cp;
    cs_audit_checkpoint_open(text, size, &verifier, &cp, &err);
    if (cs_audit_checkpoint_parse(text, size, &cp, &err) == 0) {
        /* What parses must format back to the same bytes. */
        cs_buf b;
        cs_buf_init(&b, 1 << 16);
        if (cs_audit_checkpoint_format(&cp, &b) != 0 || b.len != size ||
            memcmp(b.data, data, size) != 0)
            abort();
        cs_buf_free(&b);
    }

    cs_audit_proof p;
    if (cs_audit_proof_parse(text, size, &p, &err) == 0) {
        cs_audit_proof_verify(&p, data, size, &verifier, NULL, &err);
        cs_audit_proof_free(&p);
    }

    cs_audit_verifier v;
    cs_audit_verifier_parse(&v, text, size, &err);
    cs_audit_signer s;
    if (cs_audit_signer_parse(&s, text, size, &err) == 0) cs_audit_signer_wipe(&s);

    cs_audit_tile_ref ref;
    if (cs_audit_tile_path_parse(text, size, &ref) == 0) {
        /* A parsed path formats back to itself. */
        cs_buf b;
        cs_buf_init(&b, 256);
        if (cs_audit_tile_path(&b, &ref) != 0 || b.len != size || memcmp(b.data, data, size) != 0)
            abort();
        cs_buf_free(&b);
    }

    cs_audit_bundle_iter it;
    const uint8_t *e;
    size_t len;
    cs_audit_bundle_iter_init(&it, data, size);
    while (cs_audit_bundle_next(&it, &e, &len) == 1) {
    }
    return 0;
}
