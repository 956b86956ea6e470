//! Replays fuzz inputs through the fuzz targets' checks (`fuzz/checks.rs`):
//! every input a fuzzer found (`tests/fuzz/TARGET/`, one file each, named
//! after what it found) and the fuzzers' seeds (`fuzz/seeds/TARGET/`). A
//! failure names the file.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

/// Runs `check` on every file of `tests/fuzz/TARGET` and `fuzz/seeds/TARGET`.
fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        root.join("tests/fuzz").join(target),
        root.join("fuzz/seeds").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        files.extend(entries.map(|e| e.unwrap().path()));
    }
    files.sort();
    assert!(!files.is_empty(), "no inputs for {target}");
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{target}: {} fails its check", f.display());
        }
    }
}

#[test]
fn parse_statements() {
    replay("parse_statements", checks::parse_statements);
}

#[test]
fn execute_statements() {
    replay("execute_statements", checks::execute_statements);
}

#[test]
fn decode_json() {
    replay("decode_json", checks::decode_json);
}

#[test]
fn decode_csv() {
    replay("decode_csv", checks::decode_csv);
}

#[test]
fn ingest() {
    replay("ingest", checks::ingest);
}

#[test]
fn decode_logs() {
    replay("decode_logs", checks::decode_logs);
}
