//! A deep stack for compiled Relon code called in process (the JIT
//! evaluator, programs embedded in a Rust crate), reused across runs on the
//! same thread.
//!
//! Compiled Relon recursion is bounded by its depth limit, not by the
//! caller's stack, so each run switches to a large stack. Reserving one
//! (an `mmap` with a guard page, committed only as it is touched) costs
//! microseconds; this module keeps one per thread and switches onto it in
//! nanoseconds. A nested run (a host function that runs Relon again) gets
//! a fresh segment from `stacker`.

use std::cell::Cell;

/// Size of each run stack.
pub const RUN_STACK_BYTES: usize = 1 << 30;
const GUARD_BYTES: usize = 64 << 10;

struct RunStack {
    mapping: *mut libc::c_void,
}

impl RunStack {
    fn reserve() -> Option<RunStack> {
        // SAFETY: an anonymous private mapping with no address hint; the
        // result is checked, and the lowest GUARD_BYTES are made
        // inaccessible so an overflow faults instead of corrupting memory.
        unsafe {
            let mapping = libc::mmap(
                std::ptr::null_mut(),
                RUN_STACK_BYTES + GUARD_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            );
            if mapping == libc::MAP_FAILED {
                return None;
            }
            if libc::mprotect(mapping, GUARD_BYTES, libc::PROT_NONE) != 0 {
                libc::munmap(mapping, RUN_STACK_BYTES + GUARD_BYTES);
                return None;
            }
            Some(RunStack { mapping })
        }
    }

    fn base(&self) -> *mut u8 {
        // SAFETY: GUARD_BYTES lies inside the mapping.
        unsafe { self.mapping.cast::<u8>().add(GUARD_BYTES) }
    }
}

impl Drop for RunStack {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `reserve` with this size and is
        // not in use (it is only dropped when taken out of the thread slot).
        unsafe {
            libc::munmap(self.mapping, RUN_STACK_BYTES + GUARD_BYTES);
        }
    }
}

thread_local! {
    static STACK: Cell<Option<RunStack>> = const { Cell::new(None) };
}

/// Run `f` on this thread's run stack.
pub fn on_run_stack<R>(f: impl FnOnce() -> R) -> R {
    let Some(stack) = STACK.with(|slot| slot.take()).or_else(RunStack::reserve) else {
        // In use by an outer run on this thread, or no memory for one.
        return stacker::grow(RUN_STACK_BYTES, f);
    };
    let mut f = Some(f);
    // SAFETY: `base` is page-aligned and RUN_STACK_BYTES is a multiple of
    // the stack alignment; the stack is taken out of the thread slot, so no
    // other run uses it meanwhile. The callback never unwinds: a panic is
    // caught inside and resumed after switching back.
    let outcome = unsafe {
        psm::on_stack(stack.base(), RUN_STACK_BYTES, || {
            let f = f.take();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || f.map(|f| f())))
        })
    };
    STACK.with(|slot| slot.set(Some(stack)));
    match outcome {
        Ok(Some(value)) => value,
        Ok(None) => unreachable!("the callback runs exactly once"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
