//! chainseal-sign (work in progress).
#![forbid(unsafe_code)]
