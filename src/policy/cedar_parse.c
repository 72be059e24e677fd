/* cedar_parse.c - recursive-descent parser for the Cedar policy grammar (Cedar language
 * reference, "Grammar"): annotations, effect, scope, when/unless conditions and the
 * full expression language. Errors carry file:line:col and say what was expected;
 * nesting is bounded by CS_POLICY_MAX_DEPTH so no input can exhaust the stack. */
#include "policy/cedar_parse.h"

#include "util/alloc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    cs_arena *a;
    cs_lexer lx;
    cs_tok tok; /* current token */
    const char *file;
    int depth;
    jmp_buf fail;
    char msg[400];
    int err_line, err_col;
} parser;

static const char *reserved[] = {"true", "false", "if", "then", "else", "in", "is", "like", "has", "__cedar", NULL};

static bool tok_is(const cs_tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->kind == CS_T_IDENT && t->n == n && memcmp(t->p, word, n) == 0;
}

static bool is_reserved(const cs_tok *t)
{
    for (int i = 0; reserved[i]; i++)
        if (tok_is(t, reserved[i])) return true;
    return false;
}

static void advance(parser *P)
{
    P->tok = cs_lex_next(&P->lx);
}

static _Noreturn void fail_at(parser *P, const cs_tok *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static _Noreturn void fail_at(parser *P, const cs_tok *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->msg, sizeof P->msg, fmt, ap);
    va_end(ap);
    P->err_line = t->line;
    P->err_col = t->col;
    longjmp(P->fail, 1);
}

/* Describes the current token for "expected X, found Y" messages. */
static const char *found(parser *P, char *buf, size_t n)
{
    if (P->tok.kind == CS_T_ERROR) return P->lx.error ? P->lx.error : "invalid token";
    if (P->tok.kind == CS_T_EOF) return "end of input";
    snprintf(buf, n, "'%.*s'", P->tok.n > 40 ? 40 : (int)P->tok.n, P->tok.p);
    return buf;
}

static _Noreturn void expected(parser *P, const char *what)
{
    char b[64];
    fail_at(P, &P->tok, "expected %s, found %s", what, found(P, b, sizeof b));
}

static cs_tok expect(parser *P, cs_tok_kind k, const char *what)
{
    if (P->tok.kind != k) expected(P, what ? what : cs_tok_name(k));
    cs_tok t = P->tok;
    advance(P);
    return t;
}

static void expect_word(parser *P, const char *word)
{
    if (!tok_is(&P->tok, word)) {
        char w[40];
        snprintf(w, sizeof w, "'%s'", word);
        expected(P, w);
    }
    advance(P);
}

static void enter(parser *P)
{
    if (++P->depth > CS_POLICY_MAX_DEPTH)
        fail_at(P, &P->tok, "expression nested too deeply (limit %d)", CS_POLICY_MAX_DEPTH);
}

static cs_expr *node(parser *P, cs_expr_kind k, const cs_tok *at)
{
    cs_expr *e = cs_arena_alloc(P->a, sizeof *e);
    e->kind = k;
    e->line = at->line;
    e->col = at->col;
    e->height = 1;
    return e;
}

/* Records that child hangs below e; refuses trees too tall to evaluate safely. */
static void below(parser *P, cs_expr *e, const cs_expr *child)
{
    if (child->height + 1 > e->height) e->height = child->height + 1;
    if (e->height > CS_POLICY_MAX_HEIGHT) {
        cs_tok at = {.line = e->line, .col = e->col};
        fail_at(P, &at, "expression too large (tree height over %d)", CS_POLICY_MAX_HEIGHT);
    }
}

static cs_expr *binary(parser *P, cs_expr_kind k, const cs_tok *at, const cs_expr *a, const cs_expr *b)
{
    cs_expr *e = node(P, k, at);
    e->u.op.a = a;
    e->u.op.b = b;
    below(P, e, a);
    below(P, e, b);
    return e;
}

/* Appends room for one more item to an arena array of n items: when full, copies it
 * into one twice the size (the old copy stays in the arena until the set is freed). */
static void *arena_push(parser *P, void *items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) return items;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *ni = cs_arena_alloc(P->a, ncap * size);
    if (n) memcpy(ni, items, n * size);
    *cap = ncap;
    return ni;
}

/* ---- strings ---- */

static int utf8_put(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hexdig(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes escapes; in pattern mode also splits at bare '*' (pieces into parts). */
static int unescape(cs_arena *a, const char *p, size_t n, bool pattern, cs_str *parts,
                    size_t *n_parts, const char **why)
{
    char *o = cs_arena_alloc(a, n + 1), *start = o;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (pattern && c == '*') {
            parts[np++] = (cs_str){start, (size_t)(o - start)};
            *o++ = '\0';
            start = o;
            continue;
        }
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        if (++i >= n) {
            *why = "string ends with a lone backslash";
            return -1;
        }
        switch (p[i]) {
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case '\\': *o++ = '\\'; break;
        case '0': *o++ = '\0'; break;
        case '\'': *o++ = '\''; break;
        case '"': *o++ = '"'; break;
        case '*':
            if (!pattern) {
                *why = "invalid escape '\\*' (only allowed in like patterns)";
                return -1;
            }
            *o++ = '*';
            break;
        case 'x': {
            int h1 = i + 1 < n ? hexdig(p[i + 1]) : -1, h2 = i + 2 < n ? hexdig(p[i + 2]) : -1;
            if (h1 < 0 || h2 < 0 || h1 > 7) {
                *why = "invalid \\x escape (two hex digits, at most 7F)";
                return -1;
            }
            *o++ = (char)(h1 * 16 + h2);
            i += 2;
            break;
        }
        case 'u': {
            if (i + 1 >= n || p[i + 1] != '{') {
                *why = "invalid \\u escape (expected \\u{...})";
                return -1;
            }
            size_t j = i + 2;
            unsigned long cp = 0;
            int digits = 0;
            while (j < n && hexdig(p[j]) >= 0 && digits < 6) {
                cp = cp * 16 + (unsigned long)hexdig(p[j++]);
                digits++;
            }
            if (digits == 0 || j >= n || p[j] != '}' || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                *why = "invalid \\u{...} escape";
                return -1;
            }
            o += utf8_put(o, cp);
            i = j;
            break;
        }
        default: *why = "invalid escape sequence"; return -1;
        }
    }
    if (pattern) {
        parts[np++] = (cs_str){start, (size_t)(o - start)};
        *n_parts = np;
    } else {
        *parts = (cs_str){start, (size_t)(o - start)};
    }
    *o = '\0';
    return 0;
}

int cs_cedar_unescape(cs_arena *a, const char *p, size_t n, cs_str *out, const char **why)
{
    return unescape(a, p, n, false, out, NULL, why);
}

static cs_str string_lit(parser *P, const cs_tok *t)
{
    cs_str s;
    const char *why = NULL;
    if (unescape(P->a, t->p, t->n, false, &s, NULL, &why) < 0) fail_at(P, t, "%s", why);
    return s;
}

/* ---- paths and entity literals ---- */

static cs_str ident_text(parser *P, const cs_tok *t)
{
    return (cs_str){cs_arena_strndup(P->a, t->p, t->n), t->n};
}

/* After the first IDENT of a path has been consumed: reads `::IDENT` segments. Stops
 * before `::"string"` so the caller can read an entity id. */
static cs_str path_rest(parser *P, const cs_tok *first, bool *entity)
{
    char buf[512];
    size_t n = 0;
    if (first->n >= sizeof buf) fail_at(P, first, "name too long");
    memcpy(buf, first->p, first->n);
    n = first->n;
    *entity = false;
    while (P->tok.kind == CS_T_COLONCOLON) {
        advance(P);
        if (P->tok.kind == CS_T_STRING) {
            *entity = true;
            break;
        }
        if (P->tok.kind != CS_T_IDENT || is_reserved(&P->tok)) expected(P, "identifier or string after '::'");
        if (n + 2 + P->tok.n >= sizeof buf) fail_at(P, &P->tok, "name too long");
        memcpy(buf + n, "::", 2);
        memcpy(buf + n + 2, P->tok.p, P->tok.n);
        n += 2 + P->tok.n;
        advance(P);
    }
    return (cs_str){cs_arena_strndup(P->a, buf, n), n};
}

static const cs_uid *entity_lit(parser *P)
{
    cs_tok first = P->tok;
    if (first.kind != CS_T_IDENT || is_reserved(&first)) expected(P, "an entity (Type::\"id\")");
    advance(P);
    bool entity;
    cs_str type = path_rest(P, &first, &entity);
    if (!entity) expected(P, "'::\"id\"' to complete the entity");
    cs_tok idt = P->tok;
    advance(P);
    cs_str id = string_lit(P, &idt);
    cs_uid *u = cs_uid_new(P->a, type.p, type.n, id.p, id.n);
    return u;
}

static cs_str type_path(parser *P)
{
    cs_tok first = P->tok;
    if (first.kind != CS_T_IDENT || is_reserved(&first)) expected(P, "an entity type name");
    advance(P);
    bool entity;
    cs_str t = path_rest(P, &first, &entity);
    if (entity) fail_at(P, &P->tok, "expected an entity type name, found an entity");
    return t;
}

/* ---- expressions ---- */

static const cs_expr *parse_expr(parser *P);

static const cs_expr **expr_list(parser *P, cs_tok_kind close, size_t *n)
{
    const cs_expr **items = NULL;
    size_t cap = 0, cnt = 0;
    if (P->tok.kind != close) {
        for (;;) {
            const cs_expr *e = parse_expr(P);
            items = arena_push(P, items, cnt, &cap, sizeof *items);
            items[cnt++] = e;
            if (P->tok.kind != CS_T_COMMA) break;
            advance(P);
            if (P->tok.kind == close) break; /* trailing comma */
        }
    }
    expect(P, close, close == CS_T_RPAREN ? "',' or ')'" : "',' or ']'");
    *n = cnt;
    return items;
}

typedef struct fn_info {
    const char *name;
    cs_fn fn;
    int arity;     /* arguments besides the receiver */
    bool extension; /* ipaddr/decimal: arity errors happen at evaluation */
} fn_info;

static const fn_info methods[] = {
    {"contains", CS_FN_CONTAINS, 1, false},
    {"containsAll", CS_FN_CONTAINS_ALL, 1, false},
    {"containsAny", CS_FN_CONTAINS_ANY, 1, false},
    {"isEmpty", CS_FN_IS_EMPTY, 0, false},
    {"hasTag", CS_FN_HAS_TAG, 1, false},
    {"getTag", CS_FN_GET_TAG, 1, false},
    {"isIpv4", CS_FN_IS_IPV4, 0, true},
    {"isIpv6", CS_FN_IS_IPV6, 0, true},
    {"isLoopback", CS_FN_IS_LOOPBACK, 0, true},
    {"isMulticast", CS_FN_IS_MULTICAST, 0, true},
    {"isInRange", CS_FN_IS_IN_RANGE, 1, true},
    {"lessThan", CS_FN_LESS_THAN, 1, true},
    {"lessThanOrEqual", CS_FN_LESS_THAN_OR_EQUAL, 1, true},
    {"greaterThan", CS_FN_GREATER_THAN, 1, true},
    {"greaterThanOrEqual", CS_FN_GREATER_THAN_OR_EQUAL, 1, true},
    {NULL, 0, 0, false},
};

static const fn_info functions[] = {
    {"ip", CS_FN_IP, 1, true},
    {"decimal", CS_FN_DECIMAL, 1, true},
    {NULL, 0, 0, false},
};

static const fn_info *find_fn(const fn_info *table, cs_str name)
{
    for (int i = 0; table[i].name; i++)
        if (cs_str_eq(cs_str_c(table[i].name), name)) return &table[i];
    return NULL;
}

/* ip("...") and decimal("...") of a valid string literal are constants: the value is
 * made once here instead of at every evaluation. An invalid literal stays a call, so
 * that it fails when evaluated, as in Cedar. */
static void fold_extension(parser *P, cs_expr *e)
{
    const cs_expr *arg = e->u.call.args[0];
    if (arg->kind != CS_X_LIT || arg->u.lit->type != CS_V_STRING) return;
    cs_str s = arg->u.lit->u.s;
    const cs_value *v = cs_ext_value(P->a, e->u.call.fn == CS_FN_IP ? CS_V_IP : CS_V_DECIMAL, s.p, s.n);
    if (v == NULL) return;
    e->kind = CS_X_LIT;
    e->u.lit = v;
}

static const cs_expr *call_node(parser *P, const cs_tok *at, const fn_info *f, const cs_expr *self)
{
    cs_expr *e = node(P, self ? CS_X_METHOD : CS_X_CALL, at);
    e->u.call.fn = f->fn;
    e->u.call.self = self;
    e->u.call.args = expr_list(P, CS_T_RPAREN, &e->u.call.n);
    if (self) below(P, e, self);
    for (size_t i = 0; i < e->u.call.n; i++) below(P, e, e->u.call.args[i]);
    /* Like Cedar, the built-in set and tag methods are checked here; extension
     * functions and methods with the wrong arity are evaluation errors. */
    if ((int)e->u.call.n != f->arity && !f->extension)
        fail_at(P, at, "'%s' takes %d argument%s, got %zu", f->name, f->arity, f->arity == 1 ? "" : "s",
                e->u.call.n);
    if (!self && e->u.call.n == 1 && (f->fn == CS_FN_IP || f->fn == CS_FN_DECIMAL)) fold_extension(P, e);
    return e;
}

/* A set of constants is a constant (as evaluating it would give, duplicates removed):
 * made once here instead of at every evaluation. */
static void fold_set(parser *P, cs_expr *e)
{
    size_t n = e->u.list.n;
    for (size_t i = 0; i < n; i++)
        if (e->u.list.items[i]->kind != CS_X_LIT) return;
    const cs_value **items = cs_arena_alloc(P->a, (n ? n : 1) * sizeof *items);
    for (size_t i = 0; i < n; i++) items[i] = e->u.list.items[i]->u.lit;
    e->kind = CS_X_LIT;
    e->u.lit = cs_value_set(P->a, items, n);
}

static const cs_expr *record_lit(parser *P, const cs_tok *at)
{
    cs_expr *e = node(P, CS_X_RECORD, at);
    size_t cap = 0, n = 0;
    const cs_expr **items = NULL;
    cs_str *keys = NULL;
    while (P->tok.kind != CS_T_RBRACE) {
        cs_tok kt = P->tok;
        cs_str key;
        if (kt.kind == CS_T_STRING) key = string_lit(P, &kt);
        else if (kt.kind == CS_T_IDENT && !is_reserved(&kt)) key = ident_text(P, &kt);
        else expected(P, "a record key (identifier or string)");
        advance(P);
        expect(P, CS_T_COLON, "':' after the record key");
        const cs_expr *v = parse_expr(P);
        for (size_t i = 0; i < n; i++)
            if (cs_str_eq(keys[i], key)) fail_at(P, &kt, "duplicate key \"%.*s\" in record literal", (int)key.n, key.p);
        size_t kcap = cap;
        items = arena_push(P, items, n, &cap, sizeof *items);
        keys = arena_push(P, keys, n, &kcap, sizeof *keys);
        items[n] = v;
        keys[n] = key;
        below(P, e, v);
        n++;
        if (P->tok.kind != CS_T_COMMA) break;
        advance(P);
    }
    expect(P, CS_T_RBRACE, "',' or '}'");
    e->u.list.items = items;
    e->u.list.keys = keys;
    e->u.list.n = n;
    return e;
}

static int64_t int_lit(parser *P, const cs_tok *t, bool negative)
{
    /* Accumulate negatively so that -9223372036854775808 is representable. */
    int64_t v = 0;
    for (size_t i = 0; i < t->n; i++) {
        int d = t->p[i] - '0';
        if (v < (INT64_MIN + d) / 10) fail_at(P, t, "integer literal out of range");
        v = v * 10 - d;
    }
    if (!negative) {
        if (v == INT64_MIN) fail_at(P, t, "integer literal out of range");
        v = -v;
    }
    return v;
}

static const cs_expr *parse_primary(parser *P)
{
    cs_tok t = P->tok;
    switch (t.kind) {
    case CS_T_INT: {
        advance(P);
        cs_expr *e = node(P, CS_X_LIT, &t);
        e->u.lit = cs_value_long(P->a, int_lit(P, &t, false));
        return e;
    }
    case CS_T_STRING: {
        advance(P);
        cs_str s = string_lit(P, &t);
        cs_expr *e = node(P, CS_X_LIT, &t);
        e->u.lit = cs_value_string(P->a, s.p, s.n);
        return e;
    }
    case CS_T_LPAREN: {
        advance(P);
        const cs_expr *e = parse_expr(P);
        expect(P, CS_T_RPAREN, "')'");
        return e;
    }
    case CS_T_LBRACKET: {
        advance(P);
        cs_expr *e = node(P, CS_X_SET, &t);
        e->u.list.items = expr_list(P, CS_T_RBRACKET, &e->u.list.n);
        for (size_t i = 0; i < e->u.list.n; i++) below(P, e, e->u.list.items[i]);
        fold_set(P, e);
        return e;
    }
    case CS_T_LBRACE: advance(P); return record_lit(P, &t);
    case CS_T_QUESTION: fail_at(P, &t, "policy templates (?principal, ?resource) are not supported");
    case CS_T_IDENT: break;
    default: expected(P, "an expression");
    }
    if (tok_is(&t, "true") || tok_is(&t, "false")) {
        advance(P);
        cs_expr *e = node(P, CS_X_LIT, &t);
        e->u.lit = cs_value_bool(tok_is(&t, "true"));
        return e;
    }
    static const char *vars[] = {"principal", "action", "resource", "context"};
    for (int i = 0; i < 4; i++)
        if (tok_is(&t, vars[i])) {
            advance(P);
            if (P->tok.kind == CS_T_COLONCOLON)
                fail_at(P, &t, "'%s' is a variable, not an entity type", vars[i]);
            cs_expr *e = node(P, CS_X_VAR, &t);
            e->u.var = (cs_var)i;
            return e;
        }
    if (is_reserved(&t)) {
        if (tok_is(&t, "if")) fail_at(P, &t, "an if-then-else expression must be in parentheses here");
        expected(P, "an expression");
    }
    advance(P);
    bool entity;
    cs_str path = path_rest(P, &t, &entity);
    if (entity) {
        cs_tok idt = P->tok;
        advance(P);
        cs_str id = string_lit(P, &idt);
        cs_expr *e = node(P, CS_X_LIT, &t);
        e->u.lit = cs_value_entity(P->a, cs_uid_new(P->a, path.p, path.n, id.p, id.n));
        return e;
    }
    if (P->tok.kind == CS_T_LPAREN) {
        const fn_info *f = find_fn(functions, path);
        if (f == NULL) fail_at(P, &t, "unknown function '%.*s' (known: ip, decimal)", (int)path.n, path.p);
        advance(P);
        return call_node(P, &t, f, NULL);
    }
    fail_at(P, &t, "unknown identifier '%.*s' (expected a variable, a literal or Type::\"id\")",
            (int)path.n, path.p);
}

static const cs_expr *parse_member(parser *P)
{
    const cs_expr *e = parse_primary(P);
    for (;;) {
        cs_tok at = P->tok;
        if (at.kind == CS_T_DOT) {
            advance(P);
            cs_tok name = P->tok;
            if (name.kind != CS_T_IDENT || is_reserved(&name)) expected(P, "an attribute or method name after '.'");
            advance(P);
            cs_str nm = ident_text(P, &name);
            if (P->tok.kind == CS_T_LPAREN) {
                const fn_info *f = find_fn(methods, nm);
                if (f == NULL) fail_at(P, &name, "unknown method '%.*s'", (int)nm.n, nm.p);
                advance(P);
                enter(P);
                e = call_node(P, &name, f, e);
                P->depth--;
            } else {
                cs_expr *x = node(P, CS_X_ATTR, &name);
                x->u.attr.a = e;
                x->u.attr.attr = nm;
                below(P, x, e);
                e = x;
            }
        } else if (at.kind == CS_T_LBRACKET) {
            advance(P);
            cs_tok s = P->tok;
            if (s.kind != CS_T_STRING) expected(P, "a string literal inside '[...]'");
            advance(P);
            expect(P, CS_T_RBRACKET, "']'");
            cs_expr *x = node(P, CS_X_ATTR, &at);
            x->u.attr.a = e;
            x->u.attr.attr = string_lit(P, &s);
            below(P, x, e);
            e = x;
        } else {
            return e;
        }
    }
}

static const cs_expr *parse_unary(parser *P)
{
    cs_tok ops[5];
    int n = 0;
    while (P->tok.kind == CS_T_BANG || P->tok.kind == CS_T_MINUS) {
        if (n == 4) fail_at(P, &P->tok, "too many unary operators in a row (at most 4)");
        if (n > 0 && P->tok.kind != ops[0].kind)
            fail_at(P, &P->tok, "'!' and '-' cannot be mixed in a row; use parentheses");
        ops[n++] = P->tok;
        advance(P);
    }
    const cs_expr *e;
    if (n > 0 && ops[n - 1].kind == CS_T_MINUS && P->tok.kind == CS_T_INT) {
        /* `-N` is a negative literal (so the Long minimum can be written), unless the
         * literal is followed by an access, which the minus then applies to. */
        cs_lexer save = P->lx;
        cs_tok lit = P->tok;
        cs_tok after = cs_lex_next(&P->lx);
        P->lx = save;
        if (after.kind != CS_T_DOT && after.kind != CS_T_LBRACKET) {
            advance(P);
            cs_expr *x = node(P, CS_X_LIT, &ops[n - 1]);
            x->u.lit = cs_value_long(P->a, int_lit(P, &lit, true));
            e = x;
            n--;
        } else {
            e = parse_member(P);
        }
    } else {
        e = parse_member(P);
    }
    while (n-- > 0) {
        cs_expr *x = node(P, ops[n].kind == CS_T_BANG ? CS_X_NOT : CS_X_NEG, &ops[n]);
        x->u.op.a = e;
        below(P, x, e);
        e = x;
    }
    return e;
}

static const cs_expr *parse_mult(parser *P)
{
    const cs_expr *e = parse_unary(P);
    while (P->tok.kind == CS_T_STAR) {
        cs_tok at = P->tok;
        advance(P);
        e = binary(P, CS_X_MUL, &at, e, parse_unary(P));
    }
    return e;
}

static const cs_expr *parse_add(parser *P)
{
    const cs_expr *e = parse_mult(P);
    while (P->tok.kind == CS_T_PLUS || P->tok.kind == CS_T_MINUS) {
        cs_tok at = P->tok;
        advance(P);
        e = binary(P, at.kind == CS_T_PLUS ? CS_X_ADD : CS_X_SUB, &at, e, parse_mult(P));
    }
    return e;
}

static const cs_expr *has_node(parser *P, const cs_tok *at, const cs_expr *a, cs_str attr)
{
    cs_expr *x = node(P, CS_X_HAS, at);
    x->u.attr.a = a;
    x->u.attr.attr = attr;
    below(P, x, a);
    return x;
}

/* `e has a.b.c` means `e has a && e.a has b && e.a.b has c`. */
static const cs_expr *parse_has(parser *P, const cs_tok *at, const cs_expr *lhs)
{
    cs_tok t = P->tok;
    if (t.kind == CS_T_STRING) {
        advance(P);
        return has_node(P, at, lhs, string_lit(P, &t));
    }
    if (t.kind != CS_T_IDENT || is_reserved(&t)) expected(P, "an attribute name or string after 'has'");
    advance(P);
    const cs_expr *result = has_node(P, at, lhs, ident_text(P, &t));
    const cs_expr *path = lhs;
    cs_str prev = ident_text(P, &t);
    while (P->tok.kind == CS_T_DOT) {
        advance(P);
        cs_tok nt = P->tok;
        if (nt.kind != CS_T_IDENT || is_reserved(&nt)) expected(P, "an attribute name after '.'");
        advance(P);
        cs_expr *acc = node(P, CS_X_ATTR, at);
        acc->u.attr.a = path;
        acc->u.attr.attr = prev;
        below(P, acc, path);
        path = acc;
        prev = ident_text(P, &nt);
        result = binary(P, CS_X_AND, at, result, has_node(P, at, path, prev));
    }
    return result;
}

static const cs_expr *parse_like(parser *P, const cs_tok *at, const cs_expr *lhs)
{
    cs_tok t = P->tok;
    if (t.kind != CS_T_STRING) expected(P, "a string pattern after 'like'");
    advance(P);
    size_t stars = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.p[i] == '\\') i++;
        else if (t.p[i] == '*') stars++;
    }
    cs_str *parts = cs_arena_alloc(P->a, (stars + 1) * sizeof *parts);
    size_t np = 0;
    const char *why = NULL;
    if (unescape(P->a, t.p, t.n, true, parts, &np, &why) < 0) fail_at(P, &t, "%s", why);
    cs_expr *x = node(P, CS_X_LIKE, at);
    x->u.like.a = lhs;
    x->u.like.parts = parts;
    x->u.like.n_parts = np;
    below(P, x, lhs);
    return x;
}

static const cs_expr *parse_relation(parser *P)
{
    const cs_expr *lhs = parse_add(P);
    cs_tok at = P->tok;
    cs_expr_kind k;
    switch (at.kind) {
    case CS_T_EQEQ: k = CS_X_EQ; break;
    case CS_T_NE: k = CS_X_NE; break;
    case CS_T_LT: k = CS_X_LT; break;
    case CS_T_LE: k = CS_X_LE; break;
    case CS_T_GT: k = CS_X_GT; break;
    case CS_T_GE: k = CS_X_GE; break;
    case CS_T_EQ: fail_at(P, &at, "'=' is not an operator (did you mean '=='?)");
    case CS_T_IDENT:
        if (tok_is(&at, "in")) {
            k = CS_X_IN;
            break;
        }
        if (tok_is(&at, "has")) {
            advance(P);
            return parse_has(P, &at, lhs);
        }
        if (tok_is(&at, "like")) {
            advance(P);
            return parse_like(P, &at, lhs);
        }
        if (tok_is(&at, "is")) {
            advance(P);
            cs_expr *x = node(P, CS_X_IS, &at);
            x->u.is.a = lhs;
            x->u.is.type = type_path(P);
            below(P, x, lhs);
            if (tok_is(&P->tok, "in")) {
                advance(P);
                x->u.is.in = parse_add(P);
                below(P, x, x->u.is.in);
            }
            return x;
        }
        return lhs;
    default: return lhs;
    }
    advance(P);
    return binary(P, k, &at, lhs, parse_add(P));
}

static const cs_expr *parse_and(parser *P)
{
    const cs_expr *e = parse_relation(P);
    while (P->tok.kind == CS_T_ANDAND) {
        cs_tok at = P->tok;
        advance(P);
        e = binary(P, CS_X_AND, &at, e, parse_relation(P));
    }
    return e;
}

static const cs_expr *parse_or(parser *P)
{
    const cs_expr *e = parse_and(P);
    while (P->tok.kind == CS_T_OROR) {
        cs_tok at = P->tok;
        advance(P);
        e = binary(P, CS_X_OR, &at, e, parse_and(P));
    }
    return e;
}

static const cs_expr *parse_expr(parser *P)
{
    enter(P);
    const cs_expr *e;
    if (tok_is(&P->tok, "if")) {
        cs_tok at = P->tok;
        advance(P);
        cs_expr *x = node(P, CS_X_IF, &at);
        x->u.op.a = parse_expr(P);
        expect_word(P, "then");
        x->u.op.b = parse_expr(P);
        expect_word(P, "else");
        x->u.op.c = parse_expr(P);
        below(P, x, x->u.op.a);
        below(P, x, x->u.op.b);
        below(P, x, x->u.op.c);
        e = x;
    } else {
        e = parse_or(P);
    }
    P->depth--;
    return e;
}

/* ---- policies ---- */

static void parse_scope_var(parser *P, const char *var, bool is_action, cs_scope *s)
{
    if (P->tok.kind == CS_T_QUESTION)
        fail_at(P, &P->tok, "policy templates (?principal, ?resource) are not supported");
    expect_word(P, var);
    s->op = CS_SCOPE_ANY;
    if (P->tok.kind == CS_T_EQEQ) {
        advance(P);
        if (P->tok.kind == CS_T_QUESTION) fail_at(P, &P->tok, "policy templates are not supported");
        s->op = CS_SCOPE_EQ;
        s->uid = entity_lit(P);
    } else if (tok_is(&P->tok, "in")) {
        advance(P);
        if (P->tok.kind == CS_T_QUESTION) fail_at(P, &P->tok, "policy templates are not supported");
        if (is_action && P->tok.kind == CS_T_LBRACKET) {
            advance(P);
            size_t cap = 0;
            while (P->tok.kind != CS_T_RBRACKET) {
                const cs_uid *u = entity_lit(P);
                s->list = arena_push(P, s->list, s->n_list, &cap, sizeof *s->list);
                s->list[s->n_list++] = u;
                if (P->tok.kind != CS_T_COMMA) break;
                advance(P);
            }
            expect(P, CS_T_RBRACKET, "',' or ']'");
            s->op = CS_SCOPE_IN_LIST;
        } else {
            s->op = CS_SCOPE_IN;
            s->uid = entity_lit(P);
        }
    } else if (tok_is(&P->tok, "is")) {
        if (is_action) fail_at(P, &P->tok, "'is' is not allowed in the action scope");
        advance(P);
        s->op = CS_SCOPE_IS;
        s->type = type_path(P);
        if (tok_is(&P->tok, "in")) {
            advance(P);
            if (P->tok.kind == CS_T_QUESTION) fail_at(P, &P->tok, "policy templates are not supported");
            s->op = CS_SCOPE_IS_IN;
            s->uid = entity_lit(P);
        }
    }
    for (size_t i = 0; is_action && i < (s->uid ? 1 : s->n_list); i++) {
        const cs_uid *u = s->uid ? s->uid : s->list[i];
        if (!cs_str_eq(u->type, cs_str_c("Action")) &&
            !(u->type.n > 8 && !memcmp(u->type.p + u->type.n - 8, "::Action", 8)))
            fail_at(P, &P->tok, "the action scope needs Action entities, found type '%.*s'",
                    (int)u->type.n, u->type.p);
    }
}

static void parse_annotations(parser *P, cs_policy *pol)
{
    size_t cap = 0;
    while (P->tok.kind == CS_T_AT) {
        advance(P);
        cs_tok key = P->tok;
        if (key.kind != CS_T_IDENT) expected(P, "an annotation name after '@'");
        advance(P);
        cs_str value = {"", 0};
        if (P->tok.kind == CS_T_LPAREN) {
            advance(P);
            cs_tok v = expect(P, CS_T_STRING, "a string annotation value");
            value = string_lit(P, &v);
            expect(P, CS_T_RPAREN, "')' after the annotation value");
        }
        cs_str k = ident_text(P, &key);
        for (size_t i = 0; i < pol->n_annotations; i++)
            if (cs_str_eq(pol->annotations[i].key, k))
                fail_at(P, &key, "duplicate annotation @%.*s", (int)k.n, k.p);
        pol->annotations = arena_push(P, pol->annotations, pol->n_annotations, &cap, sizeof *pol->annotations);
        pol->annotations[pol->n_annotations++] = (cs_annotation){k, value};
    }
}

static cs_policy *parse_policy(parser *P)
{
    cs_policy *pol = cs_arena_alloc(P->a, sizeof *pol);
    pol->file = P->file;
    pol->line = P->tok.line;
    pol->col = P->tok.col;
    parse_annotations(P, pol);
    if (tok_is(&P->tok, "permit")) pol->effect = CS_EFFECT_PERMIT;
    else if (tok_is(&P->tok, "forbid")) pol->effect = CS_EFFECT_FORBID;
    else expected(P, "'permit' or 'forbid'");
    advance(P);
    expect(P, CS_T_LPAREN, "'(' after the effect");
    parse_scope_var(P, "principal", false, &pol->principal);
    expect(P, CS_T_COMMA, "',' after the principal");
    parse_scope_var(P, "action", true, &pol->action);
    expect(P, CS_T_COMMA, "',' after the action");
    parse_scope_var(P, "resource", false, &pol->resource);
    expect(P, CS_T_RPAREN, "')' to close the scope");
    size_t cap = 0;
    while (tok_is(&P->tok, "when") || tok_is(&P->tok, "unless")) {
        cs_tok at = P->tok;
        bool unless = tok_is(&at, "unless");
        advance(P);
        expect(P, CS_T_LBRACE, "'{' after when/unless");
        const cs_expr *c = parse_expr(P);
        expect(P, CS_T_RBRACE, "'}' to close the condition");
        if (unless) {
            cs_expr *x = node(P, CS_X_NOT, &at);
            x->u.op.a = c;
            below(P, x, c);
            c = x;
        }
        pol->conds = arena_push(P, pol->conds, pol->n_conds, &cap, sizeof *pol->conds);
        pol->conds[pol->n_conds++] = c;
    }
    expect(P, CS_T_SEMI, "'when', 'unless' or ';'");
    return pol;
}

/* After an error, skips to just past the next ';' outside braces. */
static void recover(parser *P)
{
    int depth = 0;
    while (P->tok.kind != CS_T_EOF) {
        if (P->tok.kind == CS_T_ERROR) {
            /* Step over the bad byte(s) and go on. */
            P->lx.cur = P->tok.p + (P->tok.n ? P->tok.n : 1);
        } else if (P->tok.kind == CS_T_LBRACE) {
            depth++;
        } else if (P->tok.kind == CS_T_RBRACE && depth > 0) {
            depth--;
        } else if (P->tok.kind == CS_T_SEMI && depth == 0) {
            advance(P);
            return;
        }
        advance(P);
    }
}

static int check_utf8(const char *s, size_t n, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned long cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            *bad = i;
            return -1;
        }
        if (i + len > n) {
            *bad = i;
            return -1;
        }
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                *bad = i;
                return -1;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *bad = i;
            return -1;
        }
        i += len;
    }
    return 0;
}

int cs_cedar_parse(cs_arena *a, const char *src, size_t len, const char *file, cs_policy_vec *out,
                   cs_policy_diags *diags)
{
    if (len > CS_POLICY_MAX_FILE_BYTES) {
        cs_policy_diags_add(diags, file, 0, 0, "file too large (%zu bytes, limit %u)", len,
                            CS_POLICY_MAX_FILE_BYTES);
        return CS_ETOOBIG;
    }
    size_t bad;
    if (check_utf8(src, len, &bad) < 0) {
        int line = 1, col = 1;
        for (size_t i = 0; i < bad; i++) {
            if (src[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        cs_policy_diags_add(diags, file, line, col, "invalid UTF-8");
        return CS_EPARSE;
    }
    parser *P = cs_calloc(1, sizeof *P);
    P->a = a;
    P->file = file;
    cs_lex_init(&P->lx, src, len);
    advance(P);
    int rc = 0;
    while (P->tok.kind != CS_T_EOF) {
        P->depth = 0;
        if (setjmp(P->fail) == 0) {
            cs_policy *pol = parse_policy(P);
            out->items = cs_grow(out->items, &out->cap, out->n + 1, sizeof *out->items);
            out->items[out->n++] = pol;
        } else {
            cs_policy_diags_add(diags, file, P->err_line, P->err_col, "%s", P->msg);
            rc = CS_EPARSE;
            recover(P);
        }
    }
    free(P);
    return rc;
}
