//! The CEL interpreter over `serde_json::Value`s, with CEL's semantics: checked integer
//! arithmetic (overflow is an error), heterogeneous numeric comparison and equality, `&&` and
//! `||` that absorb an error when the other side decides, strict everything else, a missing
//! key is an error. JSON is read in place, never copied. Every step is charged to a budget,
//! and work proportional to a value's size (concatenation, comparison, matching) is charged
//! by size, so evaluation time and memory are bounded for any input.

use std::cmp::Ordering;
use std::fmt;
use std::rc::Rc;

use serde_json::Value as Json;

use super::ast::{BinaryOp, Expr, Func, Kind, Macro, UnaryOp, Var};
use super::{Limits, regex};

/// How deeply equality and result conversion descend into a value before giving up (JSON
/// parsed by serde_json nests at most 128 deep).
const MAX_VALUE_DEPTH: usize = 256;

/// Why an evaluation failed. In a policy, every error denies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("no such key '{0}'")]
    NoSuchKey(String),
    #[error("index {index} out of range for a list of {len}")]
    IndexOutOfRange { index: String, len: usize },
    #[error("no such overload: {function} applied to ({})", .args.join(", "))]
    NoOverload {
        function: String,
        args: Vec<&'static str>,
    },
    #[error("integer overflow in {0}")]
    Overflow(&'static str),
    #[error("division by zero")]
    DivisionByZero,
    #[error("modulus by zero")]
    ModulusByZero,
    #[error("cannot convert {value} to {to}")]
    Conversion { value: String, to: &'static str },
    #[error("invalid regular expression: {0}")]
    Regex(String),
    #[error("repeated key in a map literal")]
    RepeatedKey,
    #[error("the value nests deeper than {MAX_VALUE_DEPTH}")]
    TooDeep,
    #[error("the evaluation exceeded its cost budget of {0}")]
    Budget(u64),
    #[error("the program was given {given} variables, declared {declared}")]
    Variables { given: usize, declared: usize },
    #[error("the expression evaluated to {0}, not a bool")]
    NotBool(&'static str),
}

impl EvalError {
    /// An error no `&&` or `||` may absorb: running out of budget stops the evaluation.
    fn fatal(&self) -> bool {
        matches!(self, EvalError::Budget(_) | EvalError::Variables { .. })
    }
}

/// Characters of a string value an error message shows.
const SHOWN_CHARS: usize = 128;

/// A value an expression evaluated to.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(String),
    List(Vec<Value>),
    /// Entries in the order the map holds them (a JSON object's: sorted by key).
    Map(Vec<(Value, Value)>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}u"),
            Value::Double(d) => write!(f, "{d:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A value during evaluation: JSON borrowed in place, or built by the expression.
#[derive(Clone)]
enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    Str(Str<'a>),
    List(List<'a>),
    Map(MapVal<'a>),
}

#[derive(Clone)]
enum Str<'a> {
    Borrowed(&'a str),
    Owned(Rc<str>),
}

#[derive(Clone)]
enum List<'a> {
    Json(&'a [Json]),
    Owned(Rc<Vec<Val<'a>>>),
}

#[derive(Clone)]
enum MapVal<'a> {
    Json(&'a serde_json::Map<String, Json>),
    Owned(Rc<Vec<(Val<'a>, Val<'a>)>>),
}

impl<'a> Str<'a> {
    fn as_str(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Owned(s) => s,
        }
    }
}

impl<'a> List<'a> {
    fn len(&self) -> usize {
        match self {
            List::Json(items) => items.len(),
            List::Owned(items) => items.len(),
        }
    }

    fn get(&self, i: usize) -> Option<Val<'a>> {
        match self {
            List::Json(items) => items.get(i).map(Val::from_json),
            List::Owned(items) => items.get(i).cloned(),
        }
    }
}

impl<'a> MapVal<'a> {
    fn len(&self) -> usize {
        match self {
            MapVal::Json(m) => m.len(),
            MapVal::Owned(entries) => entries.len(),
        }
    }

    /// Every key, in order, in one pass (a JSON object's keys cannot be reached by index
    /// without walking them: a lookup per index would make a pass quadratic and uncharged).
    fn keys(&self) -> Box<dyn Iterator<Item = Val<'a>> + '_> {
        match self {
            MapVal::Json(m) => Box::new(m.keys().map(|k| Val::Str(Str::Borrowed(k)))),
            MapVal::Owned(entries) => Box::new(entries.iter().map(|(k, _)| k.clone())),
        }
    }

    fn get_str(&self, key: &str) -> Option<Val<'a>> {
        match self {
            MapVal::Json(m) => m.get(key).map(Val::from_json),
            MapVal::Owned(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Val::Str(s) if s.as_str() == key))
                .map(|(_, v)| v.clone()),
        }
    }
}

impl<'a> Val<'a> {
    fn from_json(j: &'a Json) -> Val<'a> {
        match j {
            Json::Null => Val::Null,
            Json::Bool(b) => Val::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Val::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Val::Uint(u)
                } else {
                    // Without serde_json's arbitrary precision, every other number is an f64.
                    n.as_f64().map_or(Val::Null, Val::Double)
                }
            }
            Json::String(s) => Val::Str(Str::Borrowed(s)),
            Json::Array(items) => Val::List(List::Json(items)),
            Json::Object(m) => Val::Map(MapVal::Json(m)),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Uint(_) => "uint",
            Val::Double(_) => "double",
            Val::Str(_) => "string",
            Val::List(_) => "list",
            Val::Map(_) => "map",
        }
    }

    fn owned_str(s: String) -> Val<'a> {
        Val::Str(Str::Owned(s.into()))
    }
}

/// Evaluates `expr` with the declared variables bound to `vars`.
pub(super) fn eval(expr: &Expr, vars: &[&Json], limits: &Limits) -> Result<Value, EvalError> {
    let mut it = Interp {
        globals: vars,
        locals: Vec::new(),
        cost: 0,
        max_cost: limits.max_cost,
    };
    let v = it.eval(expr)?;
    it.output(&v, 0)
}

/// Evaluates a condition: anything but a bool is an error.
pub(super) fn eval_bool(expr: &Expr, vars: &[&Json], limits: &Limits) -> Result<bool, EvalError> {
    let mut it = Interp {
        globals: vars,
        locals: Vec::new(),
        cost: 0,
        max_cost: limits.max_cost,
    };
    match it.eval(expr)? {
        Val::Bool(b) => Ok(b),
        other => Err(EvalError::NotBool(other.type_name())),
    }
}

struct Interp<'g, 'a> {
    globals: &'g [&'a Json],
    locals: Vec<Val<'a>>,
    cost: u64,
    max_cost: u64,
}

fn unary<'a>(op: UnaryOp, v: &Val<'a>) -> Result<Val<'a>, EvalError> {
    match (op, v) {
        (UnaryOp::Not, Val::Bool(b)) => Ok(Val::Bool(!b)),
        (UnaryOp::Neg, Val::Int(i)) => i
            .checked_neg()
            .map(Val::Int)
            .ok_or(EvalError::Overflow("-")),
        (UnaryOp::Neg, Val::Double(d)) => Ok(Val::Double(-d)),
        (UnaryOp::Not, other) => Err(no_overload("!", &[other])),
        (UnaryOp::Neg, other) => Err(no_overload("-", &[other])),
    }
}

fn no_overload(function: &str, args: &[&Val<'_>]) -> EvalError {
    EvalError::NoOverload {
        function: function.to_owned(),
        args: args.iter().map(|v| v.type_name()).collect(),
    }
}

/// The cost of touching `n` bytes of a string: one unit per 16.
fn bytes_cost(n: usize) -> u64 {
    1 + (n as u64) / 16
}

impl<'a> Interp<'_, 'a> {
    fn charge(&mut self, units: u64) -> Result<(), EvalError> {
        self.cost = self.cost.saturating_add(units);
        if self.cost > self.max_cost {
            Err(EvalError::Budget(self.max_cost))
        } else {
            Ok(())
        }
    }

    /// One node. The arms with work of their own are separate functions: this one recurses
    /// once per tree level, and a small frame keeps that cheap.
    fn eval(&mut self, e: &'a Expr) -> Result<Val<'a>, EvalError> {
        self.charge(1)?;
        match &e.kind {
            Kind::Null => Ok(Val::Null),
            Kind::Bool(b) => Ok(Val::Bool(*b)),
            Kind::Int(i) => Ok(Val::Int(*i)),
            Kind::Uint(u) => Ok(Val::Uint(*u)),
            Kind::Double(d) => Ok(Val::Double(*d)),
            Kind::Str(s) => Ok(Val::Str(Str::Borrowed(s))),
            Kind::Var(v) => self.var(*v),
            // The checker resolves every name; a program is only ever evaluated checked.
            Kind::Ident(name) => Err(EvalError::NoSuchKey(name.clone())),
            Kind::Select { operand, field } => self.select(operand, field, false),
            Kind::Has { operand, field } => self.select(operand, field, true),
            Kind::Index { operand, index } => {
                let v = self.eval(operand)?;
                let i = self.eval(index)?;
                self.index(&v, &i)
            }
            Kind::Unary { op, operand } => {
                let v = self.eval(operand)?;
                unary(*op, &v)
            }
            Kind::Binary { op, lhs, rhs } => {
                let l = self.eval(lhs)?;
                let r = self.eval(rhs)?;
                self.binary(*op, &l, &r)
            }
            Kind::And(a, b) => self.logic(a, b, false),
            Kind::Or(a, b) => self.logic(a, b, true),
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => self.conditional(cond, then, otherwise),
            Kind::List(items) => self.list(items),
            Kind::Map(entries) => self.map(entries),
            Kind::Call {
                target, args, func, ..
            } => self.call_expr(target.as_deref(), args, func.as_ref()),
            Kind::Comprehension {
                kind,
                range,
                filter,
                body,
                ..
            } => {
                let r = self.eval(range)?;
                self.comprehension(*kind, &r, filter.as_deref(), body)
            }
        }
    }

    fn var(&self, v: Var) -> Result<Val<'a>, EvalError> {
        match v {
            Var::Global(i) => {
                self.globals
                    .get(i)
                    .map(|j| Val::from_json(j))
                    .ok_or(EvalError::Variables {
                        given: self.globals.len(),
                        declared: i + 1,
                    })
            }
            Var::Local(i) => self.locals.get(i).cloned().ok_or(EvalError::Variables {
                given: self.locals.len(),
                declared: i + 1,
            }),
        }
    }

    /// `operand.field`, or with `test` `has(operand.field)`.
    fn select(&mut self, operand: &'a Expr, field: &str, test: bool) -> Result<Val<'a>, EvalError> {
        let v = self.eval(operand)?;
        match (&v, test) {
            (Val::Map(m), false) => m
                .get_str(field)
                .ok_or_else(|| EvalError::NoSuchKey(field.to_owned())),
            (Val::Map(m), true) => Ok(Val::Bool(m.get_str(field).is_some())),
            (other, false) => Err(no_overload(&format!(".{field}"), &[other])),
            (other, true) => Err(no_overload("has", &[other])),
        }
    }

    fn conditional(
        &mut self,
        cond: &'a Expr,
        then: &'a Expr,
        otherwise: &'a Expr,
    ) -> Result<Val<'a>, EvalError> {
        match self.eval(cond)? {
            Val::Bool(true) => self.eval(then),
            Val::Bool(false) => self.eval(otherwise),
            other => Err(no_overload("?:", &[&other])),
        }
    }

    fn list(&mut self, items: &'a [Expr]) -> Result<Val<'a>, EvalError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.eval(item)?);
        }
        Ok(Val::List(List::Owned(Rc::new(out))))
    }

    fn map(&mut self, entries: &'a [(Expr, Expr)]) -> Result<Val<'a>, EvalError> {
        let mut out: Vec<(Val<'a>, Val<'a>)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let k = self.eval(k)?;
            if !matches!(k, Val::Int(_) | Val::Uint(_) | Val::Bool(_) | Val::Str(_)) {
                return Err(no_overload("{}", &[&k]));
            }
            for (prev, _) in &out {
                if self.equal(prev, &k, 0)? {
                    return Err(EvalError::RepeatedKey);
                }
            }
            let v = self.eval(v)?;
            out.push((k, v));
        }
        Ok(Val::Map(MapVal::Owned(Rc::new(out))))
    }

    fn call_expr(
        &mut self,
        target: Option<&'a Expr>,
        args: &'a [Expr],
        func: Option<&Func>,
    ) -> Result<Val<'a>, EvalError> {
        let mut values = Vec::with_capacity(args.len() + 1);
        if let Some(t) = target {
            values.push(self.eval(t)?);
        }
        for a in args {
            values.push(self.eval(a)?);
        }
        match func {
            Some(f) => self.call(f, &values),
            None => Err(no_overload("unresolved function", &[])),
        }
    }

    /// `&&` (`or` false) and `||` (`or` true): the deciding value wins over an error on the
    /// other side, whichever side that is; otherwise an error wins.
    fn logic(&mut self, a: &'a Expr, b: &'a Expr, or: bool) -> Result<Val<'a>, EvalError> {
        let name = if or { "||" } else { "&&" };
        let as_bool = |v: Result<Val<'a>, EvalError>| match v {
            Ok(Val::Bool(b)) => Ok(b),
            Ok(other) => Err(no_overload(name, &[&other])),
            Err(e) => Err(e),
        };
        let l = as_bool(self.eval(a));
        match &l {
            Ok(v) if *v == or => return Ok(Val::Bool(or)),
            Err(e) if e.fatal() => return Err(e.clone()),
            _ => {}
        }
        let r = as_bool(self.eval(b));
        match (l, r) {
            (_, Err(e)) if e.fatal() => Err(e),
            (_, Ok(v)) if v == or => Ok(Val::Bool(or)),
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(_), Ok(_)) => Ok(Val::Bool(!or)),
        }
    }

    fn index(&mut self, v: &Val<'a>, i: &Val<'a>) -> Result<Val<'a>, EvalError> {
        match (v, i) {
            (Val::List(l), Val::Int(_) | Val::Uint(_) | Val::Double(_)) => {
                let position = match i {
                    Val::Int(n) => usize::try_from(*n).ok(),
                    Val::Uint(n) => usize::try_from(*n).ok(),
                    // CEL accepts a double index that is a whole number.
                    Val::Double(d) if d.fract() == 0.0 && *d >= 0.0 && *d < 4294967296.0 => {
                        Some(*d as usize)
                    }
                    _ => None,
                };
                position
                    .and_then(|p| l.get(p))
                    .ok_or_else(|| EvalError::IndexOutOfRange {
                        index: Interp::scalar_text(i),
                        len: l.len(),
                    })
            }
            (Val::Map(m), key) => self
                .lookup(m, key)?
                .ok_or_else(|| EvalError::NoSuchKey(Interp::scalar_text(key))),
            _ => Err(no_overload("[]", &[v, i])),
        }
    }

    /// A scalar as an error message shows it; a string (which may come from a large signed
    /// predicate) is cut at [`SHOWN_CHARS`] characters, so no reason carries it whole.
    fn scalar_text(v: &Val<'_>) -> String {
        match v {
            Val::Str(s) => match s.as_str().char_indices().nth(SHOWN_CHARS) {
                Some((cut, _)) => format!("{}…", &s.as_str()[..cut]),
                None => s.as_str().to_owned(),
            },
            Val::Int(i) => i.to_string(),
            Val::Uint(u) => format!("{u}u"),
            Val::Double(d) => format!("{d:?}"),
            Val::Bool(b) => b.to_string(),
            other => other.type_name().to_owned(),
        }
    }

    fn lookup(&mut self, m: &MapVal<'a>, key: &Val<'a>) -> Result<Option<Val<'a>>, EvalError> {
        match m {
            MapVal::Json(_) => Ok(match key {
                Val::Str(s) => m.get_str(s.as_str()),
                _ => None,
            }),
            MapVal::Owned(entries) => {
                for (k, v) in entries.iter() {
                    if self.equal(k, key, 0)? {
                        return Ok(Some(v.clone()));
                    }
                }
                Ok(None)
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, l: &Val<'a>, r: &Val<'a>) -> Result<Val<'a>, EvalError> {
        let fail = || Err(no_overload(op.symbol(), &[l, r]));
        match op {
            BinaryOp::Eq => Ok(Val::Bool(self.equal(l, r, 0)?)),
            BinaryOp::Ne => Ok(Val::Bool(!self.equal(l, r, 0)?)),
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let Some(ord) = self.compare(op, l, r)? else {
                    // NaN: every ordering comparison is false.
                    return Ok(Val::Bool(false));
                };
                Ok(Val::Bool(match op {
                    BinaryOp::Lt => ord == Ordering::Less,
                    BinaryOp::Le => ord != Ordering::Greater,
                    BinaryOp::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                }))
            }
            BinaryOp::In => match r {
                Val::List(list) => {
                    for i in 0..list.len() {
                        if let Some(item) = list.get(i)
                            && self.equal(l, &item, 0)?
                        {
                            return Ok(Val::Bool(true));
                        }
                    }
                    Ok(Val::Bool(false))
                }
                Val::Map(m) => Ok(Val::Bool(self.lookup(m, l)?.is_some())),
                _ => fail(),
            },
            BinaryOp::Add => match (l, r) {
                (Val::Str(a), Val::Str(b)) => {
                    let (a, b) = (a.as_str(), b.as_str());
                    self.charge(bytes_cost(a.len() + b.len()))?;
                    Ok(Val::owned_str([a, b].concat()))
                }
                (Val::List(a), Val::List(b)) => {
                    self.charge(1 + (a.len() + b.len()) as u64)?;
                    let items = (0..a.len())
                        .filter_map(|i| a.get(i))
                        .chain((0..b.len()).filter_map(|i| b.get(i)))
                        .collect();
                    Ok(Val::List(List::Owned(Rc::new(items))))
                }
                _ => self.arithmetic(op, l, r),
            },
            BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                self.arithmetic(op, l, r)
            }
        }
    }

    fn arithmetic(&self, op: BinaryOp, l: &Val<'a>, r: &Val<'a>) -> Result<Val<'a>, EvalError> {
        let sym = op.symbol();
        match (l, r) {
            (Val::Int(a), Val::Int(b)) => {
                let (a, b) = (*a, *b);
                let v = match op {
                    BinaryOp::Add => a.checked_add(b),
                    BinaryOp::Sub => a.checked_sub(b),
                    BinaryOp::Mul => a.checked_mul(b),
                    BinaryOp::Div if b == 0 => return Err(EvalError::DivisionByZero),
                    BinaryOp::Div => a.checked_div(b),
                    BinaryOp::Rem if b == 0 => return Err(EvalError::ModulusByZero),
                    _ => a.checked_rem(b),
                };
                v.map(Val::Int).ok_or(EvalError::Overflow(sym))
            }
            (Val::Uint(a), Val::Uint(b)) => {
                let (a, b) = (*a, *b);
                let v = match op {
                    BinaryOp::Add => a.checked_add(b),
                    BinaryOp::Sub => a.checked_sub(b),
                    BinaryOp::Mul => a.checked_mul(b),
                    BinaryOp::Div if b == 0 => return Err(EvalError::DivisionByZero),
                    BinaryOp::Div => a.checked_div(b),
                    BinaryOp::Rem if b == 0 => return Err(EvalError::ModulusByZero),
                    _ => a.checked_rem(b),
                };
                v.map(Val::Uint).ok_or(EvalError::Overflow(sym))
            }
            (Val::Double(a), Val::Double(b)) if op != BinaryOp::Rem => Ok(Val::Double(match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                _ => a / b,
            })),
            _ => Err(no_overload(sym, &[l, r])),
        }
    }

    /// CEL equality: numbers compare by value across int, uint and double; lists and maps
    /// element by element; values of different types are unequal, never an error.
    fn equal(&mut self, a: &Val<'a>, b: &Val<'a>, depth: usize) -> Result<bool, EvalError> {
        if depth > MAX_VALUE_DEPTH {
            return Err(EvalError::TooDeep);
        }
        self.charge(1)?;
        Ok(match (a, b) {
            (Val::Null, Val::Null) => true,
            (Val::Bool(x), Val::Bool(y)) => x == y,
            (Val::Str(x), Val::Str(y)) => {
                let (x, y) = (x.as_str(), y.as_str());
                self.charge(bytes_cost(x.len().min(y.len())))?;
                x == y
            }
            (Val::List(x), Val::List(y)) => {
                if x.len() != y.len() {
                    return Ok(false);
                }
                for i in 0..x.len() {
                    match (x.get(i), y.get(i)) {
                        (Some(p), Some(q)) if self.equal(&p, &q, depth + 1)? => {}
                        _ => return Ok(false),
                    }
                }
                true
            }
            (Val::Map(x), Val::Map(y)) => {
                if x.len() != y.len() {
                    return Ok(false);
                }
                for k in x.keys() {
                    let (Some(p), Some(q)) = (self.lookup(x, &k)?, self.lookup(y, &k)?) else {
                        return Ok(false);
                    };
                    if !self.equal(&p, &q, depth + 1)? {
                        return Ok(false);
                    }
                }
                true
            }
            _ => match numeric_cmp(a, b) {
                Some(ord) => ord == Some(Ordering::Equal),
                None => false,
            },
        })
    }

    /// Ordering for `<` and friends: numbers across types, strings, bools. `Ok(None)` when a
    /// NaN is involved.
    fn compare(
        &mut self,
        op: BinaryOp,
        a: &Val<'a>,
        b: &Val<'a>,
    ) -> Result<Option<Ordering>, EvalError> {
        match (a, b) {
            (Val::Str(x), Val::Str(y)) => {
                let (x, y) = (x.as_str(), y.as_str());
                self.charge(bytes_cost(x.len().min(y.len())))?;
                Ok(Some(x.cmp(y)))
            }
            (Val::Bool(x), Val::Bool(y)) => Ok(Some(x.cmp(y))),
            _ => numeric_cmp(a, b).ok_or_else(|| no_overload(op.symbol(), &[a, b])),
        }
    }

    fn comprehension(
        &mut self,
        kind: Macro,
        range: &Val<'a>,
        filter: Option<&'a Expr>,
        body: &'a Expr,
    ) -> Result<Val<'a>, EvalError> {
        let items: Vec<Val<'a>> = match range {
            Val::List(l) => {
                self.charge(l.len() as u64)?;
                (0..l.len()).filter_map(|i| l.get(i)).collect()
            }
            Val::Map(m) => {
                self.charge(m.len() as u64)?;
                m.keys().collect()
            }
            other => return Err(no_overload(kind.name(), &[other])),
        };
        let mut error: Option<EvalError> = None;
        let mut count = 0usize;
        let mut out = Vec::new();
        for item in items {
            self.charge(1)?;
            self.locals.push(item.clone());
            let step = self.step(kind, filter, body);
            self.locals.pop();
            match (kind, step) {
                (_, Err(e)) if e.fatal() => return Err(e),
                (Macro::All, Ok(Some(Val::Bool(false)))) => return Ok(Val::Bool(false)),
                (Macro::Exists, Ok(Some(Val::Bool(true)))) => return Ok(Val::Bool(true)),
                (Macro::All | Macro::Exists, Ok(Some(Val::Bool(_)))) => {}
                (Macro::All | Macro::Exists, Ok(Some(other))) => {
                    error.get_or_insert_with(|| no_overload(kind.name(), &[&other]));
                }
                // All and exists go on past an error: a later false (true) decides.
                (Macro::All | Macro::Exists, Err(e)) => {
                    error.get_or_insert(e);
                }
                (Macro::ExistsOne, Ok(Some(Val::Bool(b)))) => count += usize::from(b),
                (Macro::Filter, Ok(Some(Val::Bool(b)))) => {
                    if b {
                        out.push(item);
                    }
                }
                (Macro::ExistsOne | Macro::Filter, Ok(Some(other))) => {
                    return Err(no_overload(kind.name(), &[&other]));
                }
                (Macro::Map, Ok(Some(v))) => out.push(v),
                (_, Ok(None)) => {}
                (_, Err(e)) => return Err(e),
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        Ok(match kind {
            Macro::All => Val::Bool(true),
            Macro::Exists => Val::Bool(false),
            Macro::ExistsOne => Val::Bool(count == 1),
            Macro::Map | Macro::Filter => Val::List(List::Owned(Rc::new(out))),
        })
    }

    /// One iteration: `None` when `map`'s filter skipped the element.
    fn step(
        &mut self,
        kind: Macro,
        filter: Option<&'a Expr>,
        body: &'a Expr,
    ) -> Result<Option<Val<'a>>, EvalError> {
        if let Some(f) = filter {
            match self.eval(f)? {
                Val::Bool(true) => {}
                Val::Bool(false) => return Ok(None),
                other => return Err(no_overload(kind.name(), &[&other])),
            }
        }
        self.eval(body).map(Some)
    }

    fn call(&mut self, f: &Func, args: &[Val<'a>]) -> Result<Val<'a>, EvalError> {
        let name = match f {
            Func::Size => "size",
            Func::StartsWith => "startsWith",
            Func::EndsWith => "endsWith",
            Func::Contains => "contains",
            Func::Matches(_) => "matches",
            Func::String => "string",
            Func::Int => "int",
            Func::Uint => "uint",
            Func::Double => "double",
            Func::Dyn => "dyn",
        };
        let refs: Vec<&Val<'a>> = args.iter().collect();
        let fail = || Err(no_overload(name, &refs));
        let conversion = |v: &Val<'_>, to: &'static str| EvalError::Conversion {
            value: Interp::scalar_text(v),
            to,
        };
        match (f, args) {
            (Func::Size, [Val::Str(s)]) => {
                let s = s.as_str();
                self.charge(bytes_cost(s.len()))?;
                Ok(Val::Int(s.chars().count() as i64))
            }
            (Func::Size, [Val::List(l)]) => Ok(Val::Int(l.len() as i64)),
            (Func::Size, [Val::Map(m)]) => Ok(Val::Int(m.len() as i64)),
            (Func::StartsWith | Func::EndsWith | Func::Contains, [Val::Str(s), Val::Str(p)]) => {
                let (s, p) = (s.as_str(), p.as_str());
                self.charge(bytes_cost(s.len()))?;
                Ok(Val::Bool(match f {
                    Func::StartsWith => s.starts_with(p),
                    Func::EndsWith => s.ends_with(p),
                    _ => s.contains(p),
                }))
            }
            (Func::Matches(compiled), [Val::Str(s), Val::Str(p)]) => {
                let (s, p) = (s.as_str(), p.as_str());
                let fresh;
                let re = match compiled {
                    Some(re) => re,
                    None => {
                        self.charge(bytes_cost(p.len()) * 64)?;
                        fresh = regex(p).map_err(|e| EvalError::Regex(e.to_string()))?;
                        &fresh
                    }
                };
                // A PikeVM: time grows with the text times the program's size.
                let program = re.as_str().len() as u64 + 1;
                self.charge(1 + (s.len() as u64 + 1).saturating_mul(program) / 32)?;
                Ok(Val::Bool(re.is_match(s)))
            }
            (Func::String, [v]) => {
                let s = match v {
                    Val::Str(_) => return Ok(v.clone()),
                    Val::Int(i) => i.to_string(),
                    Val::Uint(u) => u.to_string(),
                    Val::Double(d) => d.to_string(),
                    Val::Bool(b) => b.to_string(),
                    _ => return fail(),
                };
                self.charge(bytes_cost(s.len()))?;
                Ok(Val::owned_str(s))
            }
            (Func::Int, [v]) => match v {
                Val::Int(_) => Ok(v.clone()),
                Val::Uint(u) => i64::try_from(*u)
                    .map(Val::Int)
                    .map_err(|_| conversion(v, "int")),
                // Truncates toward zero; the range is [-2^63, 2^63).
                Val::Double(d)
                    if d.is_finite()
                        && *d >= -9.223_372_036_854_776e18
                        && *d < 9.223_372_036_854_776e18 =>
                {
                    Ok(Val::Int(d.trunc() as i64))
                }
                Val::Str(s) => self.parse_str(s.as_str(), "int", Val::Int),
                Val::Double(_) => Err(conversion(v, "int")),
                _ => fail(),
            },
            (Func::Uint, [v]) => match v {
                Val::Uint(_) => Ok(v.clone()),
                Val::Int(i) => u64::try_from(*i)
                    .map(Val::Uint)
                    .map_err(|_| conversion(v, "uint")),
                Val::Double(d) if d.is_finite() && *d > -1.0 && *d < 1.844_674_407_370_955_2e19 => {
                    Ok(Val::Uint(d.trunc() as u64))
                }
                Val::Str(s) => self.parse_str(s.as_str(), "uint", Val::Uint),
                Val::Double(_) => Err(conversion(v, "uint")),
                _ => fail(),
            },
            (Func::Double, [v]) => match v {
                Val::Double(_) => Ok(v.clone()),
                Val::Int(i) => Ok(Val::Double(*i as f64)),
                Val::Uint(u) => Ok(Val::Double(*u as f64)),
                Val::Str(s) => self.parse_str(s.as_str(), "double", Val::Double),
                _ => fail(),
            },
            (Func::Dyn, [v]) => Ok(v.clone()),
            _ => fail(),
        }
    }

    /// `int`, `uint` or `double` of a string, charged by its length.
    fn parse_str<T: std::str::FromStr>(
        &mut self,
        s: &str,
        to: &'static str,
        wrap: fn(T) -> Val<'a>,
    ) -> Result<Val<'a>, EvalError> {
        self.charge(bytes_cost(s.len()))?;
        s.parse().map(wrap).map_err(|_| EvalError::Conversion {
            value: Interp::scalar_text(&Val::Str(Str::Borrowed(s))),
            to,
        })
    }

    /// The result as an owned value, charged by size.
    fn output(&mut self, v: &Val<'a>, depth: usize) -> Result<Value, EvalError> {
        if depth > MAX_VALUE_DEPTH {
            return Err(EvalError::TooDeep);
        }
        self.charge(1)?;
        Ok(match v {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::Int(*i),
            Val::Uint(u) => Value::Uint(*u),
            Val::Double(d) => Value::Double(*d),
            Val::Str(s) => {
                self.charge(bytes_cost(s.as_str().len()))?;
                Value::String(s.as_str().to_owned())
            }
            Val::List(l) => {
                let mut out = Vec::with_capacity(l.len().min(1024));
                for i in 0..l.len() {
                    if let Some(item) = l.get(i) {
                        out.push(self.output(&item, depth + 1)?);
                    }
                }
                Value::List(out)
            }
            Val::Map(m) => {
                let mut out = Vec::with_capacity(m.len().min(1024));
                for k in m.keys() {
                    let value = self.lookup(m, &k)?.unwrap_or(Val::Null);
                    out.push((self.output(&k, depth + 1)?, self.output(&value, depth + 1)?));
                }
                Value::Map(out)
            }
        })
    }
}

/// Compares two numbers of any of CEL's numeric types by value, exactly. `None` if either is
/// not a number; `Some(None)` if a NaN is involved.
fn numeric_cmp(a: &Val<'_>, b: &Val<'_>) -> Option<Option<Ordering>> {
    Some(match (a, b) {
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Uint(x), Val::Uint(y)) => Some(x.cmp(y)),
        (Val::Double(x), Val::Double(y)) => x.partial_cmp(y),
        (Val::Int(x), Val::Uint(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Val::Uint(x), Val::Int(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Val::Int(x), Val::Double(y)) => int_double_cmp(i128::from(*x), *y),
        (Val::Uint(x), Val::Double(y)) => int_double_cmp(i128::from(*x), *y),
        (Val::Double(x), Val::Int(y)) => int_double_cmp(i128::from(*y), *x).map(Ordering::reverse),
        (Val::Double(x), Val::Uint(y)) => int_double_cmp(i128::from(*y), *x).map(Ordering::reverse),
        _ => return None,
    })
}

/// An integer against a double, exactly (no rounding of the integer to a double).
fn int_double_cmp(i: i128, d: f64) -> Option<Ordering> {
    if d.is_nan() {
        return None;
    }
    // Every i64 and u64 lies strictly inside (-2^127, 2^127).
    if d >= 1.7e38 {
        return Some(Ordering::Less);
    }
    if d <= -1.7e38 {
        return Some(Ordering::Greater);
    }
    let t = d.trunc();
    // |t| < 2^127, so the cast is exact.
    let ti = t as i128;
    match i.cmp(&ti) {
        Ordering::Equal if d > t => Some(Ordering::Less),
        Ordering::Equal if d < t => Some(Ordering::Greater),
        ord => Some(ord),
    }
}
