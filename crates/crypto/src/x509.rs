//! x509 (work in progress).
