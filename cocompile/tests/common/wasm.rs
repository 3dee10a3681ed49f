//! Running a wasm32 module (`relon_cocompile::wasm`) with wasmtime, by its
//! dispatch plan: the host builds the arena as the native runtime does
//! (`relon_host_shims::arena::Arena`), copies it into the module's memory
//! after the state, calls the entry, copies the arena back and decodes the
//! result or the trap with the native runtime's code.

use std::collections::HashMap;

use relon_cocompile::wasm::WasmModule;
use relon_eval_api::Value;
use relon_host_shims::arena::Arena;
use relon_host_shims::json::ScalarValue;
use relon_host_shims::trap_error::{RunLimits, trap_error};
use relon_host_shims::values::{ValueSignature, scalar_from_value};
use relon_runtime_contract::ScalarType;

use super::{Answer, Native, error_kind};

/// Depth limit of a wasm32 run: the executable's default.
const MAX_DEPTH: u64 = relon_host_shims::args::DEFAULT_MAX_DEPTH;

/// The engine's stack for wasm frames; the run thread's stack is larger.
const WASM_STACK_BYTES: usize = 512 << 20;

/// A module compiled once for many runs.
pub struct WasmProgram {
    module: WasmModule,
    engine: wasmtime::Engine,
    compiled: wasmtime::Module,
    linker: wasmtime::Linker<()>,
    /// The message of a fallible host function that failed in the last run.
    failure: std::sync::Mutex<Option<String>>,
}

/// Host functions called from wasm cannot call back into Relon.
struct NoCallbacks;

impl relon_eval_api::NativeFnCaps for NoCallbacks {
    fn call_relon(
        &self,
        _func: &Value,
        _args: Vec<Value>,
        _range: relon_parser::TokenRange,
    ) -> Result<Value, relon_eval_api::RuntimeError> {
        Err(relon_eval_api::RuntimeError::Unsupported {
            reason: "host functions cannot call Relon closures".into(),
        })
    }
}

impl WasmProgram {
    /// Compile `module` with wasmtime (it may import no host function).
    pub fn new(module: WasmModule) -> Result<WasmProgram, String> {
        WasmProgram::with_host(module, &[])
    }

    /// Compile `module`, providing its host-function imports from `natives`
    /// (the Rust functions tree-walk calls too).
    pub fn with_host(module: WasmModule, natives: &[Native]) -> Result<WasmProgram, String> {
        let mut config = wasmtime::Config::new();
        config
            .max_wasm_stack(WASM_STACK_BYTES)
            .async_stack_size(WASM_STACK_BYTES + (1 << 20));
        let engine = wasmtime::Engine::new(&config).map_err(|e| e.to_string())?;
        let compiled =
            wasmtime::Module::new(&engine, &module.bytes).map_err(|e| format!("{e:#}"))?;
        let mut linker = wasmtime::Linker::new(&engine);
        for import in compiled.imports() {
            let ty = match import.ty() {
                wasmtime::ExternType::Func(ty) => ty,
                other => return Err(format!("unexpected import {other:?}")),
            };
            let decl = module
                .plan
                .imports
                .iter()
                .find(|d| d.name == import.name())
                .ok_or_else(|| format!("the module imports unknown `{}`", import.name()))?
                .clone();
            let native = natives
                .iter()
                .find(|(name, _, _)| *name == decl.name)
                .map(|(_, f, _)| f.clone())
                .ok_or_else(|| format!("no native `{}` to provide", decl.name))?;
            linker
                .func_new(
                    import.module(),
                    import.name(),
                    ty,
                    move |_, params, results| {
                        let values: Vec<Value> = decl
                            .params
                            .iter()
                            .zip(params)
                            .map(|(ty, v)| match ty {
                                ScalarType::Int => Value::Int(v.unwrap_i64()),
                                ScalarType::Float => Value::Float(v.unwrap_f64().into()),
                                ScalarType::Bool => Value::Bool(v.unwrap_i32() != 0),
                            })
                            .collect();
                        let value = native
                            .call(
                                relon_eval_api::NativeArgs::from_positional(
                                    values,
                                    std::sync::Arc::new(NoCallbacks),
                                ),
                                Default::default(),
                            )
                            .map_err(|e| wasmtime::Error::msg(format!("{e:?}")))?;
                        results[0] = match (decl.returns, value) {
                            (ScalarType::Int, Value::Int(i)) => wasmtime::Val::I64(i),
                            (ScalarType::Float, Value::Float(f)) => {
                                wasmtime::Val::F64(f.0.to_bits())
                            }
                            (ScalarType::Bool, Value::Bool(b)) => wasmtime::Val::I32(i32::from(b)),
                            (ty, other) => {
                                return Err(wasmtime::Error::msg(format!(
                                    "{} returned {other:?} for {ty:?}",
                                    decl.name
                                )));
                            }
                        };
                        Ok(())
                    },
                )
                .map_err(|e| e.to_string())?;
        }
        Ok(WasmProgram {
            module,
            engine,
            compiled,
            linker,
            failure: Default::default(),
        })
    }

    /// Run `#main` with `args` (no step budget), on a thread with a deep stack.
    pub fn run(&self, args: HashMap<String, Value>) -> Answer {
        self.run_with_fuel(args, None)
    }

    /// [`Self::run`] with a step budget (the metered entry) if `fuel` is set.
    pub fn run_with_fuel(&self, args: HashMap<String, Value>, fuel: Option<u64>) -> Answer {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .stack_size(WASM_STACK_BYTES + (256 << 20))
                .spawn_scoped(scope, || self.run_here(args, fuel))
                .expect("spawn")
                .join()
                .unwrap_or_else(|_| Answer::Refused("the wasm run panicked".into()))
        })
    }

    fn run_here(&self, args: HashMap<String, Value>, fuel: Option<u64>) -> Answer {
        let plan = &self.module.plan;
        let signature = match &plan.layout {
            Some(_) => None,
            None => match ValueSignature::new(plan.main_schema.clone(), plan.return_schema.clone())
            {
                Ok(s) => Some(s),
                Err(e) => return Answer::Refused(e),
            },
        };
        let mut arena = match (&plan.layout, &signature) {
            (Some(layout), _) => {
                let mut arena = Arena::new(&plan.const_data, layout.in_len, layout.out_len);
                for param in &layout.params {
                    let Some(value) = args.get(&param.name) else {
                        return Answer::Error("MissingMainArg".into());
                    };
                    let Some(value) = scalar_from_value(param.ty, value) else {
                        return Answer::Error("MainArgTypeMismatch".into());
                    };
                    arena.write_input(param.offset, value);
                }
                arena
            }
            (None, Some(signature)) => {
                let mut arena = Arena::new(&plan.const_data, 0, 0);
                if let Err(e) = signature.load_arguments(&mut arena, args) {
                    return Answer::Error(error_kind(&e));
                }
                arena
            }
            (None, None) => unreachable!("a signature is made when there is no layout"),
        };
        match self.call(&mut arena, fuel) {
            Err(trap) => Answer::Refused(format!("wasm trap: {trap}")),
            Ok((0, _)) => match (&plan.layout, &signature) {
                (Some(layout), _) => {
                    match arena.read_output(layout.result.offset, layout.result.ty) {
                        ScalarValue::Int(i) => Answer::Int(i),
                        ScalarValue::Float(f) => Answer::Float(f),
                        ScalarValue::Bool(b) => Answer::Bool(b),
                    }
                }
                (None, Some(signature)) => match signature.read_result(&arena) {
                    Ok(value) => Answer::of_value(&value),
                    Err(e) => Answer::Error(error_kind(&e)),
                },
                (None, None) => unreachable!(),
            },
            Ok((code, site)) => Answer::Error(error_kind(&trap_error(
                code,
                plan.trap_sites.get(site as usize).copied(),
                RunLimits {
                    fuel,
                    max_depth: MAX_DEPTH,
                },
                None,
                self.failure.lock().ok().and_then(|f| f.clone()).as_deref(),
            ))),
        }
    }

    /// Copy `arena` into a fresh instance, call the entry, copy it back;
    /// the trap code and site.
    fn call(&self, arena: &mut Arena, fuel: Option<u64>) -> Result<(u32, u32), String> {
        let plan = &self.module.plan;
        let mut store = wasmtime::Store::new(&self.engine, ());
        let instance = self
            .linker
            .instantiate(&mut store, &self.compiled)
            .map_err(|e| e.to_string())?;
        let memory = instance
            .get_memory(&mut store, plan.memory)
            .ok_or("the module exports no memory")?;
        let heap_base = instance
            .get_global(&mut store, plan.heap_base)
            .and_then(|g| g.get(&mut store).i32())
            .ok_or("the module exports no __heap_base")? as u32;
        let state_at = heap_base.next_multiple_of(16);
        // A fallible host function reports into the HostFailure after the state.
        let failure_at = (state_at + plan.state.size as u32).next_multiple_of(8);
        let failure_len = std::mem::size_of::<relon_runtime_contract::HostFailure>() as u32;
        let arena_at = (failure_at + failure_len).next_multiple_of(16);
        let regions = arena.regions();
        let end = u64::from(arena_at) + u64::from(regions.arena_len);
        let pages = end.div_ceil(65536);
        let have = memory.size(&store);
        if pages > have {
            memory
                .grow(&mut store, pages - have)
                .map_err(|e| format!("cannot grow memory to {end} bytes: {e}"))?;
        }
        let loaded = regions.scratch_offset as usize;
        memory
            .write(
                &mut store,
                arena_at as usize,
                &arena.arena_bytes()[..loaded],
            )
            .map_err(|e| e.to_string())?;
        let s = &plan.state;
        let mut state = vec![0u8; s.size];
        let mut put32 = |at: usize, v: u32| state[at..at + 4].copy_from_slice(&v.to_le_bytes());
        put32(s.arena, arena_at);
        put32(s.arena_len, regions.arena_len);
        put32(s.scratch_cursor, regions.scratch_offset);
        put32(s.in_offset, regions.in_offset);
        put32(s.in_len, regions.in_len);
        put32(s.out_offset, regions.out_offset);
        put32(s.out_cap, regions.out_cap);
        put32(s.tail_cursor, arena.out_root());
        put32(s.host_failure, failure_at);
        state[s.fuel..s.fuel + 8].copy_from_slice(&fuel.unwrap_or(u64::MAX).to_le_bytes());
        state[s.depth_remaining..s.depth_remaining + 8].copy_from_slice(&MAX_DEPTH.to_le_bytes());
        memory
            .write(&mut store, state_at as usize, &state)
            .map_err(|e| e.to_string())?;

        let name = if fuel.is_some() {
            &plan.metered_entry
        } else {
            &plan.entry
        };
        let entry = instance
            .get_typed_func::<i32, i32>(&mut store, name)
            .map_err(|e| e.to_string())?;
        entry
            .call(&mut store, state_at as i32)
            .map_err(|e| format!("{e:#}"))?;

        memory
            .read(&store, state_at as usize, &mut state)
            .map_err(|e| e.to_string())?;
        let get32 = |at: usize| u32::from_le_bytes(state[at..at + 4].try_into().expect("4 bytes"));
        let (code, site) = (get32(s.trap_code), get32(s.trap_site));
        let used = (get32(s.scratch_cursor) as usize).clamp(loaded, regions.arena_len as usize);
        memory
            .read(
                &store,
                arena_at as usize,
                &mut arena.arena_bytes_mut()[..used],
            )
            .map_err(|e| e.to_string())?;
        arena.record_outcome((code, site), get32(s.entry_result) as i32);
        let mut failure = vec![0u8; failure_len as usize];
        memory
            .read(&store, failure_at as usize, &mut failure)
            .map_err(|e| e.to_string())?;
        let failed = u32::from_le_bytes(failure[..4].try_into().expect("4 bytes")) != 0;
        let message_len = (u32::from_le_bytes(failure[4..8].try_into().expect("4 bytes")) as usize)
            .min(failure.len() - 8);
        if let Ok(mut slot) = self.failure.lock() {
            *slot =
                failed.then(|| String::from_utf8_lossy(&failure[8..8 + message_len]).into_owned());
        }
        Ok((code, site))
    }
}
