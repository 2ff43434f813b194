//! The CEL syntax tree: what the parser builds, the checker annotates (names resolved to
//! variables and functions, literal regular expressions compiled) and the interpreter walks.
//! Every node knows its height, which the parser bounds, so no walk recurses deeper than
//! [`super::Limits::max_depth`].

#[derive(Debug, Clone)]
pub(super) struct Expr {
    /// Byte offset of the node in the source, for messages.
    pub at: usize,
    /// 1 for a leaf; 1 + the tallest child otherwise.
    pub height: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    Str(String),
    /// A name as written; the checker replaces it with [`Kind::Var`].
    Ident(String),
    Var(Var),
    Select {
        operand: Box<Expr>,
        field: String,
    },
    /// `has(operand.field)`.
    Has {
        operand: Box<Expr>,
        field: String,
    },
    Index {
        operand: Box<Expr>,
        index: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cond {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Call {
        name: String,
        target: Option<Box<Expr>>,
        args: Vec<Expr>,
        /// Set by the checker.
        func: Option<Func>,
    },
    Comprehension {
        kind: Macro,
        range: Box<Expr>,
        var: String,
        /// The filter of the three-argument `map(x, p, t)`.
        filter: Option<Box<Expr>>,
        /// The predicate, or for `map` the transform.
        body: Box<Expr>,
    },
}

/// A variable, resolved by the checker: a declared one, by its position in the environment,
/// or a comprehension's, by its depth in the stack of enclosing comprehensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Var {
    Global(usize),
    Local(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnaryOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

impl BinaryOp {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Macro {
    All,
    Exists,
    ExistsOne,
    Map,
    Filter,
}

impl Macro {
    pub(super) fn name(self) -> &'static str {
        match self {
            Macro::All => "all",
            Macro::Exists => "exists",
            Macro::ExistsOne => "exists_one",
            Macro::Map => "map",
            Macro::Filter => "filter",
        }
    }
}

/// A built-in function, resolved by the checker.
#[derive(Debug, Clone)]
pub(super) enum Func {
    Size,
    StartsWith,
    EndsWith,
    Contains,
    /// With the pattern compiled at check time when it is a literal.
    Matches(Option<Box<regex_lite::Regex>>),
    String,
    Int,
    Uint,
    Double,
    Dyn,
}

impl Expr {
    /// A node over `kind`, its height computed from its children's.
    pub(super) fn new(at: usize, kind: Kind) -> Expr {
        let child = |e: &Expr| e.height;
        let tallest = match &kind {
            Kind::Null
            | Kind::Bool(_)
            | Kind::Int(_)
            | Kind::Uint(_)
            | Kind::Double(_)
            | Kind::Str(_)
            | Kind::Ident(_)
            | Kind::Var(_) => 0,
            Kind::Select { operand, .. }
            | Kind::Has { operand, .. }
            | Kind::Unary { operand, .. } => child(operand),
            Kind::Index { operand, index } => child(operand).max(child(index)),
            Kind::Binary { lhs, rhs, .. } => child(lhs).max(child(rhs)),
            Kind::And(a, b) | Kind::Or(a, b) => child(a).max(child(b)),
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => child(cond).max(child(then)).max(child(otherwise)),
            Kind::List(items) => items.iter().map(child).max().unwrap_or(0),
            Kind::Map(entries) => entries
                .iter()
                .map(|(k, v)| child(k).max(child(v)))
                .max()
                .unwrap_or(0),
            Kind::Call { target, args, .. } => target
                .iter()
                .map(|t| child(t))
                .chain(args.iter().map(child))
                .max()
                .unwrap_or(0),
            Kind::Comprehension {
                range,
                filter,
                body,
                ..
            } => child(range)
                .max(child(body))
                .max(filter.as_ref().map_or(0, |f| child(f))),
        };
        Expr {
            at,
            height: tallest + 1,
            kind,
        }
    }
}
