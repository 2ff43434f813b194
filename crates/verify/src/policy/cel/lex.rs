//! The CEL lexer: source text to tokens, with CEL's literal syntax (decimal and hex integers,
//! `u` suffixes, doubles, quoted, triple-quoted and raw strings with CEL's escapes).

use super::{CompileError, CompileErrorKind};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// An integer literal without its sign; whether it fits an `int` is the parser's call
    /// (`-9223372036854775808` is a valid literal).
    Int(u64),
    Uint(u64),
    Double(f64),
    Str(String),
    Ident(String),
    True,
    False,
    Null,
    In,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Dot,
    Comma,
    Colon,
    Question,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Bang,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Int(v) => format!("integer {v}"),
            Tok::Uint(v) => format!("integer {v}u"),
            Tok::Double(v) => format!("number {v}"),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Ident(s) => format!("'{s}'"),
            Tok::True => "'true'".to_owned(),
            Tok::False => "'false'".to_owned(),
            Tok::Null => "'null'".to_owned(),
            Tok::In => "'in'".to_owned(),
            Tok::Eof => "the end of the expression".to_owned(),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Dot => ".",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Question => "?",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Bang => "!",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            _ => "?",
        }
    }
}

/// A token and the byte offset it starts at.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    pub at: usize,
}

/// Words CEL reserves: not usable as identifiers.
const RESERVED: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

pub(super) fn tokenize(src: &str) -> Result<Vec<Token>, CompileError> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_space_and_comments();
        let at = lx.pos;
        let Some(&c) = lx.bytes.get(at) else {
            out.push(Token { tok: Tok::Eof, at });
            return Ok(out);
        };
        let tok = lx.token(c)?;
        out.push(Token { tok, at });
    }
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn err(&self, at: usize, kind: CompileErrorKind) -> CompileError {
        CompileError::new(self.src, at, kind)
    }

    fn skip_space_and_comments(&mut self) {
        loop {
            match self.peek(0) {
                Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c') => self.pos += 1,
                Some(b'/') if self.peek(1) == Some(b'/') => {
                    while let Some(c) = self.peek(0) {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn token(&mut self, c: u8) -> Result<Tok, CompileError> {
        let at = self.pos;
        let two = |lx: &mut Self, tok: Tok| {
            lx.pos += 2;
            Ok(tok)
        };
        let one = |lx: &mut Self, tok: Tok| {
            lx.pos += 1;
            Ok(tok)
        };
        match c {
            b'0'..=b'9' => self.number(),
            b'.' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => self.number(),
            b'"' | b'\'' => self.string(false),
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => self.word(),
            b'(' => one(self, Tok::LParen),
            b')' => one(self, Tok::RParen),
            b'[' => one(self, Tok::LBracket),
            b']' => one(self, Tok::RBracket),
            b'{' => one(self, Tok::LBrace),
            b'}' => one(self, Tok::RBrace),
            b'.' => one(self, Tok::Dot),
            b',' => one(self, Tok::Comma),
            b':' => one(self, Tok::Colon),
            b'?' => one(self, Tok::Question),
            b'+' => one(self, Tok::Plus),
            b'-' => one(self, Tok::Minus),
            b'*' => one(self, Tok::Star),
            b'/' => one(self, Tok::Slash),
            b'%' => one(self, Tok::Percent),
            b'=' if self.peek(1) == Some(b'=') => two(self, Tok::EqEq),
            b'!' if self.peek(1) == Some(b'=') => two(self, Tok::Ne),
            b'!' => one(self, Tok::Bang),
            b'<' if self.peek(1) == Some(b'=') => two(self, Tok::Le),
            b'<' => one(self, Tok::Lt),
            b'>' if self.peek(1) == Some(b'=') => two(self, Tok::Ge),
            b'>' => one(self, Tok::Gt),
            b'&' if self.peek(1) == Some(b'&') => two(self, Tok::AndAnd),
            b'|' if self.peek(1) == Some(b'|') => two(self, Tok::OrOr),
            _ => {
                let ch = self.src[at..].chars().next().unwrap_or('\u{fffd}');
                Err(self.err(at, CompileErrorKind::UnexpectedChar(ch)))
            }
        }
    }

    fn word(&mut self) -> Result<Tok, CompileError> {
        let at = self.pos;
        while self
            .peek(0)
            .is_some_and(|c| c == b'_' || c.is_ascii_alphanumeric())
        {
            self.pos += 1;
        }
        let word = &self.src[at..self.pos];
        let quote_follows = matches!(self.peek(0), Some(b'"' | b'\''));
        if quote_follows {
            match word {
                "r" | "R" => return self.string(true),
                "b" | "B" | "rb" | "rB" | "Rb" | "RB" | "br" | "bR" | "Br" | "BR" => {
                    return Err(self.err(at, CompileErrorKind::BytesUnsupported));
                }
                _ => {}
            }
        }
        Ok(match word {
            "true" => Tok::True,
            "false" => Tok::False,
            "null" => Tok::Null,
            "in" => Tok::In,
            w if RESERVED.contains(&w) => {
                return Err(self.err(at, CompileErrorKind::Reserved(w.to_owned())));
            }
            w => Tok::Ident(w.to_owned()),
        })
    }

    fn number(&mut self) -> Result<Tok, CompileError> {
        let at = self.pos;
        if self.peek(0) == Some(b'0') && matches!(self.peek(1), Some(b'x' | b'X')) {
            self.pos += 2;
            let start = self.pos;
            while self.peek(0).is_some_and(|c| c.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            let digits = &self.src[start..self.pos];
            let value = u64::from_str_radix(digits, 16)
                .map_err(|_| self.err(at, CompileErrorKind::IntOutOfRange))?;
            return self.int_suffix(at, value);
        }
        let digits = |lx: &mut Self| {
            let start = lx.pos;
            while lx.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                lx.pos += 1;
            }
            lx.pos - start
        };
        digits(self);
        let mut double = false;
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            digits(self);
            double = true;
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if self.peek(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1 + sign;
                digits(self);
                double = true;
            }
        }
        let text = &self.src[at..self.pos];
        if double {
            let value: f64 = text
                .parse()
                .map_err(|_| self.err(at, CompileErrorKind::BadNumber))?;
            self.no_trailing_word(at)?;
            return Ok(Tok::Double(value));
        }
        let value: u64 = text
            .parse()
            .map_err(|_| self.err(at, CompileErrorKind::IntOutOfRange))?;
        self.int_suffix(at, value)
    }

    fn int_suffix(&mut self, at: usize, value: u64) -> Result<Tok, CompileError> {
        if matches!(self.peek(0), Some(b'u' | b'U')) {
            self.pos += 1;
            self.no_trailing_word(at)?;
            return Ok(Tok::Uint(value));
        }
        self.no_trailing_word(at)?;
        Ok(Tok::Int(value))
    }

    /// `12abc` or `1.5x` is a malformed number, not a number and a word.
    fn no_trailing_word(&self, at: usize) -> Result<(), CompileError> {
        if self
            .peek(0)
            .is_some_and(|c| c == b'_' || c.is_ascii_alphanumeric())
        {
            return Err(self.err(at, CompileErrorKind::BadNumber));
        }
        Ok(())
    }

    fn string(&mut self, raw: bool) -> Result<Tok, CompileError> {
        let at = if raw { self.pos - 1 } else { self.pos };
        let Some(quote) = self.peek(0) else {
            return Err(self.err(at, CompileErrorKind::UnterminatedString));
        };
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.err(at, CompileErrorKind::UnterminatedString));
            };
            if c == quote {
                if !triple {
                    self.pos += 1;
                    return Ok(Tok::Str(out));
                }
                if self.peek(1) == Some(quote) && self.peek(2) == Some(quote) {
                    self.pos += 3;
                    return Ok(Tok::Str(out));
                }
            }
            if !triple && (c == b'\n' || c == b'\r') {
                return Err(self.err(self.pos, CompileErrorKind::NewlineInString));
            }
            if c == b'\\' && !raw {
                let ch = self.escape()?;
                out.push(ch);
                continue;
            }
            // Copy one whole character (the source is a str, so this is a char boundary).
            let rest = &self.src[self.pos..];
            let ch = rest.chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            self.pos += ch.len_utf8().max(1);
        }
    }

    /// One escape sequence, the backslash at `self.pos`.
    fn escape(&mut self) -> Result<char, CompileError> {
        let at = self.pos;
        let bad = |lx: &Self| lx.err(at, CompileErrorKind::BadEscape);
        let Some(c) = self.peek(1) else {
            return Err(self.err(at, CompileErrorKind::UnterminatedString));
        };
        self.pos += 2;
        let simple = match c {
            b'a' => Some('\u{07}'),
            b'b' => Some('\u{08}'),
            b'f' => Some('\u{0c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'v' => Some('\u{0b}'),
            b'\\' => Some('\\'),
            b'\'' => Some('\''),
            b'"' => Some('"'),
            b'`' => Some('`'),
            b'?' => Some('?'),
            _ => None,
        };
        if let Some(ch) = simple {
            return Ok(ch);
        }
        let (radix, len) = match c {
            b'x' | b'X' => (16, 2),
            b'u' => (16, 4),
            b'U' => (16, 8),
            b'0'..=b'3' => {
                // Octal: this digit and two more.
                self.pos -= 1;
                (8, 3)
            }
            _ => return Err(bad(self)),
        };
        let digits = self
            .src
            .get(self.pos..self.pos + len)
            .ok_or_else(|| bad(self))?;
        if !digits.bytes().all(|d| (d as char).is_digit(radix)) {
            return Err(bad(self));
        }
        let code = u32::from_str_radix(digits, radix).map_err(|_| bad(self))?;
        self.pos += len;
        char::from_u32(code).ok_or_else(|| bad(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn err(src: &str) -> String {
        tokenize(src).unwrap_err().to_string()
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks("1 0x1F 2u 0x10U 1.5 .5 1e3 2E-2 9223372036854775808"),
            vec![
                Tok::Int(1),
                Tok::Int(31),
                Tok::Uint(2),
                Tok::Uint(16),
                Tok::Double(1.5),
                Tok::Double(0.5),
                Tok::Double(1000.0),
                Tok::Double(0.02),
                Tok::Int(9223372036854775808),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("1.size()")[..3],
            [Tok::Int(1), Tok::Dot, Tok::Ident("size".into())]
        );
    }

    #[test]
    fn strings() {
        let cases: &[(&str, &str)] = &[
            (r#""a\nb""#, "a\nb"),
            (r#"'it\'s'"#, "it's"),
            (r#""\x41\u00e9\U0001F600\101""#, "Aé😀A"),
            (r#"r"\d+\.""#, r"\d+\."),
            ("'''a\n'b'''", "a\n'b"),
            (r#""""x"y""""#, "x\"y"),
            ("\"é\"", "é"),
        ];
        for (src, want) in cases {
            assert_eq!(toks(src)[0], Tok::Str((*want).to_owned()), "{src}");
        }
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            ("\"abc", "column 1: unterminated string"),
            ("'a\nb'", "column 3: newline in a quoted string"),
            (r#""\q""#, "column 2: invalid escape sequence"),
            (r#""\uD800""#, "column 2: invalid escape sequence"),
            ("b'x'", "column 1: bytes literals are not supported"),
            (
                "18446744073709551616",
                "column 1: integer literal out of range",
            ),
            ("12abc", "column 1: malformed number"),
            ("a # b", "column 3: unexpected character '#'"),
            ("if", "column 1: 'if' is a reserved word"),
            ("a\n  é", "line 2, column 3: unexpected character 'é'"),
        ];
        for (src, want) in cases {
            assert_eq!(err(src), *want, "{src:?}");
        }
    }

    #[test]
    fn comments_and_operators() {
        assert_eq!(
            toks("a // note\n<= b && !c || d != e"),
            vec![
                Tok::Ident("a".into()),
                Tok::Le,
                Tok::Ident("b".into()),
                Tok::AndAnd,
                Tok::Bang,
                Tok::Ident("c".into()),
                Tok::OrOr,
                Tok::Ident("d".into()),
                Tok::Ne,
                Tok::Ident("e".into()),
                Tok::Eof
            ]
        );
    }
}
