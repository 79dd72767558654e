//! Election timeouts: each node's, drawn once from the run's seed, distinct from the
//! others'.
//!
//! A raft follower that hears nothing from a leader for its election timeout starts an
//! election. Two nodes with the same fixed timeout time out together after every lost
//! leader, each votes for itself, and they can split every vote forever; randomizing the
//! timeout is how Raft breaks the tie (the Raft paper, §5.2). raft-rs draws each
//! node's timeout in `[election_tick, 2 * election_tick)` from a thread RNG, and Kafka
//! draws `controller.quorum.election.timeout.ms` plus a random jitter. kraftsim draws it
//! from the run's seed instead, so a run repeats, and hands raft-rs a range of one value
//! (see `controller::quorum`).
//!
//! Both drivers, the simulator's harness and the live cluster, take their timeouts from
//! [`election_timeout_ticks`], so the rule lives here once.

use crate::rng::SimRng;

/// Each node's election timeout in ticks, in the order of the nodes: `election_ticks`
/// (`controller.quorum.fetch.timeout.ms` in ticks, raft-rs's `election_tick`) plus an
/// offset that no other node has. The offsets are a seeded shuffle of
/// `0..max(election_ticks, nodes)`, so with no more nodes than `election_ticks` every
/// timeout is in raft-rs's `[election_tick, 2 * election_tick)`; with more, they stay
/// distinct and a few reach past it.
///
/// The draws (a Fisher-Yates shuffle, one `rng.range` per position from the last down)
/// are part of every seed's story: changing them changes every simulated run.
pub fn election_timeout_ticks(rng: &mut SimRng, election_ticks: usize, nodes: usize) -> Vec<usize> {
    let mut offsets: Vec<usize> = (0..election_ticks.max(nodes)).collect();
    for i in (1..offsets.len()).rev() {
        let j = rng.range(0, i as u64 + 1) as usize;
        offsets.swap(i, j);
    }
    offsets.truncate(nodes);
    offsets.into_iter().map(|o| election_ticks + o).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_gets_a_timeout_no_other_node_has() {
        for seed in 0..50 {
            let t = election_timeout_ticks(&mut SimRng::new(seed), 20, 5);
            assert_eq!(t.len(), 5);
            let mut distinct = t.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), 5, "seed {seed}: {t:?}");
        }
    }

    #[test]
    fn timeouts_stay_in_raft_rs_range_while_nodes_fit() {
        for seed in 0..50 {
            for t in election_timeout_ticks(&mut SimRng::new(seed), 20, 20) {
                assert!((20..40).contains(&t), "seed {seed}: {t}");
            }
        }
    }

    #[test]
    fn more_nodes_than_election_ticks_still_get_distinct_timeouts() {
        let mut t = election_timeout_ticks(&mut SimRng::new(7), 4, 6);
        t.sort_unstable();
        assert_eq!(t, vec![4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn the_same_seed_draws_the_same_timeouts() {
        let a = election_timeout_ticks(&mut SimRng::new(42), 20, 3);
        let b = election_timeout_ticks(&mut SimRng::new(42), 20, 3);
        assert_eq!(a, b);
    }
}
