//! Fuzzes the CEL subset policy conditions are written in (`verify::policy::cel`): compiling
//! (lexing, parsing, type-checking) any text and evaluating what compiles against a real SLSA
//! provenance predicate (sigstore-js's npm release). Nothing may panic or overflow the stack,
//! and evaluation stays within its budget (libFuzzer's timeout catches a runaway). Evaluation
//! is deterministic; a value's type is the one the checker promised unless it said `dyn`; and
//! `eval_bool` agrees with `eval`. Seeds (fuzz/seeds/cel): conditions as policies write them
//! and expressions exercising each operator, macro and function.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value as Json, json};
use verify::policy::cel::{EvalError, Program, Type, Value};
use verify::policy::condition_env;

struct Vars {
    predicate: Json,
    predicate_type: Json,
    subject: Json,
}

static VARS: LazyLock<Vars> = LazyLock::new(|| Vars {
    predicate: json!({
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
        "numbers": [0, 1, -1, 9223372036854775807i64, -9223372036854775807i64 - 1,
                    18446744073709551615u64, 0.5, -2.5e300]
    }),
    predicate_type: json!("https://slsa.dev/provenance/v1"),
    subject: json!([{
        "name": "pkg:npm/sigstore@2.3.1",
        "digest": {"sha512": "f06fbf5c353cc0db093904b9cac0d53b412d83dff6b80e6047d9786708a38e5c3105cad4e913dfc22dbe8c999b3fe029d47969fe75406843b8163db6fd22f681"}
    }]),
});

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let env = condition_env();
    let Ok(program) = Program::compile(&env, src) else {
        // Whatever does not compile as an expression cannot be a condition either.
        assert!(Program::condition(&env, src).is_err());
        return;
    };
    assert_eq!(program.source(), src);
    let v = &*VARS;
    let vars = [&v.predicate, &v.predicate_type, &v.subject];
    let first = program.eval(&vars);
    let second = program.eval(&vars);
    assert_eq!(
        format!("{first:?}"),
        format!("{second:?}"),
        "evaluation is deterministic"
    );
    if let Ok(value) = &first {
        assert!(
            conforms(value, program.result_type()),
            "{src}: the checker said {}, evaluation gave {value}",
            program.result_type()
        );
    }
    let as_bool = program.eval_bool(&vars);
    match (&first, &as_bool) {
        (Ok(Value::Bool(b)), Ok(c)) => assert_eq!(b, c),
        (Ok(Value::Bool(_)), Err(e)) => panic!("{src}: eval gave a bool, eval_bool {e}"),
        (Ok(_), r) => assert!(matches!(r, Err(EvalError::NotBool(_))), "{src}: {r:?}"),
        // Converting the result costs budget too, so eval may fail where eval_bool did not.
        (Err(EvalError::Budget(_)), _) => {}
        (Err(e), r) => assert_eq!(Err(e), r.as_ref(), "{src}"),
    }
    // A condition is a program whose type may be bool.
    let condition = Program::condition(&env, src);
    assert_eq!(
        condition.is_ok(),
        matches!(program.result_type(), Type::Bool | Type::Dyn),
        "{src}"
    );
});

/// Whether a value has the static type (`dyn` holds anything).
fn conforms(v: &Value, t: &Type) -> bool {
    match (t, v) {
        (Type::Dyn, _) => true,
        (Type::Null, Value::Null)
        | (Type::Bool, Value::Bool(_))
        | (Type::Int, Value::Int(_))
        | (Type::Uint, Value::Uint(_))
        | (Type::Double, Value::Double(_))
        | (Type::String, Value::String(_)) => true,
        (Type::List(e), Value::List(items)) => items.iter().all(|i| conforms(i, e)),
        (Type::Map(k, val), Value::Map(entries)) => entries
            .iter()
            .all(|(ek, ev)| conforms(ek, k) && conforms(ev, val)),
        _ => false,
    }
}
