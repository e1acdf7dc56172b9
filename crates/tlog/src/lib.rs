//! chainseal-tlog (work in progress).
#![forbid(unsafe_code)]
