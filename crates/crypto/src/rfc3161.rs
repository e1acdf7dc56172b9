//! rfc3161 (work in progress).
