//! The in-process JIT evaluator: [`LlvmAotEvaluator`] implements
//! `relon_eval_api::Evaluator` over the same code generator the static
//! binary uses, in open world: host functions are registered at run time
//! ([`HostFnRegistry`]) and reached through the `relon_host_call` helper,
//! and capabilities are checked per call from the granted bits.
//!
//! The JIT engine (LLVM's MCJIT) sits behind one small type,
//! [`JitEngine`]; nothing else here knows which engine it is.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::ffi::c_void;
use std::sync::Arc;

use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::passes::PassBuilderOptions;
use relon_bitcode::HostFnDecl;
use relon_eval_api::{
    Evaluator, NativeArgs, NativeFnCaps, RelonFunction, RuntimeError, Scope, Value,
};
use relon_host_shims::arena::Arena;
use relon_host_shims::json::ScalarValue;
use relon_host_shims::trap_error::RunLimits;
use relon_host_shims::values::{ValueSignature, scalar_from_value};
use relon_ir::ir::IrType;
use relon_parser::TokenRange;
use relon_runtime_contract::{
    ENTRY_OK, ENTRY_SYMBOL, EntryState, HOST_CALL_SYMBOL, ScalarType, TrapCode, TrapSite,
};

use crate::codegen::{self, CodegenOptions};
use crate::frontend::{self, MainLayout};

/// One registered host function: its Relon signature and its implementation.
#[derive(Clone)]
pub struct HostFunction {
    /// Name, signature and capability.
    pub decl: HostFnDecl,
    /// What runs when the program calls it.
    pub func: Arc<dyn RelonFunction>,
}

/// Host functions the JIT'd program may call, by name.
#[derive(Clone, Default)]
pub struct HostFnRegistry {
    functions: Vec<HostFunction>,
}

impl HostFnRegistry {
    /// An empty registry.
    pub fn new() -> HostFnRegistry {
        HostFnRegistry::default()
    }

    /// Register `func` as `name(params) -> returns`, needing `capability` if given.
    pub fn register(
        &mut self,
        name: &str,
        params: &[ScalarType],
        returns: ScalarType,
        capability: Option<&str>,
        func: Arc<dyn RelonFunction>,
    ) -> &mut Self {
        self.functions.retain(|f| f.decl.name != name);
        self.functions.push(HostFunction {
            decl: HostFnDecl {
                name: name.to_string(),
                symbol: name.to_string(),
                params: params.to_vec(),
                returns,
                capability: capability.map(str::to_string),
                fallible: false,
            },
            func,
        });
        self
    }

    /// The declarations, for the analyzer.
    pub fn decls(&self) -> Vec<HostFnDecl> {
        self.functions.iter().map(|f| f.decl.clone()).collect()
    }

    fn get(&self, name: &str) -> Option<&HostFunction> {
        self.functions.iter().find(|f| f.decl.name == name)
    }
}

/// Run-time limits and grants of the JIT evaluator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Steps allowed per run (`None`: unlimited).
    pub fuel: Option<u64>,
    /// Nested calls allowed.
    pub max_depth: u64,
    /// Capabilities granted (`reads_fs`, `network`, ...).
    pub capabilities: BTreeSet<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            fuel: None,
            max_depth: relon_host_shims::args::DEFAULT_MAX_DEPTH,
            capabilities: BTreeSet::new(),
        }
    }
}

/// Why a program could not be JIT-compiled.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum JitError {
    /// The source does not compile.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Source(#[from] frontend::FrontendError),
    /// The code generator refused it.
    #[error(transparent)]
    Codegen(#[from] codegen::CodegenError),
    /// LLVM failed to optimize or JIT it.
    #[error("JIT: {0}")]
    Llvm(String),
    /// A capability name is unknown.
    #[error("unknown capability `{0}`")]
    UnknownCapability(String),
}

type EntryFn = unsafe extern "C" fn(*mut EntryState) -> u32;
type PlainEntryFn = unsafe extern "C" fn(*mut EntryState, *const i64) -> i64;

/// The compiled entry and how to call it.
#[derive(Clone, Copy)]
enum Entry {
    /// `relon_entry`: `#main` through the buffer protocol.
    Buffer(EntryFn),
    /// `relon_entry_i64`: a plain `(I64...) -> I64` function.
    Plain(PlainEntryFn),
}

self_cell::self_cell!(
    struct EngineCell {
        owner: Context,
        #[covariant]
        dependent: ExecutionEngine,
    }
);

/// Compiled machine code in this process, callable through its entry.
pub struct JitEngine {
    // Keeps the code alive; never touched after construction.
    _cell: EngineCell,
    entry: Entry,
}

// SAFETY: after construction the LLVM context and execution engine are
// never used again (only dropped, by whoever owns the `JitEngine`); calls
// go through `entry`, a pointer to immutable machine code whose only
// mutable state is the per-call `EntryState` the caller passes.
unsafe impl Send for JitEngine {}
// SAFETY: as for `Send`: shared references only read `entry`.
unsafe impl Sync for JitEngine {}

impl JitEngine {
    /// Emit `program` in open world, optimize at O3 and JIT it.
    fn compile(
        name: &str,
        program: &relon_ir::ir::Module,
        options: &CodegenOptions,
    ) -> Result<(JitEngine, Vec<TrapSite>, Vec<u8>), JitError> {
        let mut sites = Vec::new();
        let mut const_data = Vec::new();
        let cell = EngineCell::try_new(Context::create(), |ctx| -> Result<_, JitError> {
            let emitted = codegen::emit_module(ctx, name, program, options)?;
            sites = emitted.trap_sites;
            const_data = emitted.const_data;
            let machine = codegen::target_machine(options)?;
            let o3 = || {
                let passes = PassBuilderOptions::create();
                // SAFETY: `passes` is a live pass-builder options object
                // that outlives the call; the setter only stores the
                // threshold in it.
                unsafe {
                    llvm_sys::transforms::pass_builder::LLVMPassBuilderOptionsSetInlinerThreshold(
                        passes.as_mut_ptr(),
                        codegen::INLINE_THRESHOLD as i32,
                    );
                }
                emitted
                    .module
                    .run_passes("default<O3>", &machine, passes)
                    .map_err(|e| JitError::Llvm(e.to_string()))
            };
            o3()?;
            // As in the closed world: fold the zero tests the Float bounds
            // decide, then O3 again to drop the trap paths they guarded.
            if crate::float_bounds::fold_decided_zero_tests(&emitted.module) > 0 {
                o3()?;
            }
            let engine = emitted
                .module
                .create_jit_execution_engine(OptimizationLevel::Aggressive)
                .map_err(|e| JitError::Llvm(e.to_string()))?;
            if let Some(helper) = emitted.module.get_function(HOST_CALL_SYMBOL) {
                engine.add_global_mapping(&helper, relon_host_call as *const () as usize);
            }
            for (symbol, address) in codegen::values::runtime_helpers() {
                if let Some(helper) = emitted.module.get_function(symbol) {
                    engine.add_global_mapping(&helper, address);
                }
            }
            Ok(engine)
        })?;
        let engine = cell.borrow_dependent();
        // Metered code only when a step budget is set.
        let suffix = if options.fuel {
            codegen::METERED_SUFFIX
        } else {
            ""
        };
        let entry = match program
            .entry_func_index
            .and_then(|i| program.funcs.get(i))
            .and_then(codegen::entry_shape)
        {
            Some(codegen::EntryShape::PlainI64 { .. }) => {
                let address = engine
                    .get_function_address(&format!("{}{suffix}", codegen::PLAIN_ENTRY_SYMBOL))
                    .map_err(|e| JitError::Llvm(e.to_string()))?;
                // SAFETY: `relon_entry_i64` is emitted with exactly the
                // `PlainEntryFn` signature (`codegen::PLAIN_ENTRY_SYMBOL`); the
                // engine that owns the code lives in `_cell` as long as `entry`.
                Entry::Plain(unsafe { std::mem::transmute::<usize, PlainEntryFn>(address) })
            }
            _ => {
                let address = engine
                    .get_function_address(&format!("{ENTRY_SYMBOL}{suffix}"))
                    .map_err(|e| JitError::Llvm(e.to_string()))?;
                // SAFETY: `relon_entry` is emitted with exactly the `EntryFn`
                // signature (`relon_runtime_contract::ENTRY_SYMBOL`); the engine
                // that owns the code lives in `_cell` as long as `entry`.
                Entry::Buffer(unsafe { std::mem::transmute::<usize, EntryFn>(address) })
            }
        };
        Ok((JitEngine { _cell: cell, entry }, sites, const_data))
    }
}

/// How `#main`'s arguments and result cross into the arena.
enum Signature {
    /// Int, Float and Bool only: fixed slots, no marshalling library.
    Scalar(MainLayout),
    /// Any type: `relon_abi` buffers driven by the canonical schemas.
    Values(ValueSignature),
}

/// Arguments checked against the signature, ready to lay into an arena.
enum BoundArguments {
    Scalar(Vec<(u32, ScalarValue)>),
    Values(HashMap<String, Value>),
}

/// A Relon program compiled in process; runs with `Evaluator::run_main`.
pub struct LlvmAotEvaluator {
    engine: JitEngine,
    signature: Signature,
    const_data: Vec<u8>,
    imports: Vec<ImportBinding>,
    trap_sites: Vec<TrapSite>,
    config: SandboxConfig,
    caps: u64,
    /// Arenas of finished runs, for the next ones.
    arenas: std::sync::Mutex<Vec<Arena>>,
}

#[derive(Clone)]
struct ImportBinding {
    name: String,
    params: Vec<IrType>,
    ret: IrType,
    func: Arc<dyn RelonFunction>,
}

impl LlvmAotEvaluator {
    /// Parse, analyze, lower, emit and JIT `source`.
    pub fn from_source(
        source: &str,
        host: &HostFnRegistry,
        config: SandboxConfig,
    ) -> Result<LlvmAotEvaluator, JitError> {
        let program = frontend::lower_source("<source>", source, &host.decls())?;
        let mut caps = 0u64;
        for name in &config.capabilities {
            let bit = frontend::capability_from_name(name)
                .ok_or_else(|| JitError::UnknownCapability(name.clone()))?;
            caps |= 1 << bit.bit_index();
        }
        let imports = program
            .lowered
            .module
            .imports
            .iter()
            .map(|import| {
                let f = host.get(&import.name).ok_or_else(|| {
                    JitError::Llvm(format!(
                        "the program calls host function `{}`, which is not registered",
                        import.name
                    ))
                })?;
                Ok(ImportBinding {
                    name: import.name.clone(),
                    params: import.param_tys.clone(),
                    ret: import.ret_ty,
                    func: f.func.clone(),
                })
            })
            .collect::<Result<Vec<_>, JitError>>()?;
        let options = CodegenOptions {
            fuel: config.fuel.is_some(),
            ..CodegenOptions::open_world()
        };
        let (engine, trap_sites, const_data) =
            JitEngine::compile("relon-jit", &program.lowered.module, &options)?;
        let signature = match program.layout {
            Some(layout) => Signature::Scalar(layout),
            None => Signature::Values(
                ValueSignature::new(
                    program.lowered.main_schema.clone(),
                    program.lowered.return_schema.clone(),
                )
                .map_err(JitError::Llvm)?,
            ),
        };
        Ok(LlvmAotEvaluator {
            engine,
            signature,
            const_data,
            imports,
            trap_sites,
            config,
            caps,
            arenas: Default::default(),
        })
    }

    /// JIT a pre-lowered module whose entry is a plain `(I64...) -> I64`
    /// function (no host imports). `run_main` takes its arguments as
    /// `arg0`, `arg1`, ...; [`Self::call_i64`] takes them positionally.
    pub fn from_ir_direct(
        module: &relon_ir::ir::Module,
        config: SandboxConfig,
    ) -> Result<LlvmAotEvaluator, JitError> {
        let entry = module.entry_func_index.and_then(|i| module.funcs.get(i));
        let arity = match entry.and_then(codegen::entry_shape) {
            Some(codegen::EntryShape::PlainI64 { arity }) => arity,
            _ => {
                return Err(JitError::Llvm(
                    "from_ir_direct needs an entry of the shape (I64...) -> I64".into(),
                ));
            }
        };
        if !module.imports.is_empty() {
            return Err(JitError::Llvm(
                "from_ir_direct takes modules without host imports".into(),
            ));
        }
        let options = CodegenOptions {
            fuel: config.fuel.is_some(),
            ..CodegenOptions::open_world()
        };
        let (engine, trap_sites, const_data) =
            JitEngine::compile("relon-jit-ir", module, &options)?;
        let layout = MainLayout {
            params: (0..arity)
                .map(|i| frontend::SlotLayout {
                    name: format!("arg{i}"),
                    ty: ScalarType::Int,
                    offset: 8 * i as u32,
                })
                .collect(),
            in_len: 8 * arity as u32,
            result: frontend::SlotLayout {
                name: "value".into(),
                ty: ScalarType::Int,
                offset: 0,
            },
            out_len: 8,
        };
        Ok(LlvmAotEvaluator {
            engine,
            signature: Signature::Scalar(layout),
            const_data,
            imports: Vec::new(),
            trap_sites,
            config,
            caps: 0,
            arenas: Default::default(),
        })
    }

    /// Call a [`Self::from_ir_direct`] program with positional Int arguments.
    pub fn call_i64(&self, args: &[i64]) -> Result<i64, RuntimeError> {
        let values: HashMap<String, Value> = args
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("arg{i}"), Value::Int(*v)))
            .collect();
        match self.run_main(values)? {
            Value::Int(i) => Ok(i),
            other => Err(RuntimeError::Unsupported {
                reason: format!("a plain entry returned {other:?}"),
            }),
        }
    }

    fn bind_arguments(
        &self,
        mut args: HashMap<String, Value>,
    ) -> Result<BoundArguments, RuntimeError> {
        let layout = match &self.signature {
            Signature::Scalar(layout) => layout,
            Signature::Values(_) => return Ok(BoundArguments::Values(args)),
        };
        let mut bound = Vec::with_capacity(layout.params.len());
        for param in &layout.params {
            let value = args
                .remove(&param.name)
                .ok_or_else(|| RuntimeError::MissingMainArg {
                    name: param.name.clone(),
                    range: TokenRange::default(),
                })?;
            let scalar = scalar_from_value(param.ty, &value).ok_or_else(|| {
                RuntimeError::MainArgTypeMismatch {
                    name: param.name.clone(),
                    expected: param.ty.relon_name().to_string(),
                    found: format!("{value:?}"),
                    range: TokenRange::default(),
                }
            })?;
            bound.push((param.offset, scalar));
        }
        if let Some(extra) = args.keys().min() {
            return Err(RuntimeError::UnexpectedMainArg {
                name: extra.clone(),
                range: TokenRange::default(),
            });
        }
        Ok(BoundArguments::Scalar(bound))
    }

    /// A fresh arena for this program.
    fn new_arena(&self) -> Arena {
        match &self.signature {
            Signature::Scalar(layout) => {
                Arena::new(&self.const_data, layout.in_len, layout.out_len)
            }
            Signature::Values(_) => Arena::new(&self.const_data, 0, 0),
        }
    }

    /// The sandbox's step budget and depth limit.
    fn run_limits(&self) -> RunLimits {
        RunLimits {
            fuel: self.config.fuel,
            max_depth: self.config.max_depth,
        }
    }

    fn trap_error(&self, code: u32, site: u32, host_error: Option<RuntimeError>) -> RuntimeError {
        relon_host_shims::trap_error::trap_error(
            code,
            self.trap_sites.get(site as usize).copied(),
            self.run_limits(),
            host_error,
            None,
        )
    }
}

impl Evaluator for LlvmAotEvaluator {
    fn eval_root(&self, _scope: &Arc<Scope>) -> Result<Value, RuntimeError> {
        Err(RuntimeError::Unsupported {
            reason: "the LLVM JIT runs `#main` entry programs only; use run_main".into(),
        })
    }

    fn run_main(&self, args: HashMap<String, Value>) -> Result<Value, RuntimeError> {
        let bound = self.bind_arguments(args)?;
        // Deep recursion needs a deep stack: the call runs on a large
        // stack kept for this thread, not on the caller's.
        // Arenas are reused: allocating (and zeroing) the scratch space
        // would cost more than most programs run.
        let mut arena = self
            .arenas
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_else(|| self.new_arena());
        let result = relon_host_shims::run_stack::on_run_stack(|| {
            self.load_arguments(&mut arena, &bound)?;
            self.call_on(&mut arena, &bound)
        });
        if let Ok(mut pool) = self.arenas.lock() {
            pool.push(arena);
        }
        result
    }
}

/// A call with its arguments already bound and its arena allocated, for
/// timing the compiled code alone (the kernel caliber). Runs on the
/// caller's thread and stack: keep recursion shallow.
pub struct PreparedCall<'e> {
    evaluator: &'e LlvmAotEvaluator,
    arena: Arena,
    bound: BoundArguments,
}

impl PreparedCall<'_> {
    /// Run the program once more with the same arguments.
    pub fn call(&mut self) -> Result<Value, RuntimeError> {
        self.evaluator.call_on(&mut self.arena, &self.bound)
    }
}

impl LlvmAotEvaluator {
    /// Bind `args` and allocate the arena once; see [`PreparedCall`].
    pub fn prepare(&self, args: HashMap<String, Value>) -> Result<PreparedCall<'_>, RuntimeError> {
        let bound = self.bind_arguments(args)?;
        let mut arena = self.new_arena();
        self.load_arguments(&mut arena, &bound)?;
        Ok(PreparedCall {
            evaluator: self,
            arena,
            bound,
        })
    }

    /// Lay `bound` into `arena`'s input buffer.
    fn load_arguments(
        &self,
        arena: &mut Arena,
        bound: &BoundArguments,
    ) -> Result<(), RuntimeError> {
        match (bound, &self.signature) {
            (BoundArguments::Scalar(bound), _) => {
                for (offset, value) in bound {
                    arena.write_input(*offset, *value);
                }
                Ok(())
            }
            (BoundArguments::Values(args), Signature::Values(signature)) => {
                signature.load_arguments(arena, args.clone())
            }
            (BoundArguments::Values(_), Signature::Scalar(_)) => Err(RuntimeError::Unsupported {
                reason: "arguments bound for another signature".into(),
            }),
        }
    }

    /// Call the entry over the loaded `arena`, read the result or the error.
    fn call_on(&self, arena: &mut Arena, bound: &BoundArguments) -> Result<Value, RuntimeError> {
        let limits = self.run_limits().entry_limits();
        let context = HostCallContext {
            imports: &self.imports,
            error: RefCell::new(None),
        };
        let host_context = &context as *const HostCallContext as *mut c_void;
        let status = match self.engine.entry {
            Entry::Buffer(entry) => arena.call_with(entry, limits, self.caps, host_context),
            Entry::Plain(entry) => {
                let BoundArguments::Scalar(bound) = bound else {
                    return Err(RuntimeError::Unsupported {
                        reason: "a plain entry takes Int arguments".into(),
                    });
                };
                let ints: Vec<i64> = bound
                    .iter()
                    .map(|(_, v)| match v {
                        ScalarValue::Int(i) => *i,
                        _ => 0,
                    })
                    .collect();
                let mut result = 0;
                // SAFETY: `entry` is `relon_entry_i64`, which takes the live
                // state `run_with` builds and a pointer to `arity` Ints
                // (`ints`, alive for the call).
                let status = arena.run_with(limits, self.caps, host_context, |state| {
                    result = unsafe { entry(state, ints.as_ptr()) };
                    // SAFETY: `state` is live for this closure.
                    if unsafe { (*state).trap_code } == 0 {
                        ENTRY_OK
                    } else {
                        relon_runtime_contract::ENTRY_TRAPPED
                    }
                });
                arena.write_output_int(0, result);
                status
            }
        };
        if status == ENTRY_OK {
            match &self.signature {
                Signature::Scalar(layout) => Ok(
                    match arena.read_output(layout.result.offset, layout.result.ty) {
                        ScalarValue::Int(i) => Value::Int(i),
                        ScalarValue::Float(f) => Value::Float(f.into()),
                        ScalarValue::Bool(b) => Value::Bool(b),
                    },
                ),
                Signature::Values(signature) => signature.read_result(arena),
            }
        } else {
            let (code, site) = arena.trap();
            Err(self.trap_error(code, site, context.error.into_inner()))
        }
    }
}

/// What `relon_host_call` needs during one run.
struct HostCallContext<'a> {
    imports: &'a [ImportBinding],
    error: RefCell<Option<RuntimeError>>,
}

/// Host functions cannot call back into compiled Relon code.
struct NoCallbacks;

impl NativeFnCaps for NoCallbacks {
    fn call_relon(
        &self,
        _func: &Value,
        _args: Vec<Value>,
        _range: TokenRange,
    ) -> Result<Value, RuntimeError> {
        Err(RuntimeError::Unsupported {
            reason: "host functions cannot call Relon closures from compiled code".into(),
        })
    }
}

/// The open-world host-call helper (`relon_runtime_contract::HOST_CALL_SYMBOL`).
extern "C" fn relon_host_call(
    state: *mut EntryState,
    import: u32,
    args: *const u64,
    nargs: u32,
) -> u64 {
    // SAFETY: only JIT'd code calls this, with the live `EntryState` of the
    // current run, whose `host_context` is the `HostCallContext` that
    // `run_main` keeps alive for the run, and `args` pointing at `nargs`
    // initialized 8-byte slots.
    let (state, context, raw_args) = unsafe {
        let state = &mut *state;
        let context = &*(state.host_context as *const HostCallContext);
        (
            state,
            context,
            std::slice::from_raw_parts(args, nargs as usize),
        )
    };
    let fail = |state: &mut EntryState, error: RuntimeError| {
        *context.error.borrow_mut() = Some(error);
        state.trap_code = TrapCode::HostError.as_u32();
        0
    };
    let Some(binding) = context.imports.get(import as usize) else {
        return fail(
            state,
            RuntimeError::Unsupported {
                reason: format!("no host function for import #{import}"),
            },
        );
    };
    let values: Vec<Value> = raw_args
        .iter()
        .zip(&binding.params)
        .map(|(bits, ty)| match ty {
            IrType::F64 => Value::Float(f64::from_bits(*bits).into()),
            IrType::Bool => Value::Bool(*bits != 0),
            _ => Value::Int(*bits as i64),
        })
        .collect();
    let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        binding.func.call(
            NativeArgs::from_positional(values, Arc::new(NoCallbacks)),
            TokenRange::default(),
        )
    }));
    match call {
        Ok(Ok(value)) => match (binding.ret, value) {
            (IrType::F64, Value::Float(f)) => f.0.to_bits(),
            (IrType::F64, Value::Int(i)) => (i as f64).to_bits(),
            (IrType::Bool, Value::Bool(b)) => b as u64,
            (IrType::I64, Value::Int(i)) => i as u64,
            (IrType::Unit, _) => 0,
            (ret, other) => fail(
                state,
                RuntimeError::TypeMismatch {
                    expected: format!("{ret:?} from host function `{}`", binding.name),
                    found: format!("{other:?}"),
                    range: TokenRange::default(),
                },
            ),
        },
        Ok(Err(error)) => fail(state, error),
        Err(_) => fail(
            state,
            RuntimeError::Unsupported {
                reason: format!("host function `{}` panicked", binding.name),
            },
        ),
    }
}
