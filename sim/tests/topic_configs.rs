//! Topic configs over the wire: CreateTopics checks the configs given at creation by the
//! same registry (`controller::config_def`) as IncrementalAlterConfigs, and refuses a bad
//! one with INVALID_CONFIG and Kafka's message, per topic, creating nothing
//! (Kafka's `ReplicationControlManager.createTopics`).

use kraftsim::admin_client::{AdminClient, AdminError, NewTopic};

/// Kafka's INVALID_CONFIG.
const INVALID_CONFIG: i16 = 40;

fn refusal(admin: &AdminClient, topic: &NewTopic) -> (i16, String) {
    match admin.create_topic(topic) {
        Err(AdminError::Kafka { code, message, .. }) => (code, message),
        other => panic!("{}: expected a Kafka error, got {other:?}", topic.name),
    }
}

#[test]
fn create_topics_refuses_a_bad_config_with_kafkas_message() {
    let cluster = kraftsim::live::Cluster::builder()
        .brokers(1)
        .start()
        .expect("live cluster");
    let admin = AdminClient::new(&cluster.bootstrap_servers());
    let cases = [
        (
            NewTopic::new("bad-value", 1, 1).config("retention.ms", "-5"),
            "Invalid value -5 for configuration retention.ms: Value must be at least -1",
        ),
        (
            NewTopic::new("bad-type", 1, 1).config("min.insync.replicas", "two"),
            "Invalid value two for configuration min.insync.replicas: Not a number of type INT",
        ),
        (
            NewTopic::new("unknown-name", 1, 1).config("not.a.real.topic.config", "1"),
            "Unknown topic config name: not.a.real.topic.config",
        ),
        (
            NewTopic::new("not-enforced", 1, 1).config("cleanup.policy", "compact"),
            "kraftsim does not support the topic config cleanup.policy (supported: min.insync.replicas, retention.bytes, retention.ms, segment.bytes, unclean.leader.election.enable)",
        ),
    ];
    for (topic, message) in &cases {
        assert_eq!(
            refusal(&admin, topic),
            (INVALID_CONFIG, message.to_string()),
            "{}",
            topic.name
        );
    }
    let names: Vec<&str> = cases.iter().map(|(t, _)| t.name.as_str()).collect();
    let metadata = admin.metadata(&names).expect("metadata");
    assert!(
        metadata.topics.iter().all(|t| t.error_code == 3),
        "no refused topic was created (UNKNOWN_TOPIC_OR_PARTITION): {metadata:?}"
    );
    admin
        .create_topic(&NewTopic::new("good", 1, 1).config("retention.ms", "60000"))
        .expect("a valid config is taken");
}
