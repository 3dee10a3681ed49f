//! Relon IR (`relon_ir::ir::Module`) to an LLVM module.
//!
//! One [`ModuleEmitter`] owns the LLVM context objects for a module; one
//! [`func::FuncEmitter`] turns one IR function's stack-machine body into
//! SSA. The op families live in their own files: [`arith`] (numbers and
//! comparisons), [`control`] (structured control flow and traps),
//! [`memory`] (locals, buffer fields, arena loads and stores, scratch),
//! [`calls`] (IR calls, host calls, closures).
//!
//! Every emitted function takes four implicit leading parameters: the
//! [`EntryState`](relon_runtime_contract::EntryState) pointer, the arena
//! base, the arena length (bounds checks) and the calls still allowed
//! (depth limit), followed by the IR function's own parameters. The last
//! two are run constants or decrease down the call tree, so they travel in
//! registers rather than through memory. A function records a trap in the
//! state's `trap_code` and `trap_site` and returns; its caller reads the
//! code after the call and leaves too. Once LLVM inlines the callee (as it
//! does every non-recursive one), the stored code forwards to that read
//! and the check folds away. A self-recursive helper, which stays a call,
//! returns a pair instead: its value and a trap word, `code | site << 32`
//! (`site` indexes the module's trap sites; no trap code is `0`, so `0` is
//! no trap). Its
//! trap travels up in a register, so when it needs the state for nothing
//! else (fib's helper) it loses the parameter to LLVM's dead-argument
//! elimination and keeps one register fewer across its calls; a caller
//! that records traps in the state stores a non-zero word there. (Not on
//! wasm32; see [`CodegenTarget::returns_trap_word`].) The one exported
//! symbol is [`ENTRY_SYMBOL`](relon_runtime_contract::ENTRY_SYMBOL), a
//! wrapper that reads the buffer bounds from the state, calls `#main`, and
//! reports whether it trapped.
//!
//! The code generator never guesses: an op outside the supported set is
//! refused with its name and source line ([`CodegenError::UnsupportedOp`]).

pub mod arena_alias;
pub mod arith;
pub mod assigned;
pub mod call_memo;
pub mod calls;
pub mod closure_targets;
pub mod const_pool;
pub mod control;
pub mod counted_loops;
pub mod fresh_stores;
pub mod func;
pub mod list_index;
pub mod memory;
pub mod own_lists;
pub mod records;
pub mod self_recursion;
#[cfg(test)]
pub(crate) mod test_ir;
pub mod values;

use std::collections::{BTreeSet, HashMap};

use inkwell::OptimizationLevel;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::targets::{
    CodeModel, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum};
use inkwell::values::FunctionValue;
use relon_ir::ir::{IrType, Op, TaggedOp};
use relon_runtime_contract::{ENTRY_OK, ENTRY_SYMBOL, ENTRY_TRAPPED, StateOffsets, TrapSite};

/// How host calls (`Op::CallNative`) are bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldMode {
    /// Every host function is a direct call to a known symbol, linked
    /// and inlined later. `symbols[i]` is the symbol of `Module::imports[i]`.
    ClosedWorld {
        /// The host function of each import, in import order.
        symbols: Vec<HostSymbol>,
    },
    /// Host functions are resolved at run time: every host call goes
    /// through the embedding's `relon_host_call` helper, and capability
    /// checks read the granted bits from the state.
    OpenWorld,
}

/// A host function as closed-world code calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSymbol {
    /// The `extern "C"` symbol.
    pub symbol: String,
    /// It takes a last `&mut HostFailure` and may report a failure there.
    pub fallible: bool,
}

/// What the code generator needs to know besides the IR.
#[derive(Debug, Clone)]
pub struct CodegenOptions {
    /// Host-call binding.
    pub world: WorldMode,
    /// LLVM target triple.
    pub target_triple: String,
    /// `target-cpu` for every emitted function (same as the host crate's).
    pub target_cpu: String,
    /// `target-features` for every emitted function; empty for the cpu's defaults.
    pub target_features: String,
    /// Capability bits granted at compile time (closed world; open world
    /// checks the state's bits at run time instead).
    pub granted_caps: BTreeSet<u32>,
    /// Also emit a metered copy of the program (step-budget checks at
    /// function entries and loop heads) behind the `*_metered` entry
    /// symbols; the plain entry runs without them, as with an unlimited budget.
    pub fuel: bool,
    /// Emit call-depth checks at function entries.
    pub depth_limit: bool,
    /// Where the state's fields are, for this target.
    pub state: StateOffsets,
    /// What the code is for.
    pub target: CodegenTarget,
}

/// What emitted code runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodegenTarget {
    /// This machine (the JIT, the static executable, embedded objects):
    /// rustc's function attributes, so host functions inline.
    Native,
    /// `wasm32-unknown-unknown`: 4-byte pointers, no stack probes or unwind tables.
    Wasm32,
}

impl CodegenTarget {
    /// Whether a self-recursive helper returns its trap word beside its
    /// value (see the module doc). On wasm32 it records the trap in the
    /// state instead, and the caller reads it there after the call: LLVM's wasm
    /// ABI returns a pair through a slot on the shadow stack, which one
    /// recursion down to the default depth limit would overrun, and the
    /// multivalue ABI that would not (`-target-abi=experimental-mv`) also
    /// changes how compiler-rt's `__multi3` returns, which the linked
    /// builtins do not follow.
    pub fn returns_trap_word(self) -> bool {
        self == CodegenTarget::Native
    }
}

/// The inliner's threshold for every optimized module: the static
/// executable's (`opt -inline-threshold`), the wasm32 module's and the
/// JIT's. LLVM's default (225, rustc's too) is tuned for separately
/// compiled code of unknown use. Here the whole program is one module
/// built for peak speed, and a Relon `where` helper is a function: a
/// helper that calls four others is past 225 once they are inlined into
/// it, so it stayed a call in the hot loop (n-body's acceleration cost
/// 625). At 1000, n-body's step inlines whole (150 to 110 µs per call)
/// and quicksort's partition too (241 to 182 µs); past 1000 nothing
/// in the suite changes, while `opt` grows slower.
pub const INLINE_THRESHOLD: u32 = 1000;

/// Triple of the wasm32 target.
pub const WASM32_TRIPLE: &str = "wasm32-unknown-unknown";

/// Features of the wasm32 target: bulk memory for `memcpy`/`memmove`
/// without a libc, and what every current engine (wasmtime included) has.
pub const WASM32_FEATURES: &str =
    "+bulk-memory,+mutable-globals,+sign-ext,+nontrapping-fptoint,+multivalue";

impl CodegenOptions {
    /// Defaults for a closed-world build on this machine's triple.
    pub fn closed_world(symbols: Vec<HostSymbol>, target_cpu: &str) -> CodegenOptions {
        CodegenOptions {
            world: WorldMode::ClosedWorld { symbols },
            target_triple: TargetMachine::get_default_triple()
                .as_str()
                .to_string_lossy()
                .into_owned(),
            target_cpu: target_cpu.to_string(),
            target_features: String::new(),
            granted_caps: BTreeSet::new(),
            fuel: true,
            depth_limit: true,
            state: StateOffsets::NATIVE,
            target: CodegenTarget::Native,
        }
    }

    /// Closed world for `wasm32-unknown-unknown`.
    pub fn wasm32() -> CodegenOptions {
        CodegenOptions {
            target_triple: WASM32_TRIPLE.into(),
            target_cpu: "generic".into(),
            target_features: WASM32_FEATURES.into(),
            state: StateOffsets::WASM32,
            target: CodegenTarget::Wasm32,
            ..CodegenOptions::closed_world(Vec::new(), "generic")
        }
    }

    /// Defaults for an open-world (JIT) build for this machine's CPU.
    pub fn open_world() -> CodegenOptions {
        CodegenOptions {
            world: WorldMode::OpenWorld,
            target_cpu: TargetMachine::get_host_cpu_name().to_string(),
            target_features: TargetMachine::get_host_cpu_features().to_string(),
            ..CodegenOptions::closed_world(Vec::new(), "")
        }
    }
}

/// Why a module could not be emitted.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The op is outside what the code generator supports.
    #[error(
        "unsupported op `{op}` at line {line}, column {column} (in {function}); this program cannot be compiled by the LLVM back end yet"
    )]
    UnsupportedOp {
        /// Variant name of the op.
        op: String,
        /// 1-based source line.
        line: u32,
        /// 1-based source column.
        column: u32,
        /// IR function it sits in.
        function: String,
    },
    /// A gated host function was called without the capability granted.
    #[error(
        "host function `{function}` needs capability `{capability}` at line {line}, which this build does not grant; pass `--grant {capability}`"
    )]
    CapabilityNotGranted {
        /// The host function.
        function: String,
        /// The capability name.
        capability: String,
        /// 1-based source line.
        line: u32,
    },
    /// The IR broke a rule the code generator relies on (a lowering bug).
    #[error("malformed IR in {function} at line {line}: {detail}")]
    MalformedIr {
        /// IR function.
        function: String,
        /// 1-based source line.
        line: u32,
        /// What was wrong.
        detail: String,
    },
    /// LLVM rejected something.
    #[error("LLVM: {0}")]
    Llvm(String),
}

impl From<inkwell::builder::BuilderError> for CodegenError {
    fn from(e: inkwell::builder::BuilderError) -> Self {
        CodegenError::Llvm(e.to_string())
    }
}

/// A function of the combined IR index space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FuncRef {
    /// `relon_ir::builtin_stdlib()[i]`.
    Stdlib(u32),
    /// `Module::funcs[i]`.
    Module(u32),
}

/// The result of emitting a module.
pub struct EmittedModule<'ctx> {
    /// The LLVM module, verified.
    pub module: Module<'ctx>,
    /// Source positions of trap sites, indexed by `EntryState::trap_site`.
    pub trap_sites: Vec<TrapSite>,
    /// One entry per `Op::CallNative` site: (IR function name, host symbol, source line).
    pub host_call_sites: Vec<HostCallSite>,
    /// The constant data the code expects at arena offset 0.
    pub const_data: Vec<u8>,
}

/// One `Op::CallNative` in the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCallSite {
    /// LLVM name of the emitted function holding the call.
    pub caller: String,
    /// Host symbol called.
    pub symbol: String,
    /// 1-based line and column of the call in the source.
    pub line: u32,
    /// Column.
    pub column: u32,
}

/// Owns the LLVM objects while one IR module is emitted.
pub struct ModuleEmitter<'ctx, 'ir> {
    pub(crate) ctx: &'ctx Context,
    pub(crate) module: Module<'ctx>,
    pub(crate) builder: Builder<'ctx>,
    pub(crate) ir: &'ir relon_ir::ir::Module,
    pub(crate) options: &'ir CodegenOptions,
    pub(crate) functions: HashMap<(FuncRef, bool), FunctionValue<'ctx>>,
    pub(crate) pending: Vec<FuncRef>,
    /// Whether the functions being emitted count steps (the metered copy).
    pub(crate) metered: bool,
    pub(crate) trap_sites: Vec<TrapSite>,
    pub(crate) host_call_sites: Vec<HostCallSite>,
    pub(crate) function_attributes: Vec<Attribute>,
    /// Module function index -> capture offset holding its own handle.
    pub(crate) self_captures: HashMap<u32, u32>,
    /// Which closures each closure-typed let can hold.
    pub(crate) closure_targets: closure_targets::ClosureTargets,
    /// The alias classes of arena accesses.
    pub(crate) arena_tbaa: arena_alias::ArenaTbaa<'ctx>,
    /// Module functions a repeated call to may be made once.
    pub(crate) pure_functions: std::collections::HashSet<u32>,
    /// Literals and tables, placed as emitted code refers to them.
    pub(crate) const_pool: const_pool::ConstPool,
}

/// Emit `ir` (with entry `ir.entry_func_index`) as an LLVM module.
pub fn emit_module<'ctx>(
    ctx: &'ctx Context,
    name: &str,
    ir: &relon_ir::ir::Module,
    options: &CodegenOptions,
) -> Result<EmittedModule<'ctx>, CodegenError> {
    let entry_index = ir
        .entry_func_index
        .ok_or_else(|| CodegenError::MalformedIr {
            function: "<module>".into(),
            line: 0,
            detail: "the module has no #main entry".into(),
        })?;
    let module = ctx.create_module(name);
    let machine = target_machine(options)?;
    module.set_triple(&TargetTriple::create(&options.target_triple));
    module.set_data_layout(&machine.get_target_data().get_data_layout());
    let mut emitter = ModuleEmitter {
        ctx,
        module,
        builder: ctx.create_builder(),
        ir,
        options,
        functions: HashMap::new(),
        pending: Vec::new(),
        metered: false,
        trap_sites: Vec::new(),
        host_call_sites: Vec::new(),
        function_attributes: Vec::new(),
        self_captures: self_recursion::self_capture_offsets(ir),
        closure_targets: closure_targets::ClosureTargets::analyze(ir),
        arena_tbaa: arena_alias::ArenaTbaa::new(ctx),
        pure_functions: call_memo::pure_module_functions(ir),
        const_pool: const_pool::ConstPool::default(),
    };
    emitter.function_attributes = emitter.rustc_compatible_attributes();
    let shape = entry_shape(&ir.funcs[entry_index]).ok_or_else(|| {
        let f = &ir.funcs[entry_index];
        CodegenError::MalformedIr {
            function: f.name.clone(),
            line: f.range.start.line,
            detail: format!(
                "entry signature {:?} -> {:?} is neither the buffer protocol (I32, I32, I32, I32, I64) -> I32 nor plain (I64...) -> I64",
                f.params, f.ret
            ),
        }
    })?;
    let passes: &[bool] = if options.fuel {
        &[false, true]
    } else {
        &[false]
    };
    for &metered in passes {
        emitter.metered = metered;
        let main = emitter.declare(FuncRef::Module(entry_index as u32))?;
        while let Some(func) = emitter.pending.pop() {
            emitter.emit_function(func)?;
        }
        let suffix = if metered { METERED_SUFFIX } else { "" };
        match shape {
            EntryShape::BufferProtocol => {
                emitter.emit_entry_wrapper(main, &format!("{ENTRY_SYMBOL}{suffix}"))?
            }
            EntryShape::PlainI64 { arity } => emitter.emit_plain_entry_wrapper(
                main,
                arity,
                &format!("{PLAIN_ENTRY_SYMBOL}{suffix}"),
            )?,
        }
    }
    emitter.module.verify().map_err(|e| {
        CodegenError::Llvm(format!(
            "emitted module does not verify: {}",
            e.to_string_lossy()
        ))
    })?;
    Ok(EmittedModule {
        module: emitter.module,
        trap_sites: emitter.trap_sites,
        host_call_sites: emitter.host_call_sites,
        const_data: emitter.const_pool.into_bytes(),
    })
}

/// The two entry shapes the code generator accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryShape {
    /// `(in_ptr, in_len, out_ptr, out_cap: I32, caps: I64) -> I32`, what
    /// lowering produces for `#main`; exported as `relon_entry`.
    BufferProtocol,
    /// `(I64...) -> I64`, for hand-built IR; exported as `relon_entry_i64`.
    PlainI64 {
        /// Number of parameters.
        arity: usize,
    },
}

/// Suffix of the metered entry symbols (`relon_entry_metered`, ...).
pub const METERED_SUFFIX: &str = relon_runtime_contract::METERED_SUFFIX;

/// Symbol of the plain `(I64...) -> I64` entry:
/// `extern "C" fn(state: *mut EntryState, args: *const i64) -> i64`
/// (the caller checks `state.trap_code`).
pub const PLAIN_ENTRY_SYMBOL: &str = "relon_entry_i64";

/// The shape of an entry function, if it has one of the accepted shapes.
pub fn entry_shape(f: &relon_ir::ir::Func) -> Option<EntryShape> {
    use IrType::{I32, I64};
    if f.params == [I32, I32, I32, I32, I64] && f.ret == I32 {
        Some(EntryShape::BufferProtocol)
    } else if f.params.iter().all(|p| *p == I64) && f.ret == I64 {
        Some(EntryShape::PlainI64 {
            arity: f.params.len(),
        })
    } else {
        None
    }
}

/// A target machine for `options` (also used for object emission).
pub fn target_machine(options: &CodegenOptions) -> Result<TargetMachine, CodegenError> {
    if options.target == CodegenTarget::Wasm32 {
        Target::initialize_webassembly(&InitializationConfig::default());
    } else {
        Target::initialize_native(&InitializationConfig::default()).map_err(CodegenError::Llvm)?;
    }
    let triple = TargetTriple::create(&options.target_triple);
    let target = Target::from_triple(&triple)
        .map_err(|e| CodegenError::Llvm(e.to_string_lossy().into_owned()))?;
    target
        .create_target_machine(
            &triple,
            &options.target_cpu,
            &options.target_features,
            OptimizationLevel::Aggressive,
            RelocMode::PIC,
            CodeModel::Default,
        )
        .ok_or_else(|| {
            CodegenError::Llvm(format!(
                "no target machine for cpu `{}`",
                options.target_cpu
            ))
        })
}

impl<'ctx, 'ir> ModuleEmitter<'ctx, 'ir> {
    /// The function attributes rustc puts on its own functions, so the
    /// inliner sees compatible callers and callees.
    fn rustc_compatible_attributes(&self) -> Vec<Attribute> {
        let mut attrs = vec![
            self.ctx
                .create_string_attribute("target-cpu", &self.options.target_cpu),
        ];
        if self.options.target == CodegenTarget::Native {
            attrs.extend([
                self.ctx
                    .create_string_attribute("probe-stack", "inline-asm"),
                self.ctx
                    .create_enum_attribute(Attribute::get_named_enum_kind_id("nonlazybind"), 0),
                // uwtable(async): a host panic unwinds through emitted frames.
                self.ctx
                    .create_enum_attribute(Attribute::get_named_enum_kind_id("uwtable"), 2),
            ]);
        }
        if !self.options.target_features.is_empty() {
            attrs.push(
                self.ctx
                    .create_string_attribute("target-features", &self.options.target_features),
            );
        }
        attrs
    }

    pub(crate) fn apply_function_attributes(&self, function: FunctionValue<'ctx>) {
        for attr in &self.function_attributes {
            function.add_attribute(AttributeLoc::Function, *attr);
        }
    }

    /// Mark `function`'s first parameter, the run's `EntryState`, `noalias`:
    /// the state lives outside the arena (on the caller's stack) and is
    /// reached only through that pointer, which callees and helpers receive
    /// from it. So an arena store never changes a state field.
    pub(crate) fn mark_state_noalias(&self, function: FunctionValue<'ctx>) {
        let noalias = self
            .ctx
            .create_enum_attribute(Attribute::get_named_enum_kind_id("noalias"), 0);
        function.add_attribute(AttributeLoc::Param(0), noalias);
    }

    /// LLVM type of an IR value. Pointers into the arena are `i32` offsets.
    pub(crate) fn llvm_type(&self, ty: IrType) -> BasicTypeEnum<'ctx> {
        match ty {
            IrType::I64 => self.ctx.i64_type().into(),
            IrType::F64 => self.ctx.f64_type().into(),
            IrType::Bool => self.ctx.bool_type().into(),
            _ => self.ctx.i32_type().into(),
        }
    }

    /// Whether `func` returns its trap word: the program's self-recursive
    /// helpers, on a target where that pays (see
    /// [`CodegenTarget::returns_trap_word`]).
    pub(crate) fn returns_trap_word(&self, func: FuncRef) -> bool {
        self.options.target.returns_trap_word()
            && matches!(func, FuncRef::Module(i) if self.self_captures.contains_key(&i))
    }

    /// What an emitted function returns: `{ value, trap word }` when it
    /// returns its trap word, or the value alone.
    pub(crate) fn returned_type(&self, ret: IrType, returns_word: bool) -> BasicTypeEnum<'ctx> {
        if returns_word {
            self.ctx
                .struct_type(&[self.llvm_type(ret), self.ctx.i64_type().into()], false)
                .into()
        } else {
            self.llvm_type(ret)
        }
    }

    /// Split what an emitted function returned into its value and its
    /// trap word (none when the function records its trap in the state).
    pub(crate) fn split_returned(
        &self,
        returned: inkwell::values::BasicValueEnum<'ctx>,
    ) -> Result<
        (
            inkwell::values::BasicValueEnum<'ctx>,
            Option<inkwell::values::IntValue<'ctx>>,
        ),
        CodegenError,
    > {
        let inkwell::values::BasicValueEnum::StructValue(pair) = returned else {
            return Ok((returned, None));
        };
        let value = self.builder.build_extract_value(pair, 0, "value")?;
        let word = self
            .builder
            .build_extract_value(pair, 1, "trap_word")?
            .into_int_value();
        Ok((value, Some(word)))
    }

    /// Whether `#main` trapped: its trap word recorded in the state, or
    /// the trap code it recorded there itself.
    fn trapped_after_main(
        &self,
        state: inkwell::values::PointerValue<'ctx>,
        word: Option<inkwell::values::IntValue<'ctx>>,
    ) -> Result<inkwell::values::IntValue<'ctx>, CodegenError> {
        if let Some(word) = word {
            self.record_trap_word(state, word)?;
            return Ok(self.builder.build_int_compare(
                inkwell::IntPredicate::NE,
                word,
                self.ctx.i64_type().const_zero(),
                "trapped",
            )?);
        }
        let i32t = self.ctx.i32_type();
        let code = self
            .load_state_field(
                state,
                self.options.state.trap_code,
                i32t.into(),
                "trap_code",
            )?
            .into_int_value();
        Ok(self.builder.build_int_compare(
            inkwell::IntPredicate::NE,
            code,
            i32t.const_zero(),
            "trapped",
        )?)
    }

    /// Record trap word `word` in the state (`trap_code`, `trap_site`;
    /// both `0` for no trap).
    pub(crate) fn record_trap_word(
        &self,
        state: inkwell::values::PointerValue<'ctx>,
        word: inkwell::values::IntValue<'ctx>,
    ) -> Result<(), CodegenError> {
        let (i32t, i64t) = (self.ctx.i32_type(), self.ctx.i64_type());
        let b = &self.builder;
        let code = b.build_int_truncate(word, i32t, "trap_code")?;
        let high = b.build_right_shift(word, i64t.const_int(32, false), false, "high")?;
        let site = b.build_int_truncate(high, i32t, "trap_site")?;
        b.build_store(
            self.state_field_addr(state, self.options.state.trap_code)?,
            code,
        )?;
        b.build_store(
            self.state_field_addr(state, self.options.state.trap_site)?,
            site,
        )?;
        Ok(())
    }

    /// Signature of an IR function: `(state, arena, arena_len, depth, params...) -> ret`.
    pub(crate) fn signature(
        &self,
        func: FuncRef,
    ) -> (String, Vec<IrType>, IrType, &'ir [TaggedOp]) {
        match func {
            FuncRef::Stdlib(i) => {
                let f = &relon_ir::builtin_stdlib()[i as usize];
                (
                    format!("relon.std.{}", f.name),
                    f.params.clone(),
                    f.ret,
                    f.body().as_slice(),
                )
            }
            FuncRef::Module(i) => {
                let f = &self.ir.funcs[i as usize];
                (
                    format!("relon.fn{i}.{}", f.name),
                    f.params.clone(),
                    f.ret,
                    f.body.as_slice(),
                )
            }
        }
    }

    /// Resolve a combined `Op::Call` index.
    pub(crate) fn resolve_call_index(&self, fn_index: u32) -> Option<FuncRef> {
        match crate::ir_walk::module_function_of(fn_index) {
            None => Some(FuncRef::Stdlib(fn_index)),
            Some(i) => ((i as usize) < self.ir.funcs.len()).then_some(FuncRef::Module(i)),
        }
    }

    /// The LLVM function for `func`, declared (and queued for emission) on first use.
    pub(crate) fn declare(&mut self, func: FuncRef) -> Result<FunctionValue<'ctx>, CodegenError> {
        if let Some(f) = self.functions.get(&(func, self.metered)) {
            return Ok(*f);
        }
        let (name, params, ret, _) = self.signature(func);
        let name = if self.metered {
            format!("{name}{METERED_SUFFIX}")
        } else {
            name
        };
        let ptr = self.ctx.ptr_type(Default::default());
        let i64t = self.ctx.i64_type();
        let mut arg_types: Vec<BasicMetadataTypeEnum> =
            vec![ptr.into(), ptr.into(), i64t.into(), i64t.into()];
        arg_types.extend(
            params
                .iter()
                .map(|t| BasicMetadataTypeEnum::from(self.llvm_type(*t))),
        );
        let fn_type = self
            .returned_type(ret, self.returns_trap_word(func))
            .fn_type(&arg_types, false);
        let function = self
            .module
            .add_function(&name, fn_type, Some(Linkage::Internal));
        self.apply_function_attributes(function);
        self.mark_state_noalias(function);
        self.functions.insert((func, self.metered), function);
        self.pending.push(func);
        Ok(function)
    }

    fn emit_function(&mut self, func: FuncRef) -> Result<(), CodegenError> {
        let function = self.functions[&(func, self.metered)];
        let (name, params, ret, body) = self.signature(func);
        let name = if self.metered {
            format!("{name}{METERED_SUFFIX}")
        } else {
            name
        };
        // The buffer-protocol entry returns through its output record;
        // a plain entry returns its value like any function.
        let is_entry = func
            == FuncRef::Module(self.ir.entry_func_index.unwrap_or(usize::MAX) as u32)
            && self
                .ir
                .entry_func_index
                .and_then(|i| self.ir.funcs.get(i))
                .and_then(entry_shape)
                == Some(EntryShape::BufferProtocol);
        let self_capture = match func {
            FuncRef::Module(i) => self.self_captures.get(&i).map(|offset| (function, *offset)),
            FuncRef::Stdlib(_) => None,
        };
        let mut emitter = func::FuncEmitter::new(self, function, name, params, ret, is_entry)?;
        if let Some((function, offset)) = self_capture {
            emitter.enable_self_calls(function, offset, body);
        }
        if let FuncRef::Module(i) = func {
            emitter.known_let_closures = emitter.m.closure_targets.lets_of(i);
            if emitter.m.closure_targets.is_closure_body(i) {
                emitter.captures_param = emitter.params.first().copied();
            }
        }
        // The program's own functions: the bundled stdlib bodies (checked
        // against tree-walk by the corpus) set their loop state on paths
        // this structural analysis cannot follow.
        if let FuncRef::Module(_) = func
            && let Some(idx) = assigned::first_unassigned_read(body)
        {
            return Err(
                emitter.malformed(format!("reads let {idx} on a path that does not set it"))
            );
        }
        emitter.emit_function_body(body)
    }

    /// `u32 relon_entry(EntryState*)`: load the buffer bounds, call `#main`,
    /// report whether it trapped.
    fn emit_entry_wrapper(
        &mut self,
        main: FunctionValue<'ctx>,
        symbol: &str,
    ) -> Result<(), CodegenError> {
        let ctx = self.ctx;
        let i32t = ctx.i32_type();
        let ptr = ctx.ptr_type(Default::default());
        let wrapper = self.module.add_function(
            symbol,
            i32t.fn_type(&[ptr.into()], false),
            Some(Linkage::External),
        );
        self.apply_function_attributes(wrapper);
        self.mark_state_noalias(wrapper);
        let bb = ctx.append_basic_block(wrapper, "entry");
        self.builder.position_at_end(bb);
        let state = wrapper
            .get_first_param()
            .ok_or_else(|| CodegenError::Llvm("entry has no parameter".into()))?
            .into_pointer_value();
        self.clear_trap_code(state)?;
        let mut args = self.implicit_args(state)?;
        let in_off =
            self.load_state_field(state, self.options.state.in_offset, i32t.into(), "in_off")?;
        let in_len =
            self.load_state_field(state, self.options.state.in_len, i32t.into(), "in_len")?;
        let out_off =
            self.load_state_field(state, self.options.state.out_offset, i32t.into(), "out_off")?;
        let out_cap =
            self.load_state_field(state, self.options.state.out_cap, i32t.into(), "out_cap")?;
        let caps = self.load_state_field(
            state,
            self.options.state.caps,
            ctx.i64_type().into(),
            "caps",
        )?;
        args.extend::<[inkwell::values::BasicMetadataValueEnum; 5]>([
            in_off.into(),
            in_len.into(),
            out_off.into(),
            out_cap.into(),
            caps.into(),
        ]);
        args.truncate(main.count_params() as usize);
        let returned = self
            .builder
            .build_call(main, &args, "returned")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CodegenError::Llvm("entry returned nothing".into()))?;
        let (written, word) = self.split_returned(returned)?;
        let at = memory::byte_offset(
            &self.builder,
            ctx,
            state,
            ctx.i64_type()
                .const_int(self.options.state.entry_result as u64, false),
        )?;
        self.builder.build_store(at, written)?;
        let trapped = self.trapped_after_main(state, word)?;
        let b = &self.builder;
        let status = b.build_select(
            trapped,
            i32t.const_int(ENTRY_TRAPPED as u64, false),
            i32t.const_int(ENTRY_OK as u64, false),
            "status",
        )?;
        b.build_return(Some(&status))?;
        Ok(())
    }

    /// `i64 relon_entry_i64(EntryState*, const i64* args)`: call a plain
    /// `(I64...) -> I64` entry with its arguments from `args`.
    fn emit_plain_entry_wrapper(
        &mut self,
        main: FunctionValue<'ctx>,
        arity: usize,
        symbol: &str,
    ) -> Result<(), CodegenError> {
        let ctx = self.ctx;
        let i64t = ctx.i64_type();
        let ptr = ctx.ptr_type(Default::default());
        let wrapper = self.module.add_function(
            symbol,
            i64t.fn_type(&[ptr.into(), ptr.into()], false),
            Some(Linkage::External),
        );
        self.apply_function_attributes(wrapper);
        self.mark_state_noalias(wrapper);
        let bb = ctx.append_basic_block(wrapper, "entry");
        self.builder.position_at_end(bb);
        let missing = || CodegenError::Llvm("entry wrapper is missing a parameter".into());
        let state = wrapper
            .get_nth_param(0)
            .ok_or_else(missing)?
            .into_pointer_value();
        let args = wrapper
            .get_nth_param(1)
            .ok_or_else(missing)?
            .into_pointer_value();
        self.clear_trap_code(state)?;
        let mut call_args = self.implicit_args(state)?;
        let b = &self.builder;
        for i in 0..arity {
            let at = memory::byte_offset(b, ctx, args, i64t.const_int(8 * i as u64, false))?;
            call_args.push(b.build_load(i64t, at, "arg")?.into());
        }
        let returned = b
            .build_call(main, &call_args, "returned")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CodegenError::Llvm("entry returned nothing".into()))?;
        let (result, word) = self.split_returned(returned)?;
        if let Some(word) = word {
            self.record_trap_word(state, word)?;
        }
        self.builder.build_return(Some(&result))?;
        Ok(())
    }

    /// The implicit leading arguments for calling the entry function,
    /// loaded from the state: `state, arena, arena_len, depth_remaining`.
    fn implicit_args(
        &self,
        state: inkwell::values::PointerValue<'ctx>,
    ) -> Result<Vec<inkwell::values::BasicMetadataValueEnum<'ctx>>, CodegenError> {
        let ctx = self.ctx;
        let i64t = ctx.i64_type();
        let arena = self.load_state_field(
            state,
            self.options.state.arena,
            ctx.ptr_type(Default::default()).into(),
            "arena",
        )?;
        let len = self
            .load_state_field(
                state,
                self.options.state.arena_len,
                ctx.i32_type().into(),
                "arena_len",
            )?
            .into_int_value();
        let len = self.builder.build_int_z_extend(len, i64t, "arena_len64")?;
        let depth = self.load_state_field(
            state,
            self.options.state.depth_remaining,
            i64t.into(),
            "depth",
        )?;
        Ok(vec![state.into(), arena.into(), len.into(), depth.into()])
    }

    /// The address of the state's field at `offset` (one of `options.state`'s).
    pub(crate) fn state_field_addr(
        &self,
        state: inkwell::values::PointerValue<'ctx>,
        offset: usize,
    ) -> Result<inkwell::values::PointerValue<'ctx>, CodegenError> {
        memory::byte_offset(
            &self.builder,
            self.ctx,
            state,
            self.ctx.i64_type().const_int(offset as u64, false),
        )
    }

    /// Load the state's field at `offset` (one of `options.state`'s) as `ty`.
    pub(crate) fn load_state_field(
        &self,
        state: inkwell::values::PointerValue<'ctx>,
        offset: usize,
        ty: BasicTypeEnum<'ctx>,
        name: &str,
    ) -> Result<inkwell::values::BasicValueEnum<'ctx>, CodegenError> {
        let addr = self.state_field_addr(state, offset)?;
        Ok(self.builder.build_load(ty, addr, name)?)
    }

    /// Start a run with no trap pending: a runtime helper records its trap
    /// in `state.trap_code`, which the caller reads right after the call
    /// (and so does every call where traps are recorded in the state).
    fn clear_trap_code(
        &self,
        state: inkwell::values::PointerValue<'ctx>,
    ) -> Result<(), CodegenError> {
        let addr = self.state_field_addr(state, self.options.state.trap_code)?;
        self.builder
            .build_store(addr, self.ctx.i32_type().const_zero())?;
        Ok(())
    }

    /// Record a trap site and return its index.
    pub(crate) fn trap_site(&mut self, line: u32, column: u32) -> u32 {
        let site = TrapSite { line, column };
        if let Some(i) = self.trap_sites.iter().position(|s| *s == site) {
            return i as u32;
        }
        self.trap_sites.push(site);
        (self.trap_sites.len() - 1) as u32
    }
}

/// The variant names of `relon_ir::ir::Op` (`=0.1.0-rc3`), in
/// declaration order: every one is emitted by this code generator.
pub const OP_NAMES: [&str; 92] = [
    "ConstBool",
    "ConstI32",
    "ConstI64",
    "ConstF64",
    "ConstString",
    "ConstListInt",
    "ConstListFloat",
    "ConstListBool",
    "ConstListString",
    "ConstDict",
    "LetGet",
    "LetSet",
    "LocalGet",
    "LoadField",
    "StoreField",
    "DictGetByStringKey",
    "ListGetByIntIdx",
    "Add",
    "StrConcatN",
    "IntToStr",
    "FloatToStr",
    "Sub",
    "Mul",
    "Div",
    "Mod",
    "BitAnd",
    "ConvertI64ToF64",
    "F64ToI64Sat",
    "F64Unary",
    "F64Pow",
    "Eq",
    "Ne",
    "Lt",
    "Le",
    "Gt",
    "Ge",
    "If",
    "LoadStringPtr",
    "LoadListIntPtr",
    "LoadListFloatPtr",
    "LoadListBoolPtr",
    "LoadListStringPtr",
    "LoadListSchemaPtr",
    "LoadListListPtr",
    "Return",
    "AllocRootRecord",
    "AllocSubRecord",
    "AllocScratchRecord",
    "StoreFieldAtRecord",
    "StoreFieldAtRecordAbsolute",
    "PushRecordBase",
    "PushRecordBaseAbsolute",
    "EmitTailRecordFromAbsoluteAddr",
    "BuildVariantRecord",
    "BuildVariantRecordScratch",
    "BuildPointerList",
    "Call",
    "ReadStringLen",
    "Select",
    "LoadFieldAtAbsolute",
    "LoadSchemaPtr",
    "CallNative",
    "CheckCap",
    "Block",
    "Loop",
    "Br",
    "BrIf",
    "BrTable",
    "AllocScratch",
    "AllocScratchDyn",
    "LoadI32AtAbsolute",
    "LoadI64AtAbsolute",
    "StoreI32AtAbsolute",
    "StoreI64AtAbsolute",
    "MemcpyAtAbsolute",
    "LoadI8UAtAbsolute",
    "StoreI8AtAbsolute",
    "LoadF64AtAbsolute",
    "StoreF64AtAbsolute",
    "Trap",
    "MakeClosure",
    "CallClosure",
    "CaseFoldTableAddr",
    "CombiningMarkRangesAddr",
    "WhitespaceRangesAddr",
    "DecompTableAddr",
    "CccTableAddr",
    "CompositionTableAddr",
    "FullCaseFoldTableAddr",
    "CasedRangesAddr",
    "CaseIgnorableRangesAddr",
    "TurkishCaseFoldTableAddr",
];

/// Variant name of an op, for messages.
pub fn op_name(op: &Op) -> String {
    let debug = format!("{op:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("?")
        .to_string()
}

/// For tests: the unoptimized text of the unmetered function of `source`
/// (lowered in open world) whose signature contains `name_part`.
#[cfg(test)]
pub(crate) fn unmetered_function_ir(source: &str, name_part: &str) -> String {
    function_ir(&module_ir(source), name_part)
}

/// The unoptimised LLVM IR text of the module `source` compiles to.
#[cfg(test)]
pub(crate) fn module_ir(source: &str) -> String {
    let lowered = crate::frontend::lower_source("t.relon", source, &[]).expect("lowers");
    let ctx = Context::create();
    let options = CodegenOptions::open_world();
    let emitted = emit_module(&ctx, "t", &lowered.lowered.module, &options).expect("emits");
    emitted.module.print_to_string().to_string()
}

/// The text of the unmetered function of `ir` whose name contains `name_part`.
#[cfg(test)]
pub(crate) fn function_ir(ir: &str, name_part: &str) -> String {
    ir.split("\ndefine ")
        .find(|f| {
            let signature = f.lines().next().unwrap_or_default();
            signature.contains(name_part) && !signature.contains("_metered(")
        })
        .expect("the function")
        .to_string()
}
