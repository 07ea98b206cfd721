//! Progress has one owner: [`Progress`]. Stages report states through it;
//! nothing else prints progress. On a terminal it draws indicatif spinners and
//! bars; otherwise (CI, pipes) it prints one line per state change.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
    tty: bool,
    quiet: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new(false)
    }
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let tty = std::io::stderr().is_terminal() && !quiet;
        let multi = if tty {
            MultiProgress::new()
        } else {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        };
        Progress { multi, tty, quiet }
    }

    /// A silent instance (library tests).
    pub fn hidden() -> Progress {
        Progress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            tty: false,
            quiet: true,
        }
    }

    /// Print a line without tearing any bar.
    pub fn println(&self, msg: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        if self.tty {
            let _ = self.multi.println(msg.as_ref());
        } else {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// Begin a named stage; finish it with [`Stage::done`] or let it drop
    /// (reported as failed).
    pub fn stage(&self, name: impl Into<String>) -> Stage {
        let name = name.into();
        let bar = if self.tty {
            let pb = self.multi.add(ProgressBar::new_spinner());
            pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"));
            pb.set_message(name.clone());
            pb.enable_steady_tick(Duration::from_millis(120));
            Some(pb)
        } else {
            if !self.quiet {
                eprintln!("==> {name}");
            }
            None
        };
        Stage {
            name,
            bar,
            start: Instant::now(),
            progress: self.clone(),
            finished: false,
        }
    }

    /// A byte-counting bar for downloads.
    pub fn bytes(&self, name: impl Into<String>, total: Option<u64>) -> ProgressBar {
        if !self.tty {
            return ProgressBar::hidden();
        }
        let pb = self.multi.add(match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        });
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message(name.into());
        pb
    }

    /// A counting bar (tests, benchmarks).
    pub fn counter(&self, name: impl Into<String>, total: u64) -> ProgressBar {
        if !self.tty {
            return ProgressBar::hidden();
        }
        let pb = self.multi.add(ProgressBar::new(total));
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} [{elapsed}] eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message(name.into());
        pb
    }
}

pub struct Stage {
    name: String,
    bar: Option<ProgressBar>,
    start: Instant,
    progress: Progress,
    finished: bool,
}

impl Stage {
    pub fn done(mut self, what: &str) {
        self.finish(what);
    }
    fn finish(&mut self, what: &str) {
        self.finished = true;
        let line = format!("    {} {what} ({:.1}s)", self.name, self.start.elapsed().as_secs_f64());
        if let Some(pb) = self.bar.take() {
            pb.finish_and_clear();
        }
        self.progress.println(line);
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if !self.finished {
            self.finish("failed");
        }
    }
}
