//! The terminal: whether to colour, its size, and quiet input while a
//! `\watch` table is on screen.

use std::io::IsTerminal;

/// How text is decorated on one output: ANSI colours, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Whether to emit ANSI colour codes.
    pub color: bool,
}

impl Style {
    /// Colour when `is_tty` and `NO_COLOR` is not set (see no-color.org).
    pub fn detect(is_tty: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: is_tty && !no_color,
        }
    }

    /// No decoration.
    pub fn plain() -> Style {
        Style { color: false }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Bold.
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }

    /// Bold red, for errors and carets.
    pub fn error(&self, s: &str) -> String {
        self.paint("1;31", s)
    }

    /// Dim, for secondary information.
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }

    /// Green, for what was created.
    pub fn ok(&self, s: &str) -> String {
        self.paint("32", s)
    }

    /// Cyan, for line-number gutters.
    pub fn gutter(&self, s: &str) -> String {
        self.paint("36", s)
    }
}

/// Whether standard output is a terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether standard error is a terminal.
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Whether standard input is a terminal.
pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// Columns and rows of the terminal on standard output; 80×24 when unknown.
pub fn size() -> (usize, usize) {
    // SAFETY: TIOCGWINSZ writes a `winsize` into the pointed-to struct and
    // nothing else; a failure leaves it zeroed.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    let cols = if r == 0 && ws.ws_col > 0 {
        ws.ws_col as usize
    } else {
        80
    };
    let rows = if r == 0 && ws.ws_row > 0 {
        ws.ws_row as usize
    } else {
        24
    };
    (cols, rows)
}

/// While alive, keys typed on the terminal are neither echoed nor
/// line-buffered (they would scribble over a live table), and the cursor is
/// hidden; Ctrl-C still interrupts. Dropping it restores the terminal and
/// discards what was typed meanwhile, so it does not reach the next prompt.
pub struct QuietInput {
    saved: Option<libc::termios>,
}

impl QuietInput {
    /// Quiets standard input when it is a terminal; does nothing otherwise.
    pub fn new() -> QuietInput {
        if !stdin_is_tty() {
            return QuietInput { saved: None };
        }
        // SAFETY: tcgetattr/tcsetattr read and write a termios struct for
        // the terminal on stdin; errors leave `saved` empty.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut t) != 0 {
                return QuietInput { saved: None };
            }
            let saved = t;
            t.c_lflag &= !(libc::ECHO | libc::ICANON);
            t.c_lflag |= libc::ISIG;
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t);
            if stdout_is_tty() {
                print!("\x1b[?25l");
            }
            QuietInput { saved: Some(saved) }
        }
    }
}

impl Default for QuietInput {
    fn default() -> QuietInput {
        QuietInput::new()
    }
}

impl Drop for QuietInput {
    fn drop(&mut self) {
        if let Some(t) = self.saved.take() {
            // SAFETY: restores the attributes read in `new`.
            unsafe {
                libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH);
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t);
            }
            if stdout_is_tty() {
                print!("\x1b[?25h");
                use std::io::Write;
                let _ = std::io::stdout().flush();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_adds_nothing_and_colour_wraps() {
        assert_eq!(Style::plain().error("^^"), "^^");
        assert_eq!(Style { color: true }.error("^^"), "\x1b[1;31m^^\x1b[0m");
    }
}
