//! Table tests of the CEL subset: values, CEL's error semantics, the checker's refusals and the
//! limits, over the SLSA provenance predicate of a real npm package (sigstore-js's).

use serde_json::{Value as Json, json};

use super::*;

fn predicate() -> Json {
    json!({
        "buildDefinition": {
            "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "externalParameters": {
                "workflow": {
                    "ref": "refs/heads/main",
                    "repository": "https://github.com/sigstore/sigstore-js",
                    "path": ".github/workflows/release.yml"
                }
            },
            "internalParameters": {
                "github": {
                    "event_name": "push",
                    "repository_id": "495574555",
                    "repository_owner_id": "71096353"
                }
            },
            "resolvedDependencies": [{
                "uri": "git+https://github.com/sigstore/sigstore-js@refs/heads/main",
                "digest": {"gitCommit": "46e7056ff9912ebfee5298d94024895a9fea76c0"}
            }]
        },
        "runDetails": {
            "builder": {"id": "https://github.com/actions/runner/github-hosted"},
            "metadata": {
                "invocationId": "https://github.com/sigstore/sigstore-js/actions/runs/9116405766/attempts/1"
            }
        },
        "numbers": {"big": 18446744073709551615u64, "half": 0.5, "three": 3, "min": i64::MIN}
    })
}

fn env() -> Env {
    Env::new(Limits::default())
        .with_var(
            "predicate",
            Type::Map(Box::new(Type::String), Box::new(Type::Dyn)),
        )
        .with_var("predicateType", Type::String)
        .with_var("subject", Type::List(Box::new(Type::Dyn)))
}

fn run(src: &str) -> Result<Value, String> {
    let p = Program::compile(&env(), src).map_err(|e| format!("compile: {e}"))?;
    let predicate = predicate();
    let pt = json!("https://slsa.dev/provenance/v1");
    let subject = json!([{"name": "pkg:npm/sigstore@2.3.1", "digest": {"sha512": "f06f"}}]);
    p.eval(&[&predicate, &pt, &subject])
        .map_err(|e| format!("eval: {e}"))
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

#[test]
fn evaluates_to_expected_values() {
    use Value::{Bool, Double, Int, List, Null, Uint};
    let t = Bool(true);
    let f = Bool(false);
    let cases: Vec<(&str, Value)> = vec![
        // The conditions policies are written with.
        (
            r#"predicate.runDetails.builder.id in ["https://github.com/actions/runner/github-hosted"]"#,
            t.clone(),
        ),
        (
            r#"predicate.buildDefinition.externalParameters.workflow.repository.matches("^https://github.com/sigstore/")"#,
            t.clone(),
        ),
        (
            r#"predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main""#,
            t.clone(),
        ),
        (
            r#"predicate.buildDefinition.resolvedDependencies.exists(d, d.uri.startsWith("git+https://github.com/sigstore/") && size(d.digest.gitCommit) == 40)"#,
            t.clone(),
        ),
        (
            r#"predicateType == "https://slsa.dev/provenance/v1""#,
            t.clone(),
        ),
        (
            r#"subject.all(s, s.name.startsWith("pkg:npm/"))"#,
            t.clone(),
        ),
        (r#"has(predicate.runDetails.builder)"#, t.clone()),
        (r#"has(predicate.runDetails.byproducts)"#, f.clone()),
        (r#"!has(predicate.runDetails.builder.version)"#, t.clone()),
        // Literals and arithmetic.
        ("1 + 2 * 3", Int(7)),
        ("(1 + 2) * 3", Int(9)),
        ("7 / 2", Int(3)),
        ("-7 / 2", Int(-3)),
        ("-7 % 3", Int(-1)),
        ("2u + 3u", Uint(5)),
        ("0x10 + 0x10 == 32 && 0x10u == 16u", t.clone()),
        ("1.5 + 1.0", Double(2.5)),
        ("1.0 / 0.0 > 1e308", t.clone()),
        ("-9223372036854775808", Int(i64::MIN)),
        ("'a' + \"b\" + r'\\n'", s("ab\\n")),
        ("'''multi\nline'''", s("multi\nline")),
        ("[1, 2] + [3]", List(vec![Int(1), Int(2), Int(3)])),
        ("null", Null),
        // Comparison and equality across numeric types.
        ("1 == 1.0", t.clone()),
        ("1 == 1u", t.clone()),
        ("1 < 1.5", t.clone()),
        ("2u > -1", t.clone()),
        ("predicate.numbers.big > 9223372036854775807", t.clone()),
        ("predicate.numbers.big == 18446744073709551615u", t.clone()),
        ("predicate.numbers.min < -9223372036854775807", t.clone()),
        ("predicate.numbers.half == 0.5", t.clone()),
        ("predicate.numbers.three == 3", t.clone()),
        ("9007199254740993 == 9007199254740992.0", f.clone()),
        ("0.0/0.0 == 0.0/0.0", f.clone()),
        ("0.0/0.0 < 1.0", f.clone()),
        ("'abc' < 'abd'", t.clone()),
        ("false < true", t.clone()),
        ("[1, [2, 'x']] == [1, [2, 'x']]", t.clone()),
        ("{'a': 1} == {'a': 1.0}", t.clone()),
        ("{'a': 1} == {'b': 1}", f.clone()),
        ("dyn(1) == 'a'", f.clone()),
        ("dyn([1]) == dyn({})", f.clone()),
        (
            "predicate.runDetails.builder == {'id': 'https://github.com/actions/runner/github-hosted'}",
            t.clone(),
        ),
        ("null == null", t.clone()),
        // in.
        ("2 in [1, 2, 3]", t.clone()),
        ("2.0 in [1, 2, 3]", t.clone()),
        ("'builder' in predicate.runDetails", t.clone()),
        ("'nope' in predicate.runDetails", f.clone()),
        ("1 in {1: 'a'}", t.clone()),
        ("1u in {1: 'a'}", t.clone()),
        // Logic, including CEL's error absorption.
        ("true && false || true", t.clone()),
        ("false && predicate.missing", f.clone()),
        ("predicate.missing && false", f.clone()),
        ("true || predicate.missing", t.clone()),
        ("predicate.missing || true", t.clone()),
        ("1 / 0 == 1 || true", t.clone()),
        ("true ? 1 : 1 / 0", Int(1)),
        ("false ? 1 / 0 : 'b'", s("b")),
        // Macros.
        ("[1, 2, 3].all(x, x > 0)", t.clone()),
        ("[1, 2, 3].exists(x, x > 2)", t.clone()),
        ("[1, 2, 3].exists_one(x, x > 1)", f.clone()),
        ("[1, 2, 3].exists_one(x, x > 2)", t.clone()),
        (
            "[1, 2, 3].map(x, x * 2)",
            List(vec![Int(2), Int(4), Int(6)]),
        ),
        (
            "[1, 2, 3].map(x, x > 1, x * 10)",
            List(vec![Int(20), Int(30)]),
        ),
        (
            "[1, 2, 3].filter(x, x % 2 == 1)",
            List(vec![Int(1), Int(3)]),
        ),
        ("[].all(x, false)", t.clone()),
        ("[].exists(x, true)", f.clone()),
        ("{'b': 1, 'a': 2}.map(k, k)", List(vec![s("b"), s("a")])),
        (
            "predicate.runDetails.map(k, k)",
            List(vec![s("builder"), s("metadata")]),
        ),
        ("[0, -1].all(x, 1 / x > 0)", f.clone()),
        ("[1, 0].exists(x, 1 / x > 0)", t.clone()),
        (
            "[[1, 2], [3]].map(l, l.map(x, x + 1))",
            List(vec![List(vec![Int(2), Int(3)]), List(vec![Int(4)])]),
        ),
        ("[1, 2].all(x, [3].all(x, x == 3))", t.clone()),
        // Functions.
        ("size('héllo')", Int(5)),
        ("'abc'.size()", Int(3)),
        ("size([1, 2])", Int(2)),
        ("size(predicate.runDetails)", Int(2)),
        (
            "'abc'.contains('b') && 'abc'.startsWith('a') && 'abc'.endsWith('c')",
            t.clone(),
        ),
        ("'abc'.matches('^a.c$')", t.clone()),
        ("matches('abc', 'b')", t.clone()),
        ("'abc'.matches(predicate.runDetails.builder.id)", f.clone()),
        (
            "string(42) + string(2u) + string(true) + string(1.5)",
            s("422true1.5"),
        ),
        ("int('-12') + int(2.9) + int(-2.9) + int(3u)", Int(-9)),
        ("uint(3) + uint('4') + uint(1.5)", Uint(8)),
        ("double(1) + double('0.5') + double(1u)", Double(2.5)),
        ("predicate.numbers['three'] + [10, 20][1]", Int(23)),
        ("[10, 20][1u]", Int(20)),
        ("[10, 20][dyn(1.0)]", Int(20)),
        ("{'a': {'b': 'c'}}['a'].b", s("c")),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        match run(src) {
            Ok(got) if got == want => {}
            other => failures.push(format!("{src}\n    want {want}\n    got  {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn evaluation_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "predicate.runDetails.builder.version == 'x'",
            "eval: no such key 'version'",
        ),
        ("predicate.nope.x", "eval: no such key 'nope'"),
        ("predicate['nope']", "eval: no such key 'nope'"),
        (
            "predicate.runDetails.builder.id.x == 1",
            "eval: no such overload: .x applied to (string)",
        ),
        ("[1][1]", "eval: index 1 out of range for a list of 1"),
        ("[1][-1]", "eval: index -1 out of range for a list of 1"),
        ("9223372036854775807 + 1", "eval: integer overflow in +"),
        ("-9223372036854775808 - 1", "eval: integer overflow in -"),
        ("-9223372036854775808 / -1", "eval: integer overflow in /"),
        ("-9223372036854775808 % -1", "eval: integer overflow in %"),
        ("-(predicate.numbers.min)", "eval: integer overflow in -"),
        ("4611686018427387904 * 2", "eval: integer overflow in *"),
        ("0u - 1u", "eval: integer overflow in -"),
        ("1 / 0", "eval: division by zero"),
        ("1 % 0", "eval: modulus by zero"),
        ("1u / 0u", "eval: division by zero"),
        (
            "predicate.numbers.three + 0.5 > 1.0",
            "eval: no such overload: + applied to (int, double)",
        ),
        ("predicate.missing || false", "eval: no such key 'missing'"),
        ("false || predicate.missing", "eval: no such key 'missing'"),
        ("true && predicate.missing", "eval: no such key 'missing'"),
        (
            "dyn(1) && true",
            "eval: no such overload: && applied to (int)",
        ),
        ("[0, 1].exists(x, 1 / x > 5)", "eval: division by zero"),
        ("[0, 1].all(x, 1 / x > 0)", "eval: division by zero"),
        ("[0, 1].all(x, 1 / x > 0 || x == 0)", ""),
        ("[1, 0].exists_one(x, 1 / x > 0)", "eval: division by zero"),
        ("int('x')", "eval: cannot convert x to int"),
        ("int(1e19)", "eval: cannot convert 1e19 to int"),
        (
            "int(18446744073709551615u)",
            "eval: cannot convert 18446744073709551615u to int",
        ),
        ("uint(-1)", "eval: cannot convert -1 to uint"),
        (
            "'a'.matches(dyn('('))",
            "eval: invalid regular expression: ",
        ),
        ("{'a': 1, 'a': 2}", "eval: repeated key in a map literal"),
        ("{1: 1, 1u: 2}", "eval: repeated key in a map literal"),
        (
            "dyn('a') < 1",
            "eval: no such overload: < applied to (string, int)",
        ),
        (
            "size(dyn(1))",
            "eval: no such overload: size applied to (int)",
        ),
        (
            "dyn(1).all(x, x)",
            "eval: no such overload: all applied to (int)",
        ),
        ("true ? dyn(1) : 2", ""),
    ];
    for (src, want) in cases {
        let got = run(src);
        if want.is_empty() {
            assert!(got.is_ok(), "{src}: {got:?}");
            continue;
        }
        let err = got.expect_err(src);
        assert!(
            err.starts_with(want),
            "{src}\n    want {want}\n    got  {err}"
        );
    }
    // A long string from the data is cut in the message, not carried whole.
    let long = "9".repeat(300) + "x";
    for src in [format!("int('{long}')"), format!("{{'a': 1}}['{long}']")] {
        let err = run(&src).expect_err(&src);
        assert!(err.contains(&format!("{}…", "9".repeat(128))), "{err}");
        assert!(err.chars().count() < 200, "{err}");
    }
}

#[test]
fn checker_refuses_what_cannot_work() {
    let cases: &[(&str, &str)] = &[
        (
            "1 + 'a'",
            "column 3: no matching overload for '+' applied to (int, string)",
        ),
        (
            "1 + 1.0",
            "column 3: no matching overload for '+' applied to (int, double)",
        ),
        (
            "'a' - 'b'",
            "column 5: no matching overload for '-' applied to (string, string)",
        ),
        (
            "1 == 'a'",
            "column 3: no matching overload for '==' applied to (int, string)",
        ),
        (
            "[1] == ['a']",
            "column 5: no matching overload for '==' applied to (list(int), list(string))",
        ),
        (
            "1 < 'a'",
            "column 3: no matching overload for '<' applied to (int, string)",
        ),
        (
            "1 in 2",
            "column 3: no matching overload for 'in' applied to (int, int)",
        ),
        (
            "'a' in [1]",
            "column 5: no matching overload for 'in' applied to (string, list(int))",
        ),
        (
            "!1",
            "column 1: no matching overload for '!' applied to (int)",
        ),
        (
            "-'a'",
            "column 1: no matching overload for '-' applied to (string)",
        ),
        (
            "-1u",
            "column 1: no matching overload for '-' applied to (uint)",
        ),
        (
            "1 && true",
            "column 1: no matching overload for '&&' applied to (int)",
        ),
        (
            "'a' ? 1 : 2",
            "column 1: no matching overload for '?:' applied to (string)",
        ),
        (
            "size(1)",
            "column 1: no matching overload for 'size' applied to (int)",
        ),
        (
            "size()",
            "column 1: size() takes one argument, or none as a method",
        ),
        (
            "size('a', 'b')",
            "column 1: size() takes one argument, or none as a method",
        ),
        (
            "'a'.startsWith()",
            "column 5: startsWith() takes a string receiver and one argument",
        ),
        (
            "startsWith('a', 'b')",
            "column 1: startsWith() takes a string receiver and one argument",
        ),
        (
            "'a'.startsWith(1)",
            "column 5: no matching overload for 'startsWith' applied to (string, int)",
        ),
        (
            "'a'.matches('(')",
            "column 13: invalid regular expression: ",
        ),
        (
            "int([1])",
            "column 1: no matching overload for 'int' applied to (list(int))",
        ),
        (
            "string(null)",
            "column 1: no matching overload for 'string' applied to (null)",
        ),
        ("foo(1)", "column 1: unknown function 'foo'"),
        (
            "'a'.lowerAscii()",
            "column 5: unknown function 'lowerAscii'",
        ),
        ("nope == 1", "column 1: undeclared reference to 'nope'"),
        ("[1].all(x, y)", "column 12: undeclared reference to 'y'"),
        (
            "[true].all(x, x) || x",
            "column 21: undeclared reference to 'x'",
        ),
        (
            "[1].all(x, x + 1)",
            "column 14: no matching overload for 'all' applied to (int)",
        ),
        (
            "[1].map(x, x, x)",
            "column 12: no matching overload for 'map' applied to (int)",
        ),
        (
            "1.all(x, true)",
            "column 3: no matching overload for 'all' applied to (int)",
        ),
        ("predicateType.x", "column 15: type string has no field 'x'"),
        (
            "has(predicateType.x)",
            "column 1: type string has no field 'x'",
        ),
        (
            "subject['a']",
            "column 8: no matching overload for '[]' applied to (list(dyn), string)",
        ),
        ("{[1]: 2}", "column 2: list(int) cannot be a map key"),
        (
            "{1: 'a'}['x']",
            "column 9: no matching overload for '[]' applied to (map(int, string), string)",
        ),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        match Program::compile(&env(), src) {
            Err(e) if e.to_string().starts_with(want) => {}
            other => failures.push(format!(
                "{src}\n    want {want}\n    got  {:?}",
                other.map(|_| ()).map_err(|e| e.to_string())
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn conditions_must_be_bool() {
    assert_eq!(
        Program::condition(&env(), "1 + 1").unwrap_err().to_string(),
        "column 1: the expression is int, not bool"
    );
    assert_eq!(
        Program::condition(&env(), "predicate.runDetails")
            .unwrap()
            .result_type(),
        &Type::Dyn
    );
    let p = Program::condition(&env(), "predicate.runDetails").unwrap();
    let pred = predicate();
    let pt = json!("x");
    let subject = json!([]);
    assert_eq!(
        p.eval_bool(&[&pred, &pt, &subject])
            .unwrap_err()
            .to_string(),
        "the expression evaluated to map, not a bool"
    );
    assert_eq!(
        p.eval_bool(&[&pred]).unwrap_err().to_string(),
        "the program was given 1 variables, declared 3"
    );
}

#[test]
fn limits_hold() {
    let long = format!("'{}' == ''", "a".repeat(5000));
    assert!(
        Program::compile(&env(), &long)
            .unwrap_err()
            .to_string()
            .contains("more than 4096")
    );
    // Quadratic and exponential work runs out of budget instead of time.
    let deep_map = "[0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, [0,1,2,3,4,5,6,7,8,9].map(c, [0,1,2,3,4,5,6,7,8,9].map(d, [0,1,2,3,4,5,6,7,8,9].map(e, [0,1,2,3,4,5,6,7,8,9].map(f, 1))))))";
    assert_eq!(
        run(deep_map).unwrap_err(),
        "eval: the evaluation exceeded its cost budget of 1000000"
    );
    // The budget is not absorbed by || or &&.
    let wasteful = format!("{deep_map} == [] || true");
    assert_eq!(
        run(&wasteful).unwrap_err(),
        "eval: the evaluation exceeded its cost budget of 1000000"
    );
    let small = Env::new(Limits {
        max_cost: 10,
        ..Limits::default()
    });
    let p = Program::compile(&small, "[1,2,3,4,5,6,7,8,9,10,11].all(x, true)").unwrap();
    assert!(matches!(p.eval(&[]), Err(EvalError::Budget(10))));
}

#[test]
fn errors_name_line_and_column() {
    let e = Program::compile(&env(), "true &&\n  nope").unwrap_err();
    assert_eq!((e.line, e.column), (2, 3));
    assert_eq!(
        e.to_string(),
        "line 2, column 3: undeclared reference to 'nope'"
    );
}

/// The deepest programs the limits allow compile and run within 1 MiB of stack (a tenth of a
/// main thread's, half of a spawned thread's), unoptimized.
#[test]
fn deepest_programs_fit_a_small_stack() {
    let d = Limits::default().max_depth;
    let mut nested_macros = "true".to_owned();
    for i in 0..(d - 2) / 2 {
        nested_macros = format!("[1].all(x{i}, {nested_macros})");
    }
    let programs = [
        format!("{}1{} == 1", "(".repeat(d - 2), ")".repeat(d - 2)),
        format!("{}1{} == []", "[".repeat(d - 2), "]".repeat(d - 2)),
        format!("{}true", "!".repeat(d - 1)),
        format!("{} == 1", vec!["1"; d - 2].join(" + ")),
        format!("{}true", "true && ".repeat(d - 1)),
        format!("{}true", "true ? true : ".repeat(d - 1)),
        nested_macros,
    ];
    for src in programs {
        let handle = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                let p = Program::compile(&Env::new(Limits::default()), &src)
                    .unwrap_or_else(|e| panic!("{src}: {e}"));
                let _ = p.eval(&[]);
            })
            .unwrap();
        handle.join().unwrap();
    }
}
