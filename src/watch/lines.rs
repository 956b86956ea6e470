//! Cutting a byte stream into whole lines, with a bound on line length.
//!
//! Every live source reads bytes in pieces that end anywhere; the
//! [`LineAssembler`] turns them into whole lines (each ending in `\n`), keeps
//! a trailing partial line until its newline arrives, and never holds more
//! than `max_line + 1` bytes of one line: a longer line is forwarded cut to
//! its first `max_line + 1` bytes (so that the engine rejects it as too long,
//! with its reason) and the rest of it, up to its newline, is skipped.

/// Turns pieces of a byte stream into whole lines; see the module doc.
#[derive(Clone, Debug)]
pub struct LineAssembler {
    /// Longest accepted line; longer ones are cut to `max_line + 1` bytes.
    max_line: usize,
    /// The start of a line whose newline has not arrived yet.
    partial: Vec<u8>,
    /// Inside an over-long line that has already been forwarded cut: bytes
    /// are dropped up to the next newline.
    skipping: bool,
}

impl LineAssembler {
    /// An assembler for lines of at most `max_line` bytes (newline excluded).
    pub fn new(max_line: usize) -> LineAssembler {
        LineAssembler {
            max_line,
            partial: Vec::new(),
            skipping: false,
        }
    }

    /// Bytes held as the start of a line that has no newline yet.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Whether the assembler is dropping the rest of an over-long line.
    pub fn is_skipping(&self) -> bool {
        self.skipping
    }

    /// Forgets the partial line (the stream starts over).
    pub fn reset(&mut self) {
        self.partial.clear();
        self.skipping = false;
    }

    /// Appends to `out` every line that `bytes` completes, each ending in
    /// `\n`, and keeps the trailing partial line for the next call.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) {
        if self.skipping {
            match memchr::memchr(b'\n', bytes) {
                None => return,
                Some(i) => {
                    self.skipping = false;
                    bytes = &bytes[i + 1..];
                }
            }
        }
        let Some(last_nl) = memchr::memrchr(b'\n', bytes) else {
            self.keep_partial(bytes, out);
            return;
        };
        let (whole, rest) = bytes.split_at(last_nl + 1);
        // Fast path: no line can be too long when the whole run (with the
        // carried partial line) is at most `max_line + 1` bytes.
        if self.partial.len() + whole.len() <= self.max_line.saturating_add(1) {
            out.extend_from_slice(&self.partial);
            out.extend_from_slice(whole);
            self.partial.clear();
        } else {
            let mut start = 0;
            for nl in memchr::memchr_iter(b'\n', whole) {
                let line = &whole[start..nl];
                if self.partial.is_empty() {
                    self.emit(line, out);
                } else {
                    let mut joined = std::mem::take(&mut self.partial);
                    joined.extend_from_slice(line);
                    self.emit(&joined, out);
                    joined.clear();
                    self.partial = joined;
                }
                start = nl + 1;
            }
        }
        self.keep_partial(rest, out);
    }

    /// End of the stream: the partial line, if any, is appended to `out` as
    /// a last line (with a newline added).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.partial.is_empty() {
            out.extend_from_slice(&self.partial);
            out.push(b'\n');
        }
        self.reset();
    }

    /// One whole line (without its newline), cut when over-long.
    fn emit(&self, line: &[u8], out: &mut Vec<u8>) {
        let keep = line.len().min(self.max_line.saturating_add(1));
        out.extend_from_slice(&line[..keep]);
        out.push(b'\n');
    }

    /// Keeps `bytes` (which hold no newline) as the start of a line; once
    /// the line is longer than `max_line` it is forwarded cut and the rest
    /// of it skipped.
    fn keep_partial(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.partial.len() + bytes.len() > self.max_line {
            let limit = self.max_line.saturating_add(1);
            let room = limit.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&bytes[..room.min(bytes.len())]);
            if self.partial.len() >= limit {
                out.extend_from_slice(&self.partial);
                out.push(b'\n');
                self.partial.clear();
                self.skipping = true;
            }
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn whole(max_line: usize, input: &[u8]) -> Vec<u8> {
        let mut a = LineAssembler::new(max_line);
        let mut out = Vec::new();
        a.push(input, &mut out);
        a.finish(&mut out);
        out
    }

    /// The expected lines, computed line by line from the definition.
    fn reference(max_line: usize, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        for l in lines {
            out.extend_from_slice(&l[..l.len().min(max_line + 1)]);
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn partial_line_waits_for_its_newline() {
        let mut a = LineAssembler::new(100);
        let mut out = Vec::new();
        a.push(b"one\ntw", &mut out);
        assert_eq!(out, b"one\n");
        assert_eq!(a.pending(), 2);
        a.push(b"o\nthree", &mut out);
        assert_eq!(out, b"one\ntwo\n");
        a.finish(&mut out);
        assert_eq!(out, b"one\ntwo\nthree\n");
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn over_long_lines_are_cut_and_the_rest_skipped() {
        let mut a = LineAssembler::new(4);
        let mut out = Vec::new();
        a.push(b"abcd\nabcdefgh\nxy\n", &mut out);
        assert_eq!(out, b"abcd\nabcde\nxy\n");
        // An over-long line without its newline yet is forwarded at once
        // and nothing more of it is held.
        out.clear();
        a.push(b"0123456789", &mut out);
        assert_eq!(out, b"01234\n");
        assert!(a.is_skipping() && a.pending() == 0);
        a.push(b"more of the same line", &mut out);
        a.push(b" and its end\nok\n", &mut out);
        assert_eq!(out, b"01234\nok\n");
    }

    #[test]
    fn over_long_line_built_from_pieces() {
        let mut a = LineAssembler::new(4);
        let mut out = Vec::new();
        a.push(b"ab", &mut out);
        a.push(b"cd", &mut out);
        assert!(out.is_empty());
        a.push(b"e", &mut out);
        assert_eq!(out, b"abcde\n");
        a.push(b"f\ng\n", &mut out);
        assert_eq!(out, b"abcde\ng\n");
    }

    proptest! {
        /// However the input is cut into pieces, the lines are those of the
        /// whole input, each cut to `max_line + 1` bytes.
        #[test]
        fn pieces_do_not_matter(
            input in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), Just(b'b')], 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..10),
            max_line in 1usize..12,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort();
            let mut a = LineAssembler::new(max_line);
            let mut out = Vec::new();
            let mut start = 0;
            for c in cuts.into_iter().chain([input.len()]) {
                a.push(&input[start..c], &mut out);
                prop_assert!(a.pending() <= max_line);
                start = c;
            }
            a.finish(&mut out);
            prop_assert_eq!(&out, &reference(max_line, &input));
            prop_assert_eq!(&out, &whole(max_line, &input));
        }
    }
}
