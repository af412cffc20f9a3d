//! `benches`: criterion benchmarks for the codec, the crypto and end-to-end transfers.
//!
//! The benchmarks live under `benches/`; every table in `README.md` beside this crate names the
//! command that reproduces it. This library is empty on purpose.
