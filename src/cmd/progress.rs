//! Progress on stderr for long runs: the current stage, with a bar when the stage counts
//! something (bytes read, people placed in classes, versions checked). Shown only when
//! stderr is a terminal, `--quiet` is not given, and the run has taken more than a second.
//! JSON output goes to stdout and is never mixed with it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use opentape::progress::{Meter, Unit};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

pub struct Progress {
    bar: Option<ProgressBar>,
    meter: Arc<Meter>,
}

fn style(unit: Option<Unit>) -> ProgressStyle {
    let template = match unit {
        None => "{spinner} {elapsed:>4} {msg}",
        Some(Unit::Bytes) => {
            "{spinner} {elapsed:>4} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)"
        }
        Some(Unit::Count) => {
            "{spinner} {elapsed:>4} {msg} [{bar:30}] {human_pos}/{human_len} ({eta} left)"
        }
    };
    ProgressStyle::with_template(template)
        .expect("valid template")
        .progress_chars("=> ")
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let meter = Arc::new(Meter::default());
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: None, meter };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(style(None));
        let (shown, m) = (bar.clone(), meter.clone());
        // Tests shorten the wait (they cannot afford runs longer than a second).
        let after = std::env::var("OPENTAPE_PROGRESS_AFTER_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1000);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(after));
            if shown.is_finished() {
                return;
            }
            shown.set_draw_target(ProgressDrawTarget::stderr());
            shown.enable_steady_tick(Duration::from_millis(120));
            let mut unit = None;
            while !shown.is_finished() {
                let (done, total, u) = m.get();
                if u != unit {
                    unit = u;
                    shown.set_position(0);
                    shown.set_length(total);
                    shown.set_style(style(u));
                }
                if u.is_some() {
                    shown.set_length(total);
                    shown.set_position(done.min(total));
                }
                std::thread::sleep(Duration::from_millis(120));
            }
        });
        Progress {
            bar: Some(bar),
            meter,
        }
    }

    /// The counter the library reports to.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Clears the display before the command prints its result.
    pub fn clear(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    /// A new stage: its message, and no count until the library starts one.
    pub fn stage(&self, msg: &str) {
        self.meter.stop();
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}
