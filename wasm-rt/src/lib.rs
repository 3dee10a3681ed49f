//! The runtime helpers emitted code calls (`relon_host_shims::rt`:
//! formatting, concatenation, substrings, locale case maps, dict lookup,
//! tail copies), built for wasm32 as one static library. Compiled for
//! wasm32, `EntryState`'s pointers are 4 bytes wide, which is the layout
//! wasm32 code reads (`EntryStateWasm32`).

pub use relon_host_shims::rt;
