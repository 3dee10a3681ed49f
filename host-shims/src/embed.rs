//! Calling a co-compiled program that is linked into a Rust crate (the
//! static archive `relon_cocompile::emit_object` writes), for the typed
//! functions `relon-bindings` generates.
//!
//! An [`EmbeddedProgram`] is a `static` in the generated code: the entry
//! symbols, the constant data, the trap sites and the entry [`Shape`]. A
//! call takes an arena from the program's pool, lays the arguments in,
//! runs the entry on a deep stack (`run_stack`), and turns the result or
//! the trap into a value or the `RuntimeError` tree-walk raises. Scalar
//! programs write and read fixed offsets ([`ScalarInput`],
//! [`ScalarOutput`]); the others go through `relon_eval_api::Value` and
//! `relon-abi` buffers ([`ToRelon`], [`FromRelon`]), never through JSON.
//!
//! Host functions are compiled into the archive (closed world). A fallible
//! one reports through `HostFailure` and the call returns a
//! `ValidationError`; a panic in one cannot unwind through its `extern "C"`
//! boundary and aborts the process, as in any Rust program.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

pub use relon_eval_api::RuntimeError;
pub use relon_eval_api::value::{Value, ValueDict};
pub use relon_runtime_contract::{EntryState, TrapSite};

use relon_runtime_contract::{ENTRY_OK, ScalarType};

use crate::EntryFn;
use crate::arena::Arena;
use crate::json::ScalarValue;
pub use crate::trap_error::RunLimits;
use crate::trap_error::trap_error;
use crate::values::ValueSignature;

/// Version of this module's interface to generated code; generated code
/// asserts it at compile time.
pub const ABI_VERSION: u32 = 1;

/// How an entry takes its arguments.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Int, Float and Bool at fixed offsets of the input and output records.
    Scalars {
        /// Input record size.
        in_len: u32,
        /// Output record size.
        out_len: u32,
    },
    /// `relon-abi` buffers laid out by the canonical schemas (JSON text).
    Values {
        /// The `#main` schema.
        main_schema: &'static str,
        /// The return schema.
        return_schema: &'static str,
    },
}

/// A compiled program linked into this process.
pub struct EmbeddedProgram {
    source_name: &'static str,
    const_data: &'static [u8],
    trap_sites: &'static [TrapSite],
    entry: EntryFn,
    metered_entry: EntryFn,
    shape: Shape,
    signature: OnceLock<Result<ValueSignature, String>>,
    arenas: Mutex<Vec<Arena>>,
}

impl EmbeddedProgram {
    /// Describe a program (generated code builds this as a `static`).
    pub const fn new(
        source_name: &'static str,
        const_data: &'static [u8],
        trap_sites: &'static [TrapSite],
        entry: EntryFn,
        metered_entry: EntryFn,
        shape: Shape,
    ) -> EmbeddedProgram {
        EmbeddedProgram {
            source_name,
            const_data,
            trap_sites,
            entry,
            metered_entry,
            shape,
            signature: OnceLock::new(),
            arenas: Mutex::new(Vec::new()),
        }
    }

    /// File name of the program's source.
    pub fn source_name(&self) -> &'static str {
        self.source_name
    }

    /// Run a scalar program: `write` fills the input record, `read` takes
    /// the result from the output record.
    pub fn run_scalars<T>(
        &self,
        limits: &RunLimits,
        write: impl FnOnce(&mut ScalarInput<'_>),
        read: impl FnOnce(&ScalarOutput<'_>) -> T,
    ) -> Result<T, RuntimeError> {
        if !matches!(self.shape, Shape::Scalars { .. }) {
            return Err(RuntimeError::Unsupported {
                reason: format!(
                    "{} takes its arguments as values, not scalars; regenerate the bindings",
                    self.source_name
                ),
            });
        }
        self.with_arena(|arena| {
            write(&mut ScalarInput { arena });
            self.call(arena, limits)?;
            Ok(read(&ScalarOutput { arena }))
        })
    }

    /// Run a program that takes or returns strings, lists, records or
    /// variants, with its arguments by parameter name.
    pub fn run_values(
        &self,
        limits: &RunLimits,
        args: Vec<(&str, Value)>,
    ) -> Result<Value, RuntimeError> {
        let Shape::Values {
            main_schema,
            return_schema,
        } = self.shape
        else {
            return Err(RuntimeError::Unsupported {
                reason: format!(
                    "{} takes scalars, not values; regenerate the bindings",
                    self.source_name
                ),
            });
        };
        let signature = self
            .signature
            .get_or_init(|| ValueSignature::from_json(main_schema, return_schema))
            .as_ref()
            .map_err(|message| RuntimeError::Unsupported {
                reason: format!("the schemas of {} are damaged: {message}", self.source_name),
            })?;
        let args: HashMap<String, Value> = args
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        self.with_arena(|arena| {
            signature.load_arguments(arena, args)?;
            self.call(arena, limits)?;
            signature.read_result(arena)
        })
    }

    /// Run `work` with an arena of this program's pool, on the deep stack.
    fn with_arena<T>(
        &self,
        work: impl FnOnce(&mut Arena) -> Result<T, RuntimeError>,
    ) -> Result<T, RuntimeError> {
        let pooled = self.arenas.lock().ok().and_then(|mut pool| pool.pop());
        let mut arena = pooled.unwrap_or_else(|| match self.shape {
            Shape::Scalars { in_len, out_len } => Arena::new(self.const_data, in_len, out_len),
            Shape::Values { .. } => Arena::new(self.const_data, 0, 0),
        });
        let result = crate::run_stack::on_run_stack(|| work(&mut arena));
        if let Ok(mut pool) = self.arenas.lock() {
            pool.push(arena);
        }
        result
    }

    /// Call the entry over the loaded `arena`; the trap as an error.
    fn call(&self, arena: &mut Arena, limits: &RunLimits) -> Result<(), RuntimeError> {
        let entry = if limits.fuel.is_some() {
            self.metered_entry
        } else {
            self.entry
        };
        let status = arena.call(entry, limits.entry_limits());
        if status == ENTRY_OK {
            return Ok(());
        }
        let (code, site) = arena.trap();
        Err(trap_error(
            code,
            self.trap_sites.get(site as usize).copied(),
            *limits,
            None,
            arena.host_failure(),
        ))
    }
}

/// The input record of a scalar program, written by offset.
pub struct ScalarInput<'a> {
    arena: &'a mut Arena,
}

impl ScalarInput<'_> {
    /// An Int parameter at `offset`.
    pub fn i64(&mut self, offset: u32, value: i64) {
        self.arena.write_input(offset, ScalarValue::Int(value));
    }

    /// A Float parameter at `offset`.
    pub fn f64(&mut self, offset: u32, value: f64) {
        self.arena.write_input(offset, ScalarValue::Float(value));
    }

    /// A Bool parameter at `offset`.
    pub fn bool(&mut self, offset: u32, value: bool) {
        self.arena.write_input(offset, ScalarValue::Bool(value));
    }
}

/// The output record of a scalar program, read by offset.
pub struct ScalarOutput<'a> {
    arena: &'a Arena,
}

impl ScalarOutput<'_> {
    /// The Int at `offset`.
    pub fn i64(&self, offset: u32) -> i64 {
        match self.arena.read_output(offset, ScalarType::Int) {
            ScalarValue::Int(i) => i,
            _ => 0,
        }
    }

    /// The Float at `offset`.
    pub fn f64(&self, offset: u32) -> f64 {
        match self.arena.read_output(offset, ScalarType::Float) {
            ScalarValue::Float(f) => f,
            _ => 0.0,
        }
    }

    /// The Bool at `offset`.
    pub fn bool(&self, offset: u32) -> bool {
        matches!(
            self.arena.read_output(offset, ScalarType::Bool),
            ScalarValue::Bool(true)
        )
    }
}

/// A Rust value as a Relon value (argument direction).
pub trait ToRelon {
    /// The Relon value.
    fn to_relon(&self) -> Value;
}

/// A Relon value as a Rust value (result direction).
pub trait FromRelon: Sized {
    /// The Rust value, or `TypeMismatch` naming what was found.
    fn from_relon(value: Value) -> Result<Self, RuntimeError>;
}

fn mismatch(expected: &str, found: &Value) -> RuntimeError {
    RuntimeError::TypeMismatch {
        expected: expected.into(),
        found: found.type_name().to_string(),
        range: Default::default(),
    }
}

macro_rules! scalars {
    ($($rust:ty => $variant:ident, $relon:literal, |$t:ident| $to:expr, |$f:ident| $from:expr;)+) => {$(
        impl ToRelon for $rust {
            fn to_relon(&self) -> Value {
                let $t = *self;
                Value::$variant($to)
            }
        }

        impl FromRelon for $rust {
            fn from_relon(value: Value) -> Result<Self, RuntimeError> {
                match value {
                    Value::$variant($f) => Ok($from),
                    other => Err(mismatch($relon, &other)),
                }
            }
        }
    )+};
}

scalars! {
    i64 => Int, "Int", |v| v, |v| v;
    f64 => Float, "Float", |v| v.into(), |v| v.0;
    bool => Bool, "Bool", |v| v, |v| v;
}

impl ToRelon for String {
    fn to_relon(&self) -> Value {
        Value::String(self.as_str().into())
    }
}

impl FromRelon for String {
    fn from_relon(value: Value) -> Result<Self, RuntimeError> {
        match value {
            Value::String(s) => Ok(s.to_string()),
            other => Err(mismatch("String", &other)),
        }
    }
}

impl ToRelon for () {
    /// The ABI's `Unit` slot holds the `None` value.
    fn to_relon(&self) -> Value {
        Value::option_none()
    }
}

impl FromRelon for () {
    fn from_relon(_: Value) -> Result<Self, RuntimeError> {
        Ok(())
    }
}

impl ToRelon for Value {
    fn to_relon(&self) -> Value {
        self.clone()
    }
}

impl FromRelon for Value {
    fn from_relon(value: Value) -> Result<Self, RuntimeError> {
        Ok(value)
    }
}

impl<T: ToRelon> ToRelon for Vec<T> {
    fn to_relon(&self) -> Value {
        Value::list(self.iter().map(ToRelon::to_relon).collect())
    }
}

impl<T: FromRelon> FromRelon for Vec<T> {
    fn from_relon(value: Value) -> Result<Self, RuntimeError> {
        match value {
            Value::List(items) => Arc::unwrap_or_clone(items)
                .into_iter()
                .map(T::from_relon)
                .collect(),
            other => Err(mismatch("List", &other)),
        }
    }
}

impl<T: ToRelon> ToRelon for Option<T> {
    fn to_relon(&self) -> Value {
        match self {
            Some(v) => Value::option_some(v.to_relon()),
            None => Value::option_none(),
        }
    }
}

impl<T: FromRelon> FromRelon for Option<T> {
    fn from_relon(value: Value) -> Result<Self, RuntimeError> {
        let (variant, mut fields) = Fields::of_variant(value, "Option")?;
        match variant.as_str() {
            "Some" => Ok(Some(fields.take("value")?)),
            "None" => Ok(None),
            other => Err(unknown_variant("Option", other)),
        }
    }
}

impl<T: ToRelon, E: ToRelon> ToRelon for Result<T, E> {
    fn to_relon(&self) -> Value {
        match self {
            Ok(v) => Value::result_ok(v.to_relon()),
            Err(e) => Value::result_err(e.to_relon()),
        }
    }
}

impl<T: FromRelon, E: FromRelon> FromRelon for Result<T, E> {
    fn from_relon(value: Value) -> Result<Self, RuntimeError> {
        let (variant, mut fields) = Fields::of_variant(value, "Result")?;
        match variant.as_str() {
            "Ok" => Ok(Ok(fields.take("value")?)),
            "Err" => Ok(Err(fields.take("error")?)),
            other => Err(unknown_variant("Result", other)),
        }
    }
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),+))+) => {$(
        impl<$($t: ToRelon),+> ToRelon for ($($t,)+) {
            fn to_relon(&self) -> Value {
                Value::tuple(vec![$(self.$i.to_relon()),+])
            }
        }

        impl<$($t: FromRelon),+> FromRelon for ($($t,)+) {
            fn from_relon(value: Value) -> Result<Self, RuntimeError> {
                let Value::Tuple(items) = value else {
                    return Err(mismatch("Tuple", &value));
                };
                let mut items = Arc::unwrap_or_clone(items).into_iter();
                Ok(($(
                    $t::from_relon(items.next().ok_or_else(|| RuntimeError::TypeMismatch {
                        expected: format!("a tuple item {}", $i),
                        found: "a shorter tuple".into(),
                        range: Default::default(),
                    })?)?,
                )+))
            }
        }
    )+};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
}

/// A `#schema` record value named `name` with these fields.
pub fn record(name: &str, fields: Vec<(&str, Value)>) -> Value {
    Value::Dict(Arc::new(ValueDict::with_brand(
        fields,
        Some(name.to_string()),
    )))
}

/// Variant `variant` of `#enum enum_name` with these payload fields.
pub fn variant(enum_name: &str, variant: &str, fields: Vec<(&str, Value)>) -> Value {
    Value::variant_dict(fields, variant.to_string(), enum_name.to_string())
}

/// The error for a variant name the bindings do not know.
pub fn unknown_variant(enum_name: &str, variant: &str) -> RuntimeError {
    RuntimeError::TypeMismatch {
        expected: format!("a variant of {enum_name}"),
        found: format!("`{variant}`"),
        range: Default::default(),
    }
}

/// The fields of a record or variant value, taken out one by one.
pub struct Fields {
    owner: String,
    map: BTreeMap<String, Value>,
}

impl Fields {
    /// The fields of a record value (`name` for messages).
    pub fn of_record(value: Value, name: &str) -> Result<Fields, RuntimeError> {
        match value {
            Value::Dict(dict) if dict.variant_of.is_none() => {
                Ok(Fields::of_dict(name.into(), &dict))
            }
            other => Err(mismatch(name, &other)),
        }
    }

    /// The variant name and payload fields of a value of `#enum enum_name`.
    pub fn of_variant(value: Value, enum_name: &str) -> Result<(String, Fields), RuntimeError> {
        match value {
            Value::Dict(dict) if dict.variant_of.as_deref() == Some(enum_name) => {
                let variant = dict.brand.clone().unwrap_or_default();
                let fields = Fields::of_dict(format!("{enum_name}.{variant}"), &dict);
                Ok((variant, fields))
            }
            other => Err(mismatch(enum_name, &other)),
        }
    }

    fn of_dict(owner: String, dict: &ValueDict) -> Fields {
        Fields {
            owner,
            map: dict
                .map
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    /// Take field `name` as a `T`.
    pub fn take<T: FromRelon>(&mut self, name: &str) -> Result<T, RuntimeError> {
        let value = self
            .map
            .remove(name)
            .ok_or_else(|| RuntimeError::TypeMismatch {
                expected: format!("field `{name}` of {}", self.owner),
                found: "no such field".into(),
                range: Default::default(),
            })?;
        T::from_relon(value)
    }
}
