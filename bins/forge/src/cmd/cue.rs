//! `forge cue export FILE...`: strict CUE export, byte-for-byte like `cue export --out=json`.

use std::io::Write;
use std::path::PathBuf;

/// Runs `forge cue export` on the files: prints the JSON on stdout, or the diagnostics on
/// stderr. Returns the process exit code (0 on success, 1 when CUE would reject the input).
pub fn run(files: &[PathBuf]) -> anyhow::Result<i32> {
    match forge_config::cue::export_command(files) {
        Ok(json) => {
            let mut out = std::io::stdout().lock();
            out.write_all(json.as_bytes())?;
            out.flush()?;
            Ok(0)
        }
        Err(diags) => {
            let mut err = std::io::stderr().lock();
            write!(err, "{diags}")?;
            err.flush()?;
            Ok(1)
        }
    }
}
