use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// Where a program's lines go: the terminal, a buffer a test reads back, or nowhere (benchmarks).
///
/// Workers print from their own threads, so every line is written whole, under a lock: two lines
/// never interleave mid-way. Cloning a `Console` shares the destination.
#[derive(Debug, Clone)]
pub struct Console {
    sink: Sink,
}

#[derive(Debug, Clone)]
enum Sink {
    Stdout,
    Captured(Arc<Mutex<String>>),
    Silent,
}

/// The text a [`Console::captured`] console has received so far.
#[derive(Debug, Clone)]
pub struct Capture(Arc<Mutex<String>>);

impl Console {
    /// Lines go to standard output.
    pub fn stdout() -> Self {
        Self { sink: Sink::Stdout }
    }

    /// Lines are dropped without being formatted: what benchmarks use, so they time the pool and
    /// not the terminal.
    pub fn silent() -> Self {
        Self { sink: Sink::Silent }
    }

    /// Lines are kept in memory; the returned [`Capture`] reads them back.
    pub fn captured() -> (Self, Capture) {
        let buffer = Arc::new(Mutex::new(String::new()));
        let console = Self {
            sink: Sink::Captured(Arc::clone(&buffer)),
        };
        (console, Capture(buffer))
    }

    /// Writes one line. Takes `format_args!` so that a silent console never formats anything.
    pub fn line(&self, text: fmt::Arguments<'_>) {
        match &self.sink {
            // A closed stdout (`| head`) is not worth a panic in a worker thread: the line is lost
            // either way, and the run still ends with every thread joined.
            Sink::Stdout => {
                let _ = writeln!(io::stdout().lock(), "{text}");
            }
            Sink::Captured(buffer) => {
                // A test that panicked while holding the lock already failed; keep its text.
                let mut buffer = buffer.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = writeln!(buffer, "{text}");
            }
            Sink::Silent => {}
        }
    }
}

impl Capture {
    /// Everything written so far, one `\n`-terminated line per [`Console::line`].
    pub fn text(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_lines_come_back_in_order() {
        let (console, capture) = Console::captured();
        console.line(format_args!("one {}", 1));
        console.clone().line(format_args!("two"));
        assert_eq!(capture.text(), "one 1\ntwo\n");
    }
}
