//! Shared test helpers: the naive reference evaluator and result normalization.

#![allow(dead_code)]

pub mod reference;
