//! A Rust Kafka client (rskafka, pure Rust) against the embedded cluster: what a Rust
//! user's own test looks like. The embedded API is synchronous (it runs its own runtime);
//! the client gets a runtime of its own.

use kraftsim::live::Cluster;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::client::ClientBuilder;
use rskafka::record::Record;
use std::collections::BTreeMap;

#[test]
fn rskafka_creates_produces_and_fetches() {
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    let bootstrap: Vec<String> = cluster
        .bootstrap_servers()
        .split(',')
        .map(str::to_string)
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let client = ClientBuilder::new(bootstrap)
            .build()
            .await
            .expect("client connects");
        let controller = client.controller_client().expect("controller client");
        controller
            .create_topic("rust-client", 2, 3, 10_000)
            .await
            .expect("topic created");
        let partition = client
            .partition_client("rust-client", 1, UnknownTopicHandling::Retry)
            .await
            .expect("partition client");
        let records: Vec<Record> = (0..100)
            .map(|i| Record {
                key: Some(format!("k{i}").into_bytes()),
                value: Some(format!("v{i}").into_bytes()),
                headers: BTreeMap::new(),
                timestamp: chrono::Utc::now(),
            })
            .collect();
        let offsets = partition
            .produce(records, Compression::NoCompression)
            .await
            .expect("produced");
        assert_eq!(offsets, (0..100).collect::<Vec<i64>>());
        let mut got = Vec::new();
        let mut next = 0;
        while got.len() < 100 {
            let (batch, high_watermark) = partition
                .fetch_records(next, 1..1_000_000, 1_000)
                .await
                .expect("fetched");
            assert_eq!(high_watermark, 100);
            for r in batch {
                next = r.offset + 1;
                got.push(String::from_utf8(r.record.value.unwrap_or_default()).unwrap_or_default());
            }
        }
        assert_eq!(got, (0..100).map(|i| format!("v{i}")).collect::<Vec<_>>());
    });
}
