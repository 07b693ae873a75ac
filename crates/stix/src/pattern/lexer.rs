//! Tokens of the STIX patterning language, each with its byte span in the pattern text.

use super::{PatternError, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    Star,
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    /// A keyword, upper case as the grammar spells it (AND, OR, NOT, ...).
    Keyword(&'static str),
    /// An identifier: letters, digits, `_` and `-`, not starting with a digit or `-`.
    Ident(String),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Hex(Vec<u8>),
    Binary(Vec<u8>),
    /// The text between the quotes of `t'...'`; checked by the parser.
    Timestamp(String),
}

pub const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUPERSET",
    "ISSUBSET",
    "EXISTS",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "WITHIN",
    "REPEATS",
    "TIMES",
];

impl Tok {
    /// How the token is named in "expected ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Colon => "':'".into(),
            Tok::Dot => "'.'".into(),
            Tok::Star => "'*'".into(),
            Tok::Eq => "'='".into(),
            Tok::Neq => "'!='".into(),
            Tok::Lt => "'<'".into(),
            Tok::Le => "'<='".into(),
            Tok::Gt => "'>'".into(),
            Tok::Ge => "'>='".into(),
            Tok::Keyword(k) => (*k).to_owned(),
            Tok::Ident(s) => format!("identifier '{s}'"),
            Tok::Int(i) => format!("integer {i}"),
            Tok::Float(f) => format!("number {f}"),
            Tok::Str(_) => "a string".into(),
            Tok::Bool(b) => format!("{b}"),
            Tok::Hex(_) => "a hex literal".into(),
            Tok::Binary(_) => "a binary literal".into(),
            Tok::Timestamp(_) => "a timestamp literal".into(),
        }
    }
}

pub fn tokenize(src: &str) -> Result<Vec<(Tok, Span)>, PatternError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let single = match c {
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            b'*' => Some(Tok::Star),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, Span::new(start, start + 1)));
            i += 1;
            continue;
        }
        let next = b.get(i + 1).copied();
        let (tok, len) = match (c, next) {
            (b'=', Some(b'=')) => (Tok::Eq, 2),
            (b'=', _) => (Tok::Eq, 1),
            (b'!', Some(b'=')) => (Tok::Neq, 2),
            (b'<', Some(b'>')) => (Tok::Neq, 2),
            (b'<', Some(b'=')) => (Tok::Le, 2),
            (b'<', _) => (Tok::Lt, 1),
            (b'>', Some(b'=')) => (Tok::Ge, 2),
            (b'>', _) => (Tok::Gt, 1),
            (b'\'', _) => {
                let (s, end) = string(src, i)?;
                out.push((Tok::Str(s), Span::new(start, end)));
                i = end;
                continue;
            }
            (b'h' | b'b' | b't', Some(b'\'')) => {
                let (s, end) = string(src, i + 1)?;
                let span = Span::new(start, end);
                let tok = match c {
                    b'h' => Tok::Hex(hex(&s).ok_or_else(|| {
                        PatternError::new(span, "a hex literal needs an even number of hex digits")
                    })?),
                    b'b' => Tok::Binary(base64(&s).ok_or_else(|| {
                        PatternError::new(span, "a binary literal must be base64")
                    })?),
                    _ => Tok::Timestamp(s),
                };
                out.push((tok, span));
                i = end;
                continue;
            }
            (b'.', Some(d)) if d.is_ascii_digit() => {
                let (tok, end) = number(src, i)?;
                out.push((tok, Span::new(start, end)));
                i = end;
                continue;
            }
            (b'.', _) => (Tok::Dot, 1),
            (b'0'..=b'9' | b'+' | b'-', _) => {
                let (tok, end) = number(src, i)?;
                out.push((tok, Span::new(start, end)));
                i = end;
                continue;
            }
            (c, _) if c.is_ascii_alphabetic() || c == b'_' => {
                let mut end = i + 1;
                while end < b.len()
                    && (b[end].is_ascii_alphanumeric() || b[end] == b'_' || b[end] == b'-')
                {
                    end += 1;
                }
                let word = &src[i..end];
                let tok = match word {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    w => match KEYWORDS.iter().find(|k| **k == w) {
                        Some(k) => Tok::Keyword(k),
                        None => Tok::Ident(w.to_owned()),
                    },
                };
                out.push((tok, Span::new(start, end)));
                i = end;
                continue;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(PatternError::new(
                    Span::new(start, start + ch.len_utf8()),
                    format!("unexpected character '{ch}'"),
                ));
            }
        };
        out.push((tok, Span::new(start, start + len)));
        i += len;
    }
    Ok(out)
}

/// A quoted string starting at `open` (the quote): `\'` and `\\` are the only escapes.
fn string(src: &str, open: usize) -> Result<(String, usize), PatternError> {
    let b = src.as_bytes();
    let mut s = String::new();
    let mut i = open + 1;
    let mut run = i;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                s.push_str(&src[run..i]);
                return Ok((s, i + 1));
            }
            b'\\' => {
                s.push_str(&src[run..i]);
                match b.get(i + 1) {
                    Some(b'\'') => s.push('\''),
                    Some(b'\\') => s.push('\\'),
                    _ => {
                        return Err(PatternError::new(
                            Span::new(i, (i + 2).min(b.len())),
                            "only \\' and \\\\ may be escaped in a string",
                        ));
                    }
                }
                i += 2;
                run = i;
            }
            _ => i += 1,
        }
    }
    Err(PatternError::new(
        Span::new(open, b.len()),
        "unterminated string",
    ))
}

fn number(src: &str, start: usize) -> Result<(Tok, usize), PatternError> {
    let b = src.as_bytes();
    let mut i = start;
    if matches!(b[i], b'+' | b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &src[int_start..i];
    let mut is_float = false;
    if i < b.len() && b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        is_float = true;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    let span = Span::new(start, i);
    let text = &src[start..i];
    if int_digits.is_empty() && !is_float {
        return Err(PatternError::new(span, "expected a number"));
    }
    if is_float {
        return text
            .parse::<f64>()
            .map(|f| (Tok::Float(f), i))
            .map_err(|_| PatternError::new(span, format!("'{text}' is not a number")));
    }
    if int_digits.len() > 1 && int_digits.starts_with('0') {
        return Err(PatternError::new(
            span,
            "an integer may not have leading zeros",
        ));
    }
    text.parse::<i64>()
        .map(|n| (Tok::Int(n), i))
        .map_err(|_| PatternError::new(span, format!("'{text}' is out of the integer range")))
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}
