//! # Random cases as proptest strategies
//!
//! A [`Case`] is one random run: the seed (the cluster's own randomness: network jitter,
//! election timeouts, the partitioner), the load (kafka-producer-perf-test's loop:
//! `records` at `throughput` per second) and the fault plan (scenario [`Step`]s, each
//! `after DURATION ACTION`). Every part is a proptest strategy, so proptest *shrinks* a
//! failing case on its own terms: it drops steps, shortens waits towards 200 ms, moves
//! node ids towards 1 and fault kinds towards the first of the [`Setup`]'s list, fewer
//! records (the seed and the throughput stay), until no simpler case fails the same way.
//! What is left reads as a short scenario file.
//!
//! The strategies are public so a property can be written with proptest's own
//! `proptest!` macro too; [`super::Property`] is the shorter way, and it adds what the
//! macro cannot: the scenario file of the shrunk case and its reproduce line.

use super::setup::{FaultKind, Setup};
use crate::scenario::{Action, BrokerId, NodeRef, Step, Trigger};
use proptest::prelude::*;
use std::fmt;

/// The producer's load in one case: kafka-producer-perf-test's `--num-records` and
/// `--throughput` (records per second), so that it spans the faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    pub records: u64,
    pub throughput: u64,
}

/// One random run of a property.
#[derive(Clone, PartialEq)]
pub struct Case {
    /// The simulator's seed, `sim run --seed`.
    pub seed: u64,
    pub workload: Workload,
    /// The plan as drawn; what runs is [`Setup::admitted`] of it.
    pub steps: Vec<Step>,
}

/// Printed as proptest prints a failing value: one line per step, as a scenario reads.
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}, {} records at {}/s: [",
            self.seed, self.workload.records, self.workload.throughput
        )?;
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{step}")?;
        }
        f.write_str("]")
    }
}

/// The longest wait drawn between two steps: longer than `broker.session.timeout.ms`
/// (9 s) and `replica.lag.time.max.ms` (30 s) would be dead time; 12 s lets a fencing
/// happen between two steps.
pub const MAX_GAP_MS: u64 = 12_000;

/// Loads from under a second to a minute: 20 to 600 records at 10 to 60 per second.
pub fn workload() -> impl Strategy<Value = Workload> {
    // The throughput is not shrunk: a slower load is not a simpler one, only a longer run.
    (20u64..=600, (10u64..=60).no_shrink()).prop_map(|(records, throughput)| Workload {
        records,
        throughput,
    })
}

/// A node id, 1 to `brokers`.
fn node(brokers: usize) -> impl Strategy<Value = BrokerId> {
    1..=(brokers.max(1) as BrokerId)
}

/// A link `from -> to` between two different nodes (`from -> from` when there is one node;
/// [`Setup::admitted`] keeps link faults off a one-node cluster).
fn link(brokers: usize) -> impl Strategy<Value = (BrokerId, BrokerId)> {
    let n = brokers.max(1) as BrokerId;
    (node(brokers), 1..n.max(2)).prop_map(move |(from, hop)| (from, (from - 1 + hop) % n + 1))
}

/// One fault of `kind` on a cluster of `brokers` nodes.
pub fn fault(kind: FaultKind, brokers: usize) -> BoxedStrategy<Action> {
    let id = move || node(brokers).prop_map(NodeRef::Id);
    match kind {
        FaultKind::Stop => id().prop_map(Action::Stop).boxed(),
        FaultKind::Kill => id().prop_map(Action::Kill).boxed(),
        FaultKind::Crash => id().prop_map(Action::Crash).boxed(),
        // Mostly one node; sometimes every node that is down, which is also how a node
        // struck as "the controller" comes back.
        FaultKind::Restart => prop_oneof![
            3 => id(),
            1 => Just(NodeRef::All),
        ]
        .prop_map(Action::Restart)
        .boxed(),
        FaultKind::Pause => id().prop_map(Action::Pause).boxed(),
        FaultKind::Resume => id().prop_map(Action::Resume).boxed(),
        FaultKind::Isolate => id().prop_map(Action::Isolate).boxed(),
        FaultKind::Heal => Just(Action::Heal).boxed(),
        FaultKind::KillController => Just(Action::Kill(NodeRef::Controller)).boxed(),
        FaultKind::StopController => Just(Action::Stop(NodeRef::Controller)).boxed(),
        FaultKind::IsolateController => Just(Action::Isolate(NodeRef::Controller)).boxed(),
        FaultKind::Cut => link(brokers)
            .prop_map(|(from, to)| Action::Cut { from, to })
            .boxed(),
        FaultKind::Delay => (link(brokers), 1u64..=30)
            .prop_map(|((from, to), tens)| Action::Delay {
                from,
                to,
                delay_ms: tens * 50,
            })
            .boxed(),
        FaultKind::Drop => (link(brokers), 1u32..=5)
            .prop_map(|((from, to), tenths)| Action::Drop {
                from,
                to,
                probability: f64::from(tenths) / 10.0,
            })
            .boxed(),
    }
}

/// One step: a wait of 200 ms to [`MAX_GAP_MS`] (in 100 ms units, so shrunk plans read
/// round), then a fault of one of the setup's kinds.
pub fn step(setup: &Setup) -> BoxedStrategy<Step> {
    let brokers = setup.brokers;
    let kinds = if setup.faults.is_empty() {
        vec![FaultKind::Heal]
    } else {
        setup.faults.clone()
    };
    let action = proptest::sample::select(kinds).prop_flat_map(move |k| fault(k, brokers));
    (2u64..=MAX_GAP_MS / 100, action)
        .prop_map(|(tenths, action)| Step {
            line: 0,
            trigger: Trigger::AfterMs(tenths * 100),
            action,
        })
        .boxed()
}

/// A plan of 1 to `max_steps` steps.
pub fn plan(setup: &Setup, max_steps: usize) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(setup), 1..=max_steps.max(1))
}

/// Whole cases: a [`plan`], a [`workload`] and any seed. The plan comes first because
/// proptest shrinks a tuple's parts in order, and the plan is what a reader needs short.
/// The seed is not shrunk: a smaller seed is not a simpler run, only another one, and every
/// attempt would cost a whole run.
pub fn cases(setup: &Setup, max_steps: usize) -> impl Strategy<Value = Case> {
    (plan(setup, max_steps), workload(), any::<u64>().no_shrink()).prop_map(
        |(steps, workload, seed)| Case {
            seed,
            workload,
            steps,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{TestRng, TestRunner};

    fn runner() -> TestRunner {
        TestRunner::new_with_rng(
            proptest::test_runner::Config::default(),
            TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        )
    }

    #[test]
    fn links_join_two_different_nodes_and_faults_stay_on_the_cluster() {
        let mut runner = runner();
        let setup = Setup::new(3).faults(&[FaultKind::Cut, FaultKind::Kill]);
        for _ in 0..300 {
            let step = step(&setup)
                .new_tree(&mut runner)
                .expect("a step")
                .current();
            match step.action {
                Action::Cut { from, to } => {
                    assert_ne!(from, to);
                    assert!((1..=3).contains(&from) && (1..=3).contains(&to));
                }
                Action::Kill(NodeRef::Id(n)) => assert!((1..=3).contains(&n)),
                other => panic!("not a drawn kind: {other}"),
            }
            assert!(
                matches!(step.trigger, Trigger::AfterMs(ms) if (200..=MAX_GAP_MS).contains(&ms))
            );
        }
    }

    #[test]
    fn a_case_prints_as_its_scenario_steps() {
        let case = Case {
            seed: 7,
            workload: Workload {
                records: 100,
                throughput: 20,
            },
            steps: vec![Step {
                line: 0,
                trigger: Trigger::AfterMs(2_000),
                action: Action::Kill(NodeRef::Controller),
            }],
        };
        assert_eq!(
            format!("{case:?}"),
            "seed 7, 100 records at 20/s: [after 2s kill controller]"
        );
    }
}
