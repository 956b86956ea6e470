//! Sources: where records come from.
//!
//! For now, [`dir`]: every file of a directory read to its end, in lexical
//! order, in chunks that end at line boundaries. The live sources (watched
//! directories, TCP, stdin, HTTP) build on the same chunking.

pub mod dir;
pub mod lines;
