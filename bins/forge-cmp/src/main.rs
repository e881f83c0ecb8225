//! `forge-cmp` binary: argument parsing and adapter wiring only.

fn main() -> anyhow::Result<()> {
    Ok(())
}
