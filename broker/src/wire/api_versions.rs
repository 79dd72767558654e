//! Which Kafka APIs kraftsim speaks, at which versions (ApiVersions, KIP-35 and KIP-511).
//!
//! A client's first request is ApiVersions; it then uses, for each API, the highest version
//! both sides support. The ranges below are those of Apache Kafka 3.7 for the APIs kraftsim
//! implements, capped where a newer version needs something kraftsim does not model yet
//! (topic ids in Produce v13 and Fetch v13+). Produce v0-v2 are advertised, as Kafka does,
//! because older librdkafka stops compressing without them (KAFKA-18659); a request at those
//! versions (message format v0/v1) is refused. DescribeQuorum and DescribeTopicPartitions
//! came later than 3.7 and are advertised at Kafka 4.4's ranges.

use kafka_protocol::messages::ApiKey;

/// (api key, min version, max version).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    // Kafka 4.4's ranges: the Admin client needs these for kafka-metadata-quorum and
    // kafka-topics --describe.
    (ApiKey::DescribeQuorum, 0, 2),
    (ApiKey::DescribeTopicPartitions, 0, 0),
];

/// The lowest versions kraftsim can decode (kafka-protocol's floor), where they differ
/// from what is advertised.
pub fn decodable_min(key: ApiKey) -> i16 {
    match key {
        ApiKey::Produce => 3,
        _ => supported(key).map_or(0, |(min, _)| min),
    }
}

/// The advertised range of an API, if kraftsim speaks it.
pub fn supported(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, min, max)| (*min, *max))
}

/// Whether a request at `version` can be decoded and answered.
pub fn is_usable(key: ApiKey, version: i16) -> bool {
    supported(key).is_some_and(|(_, max)| version >= decodable_min(key) && version <= max)
}
