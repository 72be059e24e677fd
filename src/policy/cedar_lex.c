/* cedar_lex.c - the Cedar tokenizer: identifiers, string and integer literals,
 * punctuation, and // comments. Columns count bytes from 1. */
#include "policy/cedar_lex.h"

#include <ctype.h>

void cs_lex_init(cs_lexer *lx, const char *src, size_t len)
{
    lx->src = lx->cur = lx->line_start = src;
    lx->end = src + len;
    lx->line = 1;
    lx->error = NULL;
}

static void skip_space(cs_lexer *lx)
{
    while (lx->cur < lx->end) {
        char c = *lx->cur;
        if (c == '\n') {
            lx->line++;
            lx->line_start = ++lx->cur;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            lx->cur++;
        } else if (c == '/' && lx->cur + 1 < lx->end && lx->cur[1] == '/') {
            while (lx->cur < lx->end && *lx->cur != '\n') lx->cur++;
        } else {
            break;
        }
    }
}

static cs_tok make(cs_lexer *lx, cs_tok_kind k, const char *start, size_t n, int col)
{
    lx->cur = start + n;
    return (cs_tok){k, start, n, lx->line, col};
}

cs_tok cs_lex_next(cs_lexer *lx)
{
    skip_space(lx);
    const char *s = lx->cur;
    int col = (int)(s - lx->line_start) + 1;
    if (s >= lx->end) return make(lx, CS_T_EOF, s, 0, col);
    char c = *s;
    char d = s + 1 < lx->end ? s[1] : '\0';
    if (isalpha((unsigned char)c) || c == '_') {
        const char *p = s;
        while (p < lx->end && (isalnum((unsigned char)*p) || *p == '_')) p++;
        return make(lx, CS_T_IDENT, s, (size_t)(p - s), col);
    }
    if (isdigit((unsigned char)c)) {
        const char *p = s;
        while (p < lx->end && isdigit((unsigned char)*p)) p++;
        return make(lx, CS_T_INT, s, (size_t)(p - s), col);
    }
    if (c == '"') {
        const char *p = s + 1;
        while (p < lx->end && *p != '"') {
            if (*p == '\\' && p + 1 < lx->end) p++;
            else if (*p == '\n') {
                lx->line++;
                lx->line_start = p + 1;
            }
            p++;
        }
        if (p >= lx->end) {
            lx->error = "unterminated string literal";
            return (cs_tok){CS_T_ERROR, s, (size_t)(lx->end - s), lx->line, col};
        }
        lx->cur = p + 1;
        return (cs_tok){CS_T_STRING, s + 1, (size_t)(p - s - 1), lx->line, col};
    }
    switch (c) {
    case '@': return make(lx, CS_T_AT, s, 1, col);
    case '(': return make(lx, CS_T_LPAREN, s, 1, col);
    case ')': return make(lx, CS_T_RPAREN, s, 1, col);
    case '{': return make(lx, CS_T_LBRACE, s, 1, col);
    case '}': return make(lx, CS_T_RBRACE, s, 1, col);
    case '[': return make(lx, CS_T_LBRACKET, s, 1, col);
    case ']': return make(lx, CS_T_RBRACKET, s, 1, col);
    case ',': return make(lx, CS_T_COMMA, s, 1, col);
    case ';': return make(lx, CS_T_SEMI, s, 1, col);
    case '.': return make(lx, CS_T_DOT, s, 1, col);
    case '?': return make(lx, CS_T_QUESTION, s, 1, col);
    case '+': return make(lx, CS_T_PLUS, s, 1, col);
    case '-': return make(lx, CS_T_MINUS, s, 1, col);
    case '*': return make(lx, CS_T_STAR, s, 1, col);
    case ':': return d == ':' ? make(lx, CS_T_COLONCOLON, s, 2, col) : make(lx, CS_T_COLON, s, 1, col);
    case '=': return d == '=' ? make(lx, CS_T_EQEQ, s, 2, col) : make(lx, CS_T_EQ, s, 1, col);
    case '!': return d == '=' ? make(lx, CS_T_NE, s, 2, col) : make(lx, CS_T_BANG, s, 1, col);
    case '<': return d == '=' ? make(lx, CS_T_LE, s, 2, col) : make(lx, CS_T_LT, s, 1, col);
    case '>': return d == '=' ? make(lx, CS_T_GE, s, 2, col) : make(lx, CS_T_GT, s, 1, col);
    case '&':
        if (d == '&') return make(lx, CS_T_ANDAND, s, 2, col);
        break;
    case '|':
        if (d == '|') return make(lx, CS_T_OROR, s, 2, col);
        break;
    }
    lx->error = "unexpected character";
    return (cs_tok){CS_T_ERROR, s, 1, lx->line, col};
}

const char *cs_tok_name(cs_tok_kind k)
{
    static const char *names[] = {
        [CS_T_EOF] = "end of input", [CS_T_ERROR] = "invalid token", [CS_T_IDENT] = "identifier",
        [CS_T_STRING] = "string",   [CS_T_INT] = "integer",         [CS_T_AT] = "'@'",
        [CS_T_LPAREN] = "'('",      [CS_T_RPAREN] = "')'",          [CS_T_LBRACE] = "'{'",
        [CS_T_RBRACE] = "'}'",      [CS_T_LBRACKET] = "'['",        [CS_T_RBRACKET] = "']'",
        [CS_T_COMMA] = "','",       [CS_T_SEMI] = "';'",            [CS_T_COLON] = "':'",
        [CS_T_COLONCOLON] = "'::'", [CS_T_DOT] = "'.'",             [CS_T_QUESTION] = "'?'",
        [CS_T_EQEQ] = "'=='",       [CS_T_NE] = "'!='",             [CS_T_LT] = "'<'",
        [CS_T_LE] = "'<='",         [CS_T_GT] = "'>'",              [CS_T_GE] = "'>='",
        [CS_T_ANDAND] = "'&&'",     [CS_T_OROR] = "'||'",           [CS_T_BANG] = "'!'",
        [CS_T_PLUS] = "'+'",        [CS_T_MINUS] = "'-'",           [CS_T_STAR] = "'*'",
        [CS_T_EQ] = "'='",
    };
    return names[k];
}
