//! Recursive descent over the tokens, one function per rule of the grammar in `mod.rs`.

use super::ast::*;
use super::lexer::Tok;
use super::{PatternError, Span};
use crate::timestamp::Timestamp;

/// Nesting deeper than this is refused, so that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

pub struct Parser<'a> {
    toks: &'a [(Tok, Span)],
    pos: usize,
    end: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub fn new(toks: &'a [(Tok, Span)], src_len: usize) -> Self {
        Parser {
            toks,
            pos: 0,
            end: src_len,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn span_here(&self) -> Span {
        self.toks
            .get(self.pos)
            .map_or(Span::new(self.end, self.end), |(_, s)| *s)
    }

    fn prev_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|p| self.toks.get(p))
            .map_or(0, |(_, s)| s.end)
    }

    fn bump(&mut self) -> Option<(Tok, Span)> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == Some(tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Keyword(x)) if *x == k) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expected(&self, what: &str) -> PatternError {
        let found = self
            .peek()
            .map_or_else(|| "the end of the pattern".to_owned(), Tok::describe);
        PatternError::new(self.span_here(), format!("expected {what}, found {found}"))
    }

    fn expect(&mut self, tok: &Tok) -> Result<Span, PatternError> {
        let span = self.span_here();
        if self.eat(tok) {
            Ok(span)
        } else {
            Err(self.expected(&tok.describe()))
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PatternError::new(
                self.span_here(),
                "the pattern is nested too deeply",
            ));
        }
        Ok(())
    }

    pub fn pattern(&mut self) -> Result<ObservationExpr, PatternError> {
        let e = self.observation_expressions()?;
        if self.pos < self.toks.len() {
            return Err(self.expected("AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern"));
        }
        Ok(e)
    }

    /// `observationExpressions := observationExpressionOr (FOLLOWEDBY observationExpressionOr)*`
    fn observation_expressions(&mut self) -> Result<ObservationExpr, PatternError> {
        self.binary_observation(ObservationOp::FollowedBy, Self::observation_or)
    }

    fn observation_or(&mut self) -> Result<ObservationExpr, PatternError> {
        self.binary_observation(ObservationOp::Or, Self::observation_and)
    }

    fn observation_and(&mut self) -> Result<ObservationExpr, PatternError> {
        self.binary_observation(ObservationOp::And, Self::qualified_observation)
    }

    fn binary_observation(
        &mut self,
        op: ObservationOp,
        operand: fn(&mut Self) -> Result<ObservationExpr, PatternError>,
    ) -> Result<ObservationExpr, PatternError> {
        let kw = match op {
            ObservationOp::And => "AND",
            ObservationOp::Or => "OR",
            ObservationOp::FollowedBy => "FOLLOWEDBY",
        };
        let mut left = operand(self)?;
        while self.keyword(kw) {
            let right = operand(self)?;
            let span = left.span().to(right.span());
            left = ObservationExpr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
                span,
            };
        }
        Ok(left)
    }

    /// An observation or a parenthesised group, followed by its qualifiers, each kind once.
    fn qualified_observation(&mut self) -> Result<ObservationExpr, PatternError> {
        let start = self.span_here();
        let mut expr = if self.eat(&Tok::LBracket) {
            self.enter()?;
            let comparison = self.comparison_or()?;
            let close = self.expect(&Tok::RBracket)?;
            self.depth -= 1;
            ObservationExpr::Observation {
                comparison,
                span: start.to(close),
            }
        } else if self.eat(&Tok::LParen) {
            self.enter()?;
            let inner = self.observation_expressions()?;
            let close = self.expect(&Tok::RParen)?;
            self.depth -= 1;
            ObservationExpr::Group {
                inner: Box::new(inner),
                span: start.to(close),
            }
        } else {
            return Err(self.expected("'[' or '(' to start an observation expression"));
        };
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(q) = self.qualifier()? {
            let name = match q {
                Qualifier::Within { .. } => "WITHIN",
                Qualifier::Repeats { .. } => "REPEATS",
                Qualifier::StartStop { .. } => "START/STOP",
            };
            let qspan = match &q {
                Qualifier::Within { span, .. }
                | Qualifier::Repeats { span, .. }
                | Qualifier::StartStop { span, .. } => *span,
            };
            if seen.contains(&name) {
                return Err(PatternError::new(
                    qspan,
                    format!("the {name} qualifier is given twice for one observation expression"),
                ));
            }
            seen.push(name);
            let span = expr.span().to(qspan);
            expr = ObservationExpr::Qualified {
                expr: Box::new(expr),
                qualifier: q,
                span,
            };
        }
        Ok(expr)
    }

    fn qualifier(&mut self) -> Result<Option<Qualifier>, PatternError> {
        let start = self.span_here();
        if self.keyword("WITHIN") {
            let seconds = match self.bump() {
                Some((Tok::Int(n), _)) if n > 0 => Number::Int(n),
                Some((Tok::Float(x), _)) if x > 0.0 => Number::Float(x),
                Some((_, s)) => {
                    return Err(PatternError::new(
                        s,
                        "WITHIN takes a positive number of seconds",
                    ));
                }
                None => return Err(self.expected("a number of seconds")),
            };
            if !self.keyword("SECONDS") {
                return Err(self.expected("SECONDS"));
            }
            return Ok(Some(Qualifier::Within {
                seconds,
                span: Span::new(start.start, self.prev_end()),
            }));
        }
        if self.keyword("REPEATS") {
            let times = match self.bump() {
                Some((Tok::Int(n), _)) if n > 0 => n,
                Some((_, s)) => {
                    return Err(PatternError::new(s, "REPEATS takes a positive integer"));
                }
                None => return Err(self.expected("a positive integer")),
            };
            if !self.keyword("TIMES") {
                return Err(self.expected("TIMES"));
            }
            return Ok(Some(Qualifier::Repeats {
                times,
                span: Span::new(start.start, self.prev_end()),
            }));
        }
        if self.keyword("START") {
            let start_ts = self.timestamp_literal()?;
            if !self.keyword("STOP") {
                return Err(self.expected("STOP"));
            }
            let stop_span = self.span_here();
            let stop_ts = self.timestamp_literal()?;
            if stop_ts <= start_ts {
                return Err(PatternError::new(
                    stop_span,
                    "STOP must be later than START",
                ));
            }
            return Ok(Some(Qualifier::StartStop {
                start: start_ts,
                stop: stop_ts,
                span: Span::new(start.start, self.prev_end()),
            }));
        }
        Ok(None)
    }

    fn timestamp_literal(&mut self) -> Result<Timestamp, PatternError> {
        match self.bump() {
            Some((Tok::Timestamp(text), span)) => {
                Timestamp::parse(&text).map_err(|e| PatternError::new(span, e.to_string()))
            }
            _ => {
                self.pos -= 1;
                Err(self.expected("a timestamp literal t'...'"))
            }
        }
    }

    /// `comparisonExpression := comparisonExpressionAnd (OR comparisonExpressionAnd)*`
    fn comparison_or(&mut self) -> Result<ComparisonExpr, PatternError> {
        let mut left = self.comparison_and()?;
        while self.keyword("OR") {
            let right = self.comparison_and()?;
            let span = left.span().to(right.span());
            left = ComparisonExpr::Binary {
                op: BoolOp::Or,
                left: Box::new(left),
                right: Box::new(right),
                span,
            };
        }
        Ok(left)
    }

    fn comparison_and(&mut self) -> Result<ComparisonExpr, PatternError> {
        let mut left = self.prop_test()?;
        while self.keyword("AND") {
            let right = self.prop_test()?;
            let span = left.span().to(right.span());
            left = ComparisonExpr::Binary {
                op: BoolOp::And,
                left: Box::new(left),
                right: Box::new(right),
                span,
            };
        }
        Ok(left)
    }

    fn prop_test(&mut self) -> Result<ComparisonExpr, PatternError> {
        let start = self.span_here();
        if self.eat(&Tok::LParen) {
            self.enter()?;
            let inner = self.comparison_or()?;
            let close = self.expect(&Tok::RParen)?;
            self.depth -= 1;
            return Ok(ComparisonExpr::Group {
                inner: Box::new(inner),
                span: start.to(close),
            });
        }
        if self.keyword("EXISTS") {
            let path = self.object_path()?;
            let span = start.to(path.span);
            return Ok(ComparisonExpr::Exists { path, span });
        }
        let path = self.object_path()?;
        let negated = self.keyword("NOT");
        let op = match self.bump() {
            Some((Tok::Eq, _)) => CompOp::Eq,
            Some((Tok::Neq, _)) => CompOp::Neq,
            Some((Tok::Lt, _)) => CompOp::Lt,
            Some((Tok::Le, _)) => CompOp::Le,
            Some((Tok::Gt, _)) => CompOp::Gt,
            Some((Tok::Ge, _)) => CompOp::Ge,
            Some((Tok::Keyword("IN"), _)) => CompOp::In,
            Some((Tok::Keyword("LIKE"), _)) => CompOp::Like,
            Some((Tok::Keyword("MATCHES"), _)) => CompOp::Matches,
            Some((Tok::Keyword("ISSUBSET"), _)) => CompOp::IsSubset,
            Some((Tok::Keyword("ISSUPERSET"), _)) => CompOp::IsSuperset,
            _ => {
                self.pos -= 1;
                return Err(self.expected(
                    "a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)",
                ));
            }
        };
        let value = self.literal_for(op)?;
        let span = Span::new(start.start, self.prev_end());
        Ok(ComparisonExpr::Test(PropTest {
            path,
            negated,
            op,
            value,
            span,
        }))
    }

    /// The constant after an operator, of a form the operator accepts.
    fn literal_for(&mut self, op: CompOp) -> Result<Literal, PatternError> {
        let value_span = self.span_here();
        let value = if op == CompOp::In {
            if !self.eat(&Tok::LParen) {
                return Err(self.expected("'(' to start the set after IN"));
            }
            let mut items = Vec::new();
            if !self.eat(&Tok::RParen) {
                loop {
                    let item = self.literal()?;
                    if matches!(item, Literal::Set(_)) {
                        return Err(PatternError::new(value_span, "sets may not be nested"));
                    }
                    items.push(item);
                    if self.eat(&Tok::RParen) {
                        break;
                    }
                    self.expect(&Tok::Comma)?;
                }
            }
            Literal::Set(items)
        } else {
            self.literal()?
        };
        let ok = match op {
            CompOp::Eq | CompOp::Neq | CompOp::In => true,
            CompOp::Lt | CompOp::Le | CompOp::Gt | CompOp::Ge => !matches!(value, Literal::Bool(_)),
            CompOp::Like | CompOp::Matches | CompOp::IsSubset | CompOp::IsSuperset => {
                matches!(value, Literal::Str(_))
            }
        };
        if !ok {
            return Err(PatternError::new(
                value_span,
                "this operator cannot compare with a constant of that kind",
            ));
        }
        Ok(value)
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        let (tok, span) = match self.bump() {
            Some(t) => t,
            None => {
                self.pos -= 1;
                return Err(self.expected("a constant"));
            }
        };
        Ok(match tok {
            Tok::Int(i) => Literal::Int(i),
            Tok::Float(x) => Literal::Float(x),
            Tok::Str(s) => Literal::Str(s),
            Tok::Bool(b) => Literal::Bool(b),
            Tok::Hex(b) => Literal::Hex(b),
            Tok::Binary(b) => Literal::Binary(b),
            Tok::Timestamp(text) => Literal::Timestamp(
                Timestamp::parse(&text).map_err(|e| PatternError::new(span, e.to_string()))?,
            ),
            Tok::LParen => {
                self.pos -= 1;
                return Err(self.expected("a constant (a set is only allowed after IN)"));
            }
            _ => {
                self.pos -= 1;
                return Err(self.expected("a constant"));
            }
        })
    }

    /// `objectPath := objectType ':' firstComponent ('.' property | '[' index ']')*`
    fn object_path(&mut self) -> Result<ObjectPath, PatternError> {
        let start = self.span_here();
        let object_type = match self.bump() {
            Some((Tok::Ident(t), _)) => t,
            _ => {
                self.pos -= 1;
                return Err(self.expected("an object path such as ipv4-addr:value"));
            }
        };
        self.expect(&Tok::Colon)?;
        let mut components = vec![PathComponent::Property(self.property_name()?)];
        loop {
            if self.eat(&Tok::Dot) {
                components.push(PathComponent::Property(self.property_name()?));
            } else if self.peek() == Some(&Tok::LBracket)
                && matches!(
                    self.toks.get(self.pos + 1),
                    Some((Tok::Int(_) | Tok::Star, _))
                )
            {
                self.pos += 1;
                components.push(match self.bump() {
                    Some((Tok::Int(n), _)) => PathComponent::Index(n),
                    _ => PathComponent::AnyIndex,
                });
                self.expect(&Tok::RBracket)?;
            } else {
                break;
            }
        }
        Ok(ObjectPath {
            object_type,
            components,
            span: Span::new(start.start, self.prev_end()),
        })
    }

    fn property_name(&mut self) -> Result<String, PatternError> {
        match self.bump() {
            Some((Tok::Ident(p), span)) => {
                if p.contains('-') {
                    return Err(PatternError::new(
                        span,
                        "a property name with '-' must be quoted, as in hashes.'SHA-256'",
                    ));
                }
                Ok(p)
            }
            Some((Tok::Str(p), _)) => Ok(p),
            // Keywords and booleans are property names where one is expected.
            Some((Tok::Keyword(k), _)) => Ok(k.to_owned()),
            Some((Tok::Bool(b), _)) => Ok(b.to_string()),
            _ => {
                self.pos -= 1;
                Err(self.expected("a property name"))
            }
        }
    }
}
