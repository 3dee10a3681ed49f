//! JSON conventions of the executable.
//!
//! - `Int`: a JSON integer in the i64 range (exact beyond 2^53).
//! - `Float`: a JSON number (an integer is accepted and converted), or
//!   one of the strings `"NaN"`, `"Infinity"`, `"-Infinity"`; `-0.0` keeps
//!   its sign. Results print the same way: the shortest decimal that reads
//!   back to the same bits, with a `.0` when it has no fraction.
//! - `Bool`: `true` or `false`.

use relon_runtime_contract::{FieldDesc, ProgramDesc, ScalarType};
use serde_json::Value as Json;
use std::fmt::Write as _;

use crate::arena::Arena;

/// One scalar argument or result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarValue {
    /// Relon `Int`.
    Int(i64),
    /// Relon `Float`.
    Float(f64),
    /// Relon `Bool`.
    Bool(bool),
}

/// Parse the `#main` arguments object into parameter order.
pub fn parse_arguments(text: &str, program: &ProgramDesc) -> Result<Vec<ScalarValue>, String> {
    let mut values = Vec::new();
    parse_arguments_into(text, program, &mut values)?;
    Ok(values)
}

/// [`parse_arguments`] into `values` (cleared first), which keeps its
/// allocation from call to call: a flat object allocates nothing.
pub fn parse_arguments_into(
    text: &str,
    program: &ProgramDesc,
    values: &mut Vec<ScalarValue>,
) -> Result<(), String> {
    if parse_flat(text, program, values) {
        return Ok(());
    }
    *values = parse_full(text, program)?;
    Ok(())
}

/// [`parse_arguments`] straight into the input record of `arena`, for a
/// run that parses a row per call: a flat object goes from its bytes to
/// the arena with no buffer in between. On an error the input record may
/// hold some of the arguments; the arena must not be run then.
///
/// Inlined into its caller with the compact form only ([`parse_compact`]);
/// any other text goes to [`parse_other_into_arena`], out of line, so the
/// common row does not pay for the general scan's frame and registers.
#[inline]
pub fn parse_arguments_into_arena(
    text: &str,
    program: &ProgramDesc,
    arena: &mut Arena,
) -> Result<(), String> {
    if parse_compact(text, program, &mut into_input(arena, program.params)).is_some() {
        return Ok(());
    }
    parse_other_into_arena(text, program, arena)
}

/// The `put` of the scans for [`parse_arguments_into_arena`]: each value
/// goes to its parameter's place in `arena`'s input record.
#[inline(always)]
fn into_input<'a>(
    arena: &'a mut Arena,
    params: &'a [FieldDesc],
) -> impl FnMut(usize, ScalarValue) + 'a {
    |index, value| arena.write_input(params[index].offset, value)
}

/// [`parse_arguments_into_arena`] for text not in the compact form: the
/// flat scan, then the full parser.
#[inline(never)]
fn parse_other_into_arena(
    text: &str,
    program: &ProgramDesc,
    arena: &mut Arena,
) -> Result<(), String> {
    let params = program.params;
    if params.len() <= 64 && parse_flat_all(text, program, &mut into_input(arena, params)) {
        return Ok(());
    }
    let values = parse_full(text, program)?;
    arena.write_arguments(params, &values);
    Ok(())
}

/// The full parser: any JSON, and a message for every error. Out of line,
/// so the fast path stays a small function.
#[cold]
#[inline(never)]
fn parse_full(text: &str, program: &ProgramDesc) -> Result<Vec<ScalarValue>, String> {
    let json: Json = serde_json::from_str(text.trim())
        .map_err(|e| format!("the arguments are not valid JSON: {e}"))?;
    let Json::Object(map) = json else {
        return Err(format!(
            "the arguments must be a JSON object like {{\"{}\": ...}}, found {}",
            program.params.first().map_or("name", |p| p.name),
            kind_of(&json)
        ));
    };
    if let Some(extra) = map
        .keys()
        .find(|k| !program.params.iter().any(|p| p.name == k.as_str()))
    {
        let expected: Vec<&str> = program.params.iter().map(|p| p.name).collect();
        return Err(format!(
            "unexpected argument `{extra}`; #main takes ({})",
            expected.join(", ")
        ));
    }
    program
        .params
        .iter()
        .map(|p| {
            let value = map
                .get(p.name)
                .ok_or_else(|| format!("missing argument `{}` ({})", p.name, p.ty.relon_name()))?;
            parse_scalar(value, p.ty).map_err(|why| format!("argument `{}`: {why}", p.name))
        })
        .collect()
}

/// The fast path: a flat object whose keys are exactly the parameters,
/// without escapes, whose values read as their types. Anything else
/// (including every error) goes to the full parser, which explains it.
/// Fills `values` in parameter order and says whether it could.
fn parse_flat(text: &str, program: &ProgramDesc, values: &mut Vec<ScalarValue>) -> bool {
    let params = program.params.len();
    if params > 64 {
        return false;
    }
    if values.len() != params {
        values.clear();
        values.resize(params, ScalarValue::Int(0));
    }
    let mut put = |index: usize, value| values[index] = value;
    parse_compact(text, program, &mut put).is_some() || parse_flat_all(text, program, &mut put)
}

/// [`parse_flat_fields`] handing each value to `put` with its parameter's
/// index (at most 64 parameters), and whether it put every parameter; a
/// parameter may be put more than once before the scan gives up.
fn parse_flat_all(
    text: &str,
    program: &ProgramDesc,
    put: &mut impl FnMut(usize, ScalarValue),
) -> bool {
    let params = program.params.len();
    let all = if params == 64 {
        u64::MAX
    } else {
        (1u64 << params) - 1
    };
    parse_flat_fields(text, program, put) == Some(all)
}

/// The form serializers write, tried first: no whitespace, keys in
/// parameter order (`{"a":1,"b":2.5}`). Each key is checked against the
/// parameter expected there, so no lookup is needed; an Int is read as
/// its digits are scanned. Whatever else follows a value (a fraction, an
/// exponent, whitespace) fails the next byte's check and leaves for the
/// flat scan.
#[inline(always)]
fn parse_compact(
    text: &str,
    program: &ProgramDesc,
    put: &mut impl FnMut(usize, ScalarValue),
) -> Option<()> {
    let mut rest = text.as_bytes();
    let mut opener = b'{';
    for (index, param) in program.params.iter().enumerate() {
        let name = param.name.as_bytes();
        let (head, tail) = rest.split_at_checked(name.len() + 4)?;
        let [first, quote, key @ .., end_quote, colon] = head else {
            return None;
        };
        if *first != opener
            || *quote != b'"'
            || *end_quote != b'"'
            || *colon != b':'
            || !same_bytes(key, name)
        {
            return None;
        }
        let value;
        (value, rest) = match param.ty {
            ScalarType::Int => {
                let (value, tail) = json_int(tail)?;
                (ScalarValue::Int(value), tail)
            }
            ty => {
                let mut scan = FlatScan { bytes: tail, at: 0 };
                (scan.value(ty)?, &tail[scan.at..])
            }
        };
        put(index, value);
        opener = b',';
    }
    match (program.params.is_empty(), rest) {
        (true, b"{}") | (false, b"}") => Some(()),
        _ => None,
    }
}

/// A JSON integer (`-?(0|[1-9][0-9]*)`) in the i64 range at the start of
/// `bytes`, and the bytes after it.
#[inline]
fn json_int(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    // Accumulate negatively: i64::MIN has no positive counterpart.
    let mut value: i64 = 0;
    let mut len = 0;
    while let Some(d @ b'0'..=b'9') = digits.get(len).copied() {
        value = value.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
        len += 1;
    }
    let leading_zero = len > 1 && digits[0] == b'0';
    // serde_json reads `-0` as the Float -0.0, which the full parser refuses.
    if len == 0 || leading_zero || (negative && len == 1 && value == 0) {
        return None;
    }
    let value = if negative {
        value
    } else {
        value.checked_neg()?
    };
    Some((value, &digits[len..]))
}

/// The flat-object scan; the set of parameters seen, as bits.
///
/// One pass over the bytes: keys are compared as bytes (the parameter in
/// the key's position first, as callers usually write them in order) and
/// an Int is read as its digits are scanned.
fn parse_flat_fields(
    text: &str,
    program: &ProgramDesc,
    put: &mut impl FnMut(usize, ScalarValue),
) -> Option<u64> {
    let mut scan = FlatScan {
        bytes: text.as_bytes(),
        at: 0,
    };
    let (mut seen, mut keys) = (0u64, 0usize);
    scan.skip_ws();
    scan.eat(b'{')?;
    scan.skip_ws();
    if scan.peek() == Some(b'}') {
        scan.at += 1;
    } else {
        loop {
            scan.skip_ws();
            let name = scan.key()?;
            scan.skip_ws();
            scan.eat(b':')?;
            scan.skip_ws();
            let index = param_index(program, name, keys, seen)?;
            seen |= 1 << index;
            keys += 1;
            put(index, scan.value(program.params[index].ty)?);
            scan.skip_ws();
            match scan.peek()? {
                b',' => scan.at += 1,
                b'}' => {
                    scan.at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    scan.skip_ws();
    (scan.at == scan.bytes.len()).then_some(seen)
}

/// The parameter a key names, if it is one not seen yet; `in_order` is
/// the number of keys before it, which names the parameter to try first.
fn param_index(program: &ProgramDesc, name: &[u8], in_order: usize, seen: u64) -> Option<usize> {
    let index = match program.params.get(in_order) {
        Some(p) if same_bytes(p.name.as_bytes(), name) => in_order,
        _ => program
            .params
            .iter()
            .position(|p| same_bytes(p.name.as_bytes(), name))?,
    };
    (seen & (1 << index) == 0).then_some(index)
}

/// Byte equality for names a few bytes long, without a call to `bcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A cursor over the bytes of a flat arguments object.
struct FlatScan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> FlatScan<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string without escapes: its bytes between the quotes.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => return None,
                _ => self.at += 1,
            }
        }
        self.at += 1;
        Some(&self.bytes[start..self.at - 1])
    }

    /// A value of type `ty`.
    fn value(&mut self, ty: ScalarType) -> Option<ScalarValue> {
        Some(match ty {
            ScalarType::Int => ScalarValue::Int(self.int()?),
            ScalarType::Float => ScalarValue::Float(match self.token()? {
                b"\"NaN\"" => f64::NAN,
                b"\"Infinity\"" => f64::INFINITY,
                b"\"-Infinity\"" => f64::NEG_INFINITY,
                number => {
                    let number = std::str::from_utf8(number).ok()?;
                    if !is_json_number(number) {
                        return None;
                    }
                    number.parse().ok()?
                }
            }),
            ScalarType::Bool => match self.token()? {
                b"true" => ScalarValue::Bool(true),
                b"false" => ScalarValue::Bool(false),
                _ => return None,
            },
        })
    }

    /// A value's raw bytes: a string with its quotes, or everything up to
    /// the next `,`, `}` or whitespace.
    fn token(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        if self.peek() == Some(b'"') {
            let len = self.bytes[start + 1..].iter().position(|b| *b == b'"')?;
            self.at = start + len + 2;
        } else {
            while let Some(b) = self.peek() {
                if matches!(b, b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                self.at += 1;
            }
        }
        Some(&self.bytes[start..self.at])
    }

    /// A JSON integer in the i64 range, ending where a value ends; `None`
    /// for anything else (a fraction, an exponent, an overflow), which the
    /// full parser then explains.
    fn int(&mut self) -> Option<i64> {
        let (value, rest) = json_int(&self.bytes[self.at..])?;
        self.at = self.bytes.len() - rest.len();
        match self.peek() {
            None | Some(b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r') => Some(value),
            Some(_) => None,
        }
    }
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`: JSON's number grammar.
fn is_json_number(raw: &str) -> bool {
    let b = raw.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Parse one value of type `ty`.
pub fn parse_scalar(value: &Json, ty: ScalarType) -> Result<ScalarValue, String> {
    match (ty, value) {
        (ScalarType::Int, Json::Number(n)) => match n.as_i64() {
            Some(i) => Ok(ScalarValue::Int(i)),
            None if n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                Err(format!("{n} is outside the Int range (-2^63 ..= 2^63-1)"))
            }
            None => Err(format!("expected an Int, found the Float {n}")),
        },
        (ScalarType::Float, Json::Number(n)) => n
            .as_f64()
            .map(ScalarValue::Float)
            .ok_or_else(|| format!("{n} is not a Float")),
        (ScalarType::Float, Json::String(s)) => match s.as_str() {
            "NaN" => Ok(ScalarValue::Float(f64::NAN)),
            "Infinity" => Ok(ScalarValue::Float(f64::INFINITY)),
            "-Infinity" => Ok(ScalarValue::Float(f64::NEG_INFINITY)),
            _ => Err(format!(
                "expected a Float, found the string {s:?} (only \"NaN\", \"Infinity\" and \"-Infinity\" are accepted as strings)"
            )),
        },
        (ScalarType::Bool, Json::Bool(b)) => Ok(ScalarValue::Bool(*b)),
        (ty, other) => Err(format!(
            "expected {} {}, found {}",
            article(ty),
            ty.relon_name(),
            kind_of(other)
        )),
    }
}

/// Format a result.
pub fn format_value(value: ScalarValue) -> String {
    let mut out = String::new();
    format_value_into(&mut out, value);
    out
}

/// [`format_value`] into `out` (cleared first), which keeps its allocation.
///
/// Inlined into its caller with the Int and Bool cases, which a row runs
/// through in a few instructions; a Float goes to [`push_float`], out of
/// line, so its formatter's registers and frame are not paid for the others.
#[inline(always)]
pub fn format_value_into(out: &mut String, value: ScalarValue) {
    out.clear();
    match value {
        ScalarValue::Int(i) => {
            // At most 20 ASCII bytes, pushed one by one: `push_str` would
            // call `memcpy`, whose start-up (musl's is `rep movsq`) costs
            // more than copying so few bytes.
            let mut digits = itoa::Buffer::new();
            out.extend(digits.format(i).bytes().map(char::from));
        }
        ScalarValue::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        ScalarValue::Float(f) => push_float(out, f),
    }
}

/// Push a Float: a JSON number, or the string standing for a NaN or an infinity.
#[inline(never)]
fn push_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("\"NaN\"");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        // `{:?}` is Rust's shortest round-trip form and always shows a
        // fraction or an exponent ("8.0", "1e300", "-0.0").
        let _ = write!(out, "{f:?}");
    }
}

fn article(ty: ScalarType) -> &'static str {
    match ty {
        ScalarType::Int => "an",
        _ => "a",
    }
}

fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a Bool",
        Json::Number(n) if n.is_f64() => "a Float",
        Json::Number(_) => "an Int",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relon_runtime_contract::FieldDesc;

    static PARAMS: [FieldDesc; 3] = [
        FieldDesc {
            name: "n",
            ty: ScalarType::Int,
            offset: 0,
        },
        FieldDesc {
            name: "x",
            ty: ScalarType::Float,
            offset: 8,
        },
        FieldDesc {
            name: "b",
            ty: ScalarType::Bool,
            offset: 16,
        },
    ];
    static PROGRAM: ProgramDesc = ProgramDesc {
        source_name: "t.relon",
        params: &PARAMS,
        in_len: 24,
        result: FieldDesc {
            name: "value",
            ty: ScalarType::Int,
            offset: 0,
        },
        out_len: 8,
        trap_sites: &[],
        const_data: &[],
        value_schemas: None,
    };

    #[test]
    fn parses_every_scalar_form() {
        let args = parse_arguments(
            r#"{"n": -9223372036854775808, "x": "-Infinity", "b": true}"#,
            &PROGRAM,
        )
        .unwrap();
        assert_eq!(args[0], ScalarValue::Int(i64::MIN));
        assert_eq!(args[1], ScalarValue::Float(f64::NEG_INFINITY));
        assert_eq!(args[2], ScalarValue::Bool(true));
        let args =
            parse_arguments(r#"{"n": 9007199254740993, "x": 2, "b": false}"#, &PROGRAM).unwrap();
        assert_eq!(args[0], ScalarValue::Int(9007199254740993));
        assert_eq!(args[1], ScalarValue::Float(2.0));
        let args = parse_arguments(r#"{"n": 0, "x": -0.0, "b": false}"#, &PROGRAM).unwrap();
        assert!(matches!(args[1], ScalarValue::Float(f) if f == 0.0 && f.is_sign_negative()));
    }

    #[test]
    fn rejects_bad_arguments_naming_them() {
        let cases = [
            (r#"{"n": 1, "x": 1.0}"#, "missing argument `b`"),
            (
                r#"{"n": 1, "x": 1.0, "b": true, "z": 0}"#,
                "unexpected argument `z`",
            ),
            (r#"{"n": 1.5, "x": 1.0, "b": true}"#, "argument `n`"),
            (
                r#"{"n": 9223372036854775808, "x": 1.0, "b": true}"#,
                "outside the Int range",
            ),
            (r#"{"n": 1, "x": "fast", "b": true}"#, "argument `x`"),
            (r#"{"n": 1, "x": 1.0, "b": 1}"#, "argument `b`"),
            (r#"[1, 2]"#, "must be a JSON object"),
            (r#"{"n": "#, "not valid JSON"),
        ];
        for (text, expected) in cases {
            let err = parse_arguments(text, &PROGRAM).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    /// The input record `text` leaves in a fresh arena, or the error.
    fn input_record(text: &str, direct: bool) -> Result<Vec<u8>, String> {
        let mut arena = Arena::new(&[1, 2, 3], PROGRAM.in_len, PROGRAM.out_len);
        if direct {
            parse_arguments_into_arena(text, &PROGRAM, &mut arena)?;
        } else {
            arena.write_arguments(PROGRAM.params, &parse_arguments(text, &PROGRAM)?);
        }
        Ok(arena.input_mut().to_vec())
    }

    #[test]
    fn parsing_into_the_arena_lays_out_what_parsing_then_writing_does() {
        for text in [
            r#"{"n":-7,"x":2.5,"b":true}"#,
            r#"{"n":0,"x":"NaN","b":false}"#,
            r#"  { "b" : true , "x" : -0.0, "n" : 9223372036854775807 }  "#,
            r#"{"x":"-Infinity","n":-120,"b":true}"#,
            r#"{"n":9007199254740993,"x":1e300,"b":false}"#,
        ] {
            let direct = input_record(text, true).unwrap();
            assert_eq!(direct, input_record(text, false).unwrap(), "{text}");
            assert_ne!(direct, vec![0; direct.len()], "{text}");
        }
        // The fast path gives up on these; the full parser answers.
        for text in [
            r#"{"n": 1.5, "x": 1.0, "b": true}"#,
            r#"{"n": 1, "x": 1.0}"#,
            r#"{"n": 1, "x": 1.0, "b": true, "z": 0}"#,
        ] {
            assert_eq!(
                input_record(text, true),
                input_record(text, false),
                "{text}"
            );
            assert!(input_record(text, true).is_err(), "{text}");
        }
    }

    #[test]
    fn the_fast_path_and_the_full_parser_agree() {
        let cases = [
            r#"{"n": 1, "x": 2.5, "b": true}"#,
            r#"  { "b" : false , "x" : "NaN", "n" : -9223372036854775808 }  "#,
            r#"{"n": 9007199254740993, "x": 1e300, "b": false}"#,
            r#"{"n": 1, "x": -0.0, "b": true}"#,
            r#"{"n": 1, "x": 0.1, "b": true}"#,
            r#"{"n": 1, "x": 3, "b": true}"#,
            r#"{"n": 9223372036854775807, "x": 3, "b": true}"#,
            r#"{"n":0,"x":2,"b":false}"#,
            r#"{"x":"-Infinity","n":-120,"b":true}"#,
        ];
        // Each case also in the compact form (no whitespace), which takes
        // the compact path when its keys are in parameter order.
        let compact = cases.map(|text| text.replace(' ', ""));
        for text in cases
            .iter()
            .copied()
            .chain(compact.iter().map(String::as_str))
        {
            let mut fast = vec![ScalarValue::Bool(true); 7];
            assert!(parse_flat(text, &PROGRAM, &mut fast), "{text}");
            let json: Json = serde_json::from_str(text).unwrap();
            let full: Vec<ScalarValue> = PROGRAM
                .params
                .iter()
                .map(|p| parse_scalar(&json[p.name], p.ty).unwrap())
                .collect();
            for (a, b) in fast.iter().zip(&full) {
                match (a, b) {
                    (ScalarValue::Float(x), ScalarValue::Float(y)) => assert!(
                        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                        "{text}"
                    ),
                    _ => assert_eq!(a, b, "{text}"),
                }
            }
        }
        // Irregular input leaves the fast path, so the full parser explains it.
        for text in [
            r#"{"n": 1.5, "x": 1.0, "b": true}"#,
            r#"{"n": 1, "x": 1.0}"#,
            r#"{"n": 1, "x": 1.0, "b": true, "n": 2}"#,
            r#"{"n\u0041": 1}"#,
            "[1]",
            r#"{"n": 1, "x": 1.0, "b": tru}"#,
            r#"{"n": +1, "x": 1.0, "b": true}"#,
            r#"{"n": 01, "x": 1.0, "b": true}"#,
            r#"{"n": 1, "x": 1., "b": true}"#,
            r#"{"n": 9223372036854775808, "x": 1.0, "b": true}"#,
            r#"{"n": -0.0, "x": 1.0, "b": true}"#,
            r#"{"n": 1e3, "x": 1.0, "b": true}"#,
            r#"{"n": -, "x": 1.0, "b": true}"#,
            r#"{"n": -0, "x": 1.0, "b": true}"#,
            r#"{"n": 00, "x": 1.0, "b": true}"#,
            r#"{"n": 1-2, "x": 1.0, "b": true}"#,
            r#"{"n": 12"#,
            "{\x0c\"n\": 1, \"x\": 1.0, \"b\": true}",
        ] {
            assert!(!parse_flat(text, &PROGRAM, &mut Vec::new()), "{text}");
            let compact = text.replace(' ', "");
            assert!(
                !parse_flat(&compact, &PROGRAM, &mut Vec::new()),
                "{compact}"
            );
        }
        // Trailing bytes after a compact object.
        for text in [r#"{"n":1,"x":1.0,"b":true}x"#, r#"{"n":1,"x":1.0,"b":true"#] {
            assert!(!parse_flat(text, &PROGRAM, &mut Vec::new()), "{text}");
        }
    }

    #[test]
    fn ints_format_as_to_string_does() {
        let mut out = String::from("stale");
        for i in [
            0,
            7,
            -7,
            10,
            1_000_000,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            -10,
        ] {
            format_value_into(&mut out, ScalarValue::Int(i));
            assert_eq!(out, i.to_string());
        }
        format_value_into(&mut out, ScalarValue::Bool(false));
        assert_eq!(out, "false");
    }

    #[test]
    fn formats_floats_so_they_read_back() {
        assert_eq!(format_value(ScalarValue::Float(8.0)), "8.0");
        assert_eq!(format_value(ScalarValue::Float(-0.0)), "-0.0");
        assert_eq!(
            format_value(ScalarValue::Float(0.1 + 0.2)),
            "0.30000000000000004"
        );
        assert_eq!(format_value(ScalarValue::Float(f64::NAN)), "\"NaN\"");
        assert_eq!(format_value(ScalarValue::Float(1e300)), "1e300");
        assert_eq!(
            format_value(ScalarValue::Int(i64::MIN)),
            "-9223372036854775808"
        );
    }
}
