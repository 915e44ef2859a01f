//! Tokenizer and recursive-descent parser for filters, PATCH paths and attribute paths.

use super::{AttrPath, CompareOp, Filter, FilterError, PatchPath, MAX_DEPTH, MAX_INPUT_LEN};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Str(String),
    Num(serde_json::Number),
    Word(String),
    Other(char),
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    start: usize,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '$'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$' | ':' | '.')
}

/// Splits the input into tokens. A lexical error stops the scan; it is reported only when the parser reaches it, so the
/// first error in reading order wins.
fn tokenize(input: &str) -> (Vec<Token>, Option<FilterError>) {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        let single = match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b'.' => Some(Tok::Dot),
            _ => None,
        };
        if let Some(tok) = single {
            tokens.push(Token { tok, start });
            i += 1;
            continue;
        }
        let result = if b == b'"' {
            lex_string(input, start)
        } else if b == b'-' || b.is_ascii_digit() {
            lex_number(input, start)
        } else {
            // `start` is a char boundary: every other branch consumes whole ASCII bytes or whole chars.
            let c = input[start..].chars().next().unwrap_or('\u{fffd}');
            if is_word_start(c) {
                let end = input[start..].find(|c: char| !is_word_char(c)).map_or(input.len(), |n| start + n);
                Ok((Tok::Word(input[start..end].to_owned()), end))
            } else {
                Ok((Tok::Other(c), start + c.len_utf8()))
            }
        };
        match result {
            Ok((tok, end)) => {
                tokens.push(Token { tok, start });
                i = end;
            }
            Err(e) => return (tokens, Some(e)),
        }
    }
    (tokens, None)
}

/// A JSON string starting at `start` (the opening quote). Returns the decoded text and the offset after the closing quote.
fn lex_string(input: &str, start: usize) -> Result<(Tok, usize), FilterError> {
    let mut out = String::new();
    let mut chars = input[start + 1..].char_indices().peekable();
    let abs = |off: usize| start + 1 + off;
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((Tok::Str(out), abs(off) + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    break;
                };
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let hi = read_hex4(&mut chars).ok_or_else(|| bad_unicode(abs(off)))?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            // A high surrogate must be followed by an escaped low surrogate.
                            let lo = match (chars.next(), chars.next()) {
                                (Some((_, '\\')), Some((_, 'u'))) => read_hex4(&mut chars),
                                _ => None,
                            }
                            .filter(|lo| (0xDC00..0xE000).contains(lo))
                            .ok_or_else(|| FilterError::InvalidString {
                                position: abs(off),
                                reason: "a \\u escape for a high surrogate must be followed by a \\u escape for a low surrogate".into(),
                            })?;
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            hi
                        };
                        let ch = char::from_u32(code).ok_or_else(|| FilterError::InvalidString {
                            position: abs(off),
                            reason: format!("\\u{code:04x} is not a valid Unicode scalar value"),
                        })?;
                        out.push(ch);
                    }
                    other => {
                        return Err(FilterError::InvalidString {
                            position: abs(off),
                            reason: format!(
                                "'\\{other}' is not a valid escape; use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX"
                            ),
                        })
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err(FilterError::UnterminatedString { position: start })
}

fn bad_unicode(position: usize) -> FilterError {
    FilterError::InvalidString { position, reason: "'\\u' must be followed by exactly four hexadecimal digits".into() }
}

fn read_hex4(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        let (_, c) = chars.next()?;
        v = v * 16 + c.to_digit(16)?;
    }
    Some(v)
}

/// A JSON number starting at `start`.
fn lex_number(input: &str, start: usize) -> Result<(Tok, usize), FilterError> {
    let bytes = input.as_bytes();
    let at = |i: usize| bytes.get(i).copied();
    let digits = |mut i: usize| {
        while at(i).is_some_and(|b| b.is_ascii_digit()) {
            i += 1;
        }
        i
    };
    let mut i = start;
    let mut ok = true;
    if at(i) == Some(b'-') {
        i += 1;
    }
    let int_start = i;
    i = digits(i);
    if i == int_start || (at(int_start) == Some(b'0') && i - int_start > 1) {
        ok = false;
    }
    if at(i) == Some(b'.') {
        let frac = i + 1;
        i = digits(frac);
        ok &= i > frac;
    }
    if matches!(at(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(at(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = i;
        i = digits(exp);
        ok &= i > exp;
    }
    // A number glued to letters (`12ab`, `1.2.3`) is one bad token, not a number followed by a word.
    let end = input[i..].find(|c: char| !(is_word_char(c) || c == '+')).map_or(input.len(), |n| i + n);
    let text = &input[start..end];
    let number = if ok && end == i { text.parse::<serde_json::Number>().ok() } else { None };
    match number {
        Some(n) => Ok((Tok::Num(n), end)),
        None => Err(FilterError::InvalidNumber { text: text.to_owned(), position: start }),
    }
}

/// Describes a token for error messages.
fn describe(tok: Option<&Token>) -> String {
    match tok.map(|t| &t.tok) {
        None => "the end of the input".to_owned(),
        Some(Tok::LParen) => "'('".to_owned(),
        Some(Tok::RParen) => "')'".to_owned(),
        Some(Tok::LBracket) => "'['".to_owned(),
        Some(Tok::RBracket) => "']'".to_owned(),
        Some(Tok::Dot) => "'.'".to_owned(),
        Some(Tok::Str(s)) => {
            let shown: String = s.chars().take(40).collect();
            let ellipsis = if shown.len() < s.len() { "…" } else { "" };
            format!("the string {}{ellipsis}", Value::String(shown))
        }
        Some(Tok::Num(n)) => format!("the number {n}"),
        Some(Tok::Word(w)) => format!("'{w}'"),
        Some(Tok::Other(c)) => format!("'{}'", c.escape_default()),
    }
}

fn is_keyword(tok: Option<&Token>, kw: &str) -> bool {
    matches!(tok, Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
}

fn is_operator_word(tok: Option<&Token>) -> bool {
    matches!(tok, Some(Token { tok: Tok::Word(w), .. })
        if w.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(w).is_some())
}

/// Splits and validates one attribute path written as a single word token.
fn attr_path_from_word(text: &str, position: usize) -> Result<AttrPath, FilterError> {
    let err = |reason: String| FilterError::InvalidAttrPath { text: text.to_owned(), position, reason };
    let (schema, rest) = match text.rfind(':') {
        Some(i) => {
            let schema = &text[..i];
            if schema.is_empty() || schema.starts_with(':') || schema.ends_with(':') || schema.contains("::") {
                return Err(err("the schema URN before the attribute name is malformed".into()));
            }
            (Some(schema.to_owned()), &text[i + 1..])
        }
        None => (None, text),
    };
    if rest.is_empty() {
        return Err(err("an attribute name is missing after the schema URN".into()));
    }
    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(err(format!(
            "'{rest}' has more than one sub-attribute; SCIM paths are at most 'attribute.subAttribute'"
        )));
    }
    check_attr_name(name).map_err(&err)?;
    if let Some(sub) = sub {
        check_attr_name(sub).map_err(&err)?;
    }
    Ok(AttrPath { schema, name: name.to_owned(), sub: sub.map(str::to_owned) })
}

/// ATTRNAME = ALPHA *(nameChar), plus names starting with '$' such as `$ref`.
fn check_attr_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => Err("an attribute name is empty".into()),
        Some(c) if !is_word_start(c) => Err(format!("the attribute name '{name}' must start with a letter")),
        _ => match chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$'))) {
            Some(c) => Err(format!("the attribute name '{name}' contains '{c}', which is not allowed")),
            None => Ok(()),
        },
    }
}

fn check_input(input: &str, what: &'static str) -> Result<(), FilterError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(FilterError::TooLong { what, len: input.len(), max: MAX_INPUT_LEN });
    }
    if input.trim().is_empty() {
        return Err(FilterError::Empty { what });
    }
    Ok(())
}

struct Parser<'s> {
    input: &'s str,
    tokens: Vec<Token>,
    lex_error: Option<FilterError>,
    idx: usize,
    depth: usize,
    /// Parentheses open in the current context (the whole filter, or the value filter being parsed).
    parens: usize,
    /// Position of the '[' of the value filter being parsed, if any.
    value_filter: Option<usize>,
}

impl<'s> Parser<'s> {
    fn new(input: &'s str) -> Self {
        let (tokens, lex_error) = tokenize(input);
        Parser { input, tokens, lex_error, idx: 0, depth: 0, parens: 0, value_filter: None }
    }

    /// The next token, None at the end of the input; a pending lexical error surfaces here.
    fn peek(&self) -> Result<Option<&Token>, FilterError> {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Result<Option<&Token>, FilterError> {
        match self.tokens.get(self.idx + ahead) {
            Some(t) => Ok(Some(t)),
            None => match &self.lex_error {
                Some(e) => Err(e.clone()),
                None => Ok(None),
            },
        }
    }

    /// Position of the next token (or the end of the input).
    fn here(&self) -> usize {
        self.tokens.get(self.idx).map_or(self.input.len(), |t| t.start)
    }

    fn bump(&mut self) {
        self.idx += 1;
    }

    fn enter(&mut self, position: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::TooDeep { max: MAX_DEPTH, position });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// or_expr := and_expr ("or" and_expr)*
    fn or_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and_expr()?;
        while is_keyword(self.peek()?, "or") {
            self.bump();
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// and_expr := unary ("and" unary)*
    fn and_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while is_keyword(self.peek()?, "and") {
            self.bump();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// unary := "not" "(" or_expr ")" | "(" or_expr ")" | attr_expr
    fn unary(&mut self) -> Result<Filter, FilterError> {
        let tok = self.peek()?.cloned();
        match tok {
            Some(Token { tok: Tok::LParen, start }) => {
                self.bump();
                let inner = self.parenthesised(start)?;
                Ok(inner)
            }
            Some(Token { tok: Tok::Word(ref w), start })
                if w.eq_ignore_ascii_case("not") && !is_operator_word(self.peek_at(1)?) =>
            {
                self.bump();
                match self.peek()?.cloned() {
                    Some(Token { tok: Tok::LParen, start: open }) => {
                        self.enter(start)?;
                        self.bump();
                        let inner = self.parenthesised(open)?;
                        self.leave();
                        Ok(Filter::Not(Box::new(inner)))
                    }
                    other => Err(FilterError::ExpectedParenAfterNot {
                        found: describe(other.as_ref()),
                        position: self.here(),
                    }),
                }
            }
            Some(Token { tok: Tok::Word(ref w), start }) => {
                let next = self.peek_at(1)?;
                let is_logical = w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or");
                if is_logical && !is_operator_word(next) && !matches!(next, Some(Token { tok: Tok::LBracket, .. })) {
                    return Err(self.expected_expression(tok.as_ref()));
                }
                self.bump();
                self.attr_expr(w, start)
            }
            Some(Token { tok: Tok::RParen, start }) if self.parens == 0 => {
                Err(FilterError::UnmatchedParen { position: start })
            }
            _ => Err(self.expected_expression(tok.as_ref())),
        }
    }

    fn expected_expression(&self, tok: Option<&Token>) -> FilterError {
        FilterError::Expected {
            expected: "an attribute expression (such as 'userName eq \"x\"'), 'not (' or '('".into(),
            found: describe(tok),
            position: tok.map_or(self.input.len(), |t| t.start),
        }
    }

    /// After '(' (already consumed, at `open`): or_expr ")".
    fn parenthesised(&mut self, open: usize) -> Result<Filter, FilterError> {
        self.enter(open)?;
        self.parens += 1;
        let inner = self.or_expr()?;
        match self.peek()? {
            Some(Token { tok: Tok::RParen, .. }) => {
                self.bump();
                self.parens -= 1;
                self.leave();
                Ok(inner)
            }
            None => Err(FilterError::UnclosedParen { position: open, end: self.here(), found: describe(None) }),
            Some(t) => Err(self.unexpected_after_expression(t, "'and', 'or' or ')'")),
        }
    }

    /// The error for a token that cannot follow a complete expression.
    fn unexpected_after_expression(&self, t: &Token, expected: &str) -> FilterError {
        match &t.tok {
            Tok::RParen if self.parens == 0 => FilterError::UnmatchedParen { position: t.start },
            Tok::RBracket if self.value_filter.is_none() => FilterError::UnmatchedBracket { position: t.start },
            _ => FilterError::Expected { expected: expected.to_owned(), found: describe(Some(t)), position: t.start },
        }
    }

    /// attr_expr := attrPath ("pr" | compareOp compValue | "[" valFilter "]" ["." subAttr ("pr" | compareOp compValue)]),
    /// the attrPath word already consumed.
    fn attr_expr(&mut self, word: &str, start: usize) -> Result<Filter, FilterError> {
        let path = attr_path_from_word(word, start)?;
        let tok = self.peek()?.cloned();
        match tok {
            Some(Token { tok: Tok::LBracket, start: open }) => {
                if let Some(outer) = self.value_filter {
                    return Err(FilterError::NestedValueFilter { position: open, outer });
                }
                self.bump();
                let mut filter = self.value_filter_body(&path, word, start, open)?;
                if let Some(Token { tok: Tok::Dot, .. }) = self.peek()? {
                    self.bump();
                    let condition = self.sub_attr_condition(start)?;
                    filter = Filter::And(Box::new(filter), Box::new(condition));
                }
                Ok(Filter::ValuePath { path, filter: Box::new(filter) })
            }
            Some(Token { tok: Tok::Word(op), start: op_start }) => {
                if op.eq_ignore_ascii_case("pr") {
                    self.bump();
                    return Ok(Filter::Present(path));
                }
                let Some(cmp) = CompareOp::from_keyword(&op) else {
                    return Err(FilterError::UnknownOperator { op, attr: word.to_owned(), position: op_start });
                };
                self.bump();
                let value = self.comp_value(&op)?;
                Ok(Filter::Compare { path, op: cmp, value })
            }
            other => Err(FilterError::ExpectedOperator {
                attr: word.to_owned(),
                found: describe(other.as_ref()),
                position: self.here(),
            }),
        }
    }

    /// After `attr[valFilter].` (consumed; the path started at `start`): `subAttr ("pr" | compareOp compValue)`.
    /// Entra sends `emails[type eq "work"].value eq "x"`, which RFC 7644's filter grammar lacks; it means
    /// `emails[type eq "work" and value eq "x"]`, so the condition on the sub-attribute joins the value filter.
    fn sub_attr_condition(&mut self, start: usize) -> Result<Filter, FilterError> {
        let (name, at) = expect_word(self, "a sub-attribute name after '.'")?;
        check_attr_name(&name).map_err(|reason| FilterError::InvalidAttrPath {
            text: name.clone(),
            position: at,
            reason,
        })?;
        self.bump();
        let sub = AttrPath { schema: None, name, sub: None };
        let written = &self.input[start..at + sub.name.len()];
        match self.peek()?.cloned() {
            Some(Token { tok: Tok::Word(op), .. }) if op.eq_ignore_ascii_case("pr") => {
                self.bump();
                Ok(Filter::Present(sub))
            }
            Some(Token { tok: Tok::Word(op), start: op_start }) => {
                let Some(cmp) = CompareOp::from_keyword(&op) else {
                    return Err(FilterError::UnknownOperator { op, attr: written.to_owned(), position: op_start });
                };
                self.bump();
                let value = self.comp_value(&op)?;
                Ok(Filter::Compare { path: sub, op: cmp, value })
            }
            other => Err(FilterError::ExpectedOperator {
                attr: written.to_owned(),
                found: describe(other.as_ref()),
                position: self.here(),
            }),
        }
    }

    /// After '[' (consumed, at `open`): valFilter "]".
    fn value_filter_body(
        &mut self,
        path: &AttrPath,
        word: &str,
        start: usize,
        open: usize,
    ) -> Result<Filter, FilterError> {
        if path.sub.is_some() {
            return Err(FilterError::InvalidAttrPath {
                text: word.to_owned(),
                position: start,
                reason: "a value filter '[…]' applies to an attribute, not to a sub-attribute".into(),
            });
        }
        self.enter(open)?;
        self.value_filter = Some(open);
        let outer_parens = std::mem::replace(&mut self.parens, 0);
        let inner = self.or_expr()?;
        match self.peek()? {
            Some(Token { tok: Tok::RBracket, .. }) => {
                self.bump();
                self.value_filter = None;
                self.parens = outer_parens;
                self.leave();
                Ok(inner)
            }
            None => Err(FilterError::UnclosedBracket { position: open, end: self.here(), found: describe(None) }),
            Some(t) => Err(self.unexpected_after_expression(t, "'and', 'or' or ']'")),
        }
    }

    /// compValue := false / null / true / number / string
    fn comp_value(&mut self, op: &str) -> Result<Value, FilterError> {
        let tok = self.peek()?.cloned();
        let value = match tok.as_ref().map(|t| &t.tok) {
            Some(Tok::Str(s)) => Value::String(s.clone()),
            Some(Tok::Num(n)) => Value::Number(n.clone()),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Value::Null,
            _ => {
                let mut found = describe(tok.as_ref());
                if matches!(tok.as_ref().map(|t| &t.tok), Some(Tok::Word(_))) {
                    found.push_str(" (strings must be enclosed in double quotes)");
                }
                return Err(FilterError::ExpectedValue { op: op.to_owned(), found, position: self.here() });
            }
        };
        self.bump();
        Ok(value)
    }

    /// Expects the end of the input after a complete filter.
    fn finish_filter(&mut self) -> Result<(), FilterError> {
        match self.peek()? {
            None => Ok(()),
            Some(t) => Err(self.unexpected_after_expression(t, "'and', 'or' or the end of the filter")),
        }
    }
}

pub(crate) fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    check_input(input, "filter")?;
    let mut p = Parser::new(input);
    let filter = p.or_expr()?;
    p.finish_filter()?;
    Ok(filter)
}

pub(crate) fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    check_input(input, "PATCH path")?;
    let mut p = Parser::new(input);
    let (word, start) = expect_word(&p, "an attribute path")?;
    p.bump();
    let attr = attr_path_from_word(&word, start)?;
    let mut value_filter = None;
    let mut sub = None;
    if let Some(Token { tok: Tok::LBracket, start: open }) = p.peek()?.cloned() {
        p.bump();
        value_filter = Some(p.value_filter_body(&attr, &word, start, open)?);
        if let Some(Token { tok: Tok::Dot, .. }) = p.peek()? {
            p.bump();
            let (name, at) = expect_word(&p, "a sub-attribute name after '.'")?;
            check_attr_name(&name).map_err(|reason| FilterError::InvalidAttrPath {
                text: name.clone(),
                position: at,
                reason,
            })?;
            p.bump();
            sub = Some(name);
        }
    }
    match p.peek()? {
        None => Ok(PatchPath { attr, value_filter, sub }),
        Some(t) => {
            let expected = if value_filter.is_some() {
                if sub.is_some() {
                    "the end of the path"
                } else {
                    "'.' followed by a sub-attribute, or the end of the path"
                }
            } else {
                "'[' (a value filter) or the end of the path"
            };
            Err(match &t.tok {
                Tok::RBracket => FilterError::UnmatchedBracket { position: t.start },
                Tok::RParen => FilterError::UnmatchedParen { position: t.start },
                _ => FilterError::Expected { expected: expected.into(), found: describe(Some(t)), position: t.start },
            })
        }
    }
}

fn expect_word(p: &Parser<'_>, what: &str) -> Result<(String, usize), FilterError> {
    match p.peek()? {
        Some(Token { tok: Tok::Word(w), start }) => Ok((w.clone(), *start)),
        other => Err(FilterError::Expected { expected: what.to_owned(), found: describe(other), position: p.here() }),
    }
}

pub(crate) fn parse_attr_path(input: &str) -> Result<AttrPath, FilterError> {
    check_input(input, "attribute path")?;
    let mut p = Parser::new(input);
    let (word, start) = expect_word(&p, "an attribute path")?;
    p.bump();
    let path = attr_path_from_word(&word, start)?;
    match p.peek()? {
        None => Ok(path),
        Some(t) => Err(FilterError::Expected {
            expected: "the end of the attribute path".into(),
            found: describe(Some(t)),
            position: t.start,
        }),
    }
}

pub(crate) fn parse_attr_path_list(input: &str) -> Result<Vec<AttrPath>, FilterError> {
    check_input(input, "attribute list")?;
    let mut out = Vec::new();
    let mut offset = 0;
    for part in input.split(',') {
        if part.trim().is_empty() {
            return Err(FilterError::Expected {
                expected: "an attribute path".into(),
                found: if offset + part.len() == input.len() { "the end of the input".into() } else { "','".into() },
                position: offset + part.len(),
            });
        }
        let path = parse_attr_path(part).map_err(|e| shift(e, offset))?;
        out.push(path);
        offset += part.len() + 1;
    }
    Ok(out)
}

/// Moves an error's position by `by` bytes (for errors in a slice of a larger input).
fn shift(e: FilterError, by: usize) -> FilterError {
    use FilterError as E;
    match e {
        E::InvalidAttrPath { text, position, reason } => E::InvalidAttrPath { text, position: position + by, reason },
        E::Expected { expected, found, position } => E::Expected { expected, found, position: position + by },
        E::UnterminatedString { position } => E::UnterminatedString { position: position + by },
        E::InvalidString { position, reason } => E::InvalidString { position: position + by, reason },
        E::InvalidNumber { text, position } => E::InvalidNumber { text, position: position + by },
        other => other,
    }
}
