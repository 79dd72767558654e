//! `sim conform`: the command line of [`kraftsim::conform`].

use anyhow::{bail, Result};
use kraftsim::cluster_control::Target;
use kraftsim::conform::{self, ConformOptions};
use std::path::PathBuf;

/// `sim conform`'s flags.
#[derive(clap::Args, Debug)]
pub struct ConformArgs {
    /// Run only this scenario (its file name without .scenario).
    #[arg(long)]
    scenario: Option<String>,
    /// The targets, comma-separated: sim, live, kafka.
    #[arg(long, value_delimiter = ',', default_value = "sim,live,kafka")]
    targets: Vec<Target>,
    /// Only the CI subset (scenarios marked `# conform: quick`).
    #[arg(long)]
    quick: bool,
    /// An unpacked Apache Kafka distribution (its libs/); without it, the classpath that
    /// `bash oracle/fetch.sh` writes.
    #[arg(long)]
    kafka_home: Option<PathBuf>,
    /// The suite's directory.
    #[arg(long, default_value = "conformance")]
    dir: PathBuf,
    /// The explained differences [default: DIR/explained-differences.toml]
    #[arg(long)]
    explained: Option<PathBuf>,
    /// Where to write the table as Markdown.
    #[arg(long, default_value = "docs/conformance.md")]
    doc: PathBuf,
    /// Do not write the Markdown table.
    #[arg(long)]
    no_doc: bool,
}

pub fn conform(args: ConformArgs) -> Result<()> {
    if args.targets.is_empty() {
        bail!("--targets needs at least one of sim, live, kafka");
    }
    let mut targets = args.targets.clone();
    targets.sort();
    targets.dedup();
    let command = std::iter::once("sim".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let options = ConformOptions {
        explained: args
            .explained
            .clone()
            .unwrap_or_else(|| args.dir.join("explained-differences.toml")),
        dir: args.dir,
        only: args.scenario,
        quick: args.quick,
        targets,
        kafka_home: args.kafka_home,
        doc: (!args.no_doc).then_some(args.doc),
        command,
    };
    let report = conform::run(&options, &mut |line| eprintln!("{line}"))?;
    print!("{}", conform::table::text(&report));
    if let Some(doc) = &options.doc {
        println!("table written to {}", doc.display());
    }
    if !report.passed() {
        std::process::exit(1);
    }
    Ok(())
}
