//! Peak-memory and throughput probe for the CUE evaluator on the generated benchmark corpus.
//!
//! ```text
//! cargo run --release -p forge-config --example cue_mem            # 1 MiB file, one run
//! cargo run --release -p forge-config --example cue_mem -- big 50  # 50 runs (for `perf record`)
//! cargo run --release -p forge-config --example cue_mem -- projects 20
//! cargo run --release -p forge-config --example cue_mem -- parse 20    # parse only
//! cargo run --release -p forge-config --example cue_mem -- parse-projects 20
//! cargo run --release -p forge-config --example cue_mem -- dump DIR  # write the corpus as .cue files
//! cargo run --release -p forge-config --example cue_mem -- export FILE...  # print the export (JSON)
//! ```
//!
//! Peak memory is measured without a custom allocator (the workspace forbids `unsafe`):
//! the kernel's peak resident set size (`VmHWM` in `/proc/self/status`) is reset to the
//! current RSS by writing `5` to `/proc/self/clear_refs` just before the evaluation, so
//! `VmHWM - VmRSS(before)` is the extra memory the parse+evaluate+export touched. It is
//! reported in bytes and as a multiple of the input size.

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Instant;

use forge_config::cue::{EvalOptions, SourceFile, export_json};

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time of this process in nanoseconds (`/proc/self/schedstat`): throughput that does not
/// depend on what else the machine runs.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// `cue export` of the files; the corpus must evaluate (an error path would measure nothing).
fn exported(files: &[SourceFile], opts: &EvalOptions) -> usize {
    match export_json(files, opts) {
        Ok(json) => json.len(),
        Err(e) => {
            eprintln!("benchmark corpus does not export: {e}");
            std::process::exit(1);
        }
    }
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "big".into());
    if which == "dump" {
        let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "cue-corpus".into()));
        let mut files = common::project_files();
        files.push(SourceFile::new("big.cue", common::big_file()));
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| files.iter().try_for_each(|f| std::fs::write(dir.join(f.name()), f.text())));
        if let Err(e) = written {
            eprintln!("cannot write the corpus to {}: {e}", dir.display());
            std::process::exit(1);
        }
        println!("wrote the corpus (p0.cue .. p99.cue, big.cue) to {}", dir.display());
        return;
    }
    if which == "export" {
        // prints what `forge cue export FILE...` prints, to compare with official CUE
        let mut files = Vec::new();
        for path in args {
            match SourceFile::read(std::path::Path::new(&path)) {
                Ok(f) => files.push(f),
                Err(e) => {
                    eprintln!("cannot read {path}: {e}");
                    std::process::exit(1);
                }
            }
        }
        match export_json(&files, &EvalOptions::strict()) {
            Ok(json) => print!("{json}"),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1);
    let files: Vec<SourceFile> = if which == "projects" || which == "parse-projects" {
        common::project_files()
    } else {
        vec![SourceFile::new("big.cue", common::big_file())]
    };
    let input: usize = files.iter().map(|f| f.text().len()).sum();
    let opts = EvalOptions::strict();

    let reset = reset_peak();
    let before = status_kib("VmRSS:").unwrap_or(0);
    let t = Instant::now();
    let cpu0 = cpu_ns();
    let mut out_len = 0;
    for _ in 0..runs {
        if which == "parse" || which == "parse-projects" {
            for f in &files {
                let arena = forge_config::cue::ast::Arena::new();
                let r = forge_config::cue::parse_file(&arena, f, forge_config::cue::FileId(0), &opts.parse);
                out_len += usize::from(r.is_ok());
            }
        } else if which == "projects" {
            for f in &files {
                out_len += exported(std::slice::from_ref(f), &opts);
            }
        } else {
            out_len += exported(&files, &opts);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu_secs = match (cpu0, cpu_ns()) {
        (Some(a), Some(b)) => (b.saturating_sub(a)) as f64 / 1e9,
        _ => secs,
    };
    let peak = status_kib("VmHWM:").unwrap_or(0);
    let extra = peak.saturating_sub(before) * 1024;
    println!("input: {input} bytes in {} file(s); output: {} bytes per run", files.len(), out_len / runs.max(1));
    let what = if which.starts_with("parse") { "parse" } else { "parse+eval+export" };
    println!(
        "{what}: {:.1} MB/s wall, {:.1} MB/s CPU ({runs} run(s), {secs:.3} s wall, {cpu_secs:.3} s CPU)",
        (input * runs) as f64 / secs / 1e6,
        (input * runs) as f64 / cpu_secs / 1e6,
    );
    if reset {
        println!(
            "peak memory above baseline: {extra} bytes = {:.1}x input (VmRSS before {before} KiB, VmHWM {peak} KiB)",
            extra as f64 / input as f64
        );
    } else {
        println!("peak RSS (could not reset VmHWM): {peak} KiB = {:.1}x input", (peak * 1024) as f64 / input as f64);
    }
}
