//! The controller's settings, by their Kafka names. What each name means, its type,
//! default and validation are defined once in [`crate::config_def`]; this is where the
//! controller keeps the values it acts on.

use crate::config_def::{self as def, ConfigKey, ConfigValue};
use crate::records::BrokerId;

/// Settings of one node's controller half. Defaults are Kafka's.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// `node.id`.
    pub node_id: BrokerId,
    /// `controller.quorum.voters`: every node is a voter in combined mode.
    pub voters: Vec<BrokerId>,
    /// `broker.session.timeout.ms` (9000): a broker without a heartbeat for this long is
    /// fenced by the active controller.
    pub broker_session_timeout_ms: u64,
    /// `unclean.leader.election.enable` (false), the cluster default.
    pub unclean_leader_election_enable: bool,
    /// `min.insync.replicas` (1), the cluster default: with the topic's override, capped at
    /// the replication factor, it decides when replicas leaving the ISR join the ELR.
    pub min_insync_replicas: usize,
    /// The `eligible.leader.replicas.version` feature (KIP-966): 1, on, as `kafka-storage
    /// format` sets it for a new Kafka 4.4 cluster; 0 models an older cluster.
    pub eligible_leader_replicas_enabled: bool,
    /// `auto.leader.rebalance.enable` (true): the active controller moves leadership back
    /// to each partition's preferred replica (the first of its assignment) once it is in
    /// the ISR, at the leader imbalance check.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds` (300), in ms: how long after a partition
    /// lost its preferred leader the check runs. (`leader.imbalance.per.broker.percentage`
    /// is a ZooKeeper-era setting KRaft's `QuorumController` does not consult.)
    pub leader_imbalance_check_interval_ms: u64,
    /// `num.partitions` (1), for CreateTopics with `num_partitions = -1`.
    pub num_partitions: i32,
    /// `default.replication.factor` (1), for CreateTopics with `replication_factor = -1`.
    pub default_replication_factor: i32,
    /// Virtual milliseconds per raft tick. raft-rs counts time in ticks.
    pub raft_tick_ms: u64,
    /// Heartbeat interval of the raft leader, in ticks (KRaft's followers fetch about every
    /// 500 ms; raft-rs pushes heartbeats instead).
    pub raft_heartbeat_ticks: usize,
    /// `controller.quorum.fetch.timeout.ms` (2000) in ticks: a follower that hears nothing
    /// from the leader for this long starts an election; a leader that hears from no
    /// majority for this long resigns (raft-rs `check_quorum`).
    pub raft_election_ticks: usize,
    /// This node's election timeout in ticks, in `[raft_election_ticks, 2 *
    /// raft_election_ticks)`. Kafka draws `controller.quorum.election.timeout.ms` at random;
    /// kraftsim draws it from the run's seed so that runs repeat (see `docs/`).
    pub election_timeout_ticks: usize,
}

impl ControllerConfig {
    /// Kafka's defaults for node `node_id` of `voters`.
    pub fn new(node_id: BrokerId, voters: Vec<BrokerId>) -> Self {
        let raft_election_ticks = 20;
        Self {
            node_id,
            voters,
            broker_session_timeout_ms: 9000,
            unclean_leader_election_enable: false,
            min_insync_replicas: 1,
            eligible_leader_replicas_enabled: true,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_ms: 300_000,
            num_partitions: 1,
            default_replication_factor: 1,
            raft_tick_ms: 100,
            raft_heartbeat_ticks: 5,
            raft_election_ticks,
            election_timeout_ticks: raft_election_ticks
                + node_id.unsigned_abs() as usize % raft_election_ticks,
        }
    }
}

impl ControllerConfig {
    /// Takes a validated value of a setting of the controller's scope (`--config`). Returns
    /// whether the controller keeps it; settings of other scopes are not its to take.
    pub fn set(&mut self, key: &ConfigKey, value: &ConfigValue) -> bool {
        let number = || value.as_i64().unwrap_or_default();
        let unsigned = || value.as_u64().unwrap_or_default();
        let flag = || value.as_bool().unwrap_or_default();
        match key.name {
            def::MIN_INSYNC_REPLICAS => self.min_insync_replicas = value.as_usize().unwrap_or(1),
            def::UNCLEAN_LEADER_ELECTION_ENABLE => self.unclean_leader_election_enable = flag(),
            def::BROKER_SESSION_TIMEOUT_MS => self.broker_session_timeout_ms = unsigned(),
            def::NUM_PARTITIONS => self.num_partitions = value.as_i32().unwrap_or(1),
            def::DEFAULT_REPLICATION_FACTOR => {
                self.default_replication_factor = value.as_i32().unwrap_or(1)
            }
            def::AUTO_LEADER_REBALANCE_ENABLE => self.auto_leader_rebalance_enable = flag(),
            def::LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS => {
                self.leader_imbalance_check_interval_ms = unsigned().saturating_mul(1000)
            }
            def::ELIGIBLE_LEADER_REPLICAS_VERSION => {
                self.eligible_leader_replicas_enabled = number() >= 1
            }
            _ => return false,
        }
        debug_assert!(key.has_scope(def::Scope::Controller), "{}", key.name);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enforced_controller_setting_is_kept() {
        for key in def::in_scope(def::Scope::Controller) {
            let mut c = ControllerConfig::new(1, vec![1]);
            let value = key.default_value().expect("a default");
            assert_eq!(
                c.set(key, &value),
                key.support == def::Support::Enforced,
                "{}",
                key.name
            );
        }
    }

    #[test]
    fn seconds_become_milliseconds() {
        let mut c = ControllerConfig::new(1, vec![1]);
        let key = def::key(def::LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS);
        assert!(c.set(key, &key.parse("10").expect("valid")));
        assert_eq!(c.leader_imbalance_check_interval_ms, 10_000);
    }
}
