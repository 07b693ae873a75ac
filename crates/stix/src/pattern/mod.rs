//! The STIX 2.1 patterning language (STIX 2.1 section 9): a parser into a typed syntax tree
//! with byte positions, a printer that writes the tree back as canonical text, and the checks
//! of constants the grammar alone does not make.
//!
//! Grammar (EBNF, after the OASIS ANTLR grammar `STIXPattern.g4`; keywords are upper case and
//! case-sensitive, `true`/`false` lower case; white space separates tokens):
//!
//! ```text
//! pattern          = observations EOF ;
//! observations     = obs-or { "FOLLOWEDBY" obs-or } ;
//! obs-or           = obs-and { "OR" obs-and } ;
//! obs-and          = obs-qualified { "AND" obs-qualified } ;
//! obs-qualified    = ( "[" comparison "]" | "(" observations ")" ) { qualifier } ;
//!                    (* each qualifier kind at most once per observation expression *)
//! qualifier        = "WITHIN" ( int | float ) "SECONDS"        (* > 0 *)
//!                  | "REPEATS" int "TIMES"                     (* > 0 *)
//!                  | "START" timestamp "STOP" timestamp ;      (* STOP later than START *)
//! comparison       = cmp-and { "OR" cmp-and } ;
//! cmp-and          = test { "AND" test } ;
//! test             = "(" comparison ")"
//!                  | "EXISTS" path
//!                  | path [ "NOT" ] ( "=" | "==" | "!=" | "<>" ) constant
//!                  | path [ "NOT" ] ( "<" | "<=" | ">" | ">=" ) orderable
//!                  | path [ "NOT" ] "IN" set
//!                  | path [ "NOT" ] ( "LIKE" | "MATCHES" | "ISSUBSET" | "ISSUPERSET" ) string ;
//! path             = object-type ":" property { "." property | "[" ( int | "*" ) "]" } ;
//! object-type      = ident ;
//! property         = ident-without-hyphen | string ;
//! set              = "(" [ constant { "," constant } ] ")" ;
//! constant         = orderable | "true" | "false" ;
//! orderable        = int | float | string | binary | hex | timestamp ;
//! int              = [ "+" | "-" ] ( "0" | digit1-9 { digit } ) ;
//! float            = [ "+" | "-" ] { digit } "." digit { digit } ;
//! string           = "'" { char - ( "'" | "\" ) | "\'" | "\\" } "'" ;
//! binary           = "b'" base64 "'" ;
//! hex              = "h'" { hexdigit hexdigit } "'" ;
//! timestamp        = "t'" STIX-timestamp "'" ;     (* YYYY-MM-DDTHH:MM:SS[.s+]Z, a real date *)
//! ident            = ( letter | "_" ) { letter | digit | "_" | "-" } ;
//! ```
//!
//! `MATCHES` takes a PCRE regular expression (STIX 2.1 section 9.3). The relay never matches
//! patterns against data, so it stores the expression as given and does not compile it: the
//! `regex` crate (linear time, no look-around or back-references) would refuse valid PCRE, and
//! a PCRE engine would let a poster make the relay run a catastrophic expression. A later
//! component that evaluates patterns must decide its engine with that in mind.
//!
//! A qualifier binds to the observation or group just before it: `[a] AND [b] WITHIN 5 SECONDS`
//! qualifies `[b]` only. Beyond the grammar, the parser refuses constants that cannot be right:
//! an impossible timestamp, odd hex, bad base64, a hash of the wrong length for its algorithm
//! (`hashes.'SHA-256' = '...'` with other than 64 hex digits), nesting deeper than 64.

mod ast;
mod lexer;
mod parser;

use std::fmt;

pub use ast::{
    BoolOp, CompOp, ComparisonExpr, Literal, Number, ObjectPath, ObservationExpr, ObservationOp,
    PathComponent, PropTest, Qualifier,
};

/// A byte range in the pattern text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start, other.end)
    }
}

/// Why a pattern was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub span: Span,
    pub message: String,
}

impl PatternError {
    fn new(span: Span, message: impl Into<String>) -> Self {
        PatternError {
            span,
            message: message.into(),
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.span.start, self.message)
    }
}

impl std::error::Error for PatternError {}

/// Parses a STIX pattern.
pub fn parse(src: &str) -> Result<ObservationExpr, PatternError> {
    let toks = lexer::tokenize(src)?;
    if toks.is_empty() {
        return Err(PatternError::new(Span::new(0, 0), "the pattern is empty"));
    }
    let tree = parser::Parser::new(&toks, src.len()).pattern()?;
    check_constants(&tree)?;
    Ok(tree)
}

/// Object paths that name an SCO type or property STIX 2.1 does not define. Patterns may speak
/// of custom objects, so these are warnings, each with its position.
pub fn path_warnings(tree: &ObservationExpr) -> Vec<String> {
    let mut paths = Vec::new();
    collect_paths(tree, &mut paths);
    let mut out = Vec::new();
    for p in paths {
        let first = match p.components.first() {
            Some(PathComponent::Property(name)) => name.as_str(),
            _ => continue,
        };
        match crate::vocab::sco_has_property(&p.object_type, first) {
            None if !p.object_type.starts_with("x-") => out.push(format!(
                "at character {}: '{}' is not a STIX 2.1 cyber-observable type",
                p.span.start, p.object_type
            )),
            Some(false) => out.push(format!(
                "at character {}: {} has no property '{first}'",
                p.span.start, p.object_type
            )),
            _ => {}
        }
    }
    out
}

/// How many terms a pattern holds: each comparison and `EXISTS` counts one, a set `IN (...)`
/// one per member, each observation one. What evaluating or translating a pattern costs grows
/// with it, so the relay bounds it (nesting is bounded by the parser).
pub fn terms(tree: &ObservationExpr) -> usize {
    fn comparison(c: &ComparisonExpr) -> usize {
        match c {
            ComparisonExpr::Binary { left, right, .. } => comparison(left) + comparison(right),
            ComparisonExpr::Group { inner, .. } => comparison(inner),
            ComparisonExpr::Test(t) => match &t.value {
                Literal::Set(items) => items.len().max(1),
                _ => 1,
            },
            ComparisonExpr::Exists { .. } => 1,
        }
    }
    match tree {
        ObservationExpr::Observation { comparison: c, .. } => 1 + comparison(c),
        ObservationExpr::Group { inner, .. } => terms(inner),
        ObservationExpr::Qualified { expr, .. } => terms(expr),
        ObservationExpr::Binary { left, right, .. } => terms(left) + terms(right),
    }
}

fn collect_paths<'a>(e: &'a ObservationExpr, out: &mut Vec<&'a ObjectPath>) {
    fn comparison<'a>(c: &'a ComparisonExpr, out: &mut Vec<&'a ObjectPath>) {
        match c {
            ComparisonExpr::Binary { left, right, .. } => {
                comparison(left, out);
                comparison(right, out);
            }
            ComparisonExpr::Group { inner, .. } => comparison(inner, out),
            ComparisonExpr::Test(t) => out.push(&t.path),
            ComparisonExpr::Exists { path, .. } => out.push(path),
        }
    }
    match e {
        ObservationExpr::Observation { comparison: c, .. } => comparison(c, out),
        ObservationExpr::Group { inner, .. } => collect_paths(inner, out),
        ObservationExpr::Qualified { expr, .. } => collect_paths(expr, out),
        ObservationExpr::Binary { left, right, .. } => {
            collect_paths(left, out);
            collect_paths(right, out);
        }
    }
}

/// Hex digits a hash of each algorithm has (STIX 2.1 hashing-algorithm-ov).
fn hash_len(algorithm: &str) -> Option<usize> {
    match algorithm.to_ascii_uppercase().as_str() {
        "MD5" => Some(32),
        "SHA-1" | "SHA1" => Some(40),
        "SHA-256" | "SHA256" | "SHA3-256" => Some(64),
        "SHA-512" | "SHA512" | "SHA3-512" => Some(128),
        _ => None,
    }
}

fn check_constants(e: &ObservationExpr) -> Result<(), PatternError> {
    match e {
        ObservationExpr::Observation { comparison, .. } => check_comparison(comparison),
        ObservationExpr::Group { inner, .. } => check_constants(inner),
        ObservationExpr::Qualified { expr, .. } => check_constants(expr),
        ObservationExpr::Binary { left, right, .. } => {
            check_constants(left)?;
            check_constants(right)
        }
    }
}

fn check_comparison(c: &ComparisonExpr) -> Result<(), PatternError> {
    match c {
        ComparisonExpr::Binary { left, right, .. } => {
            check_comparison(left)?;
            check_comparison(right)
        }
        ComparisonExpr::Group { inner, .. } => check_comparison(inner),
        ComparisonExpr::Exists { .. } => Ok(()),
        ComparisonExpr::Test(t) => check_hash(t),
    }
}

/// `...hashes.ALG = 'hex'`: the value must be a hash of that algorithm.
fn check_hash(t: &PropTest) -> Result<(), PatternError> {
    let n = t.path.components.len();
    let algorithm = match t.path.components.as_slice() {
        [.., PathComponent::Property(h), PathComponent::Property(alg)]
            if n >= 2 && h == "hashes" =>
        {
            alg
        }
        _ => return Ok(()),
    };
    let Some(len) = hash_len(algorithm) else {
        return Ok(());
    };
    if !matches!(t.op, CompOp::Eq | CompOp::Neq | CompOp::In) {
        return Ok(());
    }
    let values: Vec<&Literal> = match &t.value {
        Literal::Set(items) => items.iter().collect(),
        v => vec![v],
    };
    for v in values {
        let ok = match v {
            Literal::Str(s) => s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()),
            _ => false,
        };
        if !ok {
            return Err(PatternError::new(
                t.span,
                format!("a {algorithm} hash is {len} hex digits"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
