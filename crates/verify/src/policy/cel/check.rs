//! The CEL type checker: resolves names to declared variables and built-in functions, checks
//! arity and operand types, compiles literal regular expressions, and computes the type of
//! the expression. Values whose type is only known at run time (fields of a JSON predicate)
//! are `dyn`: they pass the checker and are checked again when evaluated. What the checker
//! refuses (`1 + "a"`, `size(1)`, an unknown function) would fail on every input.

use std::fmt;

use super::ast::{BinaryOp, Expr, Func, Kind, Macro, UnaryOp, Var};
use super::{CompileError, CompileErrorKind, Env, regex};

/// A CEL type, as far as the checker knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// Known only at run time.
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    List(Box<Type>),
    Map(Box<Type>, Box<Type>),
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Dyn => f.write_str("dyn"),
            Type::Null => f.write_str("null"),
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Uint => f.write_str("uint"),
            Type::Double => f.write_str("double"),
            Type::String => f.write_str("string"),
            Type::List(e) => write!(f, "list({e})"),
            Type::Map(k, v) => write!(f, "map({k}, {v})"),
        }
    }
}

impl Type {
    /// Whether a value of this type may be a `want` at run time.
    fn may_be(&self, want: &Type) -> bool {
        self == &Type::Dyn || self == want
    }

    fn numeric(&self) -> bool {
        matches!(self, Type::Dyn | Type::Int | Type::Uint | Type::Double)
    }

    fn is_list(&self) -> bool {
        matches!(self, Type::Dyn | Type::List(_))
    }

    /// The most precise type that holds values of both.
    fn join(a: &Type, b: &Type) -> Type {
        match (a, b) {
            _ if a == b => a.clone(),
            (Type::List(x), Type::List(y)) => Type::List(Box::new(Type::join(x, y))),
            (Type::Map(k1, v1), Type::Map(k2, v2)) => {
                Type::Map(Box::new(Type::join(k1, k2)), Box::new(Type::join(v1, v2)))
            }
            _ => Type::Dyn,
        }
    }

    /// Whether `==` between the two could ever be true: CEL compares numbers across types,
    /// anything with `dyn`, and otherwise only values of the same type.
    fn comparable(a: &Type, b: &Type) -> bool {
        match (a, b) {
            (Type::Dyn, _) | (_, Type::Dyn) => true,
            (Type::Int | Type::Uint | Type::Double, Type::Int | Type::Uint | Type::Double) => true,
            (Type::List(x), Type::List(y)) => Type::comparable(x, y),
            (Type::Map(k1, v1), Type::Map(k2, v2)) => {
                Type::comparable(k1, k2) && Type::comparable(v1, v2)
            }
            _ => a == b,
        }
    }

    /// What a comprehension's variable ranges over: list elements or map keys.
    fn element(&self) -> Option<Type> {
        match self {
            Type::Dyn => Some(Type::Dyn),
            Type::List(e) => Some((**e).clone()),
            Type::Map(k, _) => Some((**k).clone()),
            _ => None,
        }
    }
}

/// Checker results are small (the error boxed): the checker recurses once per tree level.
type CResult<T> = Result<T, Box<CompileError>>;

pub(super) fn check(src: &str, env: &Env, expr: &mut Expr) -> Result<Type, CompileError> {
    let mut c = Checker {
        src,
        env,
        locals: Vec::new(),
    };
    c.check(expr).map_err(|e| *e)
}

struct Checker<'a> {
    src: &'a str,
    env: &'a Env,
    /// Comprehension variables in scope, innermost last.
    locals: Vec<(String, Type)>,
}

impl Checker<'_> {
    fn err(&self, at: usize, kind: CompileErrorKind) -> Box<CompileError> {
        Box::new(CompileError::new(self.src, at, kind))
    }

    fn no_overload(&self, at: usize, op: &str, args: &[&Type]) -> Box<CompileError> {
        self.err(
            at,
            CompileErrorKind::NoOverload {
                function: op.to_owned(),
                args: args.iter().map(|t| t.to_string()).collect(),
            },
        )
    }

    /// Checks a node whose value must be a bool (or dyn, checked when evaluated).
    fn check_bool(&mut self, e: &mut Expr, op: &str) -> CResult<()> {
        let t = self.check(e)?;
        if t.may_be(&Type::Bool) {
            Ok(())
        } else {
            Err(self.no_overload(e.at, op, &[&t]))
        }
    }

    fn check(&mut self, e: &mut Expr) -> CResult<Type> {
        let at = e.at;
        match &mut e.kind {
            Kind::Null => Ok(Type::Null),
            Kind::Bool(_) => Ok(Type::Bool),
            Kind::Int(_) => Ok(Type::Int),
            Kind::Uint(_) => Ok(Type::Uint),
            Kind::Double(_) => Ok(Type::Double),
            Kind::Str(_) => Ok(Type::String),
            Kind::Ident(name) => {
                let (var, ty) = self.resolve(at, name)?;
                e.kind = Kind::Var(var);
                Ok(ty)
            }
            // Only the checker makes these; a second check sees them again.
            Kind::Var(Var::Global(i)) => {
                Ok(self.env.vars.get(*i).map_or(Type::Dyn, |v| v.1.clone()))
            }
            Kind::Var(Var::Local(i)) => Ok(self.locals.get(*i).map_or(Type::Dyn, |v| v.1.clone())),
            Kind::Select { operand, field } => {
                let t = self.check(operand)?;
                self.field_type(at, &t, field)
            }
            Kind::Has { operand, field } => {
                let t = self.check(operand)?;
                self.field_type(at, &t, field)?;
                Ok(Type::Bool)
            }
            Kind::Index { operand, index } => self.index(at, operand, index),
            Kind::Unary { op, operand } => {
                let op = *op;
                self.unary(at, op, operand)
            }
            Kind::Binary { op, lhs, rhs } => {
                let op = *op;
                let l = self.check(lhs)?;
                let r = self.check(rhs)?;
                self.binary(at, op, &l, &r)
            }
            Kind::And(a, b) => self.logic(a, b, "&&"),
            Kind::Or(a, b) => self.logic(a, b, "||"),
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => self.conditional(cond, then, otherwise),
            Kind::List(items) => self.list(items),
            Kind::Map(entries) => self.map(entries),
            Kind::Call {
                name,
                target,
                args,
                func,
            } => {
                let f = self.call(at, name, target, args)?;
                *func = Some(f.0);
                Ok(f.1)
            }
            Kind::Comprehension {
                kind,
                range,
                var,
                filter,
                body,
            } => {
                let kind = *kind;
                self.comprehension(at, kind, range, var, filter, body)
            }
        }
    }

    fn index(&mut self, at: usize, operand: &mut Expr, index: &mut Expr) -> CResult<Type> {
        let t = self.check(operand)?;
        let i = self.check(index)?;
        match &t {
            Type::List(elem) if matches!(i, Type::Int | Type::Uint | Type::Dyn) => {
                Ok((**elem).clone())
            }
            Type::Map(k, v) if Type::comparable(k, &i) => Ok((**v).clone()),
            Type::Dyn
                if matches!(
                    i,
                    Type::Dyn | Type::Int | Type::Uint | Type::String | Type::Bool
                ) =>
            {
                Ok(Type::Dyn)
            }
            _ => Err(self.no_overload(at, "[]", &[&t, &i])),
        }
    }

    fn unary(&mut self, at: usize, op: UnaryOp, operand: &mut Expr) -> CResult<Type> {
        let t = self.check(operand)?;
        match op {
            UnaryOp::Not if t.may_be(&Type::Bool) => Ok(Type::Bool),
            UnaryOp::Neg if matches!(t, Type::Int | Type::Double | Type::Dyn) => Ok(t),
            UnaryOp::Not => Err(self.no_overload(at, "!", &[&t])),
            UnaryOp::Neg => Err(self.no_overload(at, "-", &[&t])),
        }
    }

    fn logic(&mut self, a: &mut Expr, b: &mut Expr, op: &str) -> CResult<Type> {
        self.check_bool(a, op)?;
        self.check_bool(b, op)?;
        Ok(Type::Bool)
    }

    fn conditional(
        &mut self,
        cond: &mut Expr,
        then: &mut Expr,
        otherwise: &mut Expr,
    ) -> CResult<Type> {
        self.check_bool(cond, "?:")?;
        let a = self.check(then)?;
        let b = self.check(otherwise)?;
        Ok(Type::join(&a, &b))
    }

    fn list(&mut self, items: &mut [Expr]) -> CResult<Type> {
        let mut elem: Option<Type> = None;
        for item in items {
            let t = self.check(item)?;
            elem = Some(match elem {
                None => t,
                Some(prev) => Type::join(&prev, &t),
            });
        }
        Ok(Type::List(Box::new(elem.unwrap_or(Type::Dyn))))
    }

    fn map(&mut self, entries: &mut [(Expr, Expr)]) -> CResult<Type> {
        let mut kv: Option<(Type, Type)> = None;
        for (k, v) in entries {
            let kt = self.check(k)?;
            if !matches!(
                kt,
                Type::Dyn | Type::Int | Type::Uint | Type::Bool | Type::String
            ) {
                return Err(self.err(k.at, CompileErrorKind::BadMapKey(kt.to_string())));
            }
            let vt = self.check(v)?;
            kv = Some(match kv {
                None => (kt, vt),
                Some((pk, pv)) => (Type::join(&pk, &kt), Type::join(&pv, &vt)),
            });
        }
        let (k, v) = kv.unwrap_or((Type::Dyn, Type::Dyn));
        Ok(Type::Map(Box::new(k), Box::new(v)))
    }

    fn comprehension(
        &mut self,
        at: usize,
        kind: Macro,
        range: &mut Expr,
        var: &str,
        filter: &mut Option<Box<Expr>>,
        body: &mut Expr,
    ) -> CResult<Type> {
        let rt = self.check(range)?;
        let Some(elem) = rt.element() else {
            return Err(self.no_overload(at, kind.name(), &[&rt]));
        };
        self.locals.push((var.to_owned(), elem.clone()));
        let result = self.comprehension_body(kind, elem, filter, body);
        self.locals.pop();
        result
    }

    fn comprehension_body(
        &mut self,
        kind: Macro,
        elem: Type,
        filter: &mut Option<Box<Expr>>,
        body: &mut Expr,
    ) -> CResult<Type> {
        if let Some(f) = filter {
            self.check_bool(f, kind.name())?;
        }
        match kind {
            Macro::Map => {
                let t = self.check(body)?;
                Ok(Type::List(Box::new(t)))
            }
            Macro::Filter => {
                self.check_bool(body, kind.name())?;
                Ok(Type::List(Box::new(elem)))
            }
            Macro::All | Macro::Exists | Macro::ExistsOne => {
                self.check_bool(body, kind.name())?;
                Ok(Type::Bool)
            }
        }
    }

    fn resolve(&self, at: usize, name: &str) -> CResult<(Var, Type)> {
        if let Some(i) = self.locals.iter().rposition(|(n, _)| n == name) {
            return Ok((Var::Local(i), self.locals[i].1.clone()));
        }
        if let Some(i) = self.env.vars.iter().position(|(n, _)| n == name) {
            return Ok((Var::Global(i), self.env.vars[i].1.clone()));
        }
        Err(self.err(at, CompileErrorKind::UndeclaredVariable(name.to_owned())))
    }

    fn field_type(&self, at: usize, t: &Type, field: &str) -> CResult<Type> {
        match t {
            Type::Dyn => Ok(Type::Dyn),
            Type::Map(k, v) if k.may_be(&Type::String) => Ok((**v).clone()),
            _ => Err(self.err(
                at,
                CompileErrorKind::NoField {
                    field: field.to_owned(),
                    on: t.to_string(),
                },
            )),
        }
    }

    fn binary(&self, at: usize, op: BinaryOp, l: &Type, r: &Type) -> CResult<Type> {
        let fail = || Err(self.no_overload(at, op.symbol(), &[l, r]));
        match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                let mut candidates = vec![Type::Int, Type::Uint];
                if op != BinaryOp::Rem {
                    candidates.push(Type::Double);
                }
                if op == BinaryOp::Add {
                    candidates.push(Type::String);
                }
                let mut results: Vec<Type> = candidates
                    .into_iter()
                    .filter(|c| l.may_be(c) && r.may_be(c))
                    .collect();
                if op == BinaryOp::Add && l.is_list() && r.is_list() {
                    results.push(match (l, r) {
                        (Type::List(a), Type::List(b)) => Type::List(Box::new(Type::join(a, b))),
                        // A dyn operand may hold anything.
                        _ => Type::List(Box::new(Type::Dyn)),
                    });
                }
                match results.len() {
                    0 => fail(),
                    1 => Ok(results.swap_remove(0)),
                    _ => Ok(Type::Dyn),
                }
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let ok = (l.numeric() && r.numeric())
                    || (l.may_be(&Type::String) && r.may_be(&Type::String))
                    || (l.may_be(&Type::Bool) && r.may_be(&Type::Bool));
                if ok { Ok(Type::Bool) } else { fail() }
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                if Type::comparable(l, r) {
                    Ok(Type::Bool)
                } else {
                    fail()
                }
            }
            BinaryOp::In => {
                let ok = match r {
                    Type::Dyn => true,
                    Type::List(e) => Type::comparable(l, e),
                    Type::Map(k, _) => Type::comparable(l, k),
                    _ => false,
                };
                if ok { Ok(Type::Bool) } else { fail() }
            }
        }
    }

    fn call(
        &mut self,
        at: usize,
        name: &str,
        target: &mut Option<Box<Expr>>,
        arg_exprs: &mut [Expr],
    ) -> CResult<(Func, Type)> {
        let target = match target {
            Some(t) => Some(self.check(t)?),
            None => None,
        };
        let mut args = Vec::with_capacity(arg_exprs.len());
        for a in arg_exprs.iter_mut() {
            args.push(self.check(a)?);
        }
        self.resolve_call(at, name, target.as_ref(), &args, arg_exprs)
    }

    fn resolve_call(
        &self,
        at: usize,
        name: &str,
        target: Option<&Type>,
        args: &[Type],
        arg_exprs: &[Expr],
    ) -> CResult<(Func, Type)> {
        let arity = |expected: &'static str| {
            Err(self.err(
                at,
                CompileErrorKind::Arity {
                    function: name.to_owned(),
                    expected,
                },
            ))
        };
        // Every operand type, receiver first, for overload errors.
        let all: Vec<&Type> = target.into_iter().chain(args).collect();
        let fail = || Err(self.no_overload(at, name, &all));
        match name {
            "size" => {
                let subject = match (target, args) {
                    (Some(t), []) | (None, [t]) => t,
                    _ => return arity("one argument, or none as a method"),
                };
                let ok = matches!(
                    subject,
                    Type::Dyn | Type::String | Type::List(_) | Type::Map(..)
                );
                if ok {
                    Ok((Func::Size, Type::Int))
                } else {
                    fail()
                }
            }
            "startsWith" | "endsWith" | "contains" => {
                let (Some(t), [a]) = (target, args) else {
                    return arity("a string receiver and one argument");
                };
                if !(t.may_be(&Type::String) && a.may_be(&Type::String)) {
                    return fail();
                }
                let f = match name {
                    "startsWith" => Func::StartsWith,
                    "endsWith" => Func::EndsWith,
                    _ => Func::Contains,
                };
                Ok((f, Type::Bool))
            }
            "matches" => {
                let (subject, pattern, pattern_expr) = match (target, args, arg_exprs) {
                    (Some(t), [p], [pe]) => (t, p, pe),
                    (None, [s, p], [_, pe]) => (s, p, pe),
                    _ => return arity("a string receiver and a pattern, or two arguments"),
                };
                if !(subject.may_be(&Type::String) && pattern.may_be(&Type::String)) {
                    return fail();
                }
                let compiled = match &pattern_expr.kind {
                    Kind::Str(p) => Some(Box::new(regex(p).map_err(|e| {
                        self.err(pattern_expr.at, CompileErrorKind::Regex(e.to_string()))
                    })?)),
                    _ => None,
                };
                Ok((Func::Matches(compiled), Type::Bool))
            }
            "string" | "int" | "uint" | "double" | "dyn" => {
                let (None, [a]) = (target, args) else {
                    return arity("one argument");
                };
                let (f, result, ok) = match name {
                    "string" => (
                        Func::String,
                        Type::String,
                        matches!(
                            a,
                            Type::Dyn
                                | Type::String
                                | Type::Int
                                | Type::Uint
                                | Type::Double
                                | Type::Bool
                        ),
                    ),
                    "dyn" => (Func::Dyn, Type::Dyn, true),
                    _ => {
                        let ok = a.numeric() || a == &Type::String;
                        match name {
                            "int" => (Func::Int, Type::Int, ok),
                            "uint" => (Func::Uint, Type::Uint, ok),
                            _ => (Func::Double, Type::Double, ok),
                        }
                    }
                };
                if ok { Ok((f, result)) } else { fail() }
            }
            _ => Err(self.err(at, CompileErrorKind::UndeclaredFunction(name.to_owned()))),
        }
    }
}
