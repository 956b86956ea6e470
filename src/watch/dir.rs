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
    let mut reader = ChunkReader::open(path, chunk_bytes)?;
    let mut buf = Vec::new();
    while reader.next_into(&mut buf)? {
        f(&buf);
    }
    Ok(())
}

/// Reads a file in chunks of whole lines (a final line needs no newline).
pub struct ChunkReader {
    file: File,
    chunk_bytes: usize,
    /// The partial line read after the last chunk's final newline.
    carry: Vec<u8>,
    eof: bool,
}

impl ChunkReader {
    /// Opens `path` for reading in chunks of about `chunk_bytes`.
    pub fn open(path: &Path, chunk_bytes: usize) -> io::Result<ChunkReader> {
        Ok(ChunkReader {
            file: File::open(path)?,
            chunk_bytes: chunk_bytes.max(1),
            carry: Vec::new(),
            eof: false,
        })
    }

    /// Replaces the contents of `out` with the next chunk: whole lines, up
    /// to about `chunk_bytes` (a line longer than that is read whole), and
    /// at the end of the file whatever is left. False, with `out` empty,
    /// when nothing is left.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        out.clear();
        out.append(&mut self.carry);
        let mut target = self.chunk_bytes.max(out.len());
        loop {
            if !self.eof {
                // Read into spare capacity (not zeroed first) up to `target`.
                let want = target - out.len();
                out.reserve(want);
                let n = (&mut self.file).take(want as u64).read_to_end(out)?;
                if n < want {
                    self.eof = true;
                }
            }
            if self.eof {
                return Ok(!out.is_empty());
            }
            match memchr::memrchr(b'\n', out) {
                Some(i) => {
                    self.carry.extend_from_slice(&out[i + 1..]);
                    out.truncate(i + 1);
                    return Ok(true);
                }
                // A line longer than a chunk: keep reading.
                None => target = out.len() + self.chunk_bytes,
            }
        }
    }
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
            if i == 500 {
                // Longer than a chunk: read whole.
                text.push_str(&format!("long {}\n", "y".repeat(350)));
            }
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
        let mut longest = 0;
        for_each_chunk(&files[1], 100, |c| {
            assert!(c.ends_with(b"\n") || c.ends_with(b"newline"));
            longest = longest.max(c.len());
            got.extend_from_slice(c);
        })
        .unwrap();
        assert!(longest > 350, "the long line came whole");
        assert_eq!(String::from_utf8(got).unwrap(), text);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
