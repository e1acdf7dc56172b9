//! chainseal-log-server (work in progress).
#![forbid(unsafe_code)]
