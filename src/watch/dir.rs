//! Reading a `dir:` source to its end: files in lexical order (hidden files
//! skipped), each read in large chunks cut at the last newline so that every
//! chunk holds whole lines; a file's last line needs no newline.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The regular, non-hidden files of `dir`, sorted by name.
pub fn list_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_file() || entry.path().metadata().is_ok_and(|m| m.is_file()) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Default chunk size: large enough to amortize per-batch work.
pub const CHUNK_BYTES: usize = 4 << 20;

/// Reads a file and calls `f` with chunks of whole lines, in order.
pub fn for_each_chunk(path: &Path, chunk_bytes: usize, mut f: impl FnMut(&[u8])) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut buf: Vec<u8> = Vec::with_capacity(chunk_bytes + 4096);
    let mut eof = false;
    while !eof {
        // Fill the buffer up to chunk_bytes (keeping the carried partial line).
        let start = buf.len();
        buf.resize(start.max(chunk_bytes), 0);
        let mut filled = start;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..])?;
            if n == 0 {
                eof = true;
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        if eof {
            if !buf.is_empty() {
                f(&buf);
            }
            break;
        }
        match memchr::memrchr(b'\n', &buf) {
            Some(i) => {
                f(&buf[..=i]);
                buf.drain(..=i);
            }
            // One line longer than the chunk: grow and keep reading.
            None => buf.reserve(chunk_bytes),
        }
        if buf.len() >= chunk_bytes {
            // A line longer than a chunk: make room for more.
            buf.reserve(chunk_bytes);
        }
        let _ = start;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_whole_lines_in_order() {
        let dir = std::env::temp_dir().join(format!("shoal-dir-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::new();
        for i in 0..1000 {
            text.push_str(&format!("line {i} {}\n", "x".repeat(i % 37)));
        }
        text.push_str("last line without newline");
        std::fs::write(dir.join("b.txt"), &text).unwrap();
        std::fs::write(dir.join("a.txt"), "first\n").unwrap();
        std::fs::write(dir.join(".hidden"), "no\n").unwrap();
        let files = list_files(&dir).unwrap();
        assert_eq!(
            files
                .iter()
                .map(|p| p.file_name().unwrap().to_str().unwrap())
                .collect::<Vec<_>>(),
            ["a.txt", "b.txt"]
        );
        let mut got = Vec::new();
        for_each_chunk(&files[1], 100, |c| {
            assert!(c.ends_with(b"\n") || c.ends_with(b"newline"));
            got.extend_from_slice(c);
        })
        .unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), text);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
