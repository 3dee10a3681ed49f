//! `#main` arguments and results of every type (strings, lists, records,
//! `Option`/`Result`/`#enum` variants), driven by the program's canonical
//! `#main` and return schemas.
//!
//! Two conversions live here: JSON to and from `relon_eval_api::Value`
//! (the conventions below), and `Value` to and from the arena buffers,
//! which is `relon_abi`'s job: [`BufferBuilder`] writes the input buffer
//! with arena-absolute pointers, and `relon_abi::inplace_return` verifies
//! the output graph before decoding it. Scalar-only programs do not need
//! this module (see `json`).
//!
//! JSON conventions, beyond the scalar ones of `json`:
//! - `String`: a JSON string. `List<T>`: an array. A `#schema` record: an
//!   object with exactly its fields. A tuple: an array.
//! - `Option<T>`: `null` for `None`, the value itself for `Some`.
//! - `Result<T, E>`: `{"Ok": value}` or `{"Err": error}`.
//! - `#enum` variant: `"Name"` for a unit variant, `{"Name": {fields}}`
//!   (or `{"Name": [items]}` for a tuple variant) otherwise.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use relon_abi::buffer::BufferBuilder;
use relon_abi::inplace_return::{
    ArenaRegions, decode_inplace_return, decode_inplace_sentinel, decode_object_return,
};
use relon_abi::layout::{OffsetTable, SchemaLayout};
use relon_abi::schema_canonical::{Schema, TypeRepr};
use relon_eval_api::RuntimeError;
use relon_eval_api::value::{Value, ValueDict};
use serde_json::Value as Json;

use crate::arena::Arena;
use crate::json::ScalarValue;
use relon_runtime_contract::ScalarType;

/// Name of the return schema of a `#main` whose result is one value
/// (`relon_ir::MAIN_RETURN_SCHEMA_NAME`).
pub const MAIN_RETURN_SCHEMA_NAME: &str = "Ret";
/// Its one field (`relon_ir::RETURN_VALUE_FIELD_NAME`).
pub const RETURN_VALUE_FIELD_NAME: &str = "value";

/// Extra output capacity past the result's fixed area, for the strings,
/// lists and sub-records of the result.
pub const OUTPUT_TAIL_BYTES: u32 = 1 << 20;

/// The `#main` and return schemas of a program and their layouts.
#[derive(Debug, Clone)]
pub struct ValueSignature {
    main: Schema,
    main_layout: OffsetTable,
    ret: Schema,
    ret_layout: OffsetTable,
}

impl ValueSignature {
    /// Lay out `main` (parameters) and `ret` (result).
    pub fn new(main: Schema, ret: Schema) -> Result<ValueSignature, String> {
        let main_layout =
            SchemaLayout::offsets_for(&main).map_err(|e| format!("#main parameters: {e}"))?;
        let ret_layout =
            SchemaLayout::offsets_for(&ret).map_err(|e| format!("#main result: {e}"))?;
        Ok(ValueSignature {
            main,
            main_layout,
            ret,
            ret_layout,
        })
    }

    /// From the two schemas serialized as JSON (how the executable carries them).
    pub fn from_json(main: &str, ret: &str) -> Result<ValueSignature, String> {
        let main = serde_json::from_str(main)
            .map_err(|e| format!("the #main schema does not read: {e}"))?;
        let ret = serde_json::from_str(ret)
            .map_err(|e| format!("the return schema does not read: {e}"))?;
        ValueSignature::new(main, ret)
    }

    /// The parameters.
    pub fn main_schema(&self) -> &Schema {
        &self.main
    }

    /// The result.
    pub fn return_schema(&self) -> &Schema {
        &self.ret
    }

    fn single_value(&self) -> bool {
        self.ret.name == MAIN_RETURN_SCHEMA_NAME
            && self.ret.fields.len() == 1
            && self.ret.fields[0].name == RETURN_VALUE_FIELD_NAME
    }

    /// Read the arguments object: every parameter, by its declared type.
    pub fn arguments_from_json(&self, text: &str) -> Result<HashMap<String, Value>, String> {
        let json: Json = serde_json::from_str(text.trim())
            .map_err(|e| format!("the arguments are not valid JSON: {e}"))?;
        let Json::Object(mut map) = json else {
            return Err(format!(
                "the arguments must be a JSON object, found {}",
                kind_of(&json)
            ));
        };
        let mut args = HashMap::new();
        for field in &self.main.fields {
            let value = map.remove(&field.name).ok_or_else(|| {
                format!(
                    "missing argument `{}` ({})",
                    field.name,
                    type_name(&field.ty)
                )
            })?;
            let value = value_from_json(&value, &field.ty)
                .map_err(|why| format!("argument `{}`{why}", field.name))?;
            args.insert(field.name.clone(), value);
        }
        if let Some(extra) = map.keys().next() {
            let expected: Vec<&str> = self.main.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(format!(
                "unexpected argument `{extra}`; #main takes ({})",
                expected.join(", ")
            ));
        }
        Ok(args)
    }

    /// Write `args` into `arena`'s input buffer (pointers arena-absolute)
    /// and size its output buffer. Missing, extra and mistyped arguments
    /// are the errors tree-walk reports.
    pub fn load_arguments(
        &self,
        arena: &mut Arena,
        mut args: HashMap<String, Value>,
    ) -> Result<(), RuntimeError> {
        let mut builder = BufferBuilder::new(&self.main_layout, &self.main.fields);
        for field in &self.main.fields {
            let value = args
                .remove(&field.name)
                .ok_or_else(|| RuntimeError::MissingMainArg {
                    name: field.name.clone(),
                    range: Default::default(),
                })?;
            let value = widen(&value, &field.ty);
            builder
                .write_value(&field.name, &field.ty, &value)
                .map_err(|e| RuntimeError::MainArgTypeMismatch {
                    name: field.name.clone(),
                    expected: type_name(&field.ty),
                    found: e.to_string(),
                    range: Default::default(),
                })?;
        }
        if let Some(extra) = args.keys().min() {
            return Err(RuntimeError::UnexpectedMainArg {
                name: extra.clone(),
                range: Default::default(),
            });
        }
        let bytes = builder
            .finish_arena_absolute(arena.in_offset())
            .map_err(|e| {
                RuntimeError::ValidationError(
                    format!("the arguments do not fit the input buffer: {e}"),
                    Default::default(),
                )
            })?;
        let root = self.ret_layout.root_size as u32;
        arena.reshape(
            bytes.len() as u32,
            root,
            root.next_multiple_of(8) + OUTPUT_TAIL_BYTES,
        );
        arena.input_mut().copy_from_slice(&bytes);
        Ok(())
    }

    /// Decode the result of the last call from `arena`, after verifying
    /// every pointer it follows stays inside the arena's regions.
    pub fn read_result(&self, arena: &Arena) -> Result<Value, RuntimeError> {
        let layout = arena.regions();
        let regions = ArenaRegions {
            const_data_len: layout.const_len as usize,
            in_ptr: layout.in_offset,
            in_len: layout.in_len,
            out_ptr: layout.out_offset,
            out_cap: layout.out_cap,
            scratch_base: layout.scratch_offset,
            arena_size: layout.arena_len as usize,
        };
        let bytes = arena.arena_bytes();
        let written = arena.entry_result();
        if written < 0 {
            let root = decode_inplace_sentinel(written)?;
            if !self.single_value() {
                return Err(RuntimeError::IoError(
                    "an in-place result for a record return".into(),
                ));
            }
            return decode_inplace_return(
                "llvm",
                bytes,
                regions,
                root,
                &self.ret.fields[0],
                &self.ret_layout,
                &self.ret.fields,
            );
        }
        decode_object_return(
            "llvm",
            bytes,
            layout.out_offset as usize,
            regions,
            &self.ret_layout,
            &self.ret,
            self.single_value(),
        )
    }
}

/// `value` as a `#main` scalar of type `ty`: an Int where a Float is
/// declared reads as that Float (as tree-walk does); `None` for any other
/// pairing.
pub fn scalar_from_value(ty: ScalarType, value: &Value) -> Option<ScalarValue> {
    Some(match (ty, value) {
        (ScalarType::Int, Value::Int(i)) => ScalarValue::Int(*i),
        (ScalarType::Float, Value::Float(f)) => ScalarValue::Float(f.0),
        (ScalarType::Float, Value::Int(i)) => ScalarValue::Float(*i as f64),
        (ScalarType::Bool, Value::Bool(b)) => ScalarValue::Bool(*b),
        _ => return None,
    })
}

/// An Int where a Float is declared reads as that Float (as tree-walk does).
fn widen(value: &Value, ty: &TypeRepr) -> Value {
    match (ty, value) {
        (TypeRepr::Float, Value::Int(i)) => Value::Float((*i as f64).into()),
        _ => value.clone(),
    }
}

/// The Relon spelling of a type, for messages.
pub fn type_name(ty: &TypeRepr) -> String {
    match ty {
        TypeRepr::Unit => "Unit".into(),
        TypeRepr::Bool => "Bool".into(),
        TypeRepr::Int => "Int".into(),
        TypeRepr::Float => "Float".into(),
        TypeRepr::String => "String".into(),
        TypeRepr::List { element } => format!("List<{}>", type_name(element)),
        TypeRepr::Option { inner } => format!("Option<{}>", type_name(inner)),
        TypeRepr::Result { ok, err } => format!("Result<{}, {}>", type_name(ok), type_name(err)),
        TypeRepr::Enum { name, .. } => name.clone(),
        TypeRepr::Schema { schema } if schema.is_tuple => {
            let items: Vec<String> = schema.fields.iter().map(|f| type_name(&f.ty)).collect();
            format!("({})", items.join(", "))
        }
        TypeRepr::Schema { schema } => schema.name.clone(),
        TypeRepr::Closure { .. } => "closure".into(),
    }
}

fn kind_of(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Read `json` as a value of type `ty`. The error names the path inside
/// the argument (`[2].name`) and what was expected.
pub fn value_from_json(json: &Json, ty: &TypeRepr) -> Result<Value, String> {
    let mismatch = || {
        Err(format!(
            ": expected {}, found {}",
            type_name(ty),
            kind_of(json)
        ))
    };
    match ty {
        TypeRepr::Int => match json.as_i64() {
            Some(i) => Ok(Value::Int(i)),
            None if json.is_number() => Err(format!(": {json} is not an Int in the i64 range")),
            None => mismatch(),
        },
        TypeRepr::Float => match json {
            Json::Number(n) => n
                .as_f64()
                .map(|f| Value::Float(f.into()))
                .ok_or_else(|| format!(": {n} is not a Float")),
            Json::String(s) => match s.as_str() {
                "NaN" => Ok(Value::Float(f64::NAN.into())),
                "Infinity" => Ok(Value::Float(f64::INFINITY.into())),
                "-Infinity" => Ok(Value::Float(f64::NEG_INFINITY.into())),
                _ => mismatch(),
            },
            _ => mismatch(),
        },
        TypeRepr::Bool => json.as_bool().map(Value::Bool).map_or_else(mismatch, Ok),
        TypeRepr::String => json
            .as_str()
            .map(|s| Value::String(s.into()))
            .map_or_else(mismatch, Ok),
        TypeRepr::Unit => mismatch(),
        TypeRepr::List { element } => {
            let Json::Array(items) = json else {
                return mismatch();
            };
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    value_from_json(item, element).map_err(|why| format!("[{i}]{why}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::list(values))
        }
        TypeRepr::Option { inner } => match json {
            Json::Null => Ok(Value::option_none()),
            other => Ok(Value::option_some(value_from_json(other, inner)?)),
        },
        TypeRepr::Result { ok, err } => {
            let Json::Object(map) = json else {
                return mismatch();
            };
            match (map.len(), map.get("Ok"), map.get("Err")) {
                (1, Some(v), None) => Ok(Value::result_ok(
                    value_from_json(v, ok).map_err(|why| format!(".Ok{why}"))?,
                )),
                (1, None, Some(e)) => Ok(Value::result_err(
                    value_from_json(e, err).map_err(|why| format!(".Err{why}"))?,
                )),
                _ => Err(": expected {\"Ok\": value} or {\"Err\": error}".into()),
            }
        }
        TypeRepr::Enum { name, variants } => {
            let (variant_name, payload) = match json {
                Json::String(s) => (s.as_str(), None),
                Json::Object(map) if map.len() == 1 => {
                    let (k, v) = map
                        .iter()
                        .next()
                        .ok_or_else(|| format!(": expected a {name} variant"))?;
                    (k.as_str(), Some(v))
                }
                _ => return mismatch(),
            };
            let variant = variants
                .iter()
                .find(|v| v.name == variant_name)
                .ok_or_else(|| {
                    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                    format!(
                        ": `{variant_name}` is not a variant of {name} ({})",
                        names.join(", ")
                    )
                })?;
            let map = match (payload, variant.fields.is_empty()) {
                (None, true) => BTreeMap::new(),
                (Some(Json::Array(items)), false)
                    if variant.is_tuple && items.len() == variant.fields.len() =>
                {
                    variant
                        .fields
                        .iter()
                        .zip(items)
                        .map(|(f, item)| {
                            Ok((
                                f.name.as_str().into(),
                                value_from_json(item, &f.ty)
                                    .map_err(|why| format!(".{}{why}", f.name))?,
                            ))
                        })
                        .collect::<Result<_, String>>()?
                }
                (Some(Json::Object(fields)), false) => record_fields(fields, &variant.fields)?,
                _ => {
                    return Err(format!(
                        ": the payload of {name}.{variant_name} does not match its declaration"
                    ));
                }
            };
            Ok(Value::variant_dict(map, variant.name.clone(), name.clone()))
        }
        TypeRepr::Schema { schema } if schema.is_tuple => {
            let Json::Array(items) = json else {
                return mismatch();
            };
            if items.len() != schema.fields.len() {
                return Err(format!(
                    ": expected {} items, found {}",
                    schema.fields.len(),
                    items.len()
                ));
            }
            let values = schema
                .fields
                .iter()
                .zip(items)
                .enumerate()
                .map(|(i, (f, item))| {
                    value_from_json(item, &f.ty).map_err(|why| format!("[{i}]{why}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::tuple(values))
        }
        TypeRepr::Schema { schema } => {
            let Json::Object(fields) = json else {
                return mismatch();
            };
            let map = record_fields(fields, &schema.fields)?;
            Ok(Value::Dict(Arc::new(ValueDict::with_brand(
                map,
                Some(schema.name.clone()),
            ))))
        }
        TypeRepr::Closure { .. } => Err(": a closure cannot be passed as JSON".into()),
    }
}

fn record_fields(
    json: &serde_json::Map<String, Json>,
    fields: &[relon_abi::schema_canonical::Field],
) -> Result<BTreeMap<relon_eval_api::smol_str::SmolStr, Value>, String> {
    if let Some(extra) = json.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
        return Err(format!(".{extra}: no such field"));
    }
    fields
        .iter()
        .map(|f| {
            let value = json
                .get(&f.name)
                .ok_or_else(|| format!(".{}: missing field ({})", f.name, type_name(&f.ty)))?;
            Ok((
                f.name.as_str().into(),
                value_from_json(value, &f.ty).map_err(|why| format!(".{}{why}", f.name))?,
            ))
        })
        .collect()
}

/// A value as JSON text, by the conventions in the module documentation.
pub fn format_value(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&crate::json::format_value(
            crate::json::ScalarValue::Float(f.0),
        )),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(&Json::String(s.to_string()).to_string()),
        Value::List(items) | Value::Tuple(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Dict(dict) => write_dict(out, dict),
        other => out.push_str(&Json::String(format!("<{}>", other.type_name())).to_string()),
    }
}

fn write_dict(out: &mut String, dict: &ValueDict) {
    let fields = |out: &mut String, dict: &ValueDict| {
        out.push('{');
        for (i, (k, v)) in dict.map.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Json::String(k.to_string()).to_string());
            out.push(':');
            write_value(out, v);
        }
        out.push('}');
    };
    match (dict.variant_of.as_deref(), dict.brand.as_deref()) {
        (Some("Option"), Some("None")) => out.push_str("null"),
        (Some("Option"), Some("Some")) => match dict.map.get("value") {
            Some(v) => write_value(out, v),
            None => out.push_str("null"),
        },
        (Some("Result"), Some(arm @ ("Ok" | "Err"))) => {
            out.push_str(&format!("{{\"{arm}\":"));
            match dict.map.get(if arm == "Ok" { "value" } else { "error" }) {
                Some(v) => write_value(out, v),
                None => out.push_str("null"),
            }
            out.push('}');
        }
        (Some(_), Some(variant)) if dict.map.is_empty() => {
            out.push_str(&Json::String(variant.to_string()).to_string())
        }
        (Some(_), Some(variant)) => {
            out.push('{');
            out.push_str(&Json::String(variant.to_string()).to_string());
            out.push(':');
            let positional = dict.map.keys().all(|k| k.parse::<usize>().is_ok());
            if positional {
                let mut items: Vec<(usize, &Value)> = dict
                    .map
                    .iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                write_value(
                    out,
                    &Value::list(items.into_iter().map(|(_, v)| v.clone()).collect()),
                );
            } else {
                fields(out, dict);
            }
            out.push('}');
        }
        _ => fields(out, dict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_through_values() {
        let ty = TypeRepr::List {
            element: Box::new(TypeRepr::Option {
                inner: Box::new(TypeRepr::String),
            }),
        };
        let json: Json = serde_json::from_str(r#"["a", null, "c\"d"]"#).unwrap();
        let value = value_from_json(&json, &ty).unwrap();
        assert_eq!(format_value(&value), r#"["a",null,"c\"d"]"#);
        let bad: Json = serde_json::from_str(r#"["a", 3]"#).unwrap();
        assert_eq!(
            value_from_json(&bad, &ty).unwrap_err(),
            "[1]: expected String, found a number"
        );
    }

    #[test]
    fn results_and_enums_are_externally_tagged() {
        let ok = Value::result_ok(Value::Int(3));
        assert_eq!(format_value(&ok), r#"{"Ok":3}"#);
        let unit = Value::variant_dict(
            BTreeMap::<String, Value>::new(),
            "Red".into(),
            "Color".into(),
        );
        assert_eq!(format_value(&unit), r#""Red""#);
        let payload = Value::variant_dict(
            [("r".to_string(), Value::Int(1))],
            "Rgb".into(),
            "Color".into(),
        );
        assert_eq!(format_value(&payload), r#"{"Rgb":{"r":1}}"#);
    }
}
