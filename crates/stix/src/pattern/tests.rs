//! Table tests per construct (pattern → canonical print, or error with position) and the
//! print/parse round trip as a property.

use proptest::prelude::*;

use super::*;

/// Parses, prints, and checks the print is `expected` and parses to the same tree.
fn canon(src: &str) -> String {
    let tree = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let printed = tree.to_string();
    let again = parse(&printed).unwrap_or_else(|e| panic!("reprint of {src} = {printed}: {e}"));
    assert_eq!(again.without_spans(), tree.without_spans(), "{src}");
    printed
}

#[test]
fn valid_patterns_parse_and_print_canonically() {
    let table = [
        (
            "[ipv4-addr:value = '198.51.100.7']",
            "[ipv4-addr:value = '198.51.100.7']",
        ),
        (
            "[ipv4-addr:value == '198.51.100.7']",
            "[ipv4-addr:value = '198.51.100.7']",
        ),
        (
            "[ipv4-addr:value<>'1.2.3.4']",
            "[ipv4-addr:value != '1.2.3.4']",
        ),
        (
            "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
            "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
        ),
        (
            "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' OR file:size > 1024]",
            "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' OR file:size > 1024]",
        ),
        (
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_port IN (80, 443)]",
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_port IN (80, 443)]",
        ),
        (
            "[email-message:to_refs[*].value = 'a@example.com']",
            "[email-message:to_refs[*].value = 'a@example.com']",
        ),
        (
            "[x509-certificate:extensions[0].name = 'x']",
            "[x509-certificate:extensions[0].name = 'x']",
        ),
        (
            "[process:arguments[-1] = 'x']",
            "[process:arguments[-1] = 'x']",
        ),
        (
            "[url:value LIKE 'http://%.example/%']",
            "[url:value LIKE 'http://%.example/%']",
        ),
        (
            "[url:value NOT MATCHES '^https?://']",
            "[url:value NOT MATCHES '^https?://']",
        ),
        (
            "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
            "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
        ),
        (
            "[ipv4-addr:value ISSUPERSET '198.51.100.7/32']",
            "[ipv4-addr:value ISSUPERSET '198.51.100.7/32']",
        ),
        (
            "[EXISTS windows-registry-key:values]",
            "[EXISTS windows-registry-key:values]",
        ),
        (
            "[file:name = 'it\\'s \\\\ here']",
            "[file:name = 'it\\'s \\\\ here']",
        ),
        (
            "[artifact:payload_bin = b'aGVsbG8=']",
            "[artifact:payload_bin = b'aGVsbG8=']",
        ),
        (
            "[artifact:payload_bin = h'DEADbeef']",
            "[artifact:payload_bin = h'deadbeef']",
        ),
        (
            "[x-acme:flag = true AND x-acme:ratio >= -1.5]",
            "[x-acme:flag = true AND x-acme:ratio >= -1.5]",
        ),
        ("[x-acme:n = +7]", "[x-acme:n = 7]"),
        ("[x-acme:n = .5]", "[x-acme:n = 0.5]"),
        (
            "[file:created > t'2016-01-01T00:00:00Z']",
            "[file:created > t'2016-01-01T00:00:00.000000Z']",
        ),
        ("[x-acme:s IN ()]", "[x-acme:s IN ()]"),
        (
            "[a:b = 1] AND [c:d = 2] OR [e:f = 3]",
            "[a:b = 1] AND [c:d = 2] OR [e:f = 3]",
        ),
        (
            "[a:b = 1] FOLLOWEDBY ([c:d = 2] OR [e:f = 3])",
            "[a:b = 1] FOLLOWEDBY ([c:d = 2] OR [e:f = 3])",
        ),
        (
            "[a:b = 1 AND (c:d = 2 OR a:e = 3)]",
            "[a:b = 1 AND (c:d = 2 OR a:e = 3)]",
        ),
        (
            "([a:b = 1] AND [c:d = 2]) WITHIN 300 SECONDS",
            "([a:b = 1] AND [c:d = 2]) WITHIN 300 SECONDS",
        ),
        (
            "[a:b = 1] REPEATS 5 TIMES WITHIN 1.5 SECONDS",
            "[a:b = 1] REPEATS 5 TIMES WITHIN 1.5 SECONDS",
        ),
        (
            "[a:b = 1] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
            "[a:b = 1] START t'2016-06-01T00:00:00.000000Z' STOP t'2016-07-01T00:00:00.000000Z'",
        ),
        ("[a:'AND' = 1]", "[a:'AND' = 1]"),
    ];
    for (src, want) in table {
        assert_eq!(canon(src), want, "{src}");
    }
}

#[test]
fn structure_and_positions() {
    let tree = parse("[a:b = 1] AND [c:d = 2] WITHIN 5 SECONDS").unwrap();
    // The qualifier binds to the second observation only.
    let ObservationExpr::Binary {
        op,
        left,
        right,
        span,
    } = tree
    else {
        panic!("expected AND at the top");
    };
    assert_eq!(op, ObservationOp::And);
    assert_eq!(span, Span::new(0, 40));
    assert_eq!(left.span(), Span::new(0, 9));
    assert!(matches!(
        *right,
        ObservationExpr::Qualified {
            span: Span { start: 14, end: 40 },
            ..
        }
    ));

    let tree = parse("[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']").unwrap();
    let ObservationExpr::Observation {
        comparison: ComparisonExpr::Test(t),
        ..
    } = tree
    else {
        panic!("expected one test");
    };
    assert_eq!(t.path.object_type, "file");
    assert_eq!(
        t.path.components,
        [
            PathComponent::Property("hashes".into()),
            PathComponent::Property("SHA-1".into())
        ]
    );
    assert_eq!(t.path.span, Span::new(1, 20));
    assert_eq!(t.op, CompOp::Eq);
}

#[test]
fn errors_say_where_and_what() {
    let table: &[(&str, usize, &str)] = &[
        ("", 0, "empty"),
        ("ipv4-addr:value = '1.2.3.4'", 0, "expected '[' or '('"),
        ("[ipv4-addr:value = '1.2.3.4'", 28, "expected ']'"),
        ("[ipv4-addr:value '1.2.3.4']", 17, "comparison operator"),
        ("[ipv4-addr = '1.2.3.4']", 11, "expected ':'"),
        ("[ipv4-addr:value = ]", 19, "expected a constant"),
        ("[ipv4-addr:value = '1.2.3.4] ", 19, "unterminated string"),
        ("[a:b = 'x\\n']", 9, "escaped"),
        ("[a:b = 1] AND", 13, "expected '[' or '('"),
        ("[a:b = 1] [c:d = 2]", 10, "expected AND, OR, FOLLOWEDBY"),
        (
            "[a:b = 1] and [c:d = 2]",
            10,
            "expected AND, OR, FOLLOWEDBY",
        ),
        ("[a:b = t'2016-02-30T00:00:00Z']", 7, "not a real date"),
        ("[a:b = t'2016-02-01']", 7, "not a STIX timestamp"),
        ("[a:b = h'abc']", 7, "even number"),
        ("[a:b = b'@@@']", 7, "base64"),
        ("[a:b = 007]", 7, "leading zeros"),
        ("[a:b = 99999999999999999999]", 7, "integer range"),
        ("[a:b LIKE 5]", 10, "cannot compare"),
        ("[a:b > true]", 7, "cannot compare"),
        ("[a:b IN 5]", 8, "'(' to start the set"),
        ("[a:b = (1, 2)]", 7, "only allowed after IN"),
        ("[a:b = 1] WITHIN 0 SECONDS", 17, "positive"),
        ("[a:b = 1] WITHIN 5", 18, "expected SECONDS"),
        ("[a:b = 1] REPEATS 2.5 TIMES", 18, "positive integer"),
        (
            "[a:b = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS",
            27,
            "given twice",
        ),
        (
            "[a:b = 1] START t'2016-07-01T00:00:00Z' STOP t'2016-06-01T00:00:00Z'",
            45,
            "later than START",
        ),
        ("[file:hashes.'SHA-256' = 'abc']", 1, "64 hex digits"),
        (
            "[file:hashes.MD5 IN ('d41d8cd98f00b204e9800998ecf8427e', 'zz')]",
            1,
            "32 hex digits",
        ),
        ("[file:hashes.SHA-256 = 'x']", 13, "must be quoted"),
        ("[a:b = 1] # comment", 10, "unexpected character '#'"),
    ];
    for (src, at, what) in table {
        let e = parse(src)
            .err()
            .unwrap_or_else(|| panic!("{src} should fail"));
        assert_eq!(e.span.start, *at, "{src}: {e}");
        assert!(e.message.contains(what), "{src}: {e}");
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{}[a:b = 1]{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(
        parse(&deep)
            .unwrap_err()
            .message
            .contains("nested too deeply")
    );
    let deep = format!("[{}a:b = 1{}]", "(".repeat(10_000), ")".repeat(10_000));
    assert!(
        parse(&deep)
            .unwrap_err()
            .message
            .contains("nested too deeply")
    );
}

// ---- the round trip as a property ----

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,6}".prop_filter("not a keyword or boolean", |s| s != "true" && s != "false")
}

fn object_type() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,4}(-[a-z0-9]{1,4}){0,2}"
}

fn path() -> impl Strategy<Value = ObjectPath> {
    let component = prop_oneof![
        3 => prop_oneof![ident(), "[ -~]{0,8}"].prop_map(PathComponent::Property),
        1 => (-3i64..10).prop_map(PathComponent::Index),
        1 => Just(PathComponent::AnyIndex),
    ];
    (
        object_type(),
        prop_oneof![ident(), "[ -~]{1,8}"],
        prop::collection::vec(component, 0..3),
    )
        .prop_map(|(object_type, first, rest)| {
            let mut components = vec![PathComponent::Property(first)];
            components.extend(rest);
            ObjectPath {
                object_type,
                components,
                span: Span::default(),
            }
        })
}

fn scalar() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<i64>().prop_map(Literal::Int),
        (-1.0e9f64..1.0e9).prop_map(Literal::Float),
        "[ -~é日本]{0,12}".prop_map(Literal::Str),
        any::<bool>().prop_map(Literal::Bool),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Literal::Binary),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Literal::Hex),
        (0i64..4_000_000_000_000_000)
            .prop_map(|t| Literal::Timestamp(crate::Timestamp::from_micros(t))),
    ]
}

fn test_expr() -> impl Strategy<Value = ComparisonExpr> {
    let ops = prop_oneof![
        Just(CompOp::Eq),
        Just(CompOp::Neq),
        Just(CompOp::Lt),
        Just(CompOp::Ge),
        Just(CompOp::In),
        Just(CompOp::Like),
        Just(CompOp::Matches),
        Just(CompOp::IsSubset),
    ];
    prop_oneof![
        5 => (path(), any::<bool>(), ops, scalar(), prop::collection::vec(scalar(), 0..4), "[ -~]{0,6}").prop_map(
            |(path, negated, op, v, set, s)| {
                let value = match op {
                    CompOp::In => Literal::Set(set),
                    CompOp::Like | CompOp::Matches | CompOp::IsSubset | CompOp::IsSuperset => Literal::Str(s),
                    CompOp::Lt | CompOp::Le | CompOp::Gt | CompOp::Ge if matches!(v, Literal::Bool(_)) => Literal::Int(1),
                    _ => v,
                };
                ComparisonExpr::Test(PropTest { path, negated, op, value, span: Span::default() })
            }
        ),
        1 => path().prop_map(|path| ComparisonExpr::Exists { path, span: Span::default() }),
    ]
}

fn comparison() -> impl Strategy<Value = ComparisonExpr> {
    test_expr().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone(), any::<bool>()).prop_map(|(l, r, and)| {
                // Keep the tree printable as written: an OR under an AND needs its group.
                let group = |e: ComparisonExpr| match e {
                    e @ ComparisonExpr::Binary { .. } => ComparisonExpr::Group {
                        inner: Box::new(e),
                        span: Span::default(),
                    },
                    e => e,
                };
                let (op, l, r) = if and {
                    (BoolOp::And, group(l), group(r))
                } else {
                    (BoolOp::Or, l, group(r))
                };
                ComparisonExpr::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r),
                    span: Span::default(),
                }
            }),
            inner.prop_map(|e| ComparisonExpr::Group {
                inner: Box::new(e),
                span: Span::default()
            }),
        ]
    })
}

fn observation() -> impl Strategy<Value = ObservationExpr> {
    let leaf = comparison().prop_map(|c| ObservationExpr::Observation {
        comparison: c,
        span: Span::default(),
    });
    leaf.prop_recursive(3, 8, 2, |inner| {
        let z = Span::default();
        prop_oneof![
            (inner.clone(), inner.clone(), 0..3u8).prop_map(move |(l, r, op)| {
                let group = |e: ObservationExpr| match e {
                    e @ ObservationExpr::Binary { .. } => ObservationExpr::Group {
                        inner: Box::new(e),
                        span: z,
                    },
                    e => e,
                };
                let op = [
                    ObservationOp::And,
                    ObservationOp::Or,
                    ObservationOp::FollowedBy,
                ][op as usize];
                ObservationExpr::Binary {
                    op,
                    left: Box::new(group(l)),
                    right: Box::new(group(r)),
                    span: z,
                }
            }),
            (inner.clone(), 1i64..1000).prop_map(move |(e, n)| {
                let e = match e {
                    e @ ObservationExpr::Binary { .. } => ObservationExpr::Group {
                        inner: Box::new(e),
                        span: z,
                    },
                    e @ ObservationExpr::Qualified { .. } => ObservationExpr::Group {
                        inner: Box::new(e),
                        span: z,
                    },
                    e => e,
                };
                ObservationExpr::Qualified {
                    expr: Box::new(e),
                    qualifier: Qualifier::Repeats { times: n, span: z },
                    span: z,
                }
            }),
            inner.prop_map(move |e| ObservationExpr::Group {
                inner: Box::new(e),
                span: z
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(tree in observation()) {
        let printed = tree.to_string();
        let parsed = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(parsed.without_spans(), tree, "{}", printed);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "[\\[\\]()a-z:=' .0-9A-Z,*<>!-]{0,40}") {
        let _ = parse(&s);
    }
}
