//! End-to-end tests of the co-compiler (see `tests/`): the corpus in
//! `corpus/` runs through the tree-walk reference and the co-compiled
//! static binary, which must agree. The library itself is empty.
