//! `sim lesson [NAME]`: the course of lessons ([`kraftsim::lessons`]) from the command
//! line. Without a name it lists them; with one it runs it on the deterministic simulator
//! and prints its story, or writes the run's page (`--html`, the same page `sim run
//! --html` writes), its picture (`--svg`) or its JSON (`--json`).

use anyhow::{Context, Result};
use kraftsim::lessons::{self, Overrides};

/// `sim lesson`'s flags: the lesson, and `sim run`'s flags that change its settings.
#[derive(clap::Args, Debug)]
pub struct LessonArgs {
    /// The lesson's name or number; without one, the lessons are listed.
    name: Option<String>,
    /// The seed every random choice comes from [default: the lesson's].
    #[arg(long)]
    seed: Option<u64>,
    /// 0, 1 or all [default: the lesson's].
    #[arg(long)]
    acks: Option<String>,
    /// Records to produce [default: the lesson's].
    #[arg(long)]
    records: Option<u64>,
    /// Broker or topic settings by Kafka name, e.g.
    /// --config unclean.leader.election.enable=true.
    #[arg(long = "config")]
    configs: Vec<String>,
    /// Producer properties by the Java client's names, e.g.
    /// --producer-props enable.idempotence=true.
    #[arg(long = "producer-props", num_args = 1..)]
    producer_props: Vec<String>,
    /// The lesson's consumer group member, by the `consumer` line's keys, e.g.
    /// --consumer-props commit=every-1-records (lessons with a consumer only).
    #[arg(long = "consumer-props", num_args = 1..)]
    consumer_props: Vec<String>,
    /// Print the lesson's run as one JSON document: its claims, checked, and the run's
    /// report in `sim run --json`'s schema.
    #[arg(long)]
    json: bool,
    /// Also write the run's page, as `sim run --html` does, to this file.
    #[arg(long)]
    html: Option<std::path::PathBuf>,
    /// Also write the run's picture (throughput, and each partition's leader and ISR over
    /// time) as SVG to this file.
    #[arg(long)]
    svg: Option<std::path::PathBuf>,
    /// Print every event of each phase, not only those the lesson is about.
    #[arg(long)]
    trace: bool,
}

pub fn lesson(args: LessonArgs) -> Result<()> {
    let Some(name) = &args.name else {
        let flags_without_a_lesson = args.seed.is_some()
            || args.acks.is_some()
            || args.records.is_some()
            || !args.configs.is_empty()
            || !args.producer_props.is_empty()
            || !args.consumer_props.is_empty()
            || args.json
            || args.html.is_some()
            || args.svg.is_some()
            || args.trace;
        if flags_without_a_lesson {
            anyhow::bail!(
                "these flags change a lesson's run: name the lesson (sim lesson NAME ...)"
            );
        }
        print!("{}", lessons::listing());
        return Ok(());
    };
    let lesson = lessons::find(name)?;
    let overrides = Overrides {
        seed: args.seed,
        acks: args.acks.clone(),
        records: args.records,
        configs: args.configs.clone(),
        producer_props: args.producer_props.clone(),
        consumer_props: args.consumer_props.clone(),
    };
    let run = lessons::run(lesson, &overrides)?;
    if args.json {
        println!("{}", run.to_json());
    } else {
        let detail = if args.trace {
            lessons::story::Detail::Everything
        } else {
            lessons::story::Detail::Focused
        };
        print!("{}", run.to_text(detail));
    }
    if let Some(path) = &args.html {
        std::fs::write(
            path,
            kraftsim::experiment::html::render(&run.report, &run.command),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        if !args.json {
            println!("html report: {}", path.display());
        }
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "Lesson {}: {} ({})",
            lesson.number, lesson.name, run.command
        );
        std::fs::write(path, lessons::picture::svg(&run.report, &title))
            .with_context(|| format!("writing {}", path.display()))?;
        if !args.json {
            println!("picture: {}", path.display());
        }
    }
    // On the lesson's own settings a claim that fails means its text no longer tells the
    // truth: fail loudly. With the learner's changes it is the difference they asked for.
    if run.report.failed() || (!run.claims_hold() && !run.overridden) {
        std::process::exit(1);
    }
    Ok(())
}
