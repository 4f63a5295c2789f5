//! Check refnn's golden vectors (format version 2) and training traces in Rust, with the
//! standard library only (its own tiny JSON reader), from `docs/vectors.md` alone.
//!
//!     cargo run --release --offline -- DIR [--subnormals strict|flush] [--signed-zero strict|ignore]
//!
//! DIR is what `refnn vectors export DIR` wrote. Every op of every `<op>.json` is computed
//! here (forward and VJP, the VJP from this program's own forward output) and compared with
//! the expected values within the per-entry tolerances; every `traces/<name>.json` is
//! trained here step by step. Under `--signed-zero strict` (the default) the sign of a zero
//! is judged only in the output of a file marked `"zero_sign": "ieee"`, as `refnn conform`
//! judges it; never in VJPs or traces. Closing lines: `ops: N passed, N failed, N skipped` and
//! `traces: N passed, N failed`. Exit status 0 when all pass, 1 on a failure, 2 on bad usage
//! or an unreadable file.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::ExitCode;

const FORMAT: &str = "refnn-golden-vectors";
const TRACE_FORMAT: &str = "refnn-training-trace";
const VERSION: f64 = 2.0;
const MIN_NORMAL: f64 = 2.2250738585072014e-308; // 2^-1022

// ------------------------------------------------------------------ a tiny JSON reader
#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
    }
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("JSON: {} at byte {}", what, self.i))
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.i < self.s.len() && self.s[self.i] == c {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected '{}'", c as char))
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        if self.i >= self.s.len() {
            return self.err("unexpected end");
        }
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut out = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(out));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    let v = self.value()?;
                    out.push((k, v));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(out));
                        }
                        _ => return self.err("expected ',' or '}'"),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut out = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(out));
                }
                loop {
                    out.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(out));
                        }
                        _ => return self.err("expected ',' or ']'"),
                    }
                }
            }
            b'"' => Ok(Json::Str(self.string()?)),
            b't' if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Json::Bool(true))
            }
            b'f' if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Json::Bool(false))
            }
            b'n' if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Json::Null)
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                t.parse::<f64>().map(Json::Num).or_else(|_| self.err("bad number"))
            }
        }
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let t = self.s.get(self.i..self.i + 4).ok_or("JSON: short \\u escape")?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(t).unwrap_or("x"), 16)
            .map_err(|_| "JSON: bad \\u escape".to_string())
    }
    fn string(&mut self) -> Result<String, String> {
        self.ws();
        if self.s.get(self.i) != Some(&b'"') {
            return self.err("expected a string");
        }
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or("JSON: unterminated string")?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("JSON: bad escape")?;
                    self.i += 1;
                    let ch: char = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut u = self.hex4()?;
                            if (0xD800..0xDC00).contains(&u) && self.s[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            char::from_u32(u).unwrap_or('\u{fffd}')
                        }
                        _ => return self.err("bad escape"),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| "JSON: invalid UTF-8".to_string())
    }
}

fn parse_json(text: &str) -> Result<Json, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return p.err("trailing characters");
    }
    Ok(v)
}

impl Json {
    fn get(&self, key: &str) -> Result<&Json, String> {
        if let Json::Obj(kv) = self {
            for (k, v) in kv {
                if k == key {
                    return Ok(v);
                }
            }
        }
        Err(format!("missing field {:?}", key))
    }
    fn has(&self, key: &str) -> bool {
        self.get(key).is_ok()
    }
    fn arr(&self) -> Result<&Vec<Json>, String> {
        match self {
            Json::Arr(a) => Ok(a),
            _ => Err("expected an array".into()),
        }
    }
    fn str(&self) -> Result<&str, String> {
        match self {
            Json::Str(s) => Ok(s),
            _ => Err("expected a string".into()),
        }
    }
    fn num(&self) -> Result<f64, String> {
        match self {
            Json::Num(x) => Ok(*x),
            _ => Err("expected a number".into()),
        }
    }
    fn boolean(&self) -> bool {
        matches!(self, Json::Bool(true))
    }
}

// ------------------------------------------------------------------ numbers
/// A C99 hex float (`-0x1.8p+1`, `0x0.0000000000001p-1022`) as the exact double.
fn parse_hex(s: &str) -> Result<f64, String> {
    let bad = || format!("not a hex float: {}", s);
    let (neg, t) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let t = t.strip_prefix("0x").ok_or_else(bad)?;
    let (mant, exp) = t.split_once('p').ok_or_else(bad)?;
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    let mut m: u64 = 0;
    for c in ip.chars().chain(fp.chars()) {
        let d = c.to_digit(16).ok_or_else(bad)? as u64;
        if m >> 60 != 0 {
            return Err(bad());
        }
        m = m * 16 + d;
    }
    let mut e: i64 = exp.parse::<i64>().map_err(|_| bad())? - 4 * fp.len() as i64;
    let mut v = if m == 0 { 0.0 } else {
        while m % 2 == 0 {
            m /= 2;
            e += 1;
        }
        m as f64 // at most 53 significant bits: exact
    };
    // exact power-of-two steps; only a subnormal result could round, and it is exact here
    while e > 0 {
        let k = e.min(1000);
        v *= 2f64.powi(k as i32);
        e -= k;
    }
    while e < 0 {
        let k = (-e).min(1000);
        v /= 2f64.powi(k as i32);
        e += k;
    }
    Ok(if neg { -v } else { v })
}

#[derive(Clone, Copy, PartialEq)]
enum Subnormals {
    Strict,
    Flush,
}
#[derive(Clone, Copy, PartialEq)]
enum SignedZero {
    Strict,
    Ignore,
}
#[derive(Clone, Copy)]
struct Policy {
    subnormals: Subnormals,
    signed_zero: SignedZero,
}

impl Policy {
    fn flush(&self, x: f64) -> f64 {
        if self.subnormals == Subnormals::Flush && x != 0.0 && x.abs() < MIN_NORMAL {
            if x < 0.0 { -0.0 } else { 0.0 }
        } else {
            x
        }
    }
}

fn read_number(j: &Json, what: &str) -> Result<f64, String> {
    let d: f64 = j.get("decimal")?.str()?.parse().map_err(|_| format!("{}: bad decimal", what))?;
    let h = parse_hex(j.get("hex")?.str()?)?;
    if d.to_bits() != h.to_bits() {
        return Err(format!("{}: decimal {} and hex {} differ", what, d, h));
    }
    Ok(d)
}

#[derive(Clone, Debug)]
struct Mat {
    r: usize,
    c: usize,
    d: Vec<f64>,
}

fn read_matrix(j: &Json, what: &str, pol: Option<&Policy>) -> Result<Mat, String> {
    let r = j.get("rows")?.num()? as usize;
    let c = j.get("cols")?.num()? as usize;
    let dec = j.get("decimal")?.arr()?;
    let hex = j.get("hex")?.arr()?;
    if dec.len() != r * c || hex.len() != r * c {
        return Err(format!("{}: {} entries for {}×{}", what, dec.len(), r, c));
    }
    let mut d = Vec::with_capacity(r * c);
    for (a, b) in dec.iter().zip(hex) {
        let x: f64 = a.str()?.parse().map_err(|_| format!("{}: bad decimal", what))?;
        let y = parse_hex(b.str()?)?;
        if x.to_bits() != y.to_bits() {
            return Err(format!("{}: decimal {} and hex {} differ", what, x, y));
        }
        d.push(match pol {
            Some(p) => p.flush(x),
            None => x,
        });
    }
    Ok(Mat { r, c, d })
}

// ------------------------------------------------------------------ the ops
// Each follows its file's "definition" (formula and VJP), in the same order of operations
// wherever the sign of a zero depends on it.
type R<T> = Result<T, String>;

fn mat(r: usize, c: usize, d: Vec<f64>) -> Mat {
    Mat { r, c, d }
}
fn map(a: &Mat, f: impl Fn(f64) -> f64) -> Mat {
    mat(a.r, a.c, a.d.iter().map(|&x| f(x)).collect())
}
fn zip(a: &Mat, b: &Mat, f: impl Fn(f64, f64) -> f64) -> R<Mat> {
    if a.r != b.r || a.c != b.c {
        return Err(format!("shape mismatch {}×{} and {}×{}", a.r, a.c, b.r, b.c));
    }
    Ok(mat(a.r, a.c, a.d.iter().zip(&b.d).map(|(&x, &y)| f(x, y)).collect()))
}
fn at(a: &Mat, i: usize, j: usize) -> f64 {
    a.d[i * a.c + j]
}
fn add(a: &Mat, b: &Mat) -> R<Mat> {
    zip(a, b, |x, y| x + y)
}
fn sub(a: &Mat, b: &Mat) -> R<Mat> {
    zip(a, b, |x, y| x - y)
}
fn had(a: &Mat, b: &Mat) -> R<Mat> {
    zip(a, b, |x, y| x * y)
}
fn div(a: &Mat, b: &Mat) -> R<Mat> {
    if b.d.iter().any(|&y| y == 0.0) {
        return Err("division by a zero entry".into());
    }
    zip(a, b, |x, y| x / y)
}
fn neg(a: &Mat) -> Mat {
    map(a, |x| -x)
}
fn scale(c: f64, a: &Mat) -> Mat {
    map(a, |x| c * x)
}
fn square(a: &Mat) -> Mat {
    map(a, |x| x * x)
}
fn step1(x: f64) -> f64 {
    if x > 0.0 { 1.0 } else { 0.0 }
}
fn relu1(x: f64) -> f64 {
    if x > 0.0 { x } else { 0.0 * x }
}
fn pymax(a: f64, b: f64) -> f64 {
    if b > a { b } else { a } // Python's max: the first argument on a tie
}
fn pymin(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}
fn sigmoid1(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}
fn softplus1(x: f64) -> f64 {
    pymax(x, 0.0) + (-x.abs()).exp().ln_1p()
}
fn transpose(a: &Mat) -> Mat {
    let mut d = vec![0.0; a.r * a.c];
    for i in 0..a.r {
        for j in 0..a.c {
            d[j * a.r + i] = at(a, i, j);
        }
    }
    mat(a.c, a.r, d)
}
fn matmul(a: &Mat, b: &Mat) -> R<Mat> {
    if a.c != b.r {
        return Err("matmul shape mismatch".into());
    }
    let mut d = Vec::with_capacity(a.r * b.c);
    for i in 0..a.r {
        for j in 0..b.c {
            let mut s = at(a, i, 0) * at(b, 0, j); // from the first product
            for k in 1..a.c {
                s += at(a, i, k) * at(b, k, j);
            }
            d.push(s);
        }
    }
    Ok(mat(a.r, b.c, d))
}
fn sum_list(xs: impl Iterator<Item = f64>) -> f64 {
    let mut s = 0.0; // sums start from +0
    for x in xs {
        s += x;
    }
    s
}
fn sum(a: &Mat) -> Mat {
    mat(1, 1, vec![sum_list(a.d.iter().copied())])
}
fn sum_rows(a: &Mat) -> Mat {
    if a.r == 1 {
        return a.clone();
    }
    mat(1, a.c, (0..a.c).map(|j| sum_list((0..a.r).map(|i| at(a, i, j)))).collect())
}
fn sum_cols(a: &Mat) -> Mat {
    if a.c == 1 {
        return a.clone();
    }
    mat(a.r, 1, (0..a.r).map(|i| sum_list((0..a.c).map(|j| at(a, i, j)))).collect())
}
fn broadcast(a: &Mat, m: usize, n: usize) -> R<Mat> {
    if !((a.r == 1 || a.r == m) && (a.c == 1 || a.c == n)) {
        return Err(format!("broadcast of {}×{} to {}×{}", a.r, a.c, m, n));
    }
    let mut d = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            d.push(at(a, if a.r == 1 { 0 } else { i }, if a.c == 1 { 0 } else { j }));
        }
    }
    Ok(mat(m, n, d))
}
fn concat_cols(a: &Mat, b: &Mat) -> R<Mat> {
    if a.r != b.r {
        return Err("concat_cols needs equal row counts".into());
    }
    let mut d = Vec::new();
    for i in 0..a.r {
        d.extend_from_slice(&a.d[i * a.c..(i + 1) * a.c]);
        d.extend_from_slice(&b.d[i * b.c..(i + 1) * b.c]);
    }
    Ok(mat(a.r, a.c + b.c, d))
}
fn slice_cols(a: &Mat, j1: usize, j2: usize) -> R<Mat> {
    if !(1 <= j1 && j1 <= j2 && j2 <= a.c) {
        return Err(format!("slice_cols {}..{} of {} columns", j1, j2, a.c));
    }
    let mut d = Vec::new();
    for i in 0..a.r {
        d.extend_from_slice(&a.d[i * a.c + j1 - 1..i * a.c + j2]);
    }
    Ok(mat(a.r, j2 - j1 + 1, d))
}
fn zeros_like(g: &Mat, m: usize, k: usize) -> R<Mat> {
    broadcast(&scale(0.0, &sum(g)), m, k) // 0·Σg: the zero's sign
}
fn rows_of(a: &Mat) -> impl Iterator<Item = &[f64]> {
    a.d.chunks(a.c)
}
fn softmax_rows(a: &Mat) -> Mat {
    let mut d = Vec::new();
    for r in rows_of(a) {
        let mx = r.iter().copied().fold(r[0], pymax);
        let e: Vec<f64> = r.iter().map(|&x| (x - mx).exp()).collect();
        let s = sum_list(e.iter().copied());
        d.extend(e.iter().map(|&v| v / s));
    }
    mat(a.r, a.c, d)
}
fn log_softmax_rows(a: &Mat) -> Mat {
    let mut d = Vec::new();
    for r in rows_of(a) {
        let mx = r.iter().copied().fold(r[0], pymax);
        let lse = sum_list(r.iter().map(|&x| (x - mx).exp())).ln();
        d.extend(r.iter().map(|&x| x - mx - lse));
    }
    mat(a.r, a.c, d)
}
fn pow_op(a: &Mat, p: f64) -> R<Mat> {
    for &x in &a.d {
        if x < 0.0 && p.fract() != 0.0 {
            return Err("pow of a negative entry to a non-integer power".into());
        }
        if x == 0.0 && p < 0.0 {
            return Err("pow of a zero entry to a negative power".into());
        }
    }
    Ok(map(a, |x| x.powf(p)))
}
fn usize_param(p: f64) -> R<usize> {
    if p.fract() != 0.0 || p < 0.0 {
        return Err(format!("integer parameter {}", p));
    }
    Ok(p as usize)
}

/// The forward of `op`.
fn forward(op: &str, x: &[Mat], p: &[f64]) -> R<Mat> {
    let a = &x[0];
    Ok(match op {
        "add" => add(a, &x[1])?,
        "sub" => sub(a, &x[1])?,
        "neg" => neg(a),
        "hadamard" => had(a, &x[1])?,
        "scale" => scale(p[0], a),
        "add_scalar" => map(a, |v| v + p[0]),
        "div" => div(a, &x[1])?,
        "matmul" => matmul(a, &x[1])?,
        "transpose" => transpose(a),
        "broadcast" => broadcast(a, usize_param(p[0])?, usize_param(p[1])?)?,
        "add_row" => {
            let b = &x[1];
            if b.r != 1 || b.c != a.c {
                return Err("add_row needs a 1×n row".into());
            }
            add(a, &broadcast(b, a.r, a.c)?)?
        }
        "concat_cols" => concat_cols(a, &x[1])?,
        "slice_cols" => slice_cols(a, usize_param(p[0])?, usize_param(p[1])?)?,
        "sum" => sum(a),
        "sum_rows" => sum_rows(a),
        "sum_cols" => sum_cols(a),
        "mean" => mat(1, 1, vec![sum_list(a.d.iter().copied()) / (a.d.len() as f64)]),
        "exp" => map(a, f64::exp),
        "log" => {
            if a.d.iter().any(|&v| !(v > 0.0)) {
                return Err("log needs positive entries".into());
            }
            map(a, f64::ln)
        }
        "sqrt" => {
            if a.d.iter().any(|&v| v < 0.0) {
                return Err("sqrt needs non-negative entries".into());
            }
            map(a, f64::sqrt)
        }
        "pow" => pow_op(a, p[0])?,
        "square" => square(a),
        "tanh" => map(a, f64::tanh),
        "sigmoid" => map(a, sigmoid1),
        "softplus" => map(a, softplus1),
        "sin" => map(a, f64::sin),
        "cos" => map(a, f64::cos),
        "step" => map(a, step1),
        "relu" => map(a, relu1),
        "leaky_relu" => sub(&map(a, relu1), &scale(p[0], &map(&neg(a), relu1)))?,
        "clip" => {
            let (lo, hi) = (p[0], p[1]);
            if !(lo <= hi) {
                return Err("clip needs lo ≤ hi".into());
            }
            map(a, |v| pymin(pymax(v, lo), hi))
        }
        "softmax_rows" => softmax_rows(a),
        "log_softmax_rows" => log_softmax_rows(a),
        _ => return Err(format!("no implementation of op {}", op)),
    })
}

/// The VJP of `op`: one cotangent per matrix input, from the cotangent g and this
/// program's own forward output y.
fn vjp(op: &str, g: &Mat, y: &Mat, x: &[Mat], p: &[f64]) -> R<Vec<Mat>> {
    let a = &x[0];
    Ok(match op {
        "add" => vec![g.clone(), g.clone()],
        "sub" => vec![g.clone(), neg(g)],
        "neg" => vec![neg(g)],
        "hadamard" => vec![had(g, &x[1])?, had(g, a)?],
        "scale" => vec![scale(p[0], g)],
        "add_scalar" => vec![g.clone()],
        "div" => {
            let ga = div(g, &x[1])?;
            let gb = neg(&had(&ga, y)?);
            vec![ga, gb]
        }
        "matmul" => vec![matmul(g, &transpose(&x[1]))?, matmul(&transpose(a), g)?],
        "transpose" => vec![transpose(g)],
        "broadcast" => {
            let (m, n) = (usize_param(p[0])?, usize_param(p[1])?);
            vec![if a.r == m && a.c == n {
                g.clone()
            } else if a.r == 1 && a.c == 1 {
                sum(g)
            } else if a.r == 1 {
                sum_rows(g)
            } else {
                sum_cols(g)
            }]
        }
        "add_row" => vec![g.clone(), sum_rows(g)],
        "concat_cols" => vec![slice_cols(g, 1, a.c)?, slice_cols(g, a.c + 1, y.c)?],
        "slice_cols" => {
            let (j1, j2) = (usize_param(p[0])?, usize_param(p[1])?);
            let mut out = g.clone();
            if j1 > 1 {
                out = concat_cols(&zeros_like(g, a.r, j1 - 1)?, &out)?;
            }
            if j2 < a.c {
                out = concat_cols(&out, &zeros_like(g, a.r, a.c - j2)?)?;
            }
            vec![out]
        }
        "sum" | "sum_rows" | "sum_cols" => vec![broadcast(g, a.r, a.c)?],
        "mean" => vec![broadcast(&scale(1.0 / (a.d.len() as f64), g), a.r, a.c)?],
        "exp" => vec![had(g, y)?],
        "log" => vec![div(g, a)?],
        "sqrt" => vec![div(g, &scale(2.0, y))?],
        "pow" => {
            let q = p[0];
            vec![if q == 0.0 {
                scale(0.0, g)
            } else if q == 1.0 {
                g.clone()
            } else {
                had(g, &scale(q, &pow_op(a, q - 1.0)?))?
            }]
        }
        "square" => vec![had(g, &scale(2.0, a))?],
        "tanh" => vec![sub(g, &had(g, &square(y))?)?],
        "sigmoid" => vec![had(g, &sub(y, &square(y))?)?],
        "softplus" => vec![had(g, &map(a, sigmoid1))?],
        "sin" => vec![had(g, &map(a, f64::cos))?],
        "cos" => vec![neg(&had(g, &map(a, f64::sin))?)],
        "step" => vec![scale(0.0, g)],
        "relu" => vec![had(g, &map(a, step1))?],
        "leaky_relu" => {
            let s = p[0];
            vec![add(&scale(s, g), &scale(1.0 - s, &had(g, &map(a, step1))?))?]
        }
        "clip" => {
            let (lo, hi) = (p[0], p[1]);
            let inside_lo = map(&map(a, |v| v + (-lo)), step1);
            let inside_hi = map(&neg(&map(a, |v| v + (-hi))), step1);
            vec![had(g, &had(&inside_lo, &inside_hi)?)?]
        }
        "softmax_rows" => {
            let gy = had(g, y)?;
            vec![sub(&gy, &had(y, &broadcast(&sum_cols(&gy), y.r, y.c)?)?)?]
        }
        "log_softmax_rows" => {
            vec![sub(g, &had(&map(y, f64::exp), &broadcast(&sum_cols(g), y.r, y.c)?)?)?]
        }
        _ => return Err(format!("no VJP of op {}", op)),
    })
}

// ------------------------------------------------------------------ comparison
fn sign(x: f64) -> char {
    if x.is_sign_negative() { '-' } else { '+' }
}

thread_local! {
    /// The largest |error|/tolerance seen (reported for traces).
    static WORST: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// The first mismatch between got and expected, or None. `signs`: whether the sign of a zero
/// is judged (the output of a `"zero_sign": "ieee"` file, under strict).
fn mismatch(pol: &Policy, got: f64, want: f64, tol: f64, signs: bool) -> Option<String> {
    let g = pol.flush(got);
    if tol > 0.0 && g.is_finite() {
        WORST.with(|w| w.set(w.get().max((g - want).abs() / tol)));
    }
    if !g.is_finite() {
        return Some(format!("got {}, expected {:e}", g, want));
    }
    let err = (g - want).abs();
    if !(err <= tol) {
        return Some(format!("got {:e}, expected {:e}, |error| {:e} > tolerance {:e}", g, want, err, tol));
    }
    if signs && pol.signed_zero == SignedZero::Strict && g == 0.0 && want == 0.0 && sign(g) != sign(want) {
        return Some(format!("signed zero: got {}0, expected {}0", sign(g), sign(want)));
    }
    None
}

fn compare(pol: &Policy, got: &Mat, want: &Mat, tol: &Mat, label: &str, fails: &mut Vec<String>, signs: bool) {
    if got.r != want.r || got.c != want.c {
        fails.push(format!("{}: shape {}×{}, expected {}×{}", label, got.r, got.c, want.r, want.c));
        return;
    }
    for k in 0..got.d.len() {
        if let Some(m) = mismatch(pol, got.d[k], want.d[k], tol.d[k], signs) {
            fails.push(format!("{} entry [{}, {}]: {}", label, k / got.c + 1, k % got.c + 1, m));
        }
    }
}

struct OpResult {
    op: String,
    cases: usize,
    entries: usize,
    policy_skipped: usize,
    fails: Vec<String>,
}

fn check_op_file(path: &Path, pol: &Policy) -> R<OpResult> {
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
    let doc = parse_json(&text)?;
    if doc.get("format")?.str()? != FORMAT || doc.get("version")?.num()? != VERSION {
        return Err("unsupported format or version".into());
    }
    let op = doc.get("op")?.str()?.to_string();
    let signs = match doc.get("zero_sign")?.str()? {
        "ieee" => true,
        "unspecified" => false,
        other => return Err(format!("zero_sign is {}, expected ieee or unspecified", other)),
    };
    let cases = doc.get("cases")?.arr()?;
    let mut res = OpResult { op: op.clone(), cases: cases.len(), entries: 0, policy_skipped: 0, fails: vec![] };
    for (n, c) in cases.iter().enumerate() {
        let label = format!("{} case {}", op, n + 1);
        if pol.subnormals == Subnormals::Flush && c.get("subnormal")?.boolean() {
            res.policy_skipped += 1;
            continue;
        }
        let mut xs = Vec::new();
        for (k, m) in c.get("inputs")?.arr()?.iter().enumerate() {
            xs.push(read_matrix(m, &format!("{} input {}", label, k + 1), Some(pol))?);
        }
        let mut ps = Vec::new();
        for p in c.get("params")?.arr()? {
            let v = read_number(p, &label)?;
            if p.get("kind")?.str()? == "integer" && v.fract() != 0.0 {
                return Err(format!("{}: integer parameter {}", label, v));
            }
            ps.push(v);
        }
        let g = read_matrix(c.get("cotangent")?, &label, Some(pol))?;
        let want = read_matrix(c.get("output")?, &label, Some(pol))?;
        let tol = read_matrix(c.get("output_tolerance")?, &label, None)?;
        let y = match forward(&op, &xs, &ps) {
            Ok(y) => y,
            Err(e) => {
                res.fails.push(format!("{}: the forward failed: {}", label, e));
                continue;
            }
        };
        res.entries += y.d.len();
        compare(pol, &y, &want, &tol, &format!("{} output", label), &mut res.fails, signs);
        let cts = match vjp(&op, &g, &y, &xs, &ps) {
            Ok(v) => v,
            Err(e) => {
                res.fails.push(format!("{}: the VJP failed: {}", label, e));
                continue;
            }
        };
        let wv = c.get("vjp")?.arr()?;
        let tv = c.get("vjp_tolerance")?.arr()?;
        for (k, ct) in cts.iter().enumerate() {
            res.entries += ct.d.len();
            let w = read_matrix(&wv[k], &label, Some(pol))?;
            let t = read_matrix(&tv[k], &label, None)?;
            compare(pol, ct, &w, &t, &format!("{} vjp of input {}", label, k + 1), &mut res.fails, false);
        }
    }
    Ok(res)
}

// ------------------------------------------------------------------ training traces
struct Layer {
    kind: String,
    weight: String,
    bias: String,
    omega0: f64,
}

enum Saved {
    Dense(Mat),
    Tanh(Mat),
    Sine(Mat),
}

fn trace_forward(layers: &[Layer], p: &BTreeMap<String, Mat>, x: &Mat) -> R<(Mat, Vec<Saved>)> {
    let mut h = x.clone();
    let mut tape = Vec::new();
    for l in layers {
        match l.kind.as_str() {
            "dense" => {
                let w = &p[&l.weight];
                let b = &p[&l.bias];
                let z = add(&matmul(&h, w)?, &broadcast(b, h.r, b.c)?)?;
                tape.push(Saved::Dense(h));
                h = z;
            }
            "tanh" => {
                h = map(&h, f64::tanh);
                tape.push(Saved::Tanh(h.clone()));
            }
            "sine" => {
                let s = scale(l.omega0, &h);
                h = map(&s, f64::sin);
                tape.push(Saved::Sine(s));
            }
            k => return Err(format!("unknown layer kind {}", k)),
        }
    }
    Ok((h, tape))
}

fn trace_loss(kind: &str, z: &Mat, y: &Mat) -> R<(f64, Mat)> {
    let n = z.d.len() as f64;
    let c = 1.0 / n; // the mean's VJP: the double nearest 1/m times the seed 1
    match kind {
        "mse" => {
            let d = sub(z, y)?;
            let loss = sum_list(square(&d).d.into_iter()) / n;
            Ok((loss, had(&map(&d, |_| c), &scale(2.0, &d))?))
        }
        "bce_with_logits" => {
            let terms = sub(&map(z, softplus1), &had(y, z)?)?;
            let loss = sum_list(terms.d.into_iter()) / n;
            let gm = map(z, |_| c);
            Ok((loss, add(&had(&gm, &map(z, sigmoid1))?, &had(&neg(&gm), y)?)?))
        }
        k => Err(format!("unknown loss {}", k)),
    }
}

fn trace_backward(layers: &[Layer], tape: &[Saved], p: &BTreeMap<String, Mat>, mut g: Mat) -> R<BTreeMap<String, Mat>> {
    let mut grads = BTreeMap::new();
    for k in (0..layers.len()).rev() {
        let l = &layers[k];
        match &tape[k] {
            Saved::Dense(x) => {
                grads.insert(l.weight.clone(), matmul(&transpose(x), &g)?);
                grads.insert(l.bias.clone(), sum_rows(&g));
                if k > 0 {
                    g = matmul(&g, &transpose(&p[&l.weight]))?;
                }
            }
            Saved::Tanh(y) => g = sub(&g, &had(&g, &square(y))?)?,
            Saved::Sine(s) => g = scale(l.omega0, &had(&g, &map(s, f64::cos))?),
        }
    }
    Ok(grads)
}

struct Opt {
    kind: String,
    lr: f64,
    momentum: f64,
    b1: f64,
    b2: f64,
    eps: f64,
    t: i32,
    m: BTreeMap<String, Mat>,
    v: BTreeMap<String, Mat>,
}

impl Opt {
    fn update(&mut self, p: &mut BTreeMap<String, Mat>, g: &BTreeMap<String, Mat>, names: &[String]) -> R<()> {
        self.t += 1;
        for n in names {
            let gn = g.get(n).ok_or(format!("no gradient for {}", n))?;
            let old = p[n].clone();
            let zeros = scale(0.0, &old);
            let new = match self.kind.as_str() {
                "sgd" => sub(&old, &scale(self.lr, gn))?,
                "momentum" => {
                    let v = self.v.get(n).cloned().unwrap_or(zeros);
                    let v = add(&scale(self.momentum, &v), gn)?;
                    self.v.insert(n.clone(), v.clone());
                    sub(&old, &scale(self.lr, &v))?
                }
                "adam" => {
                    let step_size = self.lr / (1.0 - self.b1.powf(self.t as f64));
                    let v_corr = 1.0 / (1.0 - self.b2.powf(self.t as f64));
                    let m = self.m.get(n).cloned().unwrap_or(zeros.clone());
                    let v = self.v.get(n).cloned().unwrap_or(zeros);
                    let m = add(&scale(self.b1, &m), &scale(1.0 - self.b1, gn))?;
                    let v = add(&scale(self.b2, &v), &scale(1.0 - self.b2, &square(gn)))?;
                    let denom = map(&map(&scale(v_corr, &v), f64::sqrt), |x| x + self.eps);
                    let delta = div(&scale(step_size, &m), &denom)?;
                    self.m.insert(n.clone(), m);
                    self.v.insert(n.clone(), v);
                    sub(&old, &delta)?
                }
                k => return Err(format!("unknown optimizer {}", k)),
            };
            p.insert(n.clone(), new);
        }
        Ok(())
    }
}

struct TraceResult {
    name: String,
    steps: usize,
    numbers: usize,
    fails: Vec<String>,
    worst: f64,
}

fn check_trace(path: &Path, pol: &Policy) -> R<TraceResult> {
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
    let doc = parse_json(&text)?;
    if doc.get("format")?.str()? != TRACE_FORMAT || doc.get("version")?.num()? != VERSION {
        return Err("unsupported trace format or version".into());
    }
    let mut layers = Vec::new();
    for l in doc.get("layers")?.arr()? {
        let kind = l.get("kind")?.str()?.to_string();
        let s = |k: &str| l.get(k).and_then(|v| v.str().map(String::from)).unwrap_or_default();
        let omega0 = if l.has("omega0") { read_number(l.get("omega0")?, "omega0")? } else { 0.0 };
        layers.push(Layer { weight: s("weight"), bias: s("bias"), kind, omega0 });
    }
    let mut p = BTreeMap::new();
    let mut names = Vec::new();
    for e in doc.get("initial_params")?.arr()? {
        let n = e.get("name")?.str()?.to_string();
        p.insert(n.clone(), read_matrix(e.get("value")?, &n, Some(pol))?);
        names.push(n);
    }
    let x = read_matrix(doc.get("data")?.get("X")?, "X", Some(pol))?;
    let y = read_matrix(doc.get("data")?.get("Y")?, "Y", Some(pol))?;
    let o = doc.get("optimizer")?;
    let num = |k: &str| -> R<f64> { if o.has(k) { read_number(o.get(k)?, k) } else { Ok(0.0) } };
    let mut opt = Opt {
        kind: o.get("kind")?.str()?.to_string(),
        lr: num("lr")?,
        momentum: num("momentum")?,
        b1: num("b1")?,
        b2: num("b2")?,
        eps: num("eps")?,
        t: 0,
        m: BTreeMap::new(),
        v: BTreeMap::new(),
    };
    let loss_kind = doc.get("loss")?.get("kind")?.str()?.to_string();
    let steps = doc.get("steps")?.arr()?;
    let mut res = TraceResult { name: doc.get("name")?.str()?.to_string(), steps: steps.len(), numbers: 0, fails: vec![], worst: 0.0 };
    WORST.with(|w| w.set(0.0));
    for s in steps {
        let k = s.get("step")?.num()? as usize;
        let (out, tape) = trace_forward(&layers, &p, &x)?;
        let (loss, g) = trace_loss(&loss_kind, &out, &y)?;
        let grads = trace_backward(&layers, &tape, &p, g)?;
        opt.update(&mut p, &grads, &names)?;
        res.numbers += 1;
        let want = read_number(s.get("loss")?, "loss")?;
        let tol = read_number(s.get("loss_tolerance")?, "loss tolerance")?;
        if let Some(m) = mismatch(pol, loss, want, tol, false) {
            res.fails.push(format!("step {} loss: {}", k, m));
        }
        for e in s.get("grads")?.arr()? {
            let n = e.get("name")?.str()?;
            let w = read_matrix(e.get("value")?, n, Some(pol))?;
            let t = read_matrix(e.get("tolerance")?, n, None)?;
            res.numbers += w.d.len();
            let got = grads.get(n).ok_or(format!("no gradient for {}", n))?;
            compare(pol, got, &w, &t, &format!("step {} gradient of {}", k, n), &mut res.fails, false);
        }
        for e in s.get("params_after")?.arr()? {
            let n = e.get("name")?.str()?;
            let w = read_matrix(e.get("value")?, n, Some(pol))?;
            let t = read_matrix(e.get("tolerance")?, n, None)?;
            res.numbers += w.d.len();
            compare(pol, &p[n], &w, &t, &format!("step {} {} after the update", k, n), &mut res.fails, false);
        }
    }
    res.worst = WORST.with(|w| w.get());
    Ok(res)
}

// ------------------------------------------------------------------ main
const USAGE: &str = "usage: check_vectors DIR [--subnormals strict|flush] [--signed-zero strict|ignore]";

fn json_files(dir: &Path) -> R<Vec<std::path::PathBuf>> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {}", dir.display(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().map_or(false, |x| x == "json") && p.file_name().map_or(false, |n| n != "index.json"))
        .collect();
    out.sort();
    Ok(out)
}

fn run(args: &[String]) -> R<bool> {
    let mut pol = Policy { subnormals: Subnormals::Strict, signed_zero: SignedZero::Strict };
    let mut dir: Option<&str> = None;
    let mut k = 0;
    while k < args.len() {
        match args[k].as_str() {
            "--subnormals" => {
                k += 1;
                pol.subnormals = match args.get(k).map(String::as_str) {
                    Some("strict") => Subnormals::Strict,
                    Some("flush") => Subnormals::Flush,
                    _ => return Err(format!("--subnormals takes strict or flush\n{}", USAGE)),
                }
            }
            "--signed-zero" => {
                k += 1;
                pol.signed_zero = match args.get(k).map(String::as_str) {
                    Some("strict") => SignedZero::Strict,
                    Some("ignore") => SignedZero::Ignore,
                    _ => return Err(format!("--signed-zero takes strict or ignore\n{}", USAGE)),
                }
            }
            a if dir.is_none() && !a.starts_with("--") => dir = Some(a),
            a => return Err(format!("unexpected argument {}\n{}", a, USAGE)),
        }
        k += 1;
    }
    let dir = Path::new(dir.ok_or(USAGE)?);
    let files = json_files(dir)?;
    if files.is_empty() {
        return Err(format!("no vector files in {}", dir.display()));
    }
    println!(
        "policy: subnormals={}, signed_zero={}",
        if pol.subnormals == Subnormals::Flush { "flush" } else { "strict" },
        if pol.signed_zero == SignedZero::Ignore { "ignore" } else { "strict" }
    );
    let (mut passed, mut failed, mut policy_skipped) = (0, 0, 0);
    for f in &files {
        let r = check_op_file(f, &pol).map_err(|e| format!("{}: {}", f.display(), e))?;
        policy_skipped += r.policy_skipped;
        let note = if r.policy_skipped > 0 { format!(", {} skipped by policy", r.policy_skipped) } else { String::new() };
        if r.fails.is_empty() {
            passed += 1;
            println!("ok    {} ({} cases, {} entries{})", r.op, r.cases, r.entries, note);
        } else {
            failed += 1;
            println!("FAIL  {}", r.op);
            for m in &r.fails {
                println!("      {}", m);
            }
        }
    }
    println!("ops: {} passed, {} failed, 0 skipped", passed, failed);
    println!(
        "cases skipped by policy (subnormals={}): {}",
        if pol.subnormals == Subnormals::Flush { "flush" } else { "strict" },
        policy_skipped
    );
    let tdir = dir.join("traces");
    let traces = if tdir.is_dir() { json_files(&tdir)? } else { vec![] };
    let (mut tpassed, mut tfailed) = (0, 0);
    for f in &traces {
        let r = check_trace(f, &pol).map_err(|e| format!("{}: {}", f.display(), e))?;
        if r.fails.is_empty() {
            tpassed += 1;
            println!(
                "ok    trace {} ({} steps, {} numbers, at most {:.2}% of a tolerance used)",
                r.name, r.steps, r.numbers, 100.0 * r.worst
            );
        } else {
            tfailed += 1;
            println!("FAIL  trace {}: first failure at {}", r.name, r.fails[0]);
            for m in r.fails.iter().skip(1).take(5) {
                println!("      {}", m);
            }
        }
    }
    println!("traces: {} passed, {} failed", tpassed, tfailed);
    Ok(failed == 0 && tfailed == 0)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{}", e);
            ExitCode::from(2)
        }
    }
}
