//! chainseal-verify (work in progress).
#![forbid(unsafe_code)]
