//! chainseal-authority (work in progress).
#![forbid(unsafe_code)]
