//! `proptest` strategies for every identifier and entity (feature `proptest`).
