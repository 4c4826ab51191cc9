//! Progress of a long command on stderr. On a terminal: a bar with the percentage, the elapsed time and
//! an estimate of the time left. Otherwise (a log file, CI): one timestamped line per stage, and a line
//! at least once a minute while a stage lasts ("still …"), so that a log never stays silent for minutes.
//!
//! Messages may start with "[NN %]" (the share of the expected work done, as `assess` writes them); the
//! bar takes its position from it.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Seconds between "still …" lines when stderr is not a terminal.
const HEARTBEAT_S: u64 = 60;

/// The percentage at the start of `m` ("[ 40 %] …") and the rest of the message.
pub fn split_percent(m: &str) -> (Option<f64>, &str) {
    if let Some(rest) = m.strip_prefix('[') {
        if let Some(end) = rest.find("%]") {
            if let Ok(p) = rest[..end].trim().parse::<f64>() {
                return (Some(p), rest[end + 2..].trim_start());
            }
        }
    }
    (None, m)
}

/// One line of the log form: "[   12.3 s] [ 40 %] message".
pub fn log_line(elapsed_s: f64, m: &str) -> String {
    format!("[{elapsed_s:>8.1} s] {m}")
}

struct Shared {
    message: String,
    last_line: Instant,
    done: bool,
}

/// Progress output for one command (see the module documentation).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    start: Instant,
    shared: Option<Arc<Mutex<Shared>>>,
    quiet: bool,
}

impl Progress {
    /// Progress on stderr; nothing with `quiet`.
    pub fn new(quiet: bool) -> Self {
        let start = Instant::now();
        if quiet {
            return Self {
                bar: None,
                start,
                shared: None,
                quiet,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(100);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos:>3}% {elapsed_precise} (left ~{eta}) {msg}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            return Self {
                bar: Some(bar),
                start,
                shared: None,
                quiet,
            };
        }
        let shared = Arc::new(Mutex::new(Shared {
            message: "starting".into(),
            last_line: start,
            done: false,
        }));
        let s2 = Arc::clone(&shared);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let Ok(mut g) = s2.lock() else { return };
            if g.done {
                return;
            }
            if g.last_line.elapsed() >= Duration::from_secs(HEARTBEAT_S) {
                eprintln!("{}", log_line(start.elapsed().as_secs_f64(), &format!("still: {}", g.message)));
                g.last_line = Instant::now();
            }
        });
        Self {
            bar: None,
            start,
            shared: Some(shared),
            quiet,
        }
    }

    /// Reports a stage (or a step within one).
    pub fn message(&self, m: &str) {
        if self.quiet {
            return;
        }
        if let Some(bar) = &self.bar {
            let (p, rest) = split_percent(m);
            if let Some(p) = p {
                bar.set_position(p.clamp(0.0, 100.0) as u64);
            }
            bar.set_message(rest.to_string());
        } else if let Some(sh) = &self.shared {
            eprintln!("{}", log_line(self.start.elapsed().as_secs_f64(), m));
            if let Ok(mut g) = sh.lock() {
                g.message = m.to_string();
                g.last_line = Instant::now();
            }
        }
    }

    /// Ends the output (clears the bar; a last log line with the total time).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(sh) = &self.shared {
            if let Ok(mut g) = sh.lock() {
                g.done = true;
            }
            eprintln!("{}", log_line(self.start.elapsed().as_secs_f64(), "[100 %] done"));
        }
    }
}

/// Seconds between two different messages printed by [`LogLines`] (FDTD progress changes often).
const MIN_GAP_S: u64 = 5;

/// An indicatif draw target for a log (stderr not a terminal): the bar's message, when it changed and
/// at most every [`MIN_GAP_S`] seconds, as a timestamped line; the same message again as "still: …"
/// after [`HEARTBEAT_S`] seconds (with a steady tick). Used by the other commands' spinners.
#[derive(Debug)]
pub struct LogLines {
    start: Instant,
    state: Mutex<(String, Option<Instant>)>,
}

impl LogLines {
    pub fn target() -> indicatif::ProgressDrawTarget {
        indicatif::ProgressDrawTarget::term_like_with_hz(
            Box::new(LogLines {
                start: Instant::now(),
                state: Mutex::new((String::new(), None)),
            }),
            2,
        )
    }
}

impl indicatif::TermLike for LogLines {
    fn width(&self) -> u16 {
        1000
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        let m = s.trim();
        if m.is_empty() {
            return Ok(());
        }
        let Ok(mut g) = self.state.lock() else { return Ok(()) };
        let since = g.1.map(|t| t.elapsed());
        let changed = g.0 != m;
        let print = match since {
            None => true,
            Some(d) => (changed && d >= Duration::from_secs(MIN_GAP_S)) || d >= Duration::from_secs(HEARTBEAT_S),
        };
        if print {
            let what = if changed { m.to_string() } else { format!("still: {m}") };
            eprintln!("{}", log_line(self.start.elapsed().as_secs_f64(), &what));
            *g = (m.to_string(), Some(Instant::now()));
        }
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_prefix_is_read_and_stripped() {
        assert_eq!(split_percent("[ 40 %] normalisation"), (Some(40.0), "normalisation"));
        assert_eq!(split_percent("twin: fit"), (None, "twin: fit"));
        assert_eq!(log_line(12.34, "x"), "[    12.3 s] x");
    }
}
