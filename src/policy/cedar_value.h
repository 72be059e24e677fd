/* cedar_value.h - Cedar runtime values: Bool, Long, String, Entity, Set, Record and
 * the ipaddr and decimal extension types. Values are immutable and live in an arena
 * (the policy set's for constants and entity attributes, an evaluation's for what the
 * evaluator computes), so they are passed around by pointer and never freed alone. */
#ifndef CS_POLICY_CEDAR_VALUE_H
#define CS_POLICY_CEDAR_VALUE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/arena.h"
#include "util/error.h"

typedef enum cs_vtype {
    CS_V_BOOL,
    CS_V_LONG,
    CS_V_STRING,
    CS_V_ENTITY,
    CS_V_SET,
    CS_V_RECORD,
    CS_V_IP,
    CS_V_DECIMAL,
} cs_vtype;

typedef struct cs_str {
    const char *p;
    size_t n;
} cs_str;

/* An entity uid; the hash covers type and id so that most comparisons stop there. */
typedef struct cs_uid {
    cs_str type;
    cs_str id;
    uint64_t hash;
} cs_uid;

typedef struct cs_value cs_value;

typedef struct cs_set {
    const cs_value **items; /* distinct values */
    size_t n;
} cs_set;

typedef struct cs_record {
    cs_str *keys; /* sorted bytewise, distinct */
    const cs_value **vals;
    size_t n;
} cs_record;

typedef struct cs_ipaddr {
    uint8_t v6;        /* 0: IPv4 (addr[0..3]), 1: IPv6 */
    uint8_t prefix;    /* 0..32 or 0..128 */
    uint8_t addr[16];  /* as written, host bits kept */
} cs_ipaddr;

struct cs_value {
    cs_vtype type;
    union {
        bool b;
        int64_t l;
        cs_str s;
        const cs_uid *uid;
        cs_set set;
        cs_record rec;
        cs_ipaddr ip;
        int64_t dec; /* decimal scaled by 10^4 */
    } u;
};

uint64_t cs_hash_bytes(const void *p, size_t n, uint64_t seed);
uint64_t cs_uid_hash(cs_str type, cs_str id);

static inline bool cs_str_eq(cs_str a, cs_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Inline: the evaluator and the index compare uids all the time, and most comparisons
 * end at the pointer (uids are shared where the set could) or at the hash. */
static inline bool cs_uid_eq(const cs_uid *a, const cs_uid *b)
{
    return a == b || (a->hash == b->hash && cs_str_eq(a->id, b->id) && cs_str_eq(a->type, b->type));
}

int cs_str_cmp(cs_str a, cs_str b);
cs_str cs_str_c(const char *s);

const cs_value *cs_value_bool(bool b);
const cs_value *cs_value_long(cs_arena *a, int64_t l);
const cs_value *cs_value_string(cs_arena *a, const char *p, size_t n); /* copies */
const cs_value *cs_value_entity(cs_arena *a, const cs_uid *uid);
cs_uid *cs_uid_new(cs_arena *a, const char *type, size_t tn, const char *id, size_t in);
/* Like cs_uid_new but points at the caller's strings, which must outlive the uid. */
cs_uid *cs_uid_borrow(cs_arena *a, const char *type, size_t tn, const char *id, size_t in);
/* Builds a set from items (duplicates removed); items are copied. */
const cs_value *cs_value_set(cs_arena *a, const cs_value **items, size_t n);
/* Builds a record; returns NULL when a key repeats. Keys and values are copied. */
const cs_value *cs_value_record(cs_arena *a, const cs_str *keys, const cs_value **vals, size_t n);
/* Builds a record from keys and vals, which live in a and become the record's own: the
 * arrays are sorted in place and the key strings are not copied, so they must outlive
 * the record. NULL when a key repeats. */
const cs_value *cs_value_record_adopt(cs_arena *a, cs_str *keys, const cs_value **vals, size_t n);

bool cs_value_eq(const cs_value *a, const cs_value *b);
bool cs_set_contains(const cs_set *s, const cs_value *v);
const cs_value *cs_record_get(const cs_record *r, cs_str key);
const char *cs_vtype_name(cs_vtype t);

/* Cedar JSON value form (with __entity and __extn escapes) -> value. depth guards
 * recursion; errors name the offending path in err. */
int cs_value_from_json(cs_arena *a, json_t *j, const cs_value **out, cs_err *err);
/* The same, but strings and keys point into j, which must outlive the values (a
 * request's context during one decision). */
int cs_value_from_json_borrow(cs_arena *a, json_t *j, const cs_value **out, cs_err *err);
/* Entity reference in JSON: {"type","id"} or {"__entity":{"type","id"}}. */
int cs_uid_from_json(cs_arena *a, json_t *j, cs_uid **out, cs_err *err);

/* Extension constructors (cedar_ext.c). Return 0 or CS_EEVAL with a message. */
int cs_ext_ip_parse(const char *s, size_t n, cs_ipaddr *out);
int cs_ext_decimal_parse(const char *s, size_t n, int64_t *out);
/* The value of ip(s) (type CS_V_IP) or decimal(s) (CS_V_DECIMAL), allocated in a; NULL
 * when s is not a valid literal of that type. The evaluator, the parser's constant
 * folding and the JSON __extn escape all construct through it. */
const cs_value *cs_ext_value(cs_arena *a, cs_vtype type, const char *s, size_t n);
bool cs_ext_ip_in_range(const cs_ipaddr *a, const cs_ipaddr *range);
bool cs_ext_ip_is_loopback(const cs_ipaddr *a);
bool cs_ext_ip_is_multicast(const cs_ipaddr *a);

#endif
