//! sct (work in progress).
