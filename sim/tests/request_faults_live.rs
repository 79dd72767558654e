//! Request faults on the live cluster through the embedded API, met by a real Rust Kafka
//! client (rskafka): an injected NOT_LEADER_OR_FOLLOWER on Produce is retried by the
//! client, the fault's fired count says it fired once, and the request log shows the
//! refused Produce and the one that succeeded.

use kafka_protocol::messages::ApiKey;
use kraftsim::live::Cluster;
use kraftsim::request_faults::{FaultKind, RequestFault, RequestOutcome, Trigger};
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::client::ClientBuilder;
use rskafka::record::Record;
use std::collections::BTreeMap;

#[test]
fn an_injected_produce_error_is_counted_logged_and_retried_by_the_client() {
    let cluster = Cluster::builder()
        .brokers(3)
        .port(0)
        .seed(5)
        .start()
        .expect("cluster starts");
    cluster
        .create_topic("faulted", 1, 3)
        .expect("topic created");
    let id = cluster
        .inject_fault(RequestFault {
            node: None,
            kind: FaultKind::Error {
                api: ApiKey::Produce,
                error: controller::ErrorCode::NotLeaderOrFollower,
                topic: Some("faulted".into()),
                partition: None,
                trigger: Trigger::Count(1),
            },
        })
        .expect("injected");
    let bootstrap: Vec<String> = cluster
        .bootstrap_servers()
        .split(',')
        .map(str::to_string)
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let offsets = runtime.block_on(async move {
        let client = ClientBuilder::new(bootstrap)
            .build()
            .await
            .expect("client connects");
        let partition = client
            .partition_client("faulted", 0, UnknownTopicHandling::Retry)
            .await
            .expect("partition client");
        let record = Record {
            key: None,
            value: Some(b"once".to_vec()),
            headers: BTreeMap::new(),
            timestamp: chrono::Utc::now(),
        };
        partition
            .produce(vec![record], Compression::NoCompression)
            .await
    });
    assert_eq!(
        offsets.expect("the client retried"),
        vec![0],
        "appended once"
    );
    let faults = cluster.faults();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].id, id);
    assert_eq!(faults[0].fired, 1, "{faults:?}");
    // count= counts per node (each node's core decides alone): the leader's is spent, the
    // other nodes' are not, so the fault as a whole is still active.
    assert!(faults[0].active);
    let produces: Vec<_> = cluster
        .request_log()
        .into_iter()
        .filter(|e| e.api == "Produce")
        .collect();
    assert_eq!(produces.len(), 2, "{produces:#?}");
    assert_eq!(
        produces[0].outcome,
        RequestOutcome::Answered {
            errors: vec!["NOT_LEADER_OR_FOLLOWER".into()]
        }
    );
    assert_eq!(produces[0].fault, Some(id));
    assert_eq!(produces[0].partitions, vec![("faulted".to_string(), 0)]);
    assert_eq!(
        produces[1].outcome,
        RequestOutcome::Answered {
            errors: vec!["NONE".into()]
        }
    );
    assert!(produces[0].client_id.is_some(), "the client's id is logged");
    // The log's entries serialize for a control channel.
    let json = serde_json::to_string(&produces[0]).expect("serializes");
    assert!(json.contains("\"api\":\"Produce\""), "{json}");
    let json = serde_json::to_string(&faults[0]).expect("serializes");
    assert!(
        json.contains("\"error\":\"NOT_LEADER_OR_FOLLOWER\""),
        "{json}"
    );
}
