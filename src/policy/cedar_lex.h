/* cedar_lex.h - tokens of the Cedar policy language. */
#ifndef CS_POLICY_CEDAR_LEX_H
#define CS_POLICY_CEDAR_LEX_H

#include <stddef.h>

typedef enum cs_tok_kind {
    CS_T_EOF,
    CS_T_ERROR,
    CS_T_IDENT,
    CS_T_STRING, /* raw text between the quotes, escapes not yet decoded */
    CS_T_INT,
    CS_T_AT,
    CS_T_LPAREN,
    CS_T_RPAREN,
    CS_T_LBRACE,
    CS_T_RBRACE,
    CS_T_LBRACKET,
    CS_T_RBRACKET,
    CS_T_COMMA,
    CS_T_SEMI,
    CS_T_COLON,
    CS_T_COLONCOLON,
    CS_T_DOT,
    CS_T_QUESTION,
    CS_T_EQEQ,
    CS_T_NE,
    CS_T_LT,
    CS_T_LE,
    CS_T_GT,
    CS_T_GE,
    CS_T_ANDAND,
    CS_T_OROR,
    CS_T_BANG,
    CS_T_PLUS,
    CS_T_MINUS,
    CS_T_STAR,
    CS_T_EQ, /* a lone '=' : never valid, reported precisely */
} cs_tok_kind;

typedef struct cs_tok {
    cs_tok_kind kind;
    const char *p; /* start in the source */
    size_t n;
    int line, col;
} cs_tok;

typedef struct cs_lexer {
    const char *src, *end, *cur;
    int line;
    const char *line_start;
    const char *error; /* message when a CS_T_ERROR token was produced */
} cs_lexer;

void cs_lex_init(cs_lexer *lx, const char *src, size_t len);
cs_tok cs_lex_next(cs_lexer *lx);
const char *cs_tok_name(cs_tok_kind k);

#endif
