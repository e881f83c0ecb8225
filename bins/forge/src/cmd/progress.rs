//! Live progress of `forge run`: a tree of groups → phases → projects → steps with spinners
//! and timings on a terminal, plain timestamped lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use forge_core::ExecStatus;
use forge_exec::scheduler::{StatusEvent, StatusSink};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress display; a [`StatusSink`] for the scheduler.
pub(crate) struct Progress {
    inner: Mutex<Inner>,
    fancy: bool,
    quiet: bool,
}

struct Inner {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    /// Last bar inserted under each parent key (to keep children grouped under their parent).
    last_child: HashMap<String, ProgressBar>,
    started: HashMap<String, Instant>,
    groups: HashMap<String, u32>,
}

fn mark(status: ExecStatus) -> &'static str {
    match status {
        ExecStatus::Success => "✓",
        ExecStatus::Failed => "✗",
        ExecStatus::Cancelled => "⊘",
        ExecStatus::Skipped => "-",
        ExecStatus::Running => "…",
        ExecStatus::Pending => " ",
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

impl Progress {
    /// A display on stderr; `quiet` prints nothing (JSON output).
    pub(crate) fn new(quiet: bool, phase_groups: HashMap<String, u32>) -> Self {
        let fancy = !quiet && std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if fancy {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Self {
            inner: Mutex::new(Inner {
                multi,
                bars: HashMap::new(),
                last_child: HashMap::new(),
                started: HashMap::new(),
                groups: phase_groups,
            }),
            fancy,
            quiet,
        }
    }

    /// Prints a line above the bars (or plainly).
    pub(crate) fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if self.fancy {
            let _ = inner.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    fn spinner(indent: usize) -> ProgressStyle {
        ProgressStyle::with_template(&format!(
            "{}{{spinner:.cyan}} {{prefix}} {{msg}} {{elapsed:.dim}}",
            " ".repeat(indent)
        ))
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
    }

    fn done_style(indent: usize) -> ProgressStyle {
        ProgressStyle::with_template(&format!("{}{{msg}} {{prefix}}", " ".repeat(indent)))
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
    }

    /// Starts, updates or finishes the bar `key` (a `/`-separated path; children are kept under
    /// `parent`), or prints a plain line when stderr is not a terminal.
    pub(crate) fn event(
        &self,
        key: String,
        parent: Option<String>,
        indent: usize,
        label: String,
        status: ExecStatus,
        extra: &str,
    ) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if status == ExecStatus::Running {
            inner.started.insert(key.clone(), now);
        }
        let took = inner.started.get(&key).map(|t| now.duration_since(*t));
        if !self.fancy {
            if !self.quiet && status != ExecStatus::Pending {
                let t = match (status, took) {
                    (ExecStatus::Running, _) | (_, None) => String::new(),
                    (_, Some(d)) => format!(" ({})", secs(d)),
                };
                eprintln!("{}{} {label}: {status}{t}{extra}", " ".repeat(indent), mark(status));
            }
            return;
        }
        if status == ExecStatus::Pending {
            return;
        }
        let bar = match inner.bars.get(&key) {
            Some(b) => b.clone(),
            None => {
                let b = ProgressBar::new_spinner().with_style(Self::spinner(indent)).with_prefix(label.clone());
                let after =
                    parent.as_ref().and_then(|p| inner.last_child.get(p).or_else(|| inner.bars.get(p))).cloned();
                let b = match after {
                    Some(a) => inner.multi.insert_after(&a, b),
                    None => inner.multi.add(b),
                };
                b.enable_steady_tick(Duration::from_millis(120));
                inner.bars.insert(key.clone(), b.clone());
                // This bar is now the last descendant of every ancestor.
                let mut p = parent.clone();
                while let Some(pk) = p {
                    inner.last_child.insert(pk.clone(), b.clone());
                    p = pk.rsplit_once('/').map(|(a, _)| a.to_owned());
                }
                b
            }
        };
        if status == ExecStatus::Running {
            bar.set_message("running");
        } else {
            bar.set_style(Self::done_style(indent));
            bar.set_prefix(took.map(secs).unwrap_or_default());
            bar.finish_with_message(format!("{} {label}{extra}", mark(status)));
        }
    }
}

impl StatusSink for Progress {
    fn report(&self, event: &StatusEvent) {
        match event {
            StatusEvent::Run { .. } => {}
            StatusEvent::Phase { phase, status } => {
                let group = self.inner.lock().map(|i| i.groups.get(phase).copied().unwrap_or(0)).unwrap_or(0);
                self.event(phase.clone(), None, 0, format!("group {group} › {phase}"), *status, "")
            }
            StatusEvent::Task { phase, project, status } => {
                self.event(format!("{phase}/{project}"), Some(phase.clone()), 2, project.clone(), *status, "")
            }
            StatusEvent::Step { phase, project, step, status, exit_code, error, .. } => {
                let extra = match (exit_code, error) {
                    (_, Some(e)) if *status != ExecStatus::Success => format!(" — {e}"),
                    (Some(c), _) if *c != 0 => format!(" — exit {c}"),
                    _ => String::new(),
                };
                self.event(
                    format!("{phase}/{project}/{step}"),
                    Some(format!("{phase}/{project}")),
                    4,
                    step.clone(),
                    *status,
                    &extra,
                )
            }
        }
    }
}
