//! chainseal-intoto (work in progress).
#![forbid(unsafe_code)]
