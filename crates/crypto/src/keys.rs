//! keys (work in progress).
