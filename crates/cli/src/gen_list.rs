//! `armstrace gen`: a synthetic national list on standard output.

use std::io::Write;

/// Options of `armstrace gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// How many records.
    #[arg(long, default_value_t = 1000)]
    records: u64,
    /// Seed: the same seed gives the same list, byte for byte.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(args: GenArgs) -> anyhow::Result<()> {
    armstrace_synth::write_csv(std::io::stdout().lock(), args.records, args.seed)?;
    std::io::stdout().flush()?;
    Ok(())
}
