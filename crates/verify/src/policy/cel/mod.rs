//! A small, checked subset of CEL (the Common Expression Language, Kubernetes' admission
//! language) for policy conditions over verified attestation predicates.
//!
//! Supported: literals (`null`, bools, `int` with overflow checks, `uint` with a `u` suffix,
//! `double`, strings with CEL's quoting and escapes, lists, maps); variables declared in an
//! [`Env`]; `a.b`, `a["k"]`, `a[0]`; operators with CEL's precedence (`?:`, `||`, `&&`,
//! `== != < <= > >= in`, `+ -`, `* / %`, `! -`); `has(a.b)`; the macros `all`, `exists`,
//! `exists_one`, `map` (two and three arguments) and `filter`; the functions `size`,
//! `startsWith`, `endsWith`, `contains`, `matches` (an unanchored regular expression search,
//! as in CEL; regex-lite syntax), and the conversions `string`, `int`, `uint`, `double`, `dyn`.
//! Not supported: bytes, timestamps and durations, protobuf messages, qualified names,
//! optional values, and CEL's extension libraries.
//!
//! A [`Program`] exists only checked: [`Program::compile`] lexes, parses (bounded nesting)
//! and type-checks (unknown names and functions, arity, operand types; literal regular
//! expressions are compiled then). [`Program::eval`] runs it over JSON under a cost budget.
//! Nothing here recurses deeper than [`Limits::max_depth`] (plus a fixed bound for values),
//! so no input can overflow the stack.

mod ast;
mod check;
mod interp;
mod lex;
mod parse;

use std::fmt;

pub use check::Type;
pub use interp::{EvalError, Value};

/// Bounds on what a program may be and do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest source, in bytes.
    pub max_source_len: usize,
    /// Deepest nesting of the syntax tree (and of parentheses, lists, calls while parsing).
    pub max_depth: usize,
    /// Evaluation budget: one unit per node evaluated and per element visited, and units by
    /// size for work on strings and lists.
    pub max_cost: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_source_len: 4096,
            max_depth: 64,
            max_cost: 1_000_000,
        }
    }
}

/// The variables a program may use, with their types, and the limits it is held to.
#[derive(Debug, Clone)]
pub struct Env {
    vars: Vec<(String, Type)>,
    limits: Limits,
}

impl Env {
    pub fn new(limits: Limits) -> Env {
        Env {
            vars: Vec::new(),
            limits,
        }
    }

    /// Declares a variable; evaluation binds the variables in the order they were declared.
    pub fn with_var(mut self, name: &str, ty: Type) -> Env {
        self.vars.push((name.to_owned(), ty));
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// A parsed and type-checked expression.
#[derive(Debug, Clone)]
pub struct Program {
    source: String,
    expr: ast::Expr,
    result: Type,
    vars: usize,
    limits: Limits,
}

impl Program {
    /// Parses and type-checks `source` against `env`.
    pub fn compile(env: &Env, source: &str) -> Result<Program, CompileError> {
        let limits = env.limits;
        if source.len() > limits.max_source_len {
            return Err(CompileError::new(
                source,
                0,
                CompileErrorKind::TooLong {
                    len: source.len(),
                    max: limits.max_source_len,
                },
            ));
        }
        let tokens = lex::tokenize(source)?;
        let mut expr = parse::parse(source, &tokens, &limits)?;
        let result = check::check(source, env, &mut expr)?;
        Ok(Program {
            source: source.to_owned(),
            expr,
            result,
            vars: env.vars.len(),
            limits,
        })
    }

    /// Like [`Program::compile`], and the result must be able to be a bool.
    pub fn condition(env: &Env, source: &str) -> Result<Program, CompileError> {
        let p = Program::compile(env, source)?;
        if matches!(p.result, Type::Bool | Type::Dyn) {
            Ok(p)
        } else {
            Err(CompileError::new(
                source,
                0,
                CompileErrorKind::NotBool(p.result.to_string()),
            ))
        }
    }

    /// The source, as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The type the checker computed (`dyn` when only evaluation can tell).
    pub fn result_type(&self) -> &Type {
        &self.result
    }

    /// Evaluates with the environment's variables bound to `vars`, in declaration order.
    pub fn eval(&self, vars: &[&serde_json::Value]) -> Result<Value, EvalError> {
        self.check_vars(vars)?;
        interp::eval(&self.expr, vars, &self.limits)
    }

    /// Evaluates a condition: anything but a bool is an error.
    pub fn eval_bool(&self, vars: &[&serde_json::Value]) -> Result<bool, EvalError> {
        self.check_vars(vars)?;
        interp::eval_bool(&self.expr, vars, &self.limits)
    }

    fn check_vars(&self, vars: &[&serde_json::Value]) -> Result<(), EvalError> {
        if vars.len() == self.vars {
            Ok(())
        } else {
            Err(EvalError::Variables {
                given: vars.len(),
                declared: self.vars,
            })
        }
    }
}

/// A regular expression as CEL programs use them: bounded in size and nesting.
pub(super) fn regex(pattern: &str) -> Result<regex_lite::Regex, regex_lite::Error> {
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(1 << 16)
        .nest_limit(64)
        .build()
}

/// Why a program does not compile, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Byte offset in the source.
    pub offset: usize,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub kind: CompileErrorKind,
}

impl CompileError {
    fn new(src: &str, offset: usize, kind: CompileErrorKind) -> CompileError {
        let offset = offset.min(src.len());
        let before = src.get(..offset).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        CompileError {
            offset,
            line,
            column,
            kind,
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 1 {
            write!(f, "line {}, ", self.line)?;
        }
        write!(f, "column {}: {}", self.column, self.kind)
    }
}

impl std::error::Error for CompileError {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileErrorKind {
    #[error("the expression is {len} bytes long, more than {max}")]
    TooLong { len: usize, max: usize },
    #[error("unexpected character '{0}'")]
    UnexpectedChar(char),
    #[error("unterminated string")]
    UnterminatedString,
    #[error("newline in a quoted string")]
    NewlineInString,
    #[error("invalid escape sequence")]
    BadEscape,
    #[error("bytes literals are not supported")]
    BytesUnsupported,
    #[error("integer literal out of range")]
    IntOutOfRange,
    #[error("malformed number")]
    BadNumber,
    #[error("'{0}' is a reserved word")]
    Reserved(String),
    #[error("expected {expected}, found {found}")]
    Expected {
        expected: &'static str,
        found: String,
    },
    #[error("the expression nests deeper than {0}")]
    TooDeep(usize),
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    #[error("has() takes one field selection, such as has(a.b)")]
    HasArgument,
    #[error("{0}() takes a variable name and an expression")]
    MacroArguments(&'static str),
    #[error("undeclared reference to '{0}'")]
    UndeclaredVariable(String),
    #[error("unknown function '{0}'")]
    UndeclaredFunction(String),
    #[error("{function}() takes {expected}")]
    Arity {
        function: String,
        expected: &'static str,
    },
    #[error("no matching overload for '{function}' applied to ({})", .args.join(", "))]
    NoOverload { function: String, args: Vec<String> },
    #[error("type {on} has no field '{field}'")]
    NoField { field: String, on: String },
    #[error("{0} cannot be a map key")]
    BadMapKey(String),
    #[error("invalid regular expression: {0}")]
    Regex(String),
    #[error("the expression is {0}, not bool")]
    NotBool(String),
}

#[cfg(test)]
mod tests;
