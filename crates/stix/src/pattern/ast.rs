//! The typed syntax tree of a STIX pattern, with byte spans, and its printer. Printing gives a
//! canonical pattern that parses back to the same tree (spans aside).

use std::fmt;

use super::Span;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub enum ObservationExpr {
    /// `[ comparison ]`
    Observation {
        comparison: ComparisonExpr,
        span: Span,
    },
    /// `( expr )`, kept so that printing reproduces the grouping the author wrote.
    Group {
        inner: Box<ObservationExpr>,
        span: Span,
    },
    Binary {
        op: ObservationOp,
        left: Box<ObservationExpr>,
        right: Box<ObservationExpr>,
        span: Span,
    },
    Qualified {
        expr: Box<ObservationExpr>,
        qualifier: Qualifier,
        span: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationOp {
    And,
    Or,
    FollowedBy,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    Within {
        seconds: Number,
        span: Span,
    },
    Repeats {
        times: i64,
        span: Span,
    },
    StartStop {
        start: Timestamp,
        stop: Timestamp,
        span: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ComparisonExpr {
    Binary {
        op: BoolOp,
        left: Box<ComparisonExpr>,
        right: Box<ComparisonExpr>,
        span: Span,
    },
    Group {
        inner: Box<ComparisonExpr>,
        span: Span,
    },
    Test(PropTest),
    Exists {
        path: ObjectPath,
        span: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

/// `path [NOT] op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct PropTest {
    pub path: ObjectPath,
    pub negated: bool,
    pub op: CompOp,
    pub value: Literal,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompOp {
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Binary(Vec<u8>),
    Hex(Vec<u8>),
    Timestamp(Timestamp),
    Set(Vec<Literal>),
}

/// `object-type:property(.property | [index])*`
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectPath {
    pub object_type: String,
    pub components: Vec<PathComponent>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathComponent {
    Property(String),
    /// `[n]`; negative counts from the end.
    Index(i64),
    /// `[*]`
    AnyIndex,
}

impl ObservationExpr {
    pub fn span(&self) -> Span {
        match self {
            ObservationExpr::Observation { span, .. }
            | ObservationExpr::Group { span, .. }
            | ObservationExpr::Binary { span, .. }
            | ObservationExpr::Qualified { span, .. } => *span,
        }
    }

    /// The same tree with every span zeroed, for comparing trees whatever their text.
    pub fn without_spans(&self) -> ObservationExpr {
        let z = Span::default();
        match self {
            ObservationExpr::Observation { comparison, .. } => ObservationExpr::Observation {
                comparison: comparison.without_spans(),
                span: z,
            },
            ObservationExpr::Group { inner, .. } => ObservationExpr::Group {
                inner: Box::new(inner.without_spans()),
                span: z,
            },
            ObservationExpr::Binary {
                op, left, right, ..
            } => ObservationExpr::Binary {
                op: *op,
                left: Box::new(left.without_spans()),
                right: Box::new(right.without_spans()),
                span: z,
            },
            ObservationExpr::Qualified {
                expr, qualifier, ..
            } => ObservationExpr::Qualified {
                expr: Box::new(expr.without_spans()),
                qualifier: match qualifier {
                    Qualifier::Within { seconds, .. } => Qualifier::Within {
                        seconds: *seconds,
                        span: z,
                    },
                    Qualifier::Repeats { times, .. } => Qualifier::Repeats {
                        times: *times,
                        span: z,
                    },
                    Qualifier::StartStop { start, stop, .. } => Qualifier::StartStop {
                        start: *start,
                        stop: *stop,
                        span: z,
                    },
                },
                span: z,
            },
        }
    }
}

impl ComparisonExpr {
    pub fn span(&self) -> Span {
        match self {
            ComparisonExpr::Binary { span, .. }
            | ComparisonExpr::Group { span, .. }
            | ComparisonExpr::Exists { span, .. } => *span,
            ComparisonExpr::Test(t) => t.span,
        }
    }

    fn without_spans(&self) -> ComparisonExpr {
        let z = Span::default();
        match self {
            ComparisonExpr::Binary {
                op, left, right, ..
            } => ComparisonExpr::Binary {
                op: *op,
                left: Box::new(left.without_spans()),
                right: Box::new(right.without_spans()),
                span: z,
            },
            ComparisonExpr::Group { inner, .. } => ComparisonExpr::Group {
                inner: Box::new(inner.without_spans()),
                span: z,
            },
            ComparisonExpr::Test(t) => ComparisonExpr::Test(PropTest {
                path: ObjectPath {
                    span: z,
                    ..t.path.clone()
                },
                span: z,
                ..t.clone()
            }),
            ComparisonExpr::Exists { path, .. } => ComparisonExpr::Exists {
                path: ObjectPath {
                    span: z,
                    ..path.clone()
                },
                span: z,
            },
        }
    }
}

impl fmt::Display for ObservationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObservationExpr::Observation { comparison, .. } => write!(f, "[{comparison}]"),
            ObservationExpr::Group { inner, .. } => write!(f, "({inner})"),
            ObservationExpr::Binary {
                op, left, right, ..
            } => {
                let op = match op {
                    ObservationOp::And => "AND",
                    ObservationOp::Or => "OR",
                    ObservationOp::FollowedBy => "FOLLOWEDBY",
                };
                write!(f, "{left} {op} {right}")
            }
            ObservationExpr::Qualified {
                expr, qualifier, ..
            } => write!(f, "{expr} {qualifier}"),
        }
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within { seconds, .. } => write!(f, "WITHIN {seconds} SECONDS"),
            Qualifier::Repeats { times, .. } => write!(f, "REPEATS {times} TIMES"),
            Qualifier::StartStop { start, stop, .. } => {
                write!(f, "START t'{start}' STOP t'{stop}'")
            }
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write_float(f, *x),
        }
    }
}

fn write_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    let s = x.to_string();
    if s.contains('.') {
        f.write_str(&s)
    } else {
        write!(f, "{s}.0")
    }
}

impl fmt::Display for ComparisonExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComparisonExpr::Binary {
                op, left, right, ..
            } => {
                let op = match op {
                    BoolOp::And => "AND",
                    BoolOp::Or => "OR",
                };
                write!(f, "{left} {op} {right}")
            }
            ComparisonExpr::Group { inner, .. } => write!(f, "({inner})"),
            ComparisonExpr::Test(t) => write!(f, "{t}"),
            ComparisonExpr::Exists { path, .. } => write!(f, "EXISTS {path}"),
        }
    }
}

impl fmt::Display for PropTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            CompOp::Eq => "=",
            CompOp::Neq => "!=",
            CompOp::Lt => "<",
            CompOp::Le => "<=",
            CompOp::Gt => ">",
            CompOp::Ge => ">=",
            CompOp::In => "IN",
            CompOp::Like => "LIKE",
            CompOp::Matches => "MATCHES",
            CompOp::IsSubset => "ISSUBSET",
            CompOp::IsSuperset => "ISSUPERSET",
        };
        let not = if self.negated { "NOT " } else { "" };
        write!(f, "{} {not}{op} {}", self.path, self.value)
    }
}

fn write_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("'")
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write_float(f, *x),
            Literal::Str(s) => write_str(f, s),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Binary(bytes) => {
                use base64::Engine as _;
                write!(
                    f,
                    "b'{}'",
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                )
            }
            Literal::Hex(bytes) => {
                f.write_str("h'")?;
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                f.write_str("'")
            }
            Literal::Timestamp(t) => write!(f, "t'{t}'"),
            Literal::Set(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// A property name needs quotes unless it is a plain identifier.
fn plain(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !super::lexer::KEYWORDS.contains(&name)
        && name != "true"
        && name != "false"
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, c) in self.components.iter().enumerate() {
            match c {
                PathComponent::Property(p) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if plain(p) {
                        f.write_str(p)?;
                    } else {
                        write_str(f, p)?;
                    }
                }
                PathComponent::Index(n) => write!(f, "[{n}]")?,
                PathComponent::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}
