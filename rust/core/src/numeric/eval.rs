//! A small evaluator of closed-form LaTeX arithmetic (`\frac`, `\sqrt`, `\pi`, `^`, `\cdot`):
//! a lexer that reads each token once and a recursive-descent parser with a depth limit, so
//! it is linear in its input. The tests hold the lexer to a plain tokenizer.

use super::fast::digits_end;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(f64),
    Plus,
    Minus,
    Mul,
    Div,
    Pow,
    Open(u8),
    Close(u8),
    Frac,
    Sqrt,
    Pi,
}

/// A closed-form answer longer than this many tokens is not evaluated.
const MAX_TOKENS: usize = 4096;

/// The tokens of a closed-form answer, read one at a time as the evaluator asks.
struct Lexer<'a> {
    s: &'a str,
    i: usize,
    /// tokens read so far
    count: usize,
    /// set when the text holds something that is no token (the whole text is refused)
    failed: bool,
    /// where the last token read starts
    start: usize,
}

impl Lexer<'_> {
    /// The next token; `None` at the end, or on failure (then `failed` is set).
    fn next_token(&mut self) -> Option<Tok> {
        let tok = self.lex();
        if tok.is_none() && self.i < self.s.len() {
            self.failed = true;
        }
        tok
    }

    fn lex(&mut self) -> Option<Tok> {
        let (s, bytes) = (self.s, self.s.as_bytes());
        while self.i < bytes.len() {
            if self.count > MAX_TOKENS {
                return None;
            }
            let i = self.i;
            self.start = i;
            let b = bytes[i];
            if b.is_ascii_digit() || b == b'.' {
                let mut j = digits_end(bytes, i);
                if bytes.get(j) == Some(&b'.') {
                    j = digits_end(bytes, j + 1);
                }
                let v = s[i..j].parse::<f64>().ok()?;
                self.i = j;
                self.count += 1;
                return Some(Tok::Num(v));
            }
            if b == b'\\' {
                let start = i + 1;
                let j = start + bytes[start..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
                let tok = match &s[start..j] {
                    "frac" => Tok::Frac,
                    "sqrt" => Tok::Sqrt,
                    "cdot" | "times" | "ast" => Tok::Mul,
                    "div" => Tok::Div,
                    _ => return None,
                };
                self.i = j;
                self.count += 1;
                return Some(tok);
            }
            let c = s[i..].chars().next()?;
            self.i += c.len_utf8();
            let tok = match c {
                c if c.is_whitespace() => continue,
                '+' => Tok::Plus,
                '-' | '−' => Tok::Minus,
                '*' | '×' | '·' => Tok::Mul,
                '/' | '÷' => Tok::Div,
                '^' => Tok::Pow,
                '(' => Tok::Open(b'('),
                '[' => Tok::Open(b'['),
                '{' => Tok::Open(b'{'),
                ')' => Tok::Close(b'('),
                ']' => Tok::Close(b'['),
                '}' => Tok::Close(b'{'),
                'π' => Tok::Pi,
                '√' => Tok::Sqrt,
                _ => {
                    self.i = i; // not consumed: the lexer failed here
                    return None;
                }
            };
            self.count += 1;
            return Some(tok);
        }
        None
    }
}

/// Deeper nesting than this is not a closed-form answer; the limit also bounds the
/// evaluator's stack.
const MAX_DEPTH: usize = 64;

struct Eval<'a> {
    lexer: Lexer<'a>,
    /// the next token, not yet consumed
    ahead: Option<Tok>,
    depth: usize,
}

impl Eval<'_> {
    fn peek(&self) -> Option<Tok> {
        self.ahead
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.ahead?;
        self.ahead = self.lexer.next_token();
        Some(t)
    }

    fn skip(&mut self) {
        self.ahead = self.lexer.next_token();
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn expr(&mut self) -> Option<f64> {
        self.enter()?;
        let mut acc = self.term()?;
        while let Some(op @ (Tok::Plus | Tok::Minus)) = self.peek() {
            self.skip();
            let rhs = self.term()?;
            acc = if op == Tok::Plus { acc + rhs } else { acc - rhs };
        }
        self.depth -= 1;
        finite(acc)
    }

    fn term(&mut self) -> Option<f64> {
        let mut acc = self.unary()?;
        loop {
            match self.peek() {
                Some(Tok::Mul) => {
                    self.skip();
                    acc *= self.unary()?;
                }
                Some(Tok::Div) => {
                    self.skip();
                    acc /= self.unary()?;
                }
                // implicit product: `2\pi`, `3\sqrt{2}`, `2(1+1)`; never two bare numbers
                Some(Tok::Open(_) | Tok::Frac | Tok::Sqrt | Tok::Pi) => acc *= self.power()?,
                _ => return finite(acc),
            }
            finite(acc)?;
        }
    }

    fn unary(&mut self) -> Option<f64> {
        self.enter()?;
        let v = match self.peek()? {
            Tok::Minus => {
                self.skip();
                -self.unary()?
            }
            Tok::Plus => {
                self.skip();
                self.unary()?
            }
            _ => self.power()?,
        };
        self.depth -= 1;
        Some(v)
    }

    fn power(&mut self) -> Option<f64> {
        let base = self.primary()?;
        if self.peek() == Some(Tok::Pow) {
            self.skip();
            let exponent = self.unary()?;
            return finite(base.powf(exponent));
        }
        Some(base)
    }

    /// An argument of `\\frac` or `\\sqrt`: a group, or without braces one character,
    /// as LaTeX reads it (`\\frac94` is 9/4, `\\sqrt23` is √2 then 3).
    fn argument(&mut self) -> Option<f64> {
        if let Some(Tok::Num(_)) = self.ahead {
            let start = self.lexer.start;
            if self.lexer.i - start > 1 {
                let digit = self.lexer.s.as_bytes()[start];
                if !digit.is_ascii_digit() {
                    return None; // `\\frac.5`: not a closed form
                }
                self.lexer.i = start + 1; // read on after the one digit
                self.skip();
                return Some(f64::from(digit - b'0'));
            }
        }
        self.enter()?;
        let v = self.primary()?;
        self.depth -= 1;
        Some(v)
    }

    fn primary(&mut self) -> Option<f64> {
        match self.next()? {
            Tok::Num(v) => Some(v),
            Tok::Pi => Some(std::f64::consts::PI),
            Tok::Open(kind) => {
                let v = self.expr()?;
                (self.next()? == Tok::Close(kind)).then_some(v)
            }
            Tok::Frac => {
                let n = self.argument()?;
                let d = self.argument()?;
                finite(n / d)
            }
            Tok::Sqrt => {
                let index = if self.peek() == Some(Tok::Open(b'[')) {
                    self.skip();
                    let k = self.expr()?;
                    (self.next()? == Tok::Close(b'[')).then_some(k)?
                } else {
                    2.0
                };
                let radicand = self.argument()?;
                let v = if index == 2.0 {
                    radicand.sqrt()
                } else if index == 3.0 {
                    radicand.cbrt()
                } else {
                    radicand.powf(1.0 / index)
                };
                finite(v)
            }
            _ => None,
        }
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Evaluates a closed-form arithmetic expression; `None` unless the whole input is one.
pub fn eval_expression(s: &str) -> Option<f64> {
    let mut lexer = Lexer { s, i: 0, count: 0, failed: false, start: 0 };
    let first = lexer.next_token()?;
    let mut ev = Eval { lexer, ahead: Some(first), depth: 0 };
    let v = ev.expr()?;
    // all of the text read, and read as tokens
    (ev.ahead.is_none() && !ev.lexer.failed).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::math::{math_key, math_value};

    #[test]
    fn expressions() {
        let v = |s: &str| math_value(s).map(|n| n.value);
        let approx = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-12);
        assert!(approx(v("\\frac{\\sqrt{2}}{2}"), 2f64.sqrt() / 2.0));
        assert!(approx(v("\\frac{1}{\\sqrt{2}}"), 2f64.sqrt() / 2.0));
        assert!(approx(v("2\\pi"), 2.0 * std::f64::consts::PI));
        assert!(approx(v("\\dfrac{\\pi}{3}"), std::f64::consts::PI / 3.0));
        assert!(approx(v("x = 5"), 5.0));
        assert!(approx(v("\\boxed{3\\sqrt{3}}"), 3.0 * 3f64.sqrt()));
        assert!(approx(v("\\sqrt[3]{27}"), 3.0));
        assert!(approx(v("2^{10}"), 1024.0));
        assert!(approx(v("-2^2"), -4.0));
        assert!(approx(v("\\left(\\frac{1}{2}\\right)^2"), 0.25));
        assert!(approx(v("45^\\circ"), 45.0));
        assert!(approx(v("5 \\text{ cm}"), 5.0));
        assert!(approx(v("1+2\\cdot3"), 7.0));
        for s in ["2x", "x", "2 3", "\\sqrt{-1}", "1/0", "2^{10000}", "(1", "1)", "\\foo{1}", "5 m"] {
            assert_eq!(v(s), None, "{s:?}");
        }
        // nesting beyond MAX_DEPTH is refused, not a stack overflow
        let deep = "(1+".repeat(10_000) + "1" + &")".repeat(10_000);
        assert_eq!(v(&deep), None);
        let ok = "(1+".repeat(10) + "1" + &")".repeat(10);
        assert!(approx(v(&ok), 11.0));
        assert_eq!(eval_expression(&"-".repeat(100_000)), None);
        assert_eq!(eval_expression(&"2^".repeat(100_000)), None);
        assert_eq!(math_key("\\dfrac{x}{ 2 }"), math_key("\\frac{x}{2}"));
        // brace-less arguments are one character each, as in LaTeX
        assert!(approx(v("\\frac94\\pi"), 2.25 * std::f64::consts::PI));
        assert!(approx(v("\\frac 1 2"), 0.5));
        assert!(approx(v("\\frac{9}4"), 2.25));
        assert!(approx(v("\\sqrt2"), 2f64.sqrt()));
        assert_eq!(v("\\sqrt23"), None); // √2 then a bare 3: not a closed form
        assert_eq!(v("\\frac.54"), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::numeric::math::math_form;
    use crate::numeric::testing::{math_soup, number_soup};
    use crate::testing::text;
    use proptest::prelude::*;

    /// The evaluator's tokens as first read: all at once, into a vector.
    fn reference_tokenize(s: &str) -> Option<Vec<Tok>> {
        let bytes = s.as_bytes();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if toks.len() > MAX_TOKENS {
                return None;
            }
            let c = s[i..].chars().next()?;
            let b = bytes[i];
            if b.is_ascii_digit() || b == b'.' {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'.' {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                toks.push(Tok::Num(s[start..i].parse::<f64>().ok()?));
                continue;
            }
            if b == b'\\' {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                    j += 1;
                }
                toks.push(match &s[start..j] {
                    "frac" => Tok::Frac,
                    "sqrt" => Tok::Sqrt,
                    "cdot" | "times" | "ast" => Tok::Mul,
                    "div" => Tok::Div,
                    _ => return None,
                });
                i = j;
                continue;
            }
            i += c.len_utf8();
            toks.push(match c {
                c if c.is_whitespace() => continue,
                '+' => Tok::Plus,
                '-' | '−' => Tok::Minus,
                '*' | '×' | '·' => Tok::Mul,
                '/' | '÷' => Tok::Div,
                '^' => Tok::Pow,
                '(' => Tok::Open(b'('),
                '[' => Tok::Open(b'['),
                '{' => Tok::Open(b'{'),
                ')' => Tok::Close(b'('),
                ']' => Tok::Close(b'['),
                '}' => Tok::Close(b'{'),
                'π' => Tok::Pi,
                '√' => Tok::Sqrt,
                _ => return None,
            });
        }
        Some(toks)
    }

    fn lex_all(s: &str) -> Option<Vec<Tok>> {
        let mut lexer = Lexer { s, i: 0, count: 0, failed: false, start: 0 };
        let mut toks = Vec::new();
        while let Some(t) = lexer.next_token() {
            toks.push(t);
        }
        (!lexer.failed).then_some(toks)
    }

    #[test]
    fn lexer_token_limit_as_reference() {
        for n in [MAX_TOKENS / 2 - 1, MAX_TOKENS / 2, MAX_TOKENS / 2 + 1] {
            for tail in ["", " ", "+", "x"] {
                let s = "1+".repeat(n) + "1" + tail;
                assert_eq!(lex_all(&s), reference_tokenize(&s), "{n} {tail:?}");
                assert_eq!(
                    eval_expression(&s).is_some(),
                    reference_tokenize(&s).is_some() && tail.trim().is_empty(),
                    "{n} {tail:?}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20000))]

        #[test]
        fn lexer_matches_reference(s in prop_oneof![math_soup(), number_soup(), text()]) {
            let form = math_form(&s);
            prop_assert_eq!(lex_all(&form), reference_tokenize(&form), "{:?}", form);
            prop_assert_eq!(lex_all(&s), reference_tokenize(&s), "{:?}", s);
        }
    }
}
