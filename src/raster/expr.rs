//! Band-math expressions: the titiler-style `expression` parameter, such as
//! `(B08-B04)/(B08+B04)`, parsed once and evaluated over whole image planes.
//!
//! # Grammar
//!
//! From lowest to highest precedence:
//!
//! | level        | operators                          | associativity      |
//! |--------------|------------------------------------|--------------------|
//! | logical or   | `\|\|`                             | left               |
//! | logical and  | `&&`                               | left               |
//! | comparison   | `<` `<=` `>` `>=` `==` `!=`        | none (no chaining) |
//! | additive     | `+` `-`                            | left               |
//! | multiplicative | `*` `/`                          | left               |
//! | unary        | prefix `-` `+`                     | prefix             |
//! | power        | `^` (also spelt `**`)              | right              |
//!
//! so `-2^2` is `-4`, `2^-1` is `0.5` and `2^3^2` is `2^9`. Operands are
//! numbers (`3`, `0.5`, `.5`, `1e-3`, `2.5E+4`), variables
//! (`[A-Za-z_][A-Za-z0-9_]*`, case-sensitive: `B08`, `b1`, `nir`, `B08_b1`),
//! parenthesised expressions and function calls. Function names are
//! case-insensitive: `abs(x)`, `sqrt(x)`, `exp(x)`, `log(x)` (natural),
//! `log10(x)`, `min(a, b, ...)` and `max(a, b, ...)` (two or more arguments),
//! `clamp(x, lo, hi)` (= `min(max(x, lo), hi)`) and `where(cond, a, b)`. A
//! name not followed by `(` is always a variable, even `min`.
//!
//! # Semantics
//!
//! Everything is computed in `f32`, element by element.
//!
//! * NaN in any operand gives NaN, for every operator and function including
//!   comparisons, `&&`, `||`, `min`, `max`, `clamp` and `^` (so `NaN^0` is
//!   NaN, unlike IEEE `pow`).
//! * Comparisons, `&&` and `||` give `1.0` or `0.0`; `&&`/`||` treat any
//!   non-zero value as true.
//! * `where(cond, a, b)` is the one exception to NaN propagation: it gives `a`
//!   when `cond` is non-zero and not NaN, `b` otherwise (NaN included), and
//!   only the chosen branch matters. `where(B1 == B1, B1, 0)` replaces NaN.
//! * `x / 0` is NaN (not ±inf). Intermediate values may be infinite (for
//!   instance `exp(100)`), but a final result that is infinite becomes NaN.
//!
//! # Limits
//!
//! A text longer than [`MAX_LEN`] characters, nesting deeper than
//! [`MAX_DEPTH`] levels (parentheses, function calls, unary signs and
//! exponents all count), unknown functions, wrong argument counts and
//! anything left over after a complete expression are rejected with
//! [`RasterError::InvalidParameter`]. Error positions are 0-based character
//! offsets into the text given to [`Expression::parse`] or
//! [`Expression::parse_many`].
//!
//! # Evaluation
//!
//! The syntax tree is constant-folded and compiled into a flat list of
//! register instructions. [`Expression::evaluate`] runs that list over chunks
//! of 1024 elements: each instruction is one tight loop over the chunk
//! (which the compiler vectorises for the arithmetic operators), so the
//! interpretation cost is paid once per instruction per chunk, never per
//! element, and the working set stays in L1/L2 cache.

use std::borrow::Cow;
use std::fmt;

use super::error::{RasterError, Result};

/// Longest accepted expression text, in characters (for
/// [`Expression::parse_many`], of the whole `;`-separated text).
pub const MAX_LEN: usize = 2000;

/// Deepest accepted nesting: parentheses, function calls, unary signs and
/// exponents, counted together.
pub const MAX_DEPTH: usize = 64;

/// Number of elements processed per instruction step during evaluation.
const CHUNK: usize = 1024;

/// A parsed expression producing one output plane.
#[derive(Debug, Clone)]
pub struct Expression {
    /// Variable names in order of first appearance.
    vars: Vec<String>,
    /// Compiled instructions, run in order for every chunk.
    code: Vec<Instr>,
    /// Where the result is after the last instruction.
    result: Src,
    /// Number of chunk-sized registers the code needs.
    nregs: usize,
}

impl Expression {
    /// Parses one expression. Errors are RasterError::InvalidParameter with a message
    /// that names the problem and the character position, e.g.
    /// "expression: unexpected ')' at 9 in '(B08-B04))'".
    ///
    /// Positions are 0-based character offsets. A `;` is rejected here: use
    /// [`Expression::parse_many`] for several output bands.
    pub fn parse(text: &str) -> Result<Expression> {
        let chars = checked_chars(text)?;
        let ctx = Ctx {
            text,
            chars: &chars,
        };
        let mut vars = Vec::new();
        let ast = parse_range(&ctx, 0, chars.len(), &mut vars)?;
        Ok(Expression::compile(&ast, vars))
    }

    /// Parses `;`-separated expressions (one output band each; empty parts are errors).
    ///
    /// `"B04;B03;B02"` gives three expressions; `"B04;;B02"` and `"B04;"` are
    /// errors. Error positions are offsets into the whole `text`.
    pub fn parse_many(text: &str) -> Result<Vec<Expression>> {
        let chars = checked_chars(text)?;
        let ctx = Ctx {
            text,
            chars: &chars,
        };
        let mut out = Vec::new();
        let mut start = 0;
        for end in (0..=chars.len()).filter(|&i| i == chars.len() || chars[i] == ';') {
            let mut vars = Vec::new();
            let ast = parse_range(&ctx, start, end, &mut vars)?;
            out.push(Expression::compile(&ast, vars));
            start = end + 1;
        }
        Ok(out)
    }

    /// Variable names used, in order of first appearance, as written.
    ///
    /// Each name appears once; names are case-sensitive (`B1` and `b1` are two
    /// variables).
    pub fn variables(&self) -> &[String] {
        &self.vars
    }

    /// Evaluates element-wise. `inputs[i]` is the plane for `variables()[i]`; all planes
    /// have the same length `len`. Returns a plane of `len` values. NaN in any input used
    /// by an element gives NaN for that element; division by zero gives NaN (not inf);
    /// results that are infinite become NaN.
    ///
    /// Supplying fewer planes than variables, or planes shorter than `len`,
    /// is a caller bug; it does not panic: missing values are read as NaN.
    /// Planes beyond `variables().len()` are ignored.
    pub fn evaluate(&self, inputs: &[&[f32]], len: usize) -> Vec<f32> {
        if let Src::Const(c) = self.result {
            return vec![finite_or_nan(c); len];
        }
        let planes: Vec<Cow<'_, [f32]>> = (0..self.vars.len())
            .map(|i| match inputs.get(i) {
                Some(p) if p.len() >= len => Cow::Borrowed(&p[..len]),
                Some(p) => {
                    let mut v = p.to_vec();
                    v.resize(len, f32::NAN);
                    Cow::Owned(v)
                }
                None => Cow::Owned(vec![f32::NAN; len]),
            })
            .collect();
        let mut regs = vec![vec![0.0f32; CHUNK.min(len)]; self.nregs];
        let mut out = vec![0.0f32; len];
        // The last instruction writes straight into the output, applying the
        // infinite → NaN rule on the way; an expression without instructions
        // (a bare variable) is a copy with that rule.
        let (body, last) = match self.code.split_last() {
            Some((last, body)) if self.result == Src::Reg(last.dst()) => (body, Some(last)),
            _ => (&self.code[..], None),
        };
        let mut start = 0;
        while start < len {
            let n = CHUNK.min(len - start);
            let end = start + n;
            for ins in body {
                // Take the destination out of the register file so the
                // operands can borrow it; the compiler never makes the
                // destination one of the operands.
                let dst = ins.dst();
                let mut target = std::mem::take(&mut regs[dst]);
                exec::<false>(ins, &mut target[..n], &regs, &planes, start, end);
                regs[dst] = target;
            }
            let o = &mut out[start..end];
            match last {
                Some(ins) => exec::<true>(ins, o, &regs, &planes, start, end),
                None => {
                    let result = operand(self.result, &regs, &planes, start, end);
                    map1::<true>(o, result, |x| x);
                }
            }
            start = end;
        }
        out
    }

    /// Folds constants and compiles a syntax tree.
    fn compile(ast: &Node, vars: Vec<String>) -> Expression {
        let folded = fold(ast);
        let mut c = Compiler::default();
        let result = c.compile(&folded);
        Expression {
            vars,
            code: c.code,
            result,
            nregs: c.nregs,
        }
    }
}

// ---------------------------------------------------------------------------
// Operators and their scalar semantics (shared by folding and evaluation).

/// One-operand operators and functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnOp {
    Neg,
    Abs,
    Sqrt,
    Exp,
    Ln,
    Log10,
}

/// Two-operand operators and functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Min,
    Max,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

#[inline(always)]
fn finite_or_nan(x: f32) -> f32 {
    if x.is_infinite() { f32::NAN } else { x }
}

#[inline(always)]
fn div(x: f32, y: f32) -> f32 {
    if y == 0.0 { f32::NAN } else { x / y }
}

#[inline(always)]
fn pow(x: f32, y: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else if y == 2.0 {
        x * x
    } else {
        x.powf(y)
    }
}

#[inline(always)]
fn min(x: f32, y: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else if y < x {
        y
    } else {
        x
    }
}

#[inline(always)]
fn max(x: f32, y: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else if y > x {
        y
    } else {
        x
    }
}

/// `1.0` or `0.0` for `truth`, NaN when either operand is NaN.
#[inline(always)]
fn boolean(x: f32, y: f32, truth: bool) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else if truth {
        1.0
    } else {
        0.0
    }
}

#[inline(always)]
fn is_true(c: f32) -> bool {
    // NaN != 0.0 is true, hence the explicit test.
    c != 0.0 && !c.is_nan()
}

#[inline(always)]
fn pick(c: f32, a: f32, b: f32) -> f32 {
    if is_true(c) { a } else { b }
}

fn apply_unary(op: UnOp, x: f32) -> f32 {
    match op {
        UnOp::Neg => -x,
        UnOp::Abs => x.abs(),
        UnOp::Sqrt => x.sqrt(),
        UnOp::Exp => x.exp(),
        UnOp::Ln => x.ln(),
        UnOp::Log10 => x.log10(),
    }
}

fn apply_binary(op: BinOp, x: f32, y: f32) -> f32 {
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => div(x, y),
        BinOp::Pow => pow(x, y),
        BinOp::Min => min(x, y),
        BinOp::Max => max(x, y),
        BinOp::Lt => boolean(x, y, x < y),
        BinOp::Le => boolean(x, y, x <= y),
        BinOp::Gt => boolean(x, y, x > y),
        BinOp::Ge => boolean(x, y, x >= y),
        BinOp::Eq => boolean(x, y, x == y),
        BinOp::Ne => boolean(x, y, x != y),
        BinOp::And => boolean(x, y, x != 0.0 && y != 0.0),
        BinOp::Or => boolean(x, y, x != 0.0 || y != 0.0),
    }
}

// ---------------------------------------------------------------------------
// Syntax tree and constant folding.

/// Expression syntax tree.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Const(f32),
    /// Index into the expression's variable list.
    Var(usize),
    Unary(UnOp, Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `where(cond, a, b)`.
    Select(Box<Node>, Box<Node>, Box<Node>),
}

/// Replaces every sub-tree whose value does not depend on the variables by
/// its value. Only exact evaluation is done (no algebraic rewriting, which
/// would change NaN propagation).
fn fold(node: &Node) -> Node {
    match node {
        Node::Const(_) | Node::Var(_) => node.clone(),
        Node::Unary(op, a) => match fold(a) {
            Node::Const(x) => Node::Const(apply_unary(*op, x)),
            a => Node::Unary(*op, Box::new(a)),
        },
        Node::Binary(op, a, b) => match (fold(a), fold(b)) {
            (Node::Const(x), Node::Const(y)) => Node::Const(apply_binary(*op, x, y)),
            (a, b) => Node::Binary(*op, Box::new(a), Box::new(b)),
        },
        Node::Select(c, a, b) => match fold(c) {
            Node::Const(c) if is_true(c) => fold(a),
            Node::Const(_) => fold(b),
            c => Node::Select(Box::new(c), Box::new(fold(a)), Box::new(fold(b))),
        },
    }
}

// ---------------------------------------------------------------------------
// Compiled form.

/// Where an instruction reads an operand from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Src {
    /// A chunk-sized scratch register.
    Reg(usize),
    /// An input plane.
    Var(usize),
    Const(f32),
}

/// One step of the compiled program; `dst` is a register never used as an
/// operand of the same instruction.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Instr {
    Unary {
        op: UnOp,
        dst: usize,
        a: Src,
    },
    Binary {
        op: BinOp,
        dst: usize,
        a: Src,
        b: Src,
    },
    Select {
        dst: usize,
        c: Src,
        a: Src,
        b: Src,
    },
}

impl Instr {
    fn dst(&self) -> usize {
        match *self {
            Instr::Unary { dst, .. } | Instr::Binary { dst, .. } | Instr::Select { dst, .. } => dst,
        }
    }
}

/// Turns a (folded) tree into instructions with a simple free-list register
/// allocator.
#[derive(Default)]
struct Compiler {
    code: Vec<Instr>,
    free: Vec<usize>,
    nregs: usize,
}

impl Compiler {
    fn alloc(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.nregs += 1;
            self.nregs - 1
        })
    }

    fn release(&mut self, s: Src) {
        if let Src::Reg(r) = s {
            self.free.push(r);
        }
    }

    fn compile(&mut self, node: &Node) -> Src {
        match node {
            Node::Const(c) => Src::Const(*c),
            Node::Var(i) => Src::Var(*i),
            Node::Unary(op, a) => {
                let a = self.compile(a);
                // Allocate before releasing so `dst` never aliases an operand.
                let dst = self.alloc();
                self.release(a);
                self.code.push(Instr::Unary { op: *op, dst, a });
                Src::Reg(dst)
            }
            Node::Binary(BinOp::Pow, a, b) if **b == Node::Const(2.0) => {
                // x^2 is x*x (the scalar `pow` does the same, so results match).
                let a = self.compile(a);
                let dst = self.alloc();
                self.release(a);
                self.code.push(Instr::Binary {
                    op: BinOp::Mul,
                    dst,
                    a,
                    b: a,
                });
                Src::Reg(dst)
            }
            Node::Binary(op, a, b) => {
                let a = self.compile(a);
                let b = self.compile(b);
                let dst = self.alloc();
                self.release(a);
                self.release(b);
                self.code.push(Instr::Binary { op: *op, dst, a, b });
                Src::Reg(dst)
            }
            Node::Select(c, a, b) => {
                let c = self.compile(c);
                let a = self.compile(a);
                let b = self.compile(b);
                let dst = self.alloc();
                self.release(c);
                self.release(a);
                self.release(b);
                self.code.push(Instr::Select { dst, c, a, b });
                Src::Reg(dst)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Chunk kernels.

/// An operand for one chunk.
#[derive(Clone, Copy)]
enum Operand<'a> {
    Slice(&'a [f32]),
    Scalar(f32),
}

#[inline(always)]
fn operand<'a>(
    s: Src,
    regs: &'a [Vec<f32>],
    planes: &'a [Cow<'_, [f32]>],
    start: usize,
    end: usize,
) -> Operand<'a> {
    match s {
        Src::Reg(r) => Operand::Slice(&regs[r][..end - start]),
        Src::Var(v) => Operand::Slice(&planes[v][start..end]),
        Src::Const(c) => Operand::Scalar(c),
    }
}

/// Runs one instruction over a chunk into `out`. With `FIN`, infinite
/// results are stored as NaN (for the instruction producing the result).
#[inline]
fn exec<const FIN: bool>(
    ins: &Instr,
    out: &mut [f32],
    regs: &[Vec<f32>],
    planes: &[Cow<'_, [f32]>],
    start: usize,
    end: usize,
) {
    let get = |s: Src| operand(s, regs, planes, start, end);
    match *ins {
        Instr::Unary { op, a, .. } => run_unary::<FIN>(op, out, get(a)),
        Instr::Binary { op, a, b, .. } => run_binary::<FIN>(op, out, get(a), get(b)),
        Instr::Select { c, a, b, .. } => select::<FIN>(out, get(c), get(a), get(b)),
    }
}

/// `finite_or_nan` when `FIN`, identity otherwise.
#[inline(always)]
fn fin<const FIN: bool>(x: f32) -> f32 {
    if FIN { finite_or_nan(x) } else { x }
}

#[inline(always)]
fn map1<const FIN: bool>(out: &mut [f32], a: Operand<'_>, f: impl Fn(f32) -> f32) {
    match a {
        Operand::Slice(a) => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = fin::<FIN>(f(x));
            }
        }
        Operand::Scalar(x) => out.fill(fin::<FIN>(f(x))),
    }
}

#[inline(always)]
fn map2<const FIN: bool>(
    out: &mut [f32],
    a: Operand<'_>,
    b: Operand<'_>,
    f: impl Fn(f32, f32) -> f32,
) {
    match (a, b) {
        (Operand::Slice(a), Operand::Slice(b)) => {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = fin::<FIN>(f(x, y));
            }
        }
        (Operand::Slice(a), Operand::Scalar(y)) => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = fin::<FIN>(f(x, y));
            }
        }
        (Operand::Scalar(x), Operand::Slice(b)) => {
            for (o, &y) in out.iter_mut().zip(b) {
                *o = fin::<FIN>(f(x, y));
            }
        }
        (Operand::Scalar(x), Operand::Scalar(y)) => out.fill(fin::<FIN>(f(x, y))),
    }
}

fn run_unary<const FIN: bool>(op: UnOp, out: &mut [f32], a: Operand<'_>) {
    match op {
        UnOp::Neg => map1::<FIN>(out, a, |x| -x),
        UnOp::Abs => map1::<FIN>(out, a, f32::abs),
        UnOp::Sqrt => map1::<FIN>(out, a, f32::sqrt),
        UnOp::Exp => map1::<FIN>(out, a, f32::exp),
        UnOp::Ln => map1::<FIN>(out, a, f32::ln),
        UnOp::Log10 => map1::<FIN>(out, a, f32::log10),
    }
}

fn run_binary<const FIN: bool>(op: BinOp, out: &mut [f32], a: Operand<'_>, b: Operand<'_>) {
    match op {
        BinOp::Add => map2::<FIN>(out, a, b, |x, y| x + y),
        BinOp::Sub => map2::<FIN>(out, a, b, |x, y| x - y),
        BinOp::Mul => map2::<FIN>(out, a, b, |x, y| x * y),
        BinOp::Div => map2::<FIN>(out, a, b, div),
        BinOp::Pow => map2::<FIN>(out, a, b, pow),
        BinOp::Min => map2::<FIN>(out, a, b, min),
        BinOp::Max => map2::<FIN>(out, a, b, max),
        BinOp::Lt => map2::<FIN>(out, a, b, |x, y| boolean(x, y, x < y)),
        BinOp::Le => map2::<FIN>(out, a, b, |x, y| boolean(x, y, x <= y)),
        BinOp::Gt => map2::<FIN>(out, a, b, |x, y| boolean(x, y, x > y)),
        BinOp::Ge => map2::<FIN>(out, a, b, |x, y| boolean(x, y, x >= y)),
        BinOp::Eq => map2::<FIN>(out, a, b, |x, y| boolean(x, y, x == y)),
        BinOp::Ne => map2::<FIN>(out, a, b, |x, y| boolean(x, y, x != y)),
        BinOp::And => map2::<FIN>(out, a, b, |x, y| boolean(x, y, x != 0.0 && y != 0.0)),
        BinOp::Or => map2::<FIN>(out, a, b, |x, y| boolean(x, y, x != 0.0 || y != 0.0)),
    }
}

fn select<const FIN: bool>(out: &mut [f32], c: Operand<'_>, a: Operand<'_>, b: Operand<'_>) {
    let c = match c {
        Operand::Slice(c) => c,
        // Folding removes constant conditions; kept for completeness.
        Operand::Scalar(c) => return map1::<FIN>(out, if is_true(c) { a } else { b }, |x| x),
    };
    match (a, b) {
        (Operand::Slice(a), Operand::Slice(b)) => {
            for (((o, &c), &x), &y) in out.iter_mut().zip(c).zip(a).zip(b) {
                *o = fin::<FIN>(pick(c, x, y));
            }
        }
        (Operand::Slice(a), Operand::Scalar(y)) => {
            for ((o, &c), &x) in out.iter_mut().zip(c).zip(a) {
                *o = fin::<FIN>(pick(c, x, y));
            }
        }
        (Operand::Scalar(x), Operand::Slice(b)) => {
            for ((o, &c), &y) in out.iter_mut().zip(c).zip(b) {
                *o = fin::<FIN>(pick(c, x, y));
            }
        }
        (Operand::Scalar(x), Operand::Scalar(y)) => {
            for (o, &c) in out.iter_mut().zip(c) {
                *o = fin::<FIN>(pick(c, x, y));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Lexer.

/// Token kinds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(f32),
    Ident,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    Comma,
    Lt,
    Le,
    Gt,
    Ge,
    EqEq,
    Ne,
    AndAnd,
    OrOr,
    End,
}

/// A token and its character span `[start, end)` in the whole text.
#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Tok,
    start: usize,
    end: usize,
}

/// The text being parsed, for error messages and identifier text.
struct Ctx<'a> {
    text: &'a str,
    chars: &'a [char],
}

impl Ctx<'_> {
    fn err(&self, msg: impl fmt::Display, pos: usize) -> RasterError {
        RasterError::param(format!("expression: {msg} at {pos} in '{}'", self.text))
    }

    fn slice(&self, start: usize, end: usize) -> String {
        self.chars[start..end].iter().collect()
    }

    /// How a token reads in an error message.
    fn describe(&self, t: &Token) -> String {
        match t.kind {
            Tok::End => "end of expression".to_string(),
            Tok::Num(_) => format!("number '{}'", self.slice(t.start, t.end)),
            Tok::Ident => format!("name '{}'", self.slice(t.start, t.end)),
            _ => format!("'{}'", self.slice(t.start, t.end)),
        }
    }
}

/// Checks the length limit and splits the text into characters.
fn checked_chars(text: &str) -> Result<Vec<char>> {
    // Cheap pre-check so a huge text is not collected.
    if text.len() > 4 * MAX_LEN || text.chars().count() > MAX_LEN {
        return Err(RasterError::param(format!(
            "expression: too long ({} characters, at most {MAX_LEN} allowed)",
            text.chars().count()
        )));
    }
    Ok(text.chars().collect())
}

/// Splits `chars[start..end]` into tokens, ending with [`Tok::End`] at `end`.
fn lex(ctx: &Ctx<'_>, start: usize, end: usize) -> Result<Vec<Token>> {
    let chars = ctx.chars;
    let at = |i: usize| if i < end { Some(chars[i]) } else { None };
    let mut toks = Vec::new();
    let mut i = start;
    while i < end {
        let c = chars[i];
        let s = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two = at(i + 1);
        let (kind, len) = match c {
            '0'..='9' | '.' => {
                i = lex_number(ctx, i, end)?;
                let text = ctx.slice(s, i);
                let v: f32 = text
                    .parse()
                    .map_err(|_| ctx.err(format_args!("invalid number '{text}'"), s))?;
                if !v.is_finite() {
                    return Err(ctx.err(format_args!("number '{text}' out of range"), s));
                }
                toks.push(Token {
                    kind: Tok::Num(v),
                    start: s,
                    end: i,
                });
                continue;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    i += 1;
                }
                toks.push(Token {
                    kind: Tok::Ident,
                    start: s,
                    end: i,
                });
                continue;
            }
            '+' => (Tok::Plus, 1),
            '-' => (Tok::Minus, 1),
            '*' if two == Some('*') => (Tok::Caret, 2),
            '*' => (Tok::Star, 1),
            '/' => (Tok::Slash, 1),
            '^' => (Tok::Caret, 1),
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '<' if two == Some('=') => (Tok::Le, 2),
            '<' => (Tok::Lt, 1),
            '>' if two == Some('=') => (Tok::Ge, 2),
            '>' => (Tok::Gt, 1),
            '=' if two == Some('=') => (Tok::EqEq, 2),
            '!' if two == Some('=') => (Tok::Ne, 2),
            '&' if two == Some('&') => (Tok::AndAnd, 2),
            '|' if two == Some('|') => (Tok::OrOr, 2),
            '=' => return Err(ctx.err("unexpected '=' (did you mean '=='?)", s)),
            '!' => return Err(ctx.err("unexpected '!' (did you mean '!='?)", s)),
            '&' => return Err(ctx.err("unexpected '&' (did you mean '&&'?)", s)),
            '|' => return Err(ctx.err("unexpected '|' (did you mean '||'?)", s)),
            ';' => {
                return Err(ctx.err("unexpected ';' (only one expression is allowed here)", s));
            }
            c => return Err(ctx.err(format_args!("unexpected character {c:?}"), s)),
        };
        i += len;
        toks.push(Token {
            kind,
            start: s,
            end: i,
        });
    }
    toks.push(Token {
        kind: Tok::End,
        start: end,
        end,
    });
    Ok(toks)
}

/// Scans a number starting at `i` (a digit or `.`), returning its end.
/// Anything glued to it that cannot continue a number (a letter, a second
/// `.`) makes the whole run an invalid number.
fn lex_number(ctx: &Ctx<'_>, start: usize, end: usize) -> Result<usize> {
    let chars = ctx.chars;
    let at = |i: usize| if i < end { Some(chars[i]) } else { None };
    let digit = |i: usize| at(i).is_some_and(|c| c.is_ascii_digit());
    let mut i = start;
    let mut digits = 0;
    while digit(i) {
        i += 1;
        digits += 1;
    }
    if at(i) == Some('.') {
        i += 1;
        while digit(i) {
            i += 1;
            digits += 1;
        }
    }
    let mut ok = digits > 0;
    if ok && matches!(at(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(at(j), Some('+' | '-')) {
            j += 1;
        }
        if digit(j) {
            while digit(j) {
                j += 1;
            }
            i = j;
        } else {
            i = j;
            ok = false;
        }
    }
    let glued = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    if !ok || at(i).is_some_and(glued) {
        while at(i).is_some_and(glued) {
            i += 1;
        }
        if i == start + 1 && chars[start] == '.' {
            return Err(ctx.err("unexpected '.'", start));
        }
        return Err(ctx.err(
            format_args!("invalid number '{}'", ctx.slice(start, i)),
            start,
        ));
    }
    Ok(i)
}

// ---------------------------------------------------------------------------
// Parser.

/// Functions, by lower-case name.
#[derive(Debug, Clone, Copy)]
enum Func {
    Unary(UnOp),
    /// `min`/`max`: two or more arguments, folded left.
    Variadic(BinOp),
    Clamp,
    Where,
}

const FUNCTIONS: &str = "abs, sqrt, exp, log, log10, min, max, clamp, where";

fn lookup(name: &str) -> Option<Func> {
    Some(match name.to_ascii_lowercase().as_str() {
        "abs" => Func::Unary(UnOp::Abs),
        "sqrt" => Func::Unary(UnOp::Sqrt),
        "exp" => Func::Unary(UnOp::Exp),
        "log" => Func::Unary(UnOp::Ln),
        "log10" => Func::Unary(UnOp::Log10),
        "min" => Func::Variadic(BinOp::Min),
        "max" => Func::Variadic(BinOp::Max),
        "clamp" => Func::Clamp,
        "where" => Func::Where,
        _ => return None,
    })
}

/// Parses `chars[start..end]` as one complete expression, adding variables
/// to `vars`.
fn parse_range(ctx: &Ctx<'_>, start: usize, end: usize, vars: &mut Vec<String>) -> Result<Node> {
    if ctx.chars[start..end].iter().all(|c| c.is_whitespace()) {
        return Err(ctx.err("empty expression", start));
    }
    let toks = lex(ctx, start, end)?;
    let mut p = Parser {
        ctx,
        toks,
        pos: 0,
        depth: 0,
        vars,
    };
    let node = p.expr()?;
    let t = p.peek();
    if t.kind != Tok::End {
        return Err(ctx.err(format_args!("unexpected {}", ctx.describe(&t)), t.start));
    }
    Ok(node)
}

/// Recursive-descent parser over a token list.
struct Parser<'a, 'v> {
    ctx: &'a Ctx<'a>,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    vars: &'v mut Vec<String>,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Token {
        // The list always ends with `End`, which is never consumed.
        self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.kind != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn enter(&mut self, pos: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self
                .ctx
                .err(format_args!("nesting deeper than {MAX_DEPTH}"), pos));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn unexpected(&self, t: &Token) -> RasterError {
        self.ctx
            .err(format_args!("unexpected {}", self.ctx.describe(t)), t.start)
    }

    /// expr := and ( '||' and )*
    fn expr(&mut self) -> Result<Node> {
        let mut lhs = self.and()?;
        while self.peek().kind == Tok::OrOr {
            self.bump();
            let rhs = self.and()?;
            lhs = Node::Binary(BinOp::Or, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    /// and := cmp ( '&&' cmp )*
    fn and(&mut self) -> Result<Node> {
        let mut lhs = self.cmp()?;
        while self.peek().kind == Tok::AndAnd {
            self.bump();
            let rhs = self.cmp()?;
            lhs = Node::Binary(BinOp::And, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn cmp_op(kind: Tok) -> Option<BinOp> {
        Some(match kind {
            Tok::Lt => BinOp::Lt,
            Tok::Le => BinOp::Le,
            Tok::Gt => BinOp::Gt,
            Tok::Ge => BinOp::Ge,
            Tok::EqEq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            _ => return None,
        })
    }

    /// cmp := add ( cmpop add )?   -- `a < b < c` is rejected
    fn cmp(&mut self) -> Result<Node> {
        let lhs = self.add()?;
        let Some(op) = Self::cmp_op(self.peek().kind) else {
            return Ok(lhs);
        };
        self.bump();
        let rhs = self.add()?;
        let t = self.peek();
        if Self::cmp_op(t.kind).is_some() {
            return Err(self.ctx.err(
                format_args!(
                    "chained comparison {} (combine comparisons with '&&')",
                    self.ctx.describe(&t)
                ),
                t.start,
            ));
        }
        Ok(Node::Binary(op, Box::new(lhs), Box::new(rhs)))
    }

    /// add := mul ( ('+' | '-') mul )*
    fn add(&mut self) -> Result<Node> {
        let mut lhs = self.mul()?;
        loop {
            let op = match self.peek().kind {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.mul()?;
            lhs = Node::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    /// mul := unary ( ('*' | '/') unary )*
    fn mul(&mut self) -> Result<Node> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek().kind {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.unary()?;
            lhs = Node::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    /// unary := ('-' | '+') unary | power
    fn unary(&mut self) -> Result<Node> {
        let t = self.peek();
        match t.kind {
            Tok::Minus | Tok::Plus => {
                self.bump();
                self.enter(t.start)?;
                let operand = self.unary()?;
                self.leave();
                Ok(if t.kind == Tok::Minus {
                    Node::Unary(UnOp::Neg, Box::new(operand))
                } else {
                    operand
                })
            }
            _ => self.power(),
        }
    }

    /// power := primary ( '^' unary )?   -- right-associative through `unary`
    fn power(&mut self) -> Result<Node> {
        let base = self.primary()?;
        let t = self.peek();
        if t.kind != Tok::Caret {
            return Ok(base);
        }
        self.bump();
        self.enter(t.start)?;
        let exponent = self.unary()?;
        self.leave();
        Ok(Node::Binary(BinOp::Pow, Box::new(base), Box::new(exponent)))
    }

    /// primary := number | name | name '(' args ')' | '(' expr ')'
    fn primary(&mut self) -> Result<Node> {
        let t = self.bump();
        match t.kind {
            Tok::Num(v) => Ok(Node::Const(v)),
            Tok::Ident if self.peek().kind == Tok::LParen => self.call(t),
            Tok::Ident => {
                let name = self.ctx.slice(t.start, t.end);
                let idx = match self.vars.iter().position(|v| *v == name) {
                    Some(i) => i,
                    None => {
                        self.vars.push(name);
                        self.vars.len() - 1
                    }
                };
                Ok(Node::Var(idx))
            }
            Tok::LParen => {
                self.enter(t.start)?;
                let inner = self.expr()?;
                self.leave();
                let close = self.peek();
                match close.kind {
                    Tok::RParen => {
                        self.bump();
                        Ok(inner)
                    }
                    Tok::End => Err(self.ctx.err("unclosed '('", t.start)),
                    _ => Err(self.ctx.err(
                        format_args!(
                            "expected ')' or an operator, found {}",
                            self.ctx.describe(&close)
                        ),
                        close.start,
                    )),
                }
            }
            _ => Err(self.unexpected(&t)),
        }
    }

    /// A function call; `name` is the identifier, the next token is `(`.
    fn call(&mut self, name: Token) -> Result<Node> {
        let text = self.ctx.slice(name.start, name.end);
        let Some(func) = lookup(&text) else {
            return Err(self.ctx.err(
                format_args!("unknown function '{text}' (known: {FUNCTIONS})"),
                name.start,
            ));
        };
        self.bump(); // '('
        self.enter(name.start)?;
        let mut args = Vec::new();
        if self.peek().kind == Tok::RParen {
            self.bump();
        } else {
            loop {
                args.push(self.expr()?);
                let t = self.bump();
                match t.kind {
                    Tok::Comma => {}
                    Tok::RParen => break,
                    Tok::End => {
                        return Err(self
                            .ctx
                            .err(format_args!("unclosed '(' of '{text}'"), name.start));
                    }
                    _ => {
                        return Err(self.ctx.err(
                            format_args!(
                                "expected ',' or ')' in call to '{text}', found {}",
                                self.ctx.describe(&t)
                            ),
                            t.start,
                        ));
                    }
                }
            }
        }
        self.leave();
        let arity = |want: &str| {
            self.ctx.err(
                format_args!(
                    "function '{text}' takes {want}, got {} argument{}",
                    args.len(),
                    if args.len() == 1 { "" } else { "s" }
                ),
                name.start,
            )
        };
        let node = match func {
            Func::Unary(op) => {
                if args.len() != 1 {
                    return Err(arity("1 argument"));
                }
                let [a] = take_args(args);
                Node::Unary(op, Box::new(a))
            }
            Func::Variadic(op) => {
                if args.len() < 2 {
                    return Err(arity("at least 2 arguments"));
                }
                let mut it = args.into_iter();
                let first = it.next().unwrap_or(Node::Const(f32::NAN));
                it.fold(first, |acc, n| Node::Binary(op, Box::new(acc), Box::new(n)))
            }
            Func::Clamp => {
                if args.len() != 3 {
                    return Err(arity("3 arguments (x, lo, hi)"));
                }
                let [x, lo, hi] = take_args(args);
                let lower = Node::Binary(BinOp::Max, Box::new(x), Box::new(lo));
                Node::Binary(BinOp::Min, Box::new(lower), Box::new(hi))
            }
            Func::Where => {
                if args.len() != 3 {
                    return Err(arity("3 arguments (cond, a, b)"));
                }
                let [c, a, b] = take_args(args);
                Node::Select(Box::new(c), Box::new(a), Box::new(b))
            }
        };
        Ok(node)
    }
}

/// Converts an argument list whose length was checked into an array.
fn take_args<const N: usize>(args: Vec<Node>) -> [Node; N] {
    args.try_into()
        .unwrap_or_else(|_| std::array::from_fn(|_| Node::Const(f32::NAN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, vars: &[(&str, f32)]) -> f32 {
        let e = Expression::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
        let planes: Vec<Vec<f32>> = e
            .variables()
            .iter()
            .map(|name| {
                let (_, v) = vars
                    .iter()
                    .find(|(n, _)| n == name)
                    .unwrap_or_else(|| panic!("no value for {name}"));
                vec![*v]
            })
            .collect();
        let refs: Vec<&[f32]> = planes.iter().map(Vec::as_slice).collect();
        let out = e.evaluate(&refs, 1);
        assert_eq!(out.len(), 1);
        out[0]
    }

    fn c(text: &str) -> f32 {
        eval(text, &[])
    }

    fn err(text: &str) -> String {
        match Expression::parse(text) {
            Ok(e) => panic!("{text} parsed: {e:?}"),
            Err(RasterError::InvalidParameter(m)) => m,
            Err(other) => panic!("{text}: wrong error kind {other:?}"),
        }
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Unfolded syntax tree, for the reference evaluator.
    fn ast(text: &str) -> Result<(Node, Vec<String>)> {
        let chars = checked_chars(text)?;
        let ctx = Ctx {
            text,
            chars: &chars,
        };
        let mut vars = Vec::new();
        let node = parse_range(&ctx, 0, chars.len(), &mut vars)?;
        Ok((node, vars))
    }

    /// Tree-walking scalar evaluation, independent of folding and compiling.
    fn reference(node: &Node, vals: &[f32]) -> f32 {
        match node {
            Node::Const(c) => *c,
            Node::Var(i) => vals[*i],
            Node::Unary(op, a) => apply_unary(*op, reference(a, vals)),
            Node::Binary(op, a, b) => apply_binary(*op, reference(a, vals), reference(b, vals)),
            Node::Select(c, a, b) => {
                if is_true(reference(c, vals)) {
                    reference(a, vals)
                } else {
                    reference(b, vals)
                }
            }
        }
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(c("1+2*3"), 7.0);
        assert_eq!(c("(1+2)*3"), 9.0);
        assert_eq!(c("10-4-3"), 3.0);
        assert_eq!(c("64/4/2"), 8.0);
        assert_eq!(c("2*3/4"), 1.5);
        assert_eq!(c("1 - 2 * 3 + 4 / 2"), -3.0);
        assert_eq!(c("2^3^2"), 512.0);
        assert_eq!(c("2**3**2"), 512.0);
        assert_eq!(c("(2^3)^2"), 64.0);
        assert_eq!(c("2*3^2"), 18.0);
        assert_eq!(c("1 + 2 < 4"), 1.0);
        assert_eq!(c("1 < 2 && 3 < 2 || 1"), 1.0);
        assert_eq!(c("0 || 1 && 0"), 0.0);
        assert_eq!(c(" ( ( 7 ) ) "), 7.0);
        assert_eq!(c("1.5e1 + .5 + 2. + 1E-1 + 2.5E+1"), 42.6);
    }

    #[test]
    fn unary_minus_and_power() {
        assert_eq!(c("-2^2"), -4.0);
        assert_eq!(c("(-2)^2"), 4.0);
        assert_eq!(c("2^-1"), 0.5);
        assert_eq!(c("2^-1^2"), 0.5); // 2^(-(1^2))
        assert_eq!(c("--3"), 3.0);
        assert_eq!(c("-+-3"), 3.0);
        assert_eq!(c("+3"), 3.0);
        assert_eq!(c("3--3"), 6.0);
        assert_eq!(c("-3*-2"), 6.0);
        assert_eq!(c("(-8)^3"), -512.0);
        assert!(c("(-8)^(1/3)").is_nan());
        assert_eq!(eval("-x^2", &[("x", 3.0)]), -9.0);
        assert_eq!(eval("x^2", &[("x", -3.0)]), 9.0);
        assert_eq!(eval("x^0.5", &[("x", 16.0)]), 4.0);
    }

    #[test]
    fn comparisons_and_where() {
        for (text, want) in [
            ("1 < 2", 1.0),
            ("2 < 2", 0.0),
            ("2 <= 2", 1.0),
            ("3 > 2", 1.0),
            ("2 >= 3", 0.0),
            ("2 == 2", 1.0),
            ("2 != 2", 0.0),
            ("1 && 2", 1.0),
            ("1 && 0", 0.0),
            ("0 || 0", 0.0),
            ("-1 || 0", 1.0),
        ] {
            assert_eq!(c(text), want, "{text}");
        }
        let w = "where(B1 > 0.5, B1 * 10, -1)";
        assert_eq!(eval(w, &[("B1", 0.7)]), 7.0);
        assert_eq!(eval(w, &[("B1", 0.2)]), -1.0);
        assert_eq!(eval(w, &[("B1", f32::NAN)]), -1.0);
        // A NaN condition selects the second branch; the unused branch does not matter.
        assert_eq!(
            eval("where(c, a, b)", &[("c", f32::NAN), ("a", 1.0), ("b", 2.0)]),
            2.0
        );
        assert_eq!(
            eval(
                "where(c, a, b)",
                &[("c", -3.0), ("a", 1.0), ("b", f32::NAN)]
            ),
            1.0
        );
        assert_eq!(eval("WHERE(B1 == B1, B1, 0)", &[("B1", f32::NAN)]), 0.0);
        assert_eq!(eval("Where(B1 == B1, B1, 0)", &[("B1", 4.0)]), 4.0);
        // Constant conditions are folded away.
        assert_eq!(eval("where(1 < 2, x, 0)", &[("x", 5.0)]), 5.0);
        assert_eq!(eval("where(0, 0, x)", &[("x", 5.0)]), 5.0);
        assert_eq!(eval("where(0/0, 0, x)", &[("x", 5.0)]), 5.0);
        // Mixed slice/scalar branches.
        assert_eq!(eval("where(x > 1, 2, y)", &[("x", 0.0), ("y", 9.0)]), 9.0);
        assert_eq!(eval("where(x > 1, y, 2)", &[("x", 3.0), ("y", 9.0)]), 9.0);
        assert_eq!(eval("where(x > 1, 2, 3)", &[("x", 3.0)]), 2.0);
    }

    #[test]
    fn chained_comparison_is_rejected() {
        let m = err("1 < B1 < 5");
        assert!(m.contains("chained comparison '<' (combine"), "{m}");
        assert!(m.contains("at 7 in '1 < B1 < 5'"), "{m}");
        assert_eq!(c("1 < 2 && 2 < 3"), 1.0);
    }

    #[test]
    fn functions() {
        assert_eq!(c("min(3, 1, 2)"), 1.0);
        assert_eq!(c("MAX(3, 1, 2)"), 3.0);
        assert_eq!(c("max(-1, -5)"), -1.0);
        assert_eq!(c("clamp(5, 0, 1)"), 1.0);
        assert_eq!(c("clamp(-5, 0, 1)"), 0.0);
        assert_eq!(c("clamp(0.25, 0, 1)"), 0.25);
        assert_eq!(c("abs(-2.5)"), 2.5);
        assert_eq!(c("sqrt(16)"), 4.0);
        assert!(c("sqrt(-1)").is_nan());
        assert_eq!(c("exp(0)"), 1.0);
        assert_eq!(c("log(1)"), 0.0);
        assert_eq!(c("Log10(1000)"), 3.0);
        assert!((c("log(exp(2))") - 2.0).abs() < 1e-6);
        assert_eq!(
            eval("clamp(x, lo, hi)", &[("x", 7.0), ("lo", 0.0), ("hi", 5.0)]),
            5.0
        );
        assert_eq!(eval("min(x, 2)", &[("x", 7.0)]), 2.0);
        assert_eq!(eval("max(x, y, 2)", &[("x", 7.0), ("y", 8.0)]), 8.0);
        // A name without '(' is a variable, even a function name.
        assert_eq!(eval("min + 1", &[("min", 1.0)]), 2.0);
    }

    #[test]
    fn nan_propagation() {
        let nan = f32::NAN;
        for text in [
            "x + 1",
            "x * 0",
            "0 / x",
            "x ^ 0",
            "1 ^ x",
            "-x",
            "abs(x)",
            "min(x, 1)",
            "max(1, x)",
            "clamp(x, 0, 1)",
            "clamp(0.5, x, 1)",
            "clamp(0.5, 0, x)",
            "x < 1",
            "x == x",
            "x != x",
            "x && 1",
            "1 || x",
            "where(1 > 0, x, 0)",
            "where(x, 1, 2) + x",
        ] {
            assert!(eval(text, &[("x", nan)]).is_nan(), "{text}");
        }
        assert!(eval("a + b", &[("a", 1.0), ("b", nan)]).is_nan());
        assert_eq!(eval("a + b", &[("a", 1.0), ("b", 2.0)]), 3.0);
    }

    #[test]
    fn division_by_zero_and_infinities_give_nan() {
        assert!(c("1/0").is_nan());
        assert!(c("-1/0").is_nan());
        assert!(c("0/0").is_nan());
        assert!(eval("x / y", &[("x", 1.0), ("y", 0.0)]).is_nan());
        assert!(eval("x / y", &[("x", 1.0), ("y", -0.0)]).is_nan());
        assert!(eval("x / (y - y)", &[("x", 1.0), ("y", 3.0)]).is_nan());
        assert!(eval("exp(x)", &[("x", 1000.0)]).is_nan());
        assert!(eval("log(x)", &[("x", 0.0)]).is_nan());
        assert!(eval("x", &[("x", f32::INFINITY)]).is_nan());
        assert!(eval("x * 1e30", &[("x", 1e30)]).is_nan());
        assert!(c("0^-1").is_nan());
        // Intermediate infinities are fine when the result is finite.
        assert_eq!(eval("1 / exp(x)", &[("x", 1000.0)]), 0.0);
        assert_eq!(eval("exp(x) > 5", &[("x", 1000.0)]), 1.0);
    }

    #[test]
    fn constant_expression_fills_the_plane() {
        let e = Expression::parse("2 * (3 + 4)").unwrap();
        assert!(e.variables().is_empty());
        assert_eq!(e.evaluate(&[], 3), vec![14.0; 3]);
        let e = Expression::parse("1/0").unwrap();
        assert!(e.evaluate(&[], 2).iter().all(|v| v.is_nan()));
        assert!(e.evaluate(&[], 0).is_empty());
    }

    #[test]
    fn variables_order_and_dedup() {
        let e = Expression::parse("(B08 - B04) / (B08 + B04) + b08 * B08_b1 - nir + _x").unwrap();
        assert_eq!(e.variables(), ["B08", "B04", "b08", "B08_b1", "nir", "_x"]);
        let e = Expression::parse("lai*lai+lai").unwrap();
        assert_eq!(e.variables(), ["lai"]);
        // Variables inside folded-away branches are still reported.
        let e = Expression::parse("where(0, a, b)").unwrap();
        assert_eq!(e.variables(), ["a", "b"]);
        let out = e.evaluate(&[&[1.0], &[2.0]], 1);
        assert_eq!(out, [2.0]);
    }

    #[test]
    fn inputs_are_matched_by_position() {
        let e = Expression::parse("b - a").unwrap();
        assert_eq!(e.variables(), ["b", "a"]);
        let out = e.evaluate(&[&[10.0, 20.0], &[1.0, 2.0]], 2);
        assert_eq!(out, [9.0, 18.0]);
    }

    #[test]
    fn missing_or_short_planes_read_as_nan() {
        let e = Expression::parse("a + b").unwrap();
        let out = e.evaluate(&[&[1.0, 2.0, 3.0]], 3);
        assert!(out.iter().all(|v| v.is_nan()));
        let out = e.evaluate(&[&[1.0, 2.0, 3.0], &[1.0]], 3);
        assert_eq!(out[0], 2.0);
        assert!(out[1].is_nan() && out[2].is_nan());
        // Longer planes and extra planes are fine.
        let out = e.evaluate(&[&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0], &[5.0]], 2);
        assert_eq!(out, [2.0, 3.0]);
    }

    #[test]
    fn parse_many_splits_on_semicolons() {
        let es = Expression::parse_many("B04; B03*2 ;(B02+B01)/2").unwrap();
        assert_eq!(es.len(), 3);
        assert_eq!(es[0].variables(), ["B04"]);
        assert_eq!(es[1].variables(), ["B03"]);
        assert_eq!(es[2].variables(), ["B02", "B01"]);
        assert_eq!(es[1].evaluate(&[&[4.0]], 1), [8.0]);
        assert_eq!(Expression::parse_many("B1").unwrap().len(), 1);

        let m = Expression::parse_many("B1;;B2").unwrap_err().to_string();
        assert_eq!(m, "expression: empty expression at 3 in 'B1;;B2'");
        let m = Expression::parse_many("B1; ").unwrap_err().to_string();
        assert_eq!(m, "expression: empty expression at 3 in 'B1; '");
        let m = Expression::parse_many("").unwrap_err().to_string();
        assert_eq!(m, "expression: empty expression at 0 in ''");
        // Positions are offsets into the whole text.
        let m = Expression::parse_many("B1;B2+").unwrap_err().to_string();
        assert_eq!(
            m,
            "expression: unexpected end of expression at 6 in 'B1;B2+'"
        );
        let m = Expression::parse("B1;B2").unwrap_err().to_string();
        assert!(m.contains("unexpected ';'") && m.contains("at 2"), "{m}");
    }

    #[test]
    fn error_messages_name_problem_and_position() {
        let cases = [
            ("(B08-B04))", "unexpected ')' at 9 in '(B08-B04))'"),
            ("", "empty expression at 0 in ''"),
            ("   ", "empty expression at 0 in '   '"),
            ("B1 +", "unexpected end of expression at 4 in 'B1 +'"),
            ("B1 B2", "unexpected name 'B2' at 3"),
            ("(B1", "unclosed '(' at 0"),
            (
                "(B1 2)",
                "expected ')' or an operator, found number '2' at 4",
            ),
            ("foo(B1)", "unknown function 'foo' (known: abs"),
            (
                "sqrt(1, 2)",
                "function 'sqrt' takes 1 argument, got 2 arguments at 0",
            ),
            (
                "x + abs()",
                "function 'abs' takes 1 argument, got 0 arguments at 4",
            ),
            (
                "min(B1)",
                "function 'min' takes at least 2 arguments, got 1 argument at 0",
            ),
            (
                "clamp(B1, 0)",
                "function 'clamp' takes 3 arguments (x, lo, hi), got 2",
            ),
            (
                "where(B1, 0)",
                "function 'where' takes 3 arguments (cond, a, b), got 2",
            ),
            ("min(1, 2", "unclosed '(' of 'min' at 0"),
            (
                "min(1 2)",
                "expected ',' or ')' in call to 'min', found number '2' at 6",
            ),
            ("min(1,)", "unexpected ')' at 6"),
            ("B1 # 2", "unexpected character '#' at 3"),
            ("B1 = 2", "unexpected '=' (did you mean '=='?) at 3"),
            ("B1 & 2", "did you mean '&&'?) at 3"),
            ("B1 | 2", "did you mean '||'?) at 3"),
            ("!B1", "did you mean '!='?) at 0"),
            ("2B", "invalid number '2B' at 0"),
            ("1.2.3", "invalid number '1.2.3' at 0"),
            ("1e", "invalid number '1e' at 0"),
            ("3 * 1e+", "invalid number '1e+' at 4"),
            ("1e40", "number '1e40' out of range at 0"),
            ("B1 + .", "unexpected '.' at 5"),
            ("é", "unexpected character 'é' at 0"),
            ("B1 * ()", "unexpected ')' at 6"),
            ("*B1", "unexpected '*' at 0"),
            ("B1 ** ** 2", "unexpected '**' at 6"),
            ("1 <", "unexpected end of expression at 3"),
            ("B1:x", "unexpected character ':' at 2"),
        ];
        for (text, want) in cases {
            let m = err(text);
            assert!(m.starts_with("expression: "), "{text}: {m}");
            assert!(m.contains(want), "{text}: got {m:?}, want {want:?}");
        }
        // Positions count characters, not bytes.
        let m = err("é + #");
        assert!(m.contains("at 0"), "{m}");
        let m = err("'é' + 1");
        assert!(m.contains("unexpected character '\\'' at 0"), "{m}");
    }

    #[test]
    fn limits() {
        // Length.
        let long = format!("B1{}", "+1".repeat(MAX_LEN / 2));
        assert!(long.chars().count() > MAX_LEN);
        let m = err(&long);
        assert!(m.contains("too long (2002 characters, at most 2000"), "{m}");
        assert!(Expression::parse_many(&long).is_err());
        let m = err(&"é".repeat(5000));
        assert!(m.contains("too long (5000 characters"), "{m}");
        // Exactly at the limit is fine, and a long left-deep chain is not "nesting".
        let ok = format!("B1{}", "+B1".repeat((MAX_LEN - 2) / 3));
        let e = Expression::parse(&ok).unwrap();
        assert_eq!(e.evaluate(&[&[1.0]], 1), [((MAX_LEN - 2) / 3 + 1) as f32]);
        let ok = format!("1{}", "+1".repeat((MAX_LEN - 1) / 2));
        assert_eq!(c(&ok), ((MAX_LEN - 1) / 2 + 1) as f32);

        // Nesting.
        let deep = |n: usize| format!("{}B1{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(eval(&deep(MAX_DEPTH), &[("B1", 2.0)]), 2.0);
        let m = err(&deep(MAX_DEPTH + 1));
        assert!(m.contains("nesting deeper than 64 at 64"), "{m}");
        let m = err(&deep(900));
        assert!(m.contains("nesting deeper than 64"), "{m}");
        let m = err(&format!("{}B1", "-".repeat(1500)));
        assert!(m.contains("nesting deeper than 64"), "{m}");
        let m = err(&format!("B1{}", "^B1".repeat(600)));
        assert!(m.contains("nesting deeper than 64"), "{m}");
        let m = err(&format!("{}1{}", "abs(".repeat(300), ")".repeat(300)));
        assert!(m.contains("nesting deeper than 64"), "{m}");
        assert_eq!(
            eval(&format!("{}x", "-".repeat(MAX_DEPTH)), &[("x", 3.0)]),
            3.0
        );
    }

    #[test]
    fn chunk_boundaries() {
        let e = Expression::parse("where(x > 0.5, x * 2, -x) + 1").unwrap();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let x: Vec<f32> = (0..len).map(|i| (i % 97) as f32 / 96.0).collect();
            let out = e.evaluate(&[&x], len);
            assert_eq!(out.len(), len);
            for (i, (&o, &x)) in out.iter().zip(&x).enumerate() {
                let want = if x > 0.5 { x * 2.0 } else { -x } + 1.0;
                assert_eq!(o, want, "element {i} of {len}");
            }
        }
    }

    #[test]
    fn ndvi_on_a_full_tile() {
        const LEN: usize = 256 * 256;
        let e = Expression::parse("(B08-B04)/(B08+B04)").unwrap();
        assert_eq!(e.variables(), ["B08", "B04"]);
        let mut rng = Rng(42);
        let b08: Vec<f32> = (0..LEN)
            .map(|i| match i % 1000 {
                0 => f32::NAN,
                1 => 0.0,
                _ => rng.unit() * 10000.0,
            })
            .collect();
        let b04: Vec<f32> = (0..LEN)
            .map(|i| match i % 1000 {
                1 => 0.0,
                2 => f32::NAN,
                _ => rng.unit() * 10000.0,
            })
            .collect();
        let out = e.evaluate(&[&b08, &b04], LEN);
        assert_eq!(out.len(), LEN);
        for i in 0..LEN {
            let (n, r) = (b08[i], b04[i]);
            let want = if n + r == 0.0 {
                f32::NAN
            } else {
                (n - r) / (n + r)
            };
            assert!(same(out[i], want), "element {i}: {} vs {want}", out[i]);
            if i % 1000 < 3 {
                assert!(out[i].is_nan(), "element {i} should be NaN");
            } else {
                assert!((-1.0..=1.0).contains(&out[i]), "element {i}: {}", out[i]);
            }
        }
    }

    #[test]
    fn folding_and_compiling_match_the_tree() {
        let e = Expression::parse("x * (2 + 3) - sqrt(16) + x^2").unwrap();
        // 2+3 and sqrt(16) are folded; x^2 is a multiplication.
        assert_eq!(e.code.len(), 4, "{:?}", e.code);
        assert!(
            !e.code
                .iter()
                .any(|i| matches!(i, Instr::Binary { op: BinOp::Pow, .. }))
        );
        assert_eq!(e.evaluate(&[&[3.0]], 1), [20.0]);
        let e = Expression::parse("B1").unwrap();
        assert!(e.code.is_empty());
        assert_eq!(e.evaluate(&[&[3.0, f32::INFINITY]], 2)[0], 3.0);
    }

    /// xorshift64*: a small deterministic generator for the tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn unit(&mut self) -> f32 {
            (self.next() >> 40) as f32 / (1u64 << 24) as f32
        }

        fn value(&mut self) -> f32 {
            match self.below(12) {
                0 => f32::NAN,
                1 => 0.0,
                2 => -0.0,
                3 => f32::INFINITY,
                4 => 1.0,
                5 => -2.0,
                6 => 1e30,
                _ => (self.unit() - 0.5) * 200.0,
            }
        }
    }

    const PIECES: &[&str] = &[
        "B08", "B04", "b1", "nir", "x", "min", "(", ")", "(", ")", "+", "-", "-", "*", "/", "^",
        "**", "<", "<=", ">", ">=", "==", "!=", "&&", "||", ",", ",", "abs(", "SQRT(", "exp(",
        "log(", "log10(", "min(", "Max(", "clamp(", "where(", "foo(", "1", "2.5", "1e-3", "0",
        "0.", ".5", "1e40", "1e", "3e+2", ".", "e", " ", "  ", "é", "#", "=", "&", "|", "!", ";",
        "_", "\t", "\u{0}", "2B",
    ];

    const VALID: &[&str] = &[
        "(B08-B04)/(B08+B04)",
        "where(B1 > 0.5 && B2 < 3, clamp(B1*2, 0, 1), -B2^2)",
        "min(a, b, c) + max(a, 2) - log10(abs(a) + 1)",
        "2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)",
        "sqrt(x^2 + y^2) != 0 || exp(-x) <= 1e-3",
    ];

    fn random_text(rng: &mut Rng) -> String {
        match rng.below(3) {
            0 => (0..rng.below(30))
                .map(|_| PIECES[rng.below(PIECES.len())])
                .collect(),
            1 => (0..rng.below(40))
                .map(|_| match rng.below(4) {
                    0 => char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'),
                    _ => {
                        let ascii = b" ()+-*/^<>=!&|,.;_0123456789eExyzB";
                        ascii[rng.below(ascii.len())] as char
                    }
                })
                .collect(),
            _ => {
                let mut chars: Vec<char> = VALID[rng.below(VALID.len())].chars().collect();
                for _ in 0..rng.below(4) {
                    let i = rng.below(chars.len() + 1);
                    match rng.below(3) {
                        0 if i < chars.len() => {
                            chars.remove(i);
                        }
                        1 if i < chars.len() => {
                            let p = PIECES[rng.below(PIECES.len())];
                            chars[i] = p.chars().next().unwrap_or(' ');
                        }
                        _ => {
                            let p = PIECES[rng.below(PIECES.len())];
                            for (k, ch) in p.chars().enumerate() {
                                chars.insert(i + k, ch);
                            }
                        }
                    }
                }
                chars.into_iter().collect()
            }
        }
    }

    #[test]
    fn fuzz_never_panics_and_matches_the_tree() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let (mut ok, mut failed) = (0, 0);
        for round in 0..5000 {
            let text = random_text(&mut rng);
            let parsed = Expression::parse(&text);
            let many = Expression::parse_many(&text);
            let Ok(e) = parsed else {
                failed += 1;
                let m = parsed.unwrap_err().to_string();
                assert!(m.starts_with("expression: "), "{text:?}: {m}");
                continue;
            };
            ok += 1;
            assert_eq!(many.map(|m| m.len()).ok(), Some(1), "{text:?}");
            let (tree, vars) = ast(&text).unwrap();
            assert_eq!(vars, e.variables(), "{text:?}");
            let len = if round % 50 == 0 { 2 * CHUNK + 3 } else { 33 };
            let planes: Vec<Vec<f32>> = vars
                .iter()
                .map(|_| (0..len).map(|_| rng.value()).collect())
                .collect();
            let refs: Vec<&[f32]> = planes.iter().map(Vec::as_slice).collect();
            let out = e.evaluate(&refs, len);
            assert_eq!(out.len(), len);
            for (i, &got) in out.iter().enumerate() {
                let vals: Vec<f32> = planes.iter().map(|p| p[i]).collect();
                let want = finite_or_nan(reference(&tree, &vals));
                assert!(
                    same(got, want),
                    "{text:?} element {i} ({vals:?}): got {got}, want {want}"
                );
                assert!(!got.is_infinite());
            }
            // Too few planes must not panic either.
            let _ = e.evaluate(&refs[..refs.len() / 2], len);
        }
        // The generator must exercise both outcomes substantially.
        assert!(ok > 500 && failed > 500, "ok {ok}, failed {failed}");
    }
}
