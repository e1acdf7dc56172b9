//! chainseal-witness (work in progress).
#![forbid(unsafe_code)]
