//! The CEL parser: recursive descent with the precedence of the CEL specification, lowest
//! first: `?:`, `||`, `&&`, relations (`== != < <= > >= in`), `+ -`, `* / %`, unary `! -`,
//! then member selection, indexing and calls. Macros (`has`, `all`, `exists`, `exists_one`,
//! `map`, `filter`) are expanded here, as CEL does. Recursion and tree height are both bounded
//! by [`Limits::max_depth`], so no input can exhaust the stack.

use super::ast::{BinaryOp, Expr, Kind, Macro, UnaryOp};
use super::lex::{Tok, Token};
use super::{CompileError, CompileErrorKind, Limits};

/// Parser results are small (a box either way): the parser recurses once per nesting level
/// through each precedence level, and small frames keep deep nesting cheap on the stack.
type PResult<T> = Result<T, Box<CompileError>>;

pub(super) fn parse(src: &str, tokens: &[Token], limits: &Limits) -> Result<Expr, CompileError> {
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
        max_depth: limits.max_depth,
    };
    let expr = p.expr().map_err(|e| *e)?;
    if p.peek() != &Tok::Eof {
        return Err(*p.unexpected("an operator or the end of the expression"));
    }
    Ok(*expr)
}

struct Parser<'a> {
    src: &'a str,
    tokens: &'a [Token],
    pos: usize,
    depth: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        // The token list always ends with Eof, and the parser never moves past it.
        self.tokens
            .get(self.pos + ahead)
            .or(self.tokens.last())
            .map_or(&Tok::Eof, |t| &t.tok)
    }

    fn at(&self) -> usize {
        self.tokens
            .get(self.pos)
            .or(self.tokens.last())
            .map_or(self.src.len(), |t| t.at)
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        if tok != Tok::Eof {
            self.pos += 1;
        }
        tok
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok, what: &'static str) -> PResult<()> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn err(&self, at: usize, kind: CompileErrorKind) -> Box<CompileError> {
        Box::new(CompileError::new(self.src, at, kind))
    }

    fn unexpected(&self, expected: &'static str) -> Box<CompileError> {
        self.err(
            self.at(),
            CompileErrorKind::Expected {
                expected,
                found: self.peek().describe(),
            },
        )
    }

    /// A node, refused when the tree would grow taller than the limit.
    fn node(&self, at: usize, kind: Kind) -> PResult<Box<Expr>> {
        let e = Box::new(Expr::new(at, kind));
        if e.height > self.max_depth {
            return Err(self.err(at, CompileErrorKind::TooDeep(self.max_depth)));
        }
        Ok(e)
    }

    fn binary(
        &self,
        at: usize,
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    ) -> PResult<Box<Expr>> {
        self.node(at, Kind::Binary { op, lhs, rhs })
    }

    /// `Expr = ConditionalOr ["?" ConditionalOr ":" Expr]`; every nested expression (in
    /// parentheses, lists, maps, arguments, the else branch) enters here, so this bounds the
    /// recursion.
    fn expr(&mut self) -> PResult<Box<Expr>> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.err(self.at(), CompileErrorKind::TooDeep(self.max_depth)));
        }
        let result = self.conditional();
        self.depth -= 1;
        result
    }

    fn conditional(&mut self) -> PResult<Box<Expr>> {
        let at = self.at();
        let cond = self.or()?;
        if !self.eat(&Tok::Question) {
            return Ok(cond);
        }
        let then = self.or()?;
        self.expect(&Tok::Colon, "':'")?;
        let otherwise = self.expr()?;
        self.node(
            at,
            Kind::Cond {
                cond,
                then,
                otherwise,
            },
        )
    }

    fn or(&mut self) -> PResult<Box<Expr>> {
        let mut lhs = self.and()?;
        while self.peek() == &Tok::OrOr {
            let at = self.at();
            self.bump();
            let rhs = self.and()?;
            lhs = self.node(at, Kind::Or(lhs, rhs))?;
        }
        Ok(lhs)
    }

    fn and(&mut self) -> PResult<Box<Expr>> {
        let mut lhs = self.relation()?;
        while self.peek() == &Tok::AndAnd {
            let at = self.at();
            self.bump();
            let rhs = self.relation()?;
            lhs = self.node(at, Kind::And(lhs, rhs))?;
        }
        Ok(lhs)
    }

    fn relation(&mut self) -> PResult<Box<Expr>> {
        let mut lhs = self.addition()?;
        loop {
            let op = match self.peek() {
                Tok::EqEq => BinaryOp::Eq,
                Tok::Ne => BinaryOp::Ne,
                Tok::Lt => BinaryOp::Lt,
                Tok::Le => BinaryOp::Le,
                Tok::Gt => BinaryOp::Gt,
                Tok::Ge => BinaryOp::Ge,
                Tok::In => BinaryOp::In,
                _ => return Ok(lhs),
            };
            let at = self.at();
            self.bump();
            let rhs = self.addition()?;
            lhs = self.binary(at, op, lhs, rhs)?;
        }
    }

    fn addition(&mut self) -> PResult<Box<Expr>> {
        let mut lhs = self.multiplication()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => return Ok(lhs),
            };
            let at = self.at();
            self.bump();
            let rhs = self.multiplication()?;
            lhs = self.binary(at, op, lhs, rhs)?;
        }
    }

    fn multiplication(&mut self) -> PResult<Box<Expr>> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                Tok::Percent => BinaryOp::Rem,
                _ => return Ok(lhs),
            };
            let at = self.at();
            self.bump();
            let rhs = self.unary()?;
            lhs = self.binary(at, op, lhs, rhs)?;
        }
    }

    /// `"!" {"!"} Member | "-" {"-"} Member | Member`, read as a loop. A minus directly before
    /// a numeric literal makes a negative literal, so `-9223372036854775808` is an int.
    fn unary(&mut self) -> PResult<Box<Expr>> {
        let mut ops = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Bang => UnaryOp::Not,
                Tok::Minus => UnaryOp::Neg,
                _ => break,
            };
            ops.push((self.at(), op));
            self.bump();
            if ops.len() > self.max_depth {
                return Err(self.err(self.at(), CompileErrorKind::TooDeep(self.max_depth)));
            }
        }
        let literal_follows = !matches!(self.peek_at(1), Tok::Dot | Tok::LBracket);
        let mut operand = match (ops.last(), self.peek().clone()) {
            (Some(&(at, UnaryOp::Neg)), Tok::Int(v)) if literal_follows => {
                ops.pop();
                self.bump();
                let value = 0i64
                    .checked_sub_unsigned(v)
                    .ok_or_else(|| self.err(at, CompileErrorKind::IntOutOfRange))?;
                self.node(at, Kind::Int(value))?
            }
            (Some(&(at, UnaryOp::Neg)), Tok::Double(v)) if literal_follows => {
                ops.pop();
                self.bump();
                self.node(at, Kind::Double(-v))?
            }
            _ => self.member()?,
        };
        while let Some((at, op)) = ops.pop() {
            operand = self.node(at, Kind::Unary { op, operand })?;
        }
        Ok(operand)
    }

    /// `Primary { "." IDENT ["(" args ")"] | "[" Expr "]" }`.
    fn member(&mut self) -> PResult<Box<Expr>> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    let at = self.at();
                    let Tok::Ident(field) = self.peek().clone() else {
                        return Err(self.unexpected("a field name"));
                    };
                    self.bump();
                    if self.eat(&Tok::LParen) {
                        let args = self.args()?;
                        e = self.member_call(at, e, field, args)?;
                    } else {
                        e = self.node(at, Kind::Select { operand: e, field })?;
                    }
                }
                Tok::LBracket => {
                    let at = self.at();
                    self.bump();
                    let index = self.expr()?;
                    self.expect(&Tok::RBracket, "']'")?;
                    e = self.node(at, Kind::Index { operand: e, index })?;
                }
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> PResult<Box<Expr>> {
        let at = self.at();
        let start = self.pos;
        let kind = match self.bump() {
            Tok::Int(v) => {
                let v =
                    i64::try_from(v).map_err(|_| self.err(at, CompileErrorKind::IntOutOfRange))?;
                Kind::Int(v)
            }
            Tok::Uint(v) => Kind::Uint(v),
            Tok::Double(v) => Kind::Double(v),
            Tok::Str(s) => Kind::Str(s),
            Tok::True => Kind::Bool(true),
            Tok::False => Kind::Bool(false),
            Tok::Null => Kind::Null,
            Tok::Ident(name) => {
                if self.eat(&Tok::LParen) {
                    let args = self.args()?;
                    return self.global_call(at, name, args);
                }
                if self.peek() == &Tok::LBrace {
                    return Err(self.err(at, CompileErrorKind::Unsupported("message construction")));
                }
                Kind::Ident(name)
            }
            Tok::Dot => {
                return Err(self.err(at, CompileErrorKind::Unsupported("qualified names")));
            }
            Tok::LParen => {
                let e = self.expr()?;
                self.expect(&Tok::RParen, "')'")?;
                return Ok(e);
            }
            Tok::LBracket => {
                let mut items = Vec::new();
                while self.peek() != &Tok::RBracket {
                    items.push(*self.expr()?);
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                self.expect(&Tok::RBracket, "',' or ']'")?;
                Kind::List(items)
            }
            Tok::LBrace => {
                let mut entries = Vec::new();
                while self.peek() != &Tok::RBrace {
                    let k = self.expr()?;
                    self.expect(&Tok::Colon, "':'")?;
                    let v = self.expr()?;
                    entries.push((*k, *v));
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                self.expect(&Tok::RBrace, "',' or '}'")?;
                Kind::Map(entries)
            }
            _ => {
                // Report the token that cannot start an expression.
                self.pos = start;
                return Err(self.unexpected("an expression"));
            }
        };
        self.node(at, kind)
    }

    /// Arguments after an opening parenthesis, through the closing one.
    fn args(&mut self) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        if self.eat(&Tok::RParen) {
            return Ok(args);
        }
        loop {
            args.push(*self.expr()?);
            if self.eat(&Tok::RParen) {
                return Ok(args);
            }
            self.expect(&Tok::Comma, "',' or ')'")?;
        }
    }

    fn global_call(&self, at: usize, name: String, mut args: Vec<Expr>) -> PResult<Box<Expr>> {
        if name == "has" {
            let arg = match args.pop() {
                Some(arg) if args.is_empty() => arg,
                _ => return Err(self.err(at, CompileErrorKind::HasArgument)),
            };
            let Kind::Select { operand, field } = arg.kind else {
                return Err(self.err(at, CompileErrorKind::HasArgument));
            };
            return self.node(at, Kind::Has { operand, field });
        }
        self.node(
            at,
            Kind::Call {
                name,
                target: None,
                args,
                func: None,
            },
        )
    }

    fn member_call(
        &self,
        at: usize,
        target: Box<Expr>,
        name: String,
        mut args: Vec<Expr>,
    ) -> PResult<Box<Expr>> {
        let kind = match name.as_str() {
            "all" => Macro::All,
            "exists" => Macro::Exists,
            "exists_one" => Macro::ExistsOne,
            "map" => Macro::Map,
            "filter" => Macro::Filter,
            _ => {
                return self.node(
                    at,
                    Kind::Call {
                        name,
                        target: Some(target),
                        args,
                        func: None,
                    },
                );
            }
        };
        let arity_ok = args.len() == 2 || (kind == Macro::Map && args.len() == 3);
        let bad = || self.err(at, CompileErrorKind::MacroArguments(kind.name()));
        if !arity_ok {
            return Err(bad());
        }
        let body = args.pop().ok_or_else(bad)?;
        let filter = if args.len() == 2 {
            args.pop().map(Box::new)
        } else {
            None
        };
        let var = match args.pop() {
            Some(Expr {
                kind: Kind::Ident(var),
                ..
            }) => var,
            _ => return Err(bad()),
        };
        self.node(
            at,
            Kind::Comprehension {
                kind,
                range: target,
                var,
                filter,
                body: Box::new(body),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::lex::tokenize;
    use super::*;

    /// The tree in a compact prefix notation, to pin precedence and associativity.
    fn show(e: &Expr) -> String {
        match &e.kind {
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(v) => v.to_string(),
            Kind::Uint(v) => format!("{v}u"),
            Kind::Double(v) => format!("{v:?}"),
            Kind::Str(s) => format!("{s:?}"),
            Kind::Ident(s) => s.clone(),
            Kind::Var(v) => format!("{v:?}"),
            Kind::Select { operand, field } => format!("{}.{field}", show(operand)),
            Kind::Has { operand, field } => format!("has({}.{field})", show(operand)),
            Kind::Index { operand, index } => format!("{}[{}]", show(operand), show(index)),
            Kind::Unary { op, operand } => {
                let s = if *op == UnaryOp::Not { "!" } else { "-" };
                format!("({s}{})", show(operand))
            }
            Kind::Binary { op, lhs, rhs } => {
                format!("({} {} {})", show(lhs), op.symbol(), show(rhs))
            }
            Kind::And(a, b) => format!("({} && {})", show(a), show(b)),
            Kind::Or(a, b) => format!("({} || {})", show(a), show(b)),
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => format!("({} ? {} : {})", show(cond), show(then), show(otherwise)),
            Kind::List(items) => {
                format!(
                    "[{}]",
                    items.iter().map(show).collect::<Vec<_>>().join(", ")
                )
            }
            Kind::Map(entries) => format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", show(k), show(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Kind::Call {
                name, target, args, ..
            } => {
                let args = args.iter().map(show).collect::<Vec<_>>().join(", ");
                match target {
                    Some(t) => format!("{}.{name}({args})", show(t)),
                    None => format!("{name}({args})"),
                }
            }
            Kind::Comprehension {
                kind,
                range,
                var,
                filter,
                body,
            } => {
                let filter = filter
                    .as_ref()
                    .map(|f| format!("{}, ", show(f)))
                    .unwrap_or_default();
                format!(
                    "{}.{}({var}, {filter}{})",
                    show(range),
                    kind.name(),
                    show(body)
                )
            }
        }
    }

    fn check(src: &str, want: &str) {
        let tokens = tokenize(src).unwrap();
        let e = parse(src, &tokens, &Limits::default()).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(show(&e), want, "{src}");
    }

    fn fails(src: &str, want: &str) {
        let got = tokenize(src)
            .and_then(|t| parse(src, &t, &Limits::default()))
            .map(|e| show(&e));
        assert_eq!(got.unwrap_err().to_string(), want, "{src}");
    }

    #[test]
    fn precedence_and_associativity() {
        let cases = [
            ("a || b && c", "(a || (b && c))"),
            ("a && b || c", "((a && b) || c)"),
            ("a == b && c < d", "((a == b) && (c < d))"),
            ("a + b * c", "(a + (b * c))"),
            ("a - b - c", "((a - b) - c)"),
            ("a / b % c", "((a / b) % c)"),
            ("1 + 2 == 3", "((1 + 2) == 3)"),
            ("a in b || c", "((a in b) || c)"),
            ("a ? b : c ? d : e", "(a ? b : (c ? d : e))"),
            ("a || b ? c : d", "((a || b) ? c : d)"),
            ("!a && b", "((!a) && b)"),
            ("!!a", "(!(!a))"),
            ("-a.b", "(-a.b)"),
            ("-1", "-1"),
            ("- 1", "-1"),
            ("--1", "(--1)"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("-1.5", "-1.5"),
            ("-1.size()", "(-1.size())"),
            ("a.b[0].c", "a.b[0].c"),
            ("a[b + 1]", "a[(b + 1)]"),
            ("(a + b) * c", "((a + b) * c)"),
            ("[1, 2,]", "[1, 2]"),
            ("{'a': 1, 'b': [2]}", "{\"a\": 1, \"b\": [2]}"),
            ("size(a)", "size(a)"),
            ("a.startsWith('x')", "a.startsWith(\"x\")"),
            ("has(a.b.c)", "has(a.b.c)"),
            ("l.all(x, x > 0)", "l.all(x, (x > 0))"),
            ("l.map(x, x < 3, x * 2)", "l.map(x, (x < 3), (x * 2))"),
            ("l.exists_one(x, x)", "l.exists_one(x, x)"),
        ];
        for (src, want) in cases {
            check(src, want);
        }
    }

    #[test]
    fn syntax_errors() {
        let cases = [
            (
                "a +",
                "column 4: expected an expression, found the end of the expression",
            ),
            (
                "a b",
                "column 3: expected an operator or the end of the expression, found 'b'",
            ),
            (
                "(a",
                "column 3: expected ')', found the end of the expression",
            ),
            ("f(a b)", "column 5: expected ',' or ')', found 'b'"),
            (
                "9223372036854775808",
                "column 1: integer literal out of range",
            ),
            (
                "-9223372036854775809",
                "column 1: integer literal out of range",
            ),
            (
                "has(a)",
                "column 1: has() takes one field selection, such as has(a.b)",
            ),
            (
                "l.all(1, x)",
                "column 3: all() takes a variable name and an expression",
            ),
            (
                "l.map(x)",
                "column 3: map() takes a variable name and an expression",
            ),
            (
                "a.b.",
                "column 5: expected a field name, found the end of the expression",
            ),
            (
                "a.1",
                "column 2: expected an operator or the end of the expression, found number 0.1",
            ),
            ("Msg{a: 1}", "column 1: not supported: message construction"),
            (".a", "column 1: not supported: qualified names"),
        ];
        for (src, want) in cases {
            fails(src, want);
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let limit = Limits::default().max_depth;
        let deep = "(".repeat(limit + 1) + "1" + &")".repeat(limit + 1);
        fails(
            &deep,
            &format!(
                "column {}: the expression nests deeper than {limit}",
                limit + 1
            ),
        );
        let long_chain = vec!["1"; limit + 1].join(" + ");
        assert!(
            tokenize(&long_chain)
                .and_then(|t| parse(&long_chain, &t, &Limits::default()))
                .unwrap_err()
                .to_string()
                .ends_with(&format!("the expression nests deeper than {limit}"))
        );
        let nots = "!".repeat(100_000) + "a";
        assert!(
            tokenize(&nots)
                .and_then(|t| parse(&nots, &t, &Limits::default()))
                .is_err()
        );
        // Within the limit, fine.
        let ok = "(".repeat(limit - 1) + "1" + &")".repeat(limit - 1);
        check(&ok, "1");
    }
}
