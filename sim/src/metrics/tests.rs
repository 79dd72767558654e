//! The metrics' rules, one test each, in Kafka's terms.

use super::gauges::*;
use super::*;

fn led(partition: &str, replicas: usize, isr: usize, min_isr: usize) -> LedPartition {
    LedPartition {
        partition: partition.into(),
        replicas,
        isr,
        min_isr,
    }
}

fn node(node: i32, reporting: bool, active: bool, led: Vec<LedPartition>) -> NodeSample {
    NodeSample {
        node,
        reporting,
        active_controller: active,
        led,
        failed_produce_requests: 0,
    }
}

fn leaders(list: &[(&str, i32)]) -> Vec<MetadataLeader> {
    list.iter()
        .map(|(p, l)| MetadataLeader {
            partition: p.to_string(),
            leader: *l,
        })
        .collect()
}

fn value(snapshot: &[Metric], name: &str) -> Option<f64> {
    snapshot
        .iter()
        .find(|m| m.name == name)
        .and_then(|m| m.value)
}

#[test]
fn a_partition_whose_isr_is_smaller_than_its_replicas_is_under_replicated() {
    assert!(is_under_replicated(&led("t-0", 3, 2, 1)));
    assert!(!is_under_replicated(&led("t-0", 3, 3, 1)));
    let s = ClusterSample {
        nodes: vec![
            node(
                1,
                true,
                true,
                vec![led("t-0", 3, 2, 2), led("t-1", 3, 3, 2)],
            ),
            node(2, true, false, vec![led("t-2", 3, 1, 2)]),
        ],
        ..ClusterSample::default()
    };
    assert_eq!(
        under_replicated_partitions(&s),
        2,
        "summed over the leaders"
    );
}

#[test]
fn a_leader_that_does_not_answer_reports_nothing() {
    let s = ClusterSample {
        nodes: vec![node(1, false, false, vec![led("t-0", 3, 1, 2)])],
        ..ClusterSample::default()
    };
    assert_eq!(under_replicated_partitions(&s), 0);
    assert_eq!(under_min_isr_partition_count(&s), 0);
}

#[test]
fn an_isr_below_min_insync_replicas_counts_as_under_min_isr() {
    assert!(is_under_min_isr(&led("t-0", 3, 1, 2)));
    assert!(
        !is_under_min_isr(&led("t-0", 3, 2, 2)),
        "at min ISR is not under it"
    );
    let s = ClusterSample {
        nodes: vec![node(
            1,
            true,
            true,
            vec![led("t-0", 3, 1, 2), led("t-1", 3, 2, 2)],
        )],
        ..ClusterSample::default()
    };
    assert_eq!(under_min_isr_partition_count(&s), 1);
}

#[test]
fn a_partition_without_a_leader_counts_as_offline_once_not_per_controller() {
    let s = ClusterSample {
        metadata: leaders(&[("t-0", -1), ("t-1", 2), ("t-2", -1)]),
        ..ClusterSample::default()
    };
    assert_eq!(offline_partitions_count(&s), 2);
}

#[test]
fn active_controller_count_is_0_while_the_quorum_is_lost_and_2_with_a_zombie() {
    let lost = ClusterSample {
        nodes: vec![node(1, false, false, vec![]), node(2, true, false, vec![])],
        ..ClusterSample::default()
    };
    assert_eq!(active_controller_count(&lost), 0);
    let zombie = ClusterSample {
        nodes: vec![node(1, true, true, vec![]), node(2, true, true, vec![])],
        ..ClusterSample::default()
    };
    assert_eq!(active_controller_count(&zombie), 2);
    let paused = ClusterSample {
        nodes: vec![node(1, false, true, vec![])],
        ..ClusterSample::default()
    };
    assert_eq!(
        active_controller_count(&paused),
        0,
        "a paused node answers no scrape"
    );
}

#[test]
fn isr_meters_count_events_per_second_and_over_the_window() {
    let mut r = MetricsRecorder::new(0);
    r.event(100, MeterEvent::IsrShrink);
    r.event(900, MeterEvent::IsrShrink);
    r.event(1500, MeterEvent::IsrExpand);
    let series = r.series();
    assert_eq!(series[0].isr_shrinks_per_sec, 2);
    assert_eq!(series[1].isr_expands_per_sec, 1);
    let snap = r.snapshot(2000);
    assert_eq!(value(&snap, "IsrShrinksPerSec"), Some(1.0), "2 in 2 s");
    let shrinks = snap
        .iter()
        .find(|m| m.name == "IsrShrinksPerSec")
        .expect("listed");
    assert_eq!(shrinks.count, Some(2));
    assert_eq!(shrinks.kind, MetricKind::Meter);
}

#[test]
fn leader_election_time_is_how_long_the_partition_had_no_serving_leader() {
    let up = |id, reporting| node(id, reporting, id == 2, vec![]);
    let mut r = MetricsRecorder::new(0).starting_from(
        0,
        &ClusterSample {
            nodes: vec![up(1, true), up(2, true)],
            metadata: leaders(&[("t-0", 1), ("t-1", 2)]),
            ..ClusterSample::default()
        },
    );
    // Node 1 is killed at 1000 ms; its partition keeps it as leader until it is fenced.
    r.sample(
        1000,
        &ClusterSample {
            nodes: vec![up(1, false), up(2, true)],
            metadata: leaders(&[("t-0", 1), ("t-1", 2)]),
            ..ClusterSample::default()
        },
    );
    r.event(
        10_000,
        MeterEvent::LeaderElected {
            partition: "t-0".into(),
            leader: 2,
            unclean: false,
        },
    );
    // A controlled move: the old leader served until the new one took over.
    r.event(
        10_500,
        MeterEvent::LeaderElected {
            partition: "t-1".into(),
            leader: 1,
            unclean: true,
        },
    );
    let phase = r.clone().finish(11_000).phases.remove(0);
    let timer = phase
        .metrics
        .iter()
        .find(|m| m.name == "LeaderElectionRateAndTimeMs")
        .expect("listed");
    assert_eq!(timer.count, Some(2));
    assert_eq!(timer.max_ms, Some(9000));
    assert_eq!(timer.avg_ms, Some(4500.0));
    let unclean = phase
        .metrics
        .iter()
        .find(|m| m.name == "UncleanLeaderElectionsPerSec")
        .expect("listed");
    assert_eq!(unclean.count, Some(1));
}

#[test]
fn failed_produce_totals_become_increments_and_a_restart_resets_them() {
    let with = |failed| ClusterSample {
        nodes: vec![NodeSample {
            failed_produce_requests: failed,
            ..node(1, true, true, vec![])
        }],
        ..ClusterSample::default()
    };
    let mut r = MetricsRecorder::new(0).starting_from(0, &with(5));
    r.sample(1000, &with(8));
    r.sample(2000, &with(2)); // restarted: counts from zero again
    let series = r.series();
    assert_eq!(series[1].failed_produce_requests_per_sec, 3);
    assert_eq!(series[2].failed_produce_requests_per_sec, 2);
}

#[test]
fn only_append_errors_mark_failed_produce_requests_as_in_kafka() {
    use broker::replica_manager::marks_failed_produce;
    use controller::ErrorCode;
    assert!(marks_failed_produce(ErrorCode::NotEnoughReplicas));
    assert!(!marks_failed_produce(ErrorCode::NotLeaderOrFollower));
    assert!(!marks_failed_produce(ErrorCode::UnknownTopicOrPartition));
    assert!(!marks_failed_produce(ErrorCode::None));
}

#[test]
fn the_producer_metrics_are_a_rate_of_failed_records_and_an_average_request_latency() {
    let with = |record_errors, responses, latency_ms_total| ClusterSample {
        producer: ProducerSample {
            record_errors,
            responses,
            latency_ms_total,
        },
        ..ClusterSample::default()
    };
    let mut r = MetricsRecorder::new(0).starting_from(0, &with(0, 0, 0));
    let snap = r.snapshot(500);
    assert_eq!(
        value(&snap, "request-latency-avg"),
        None,
        "nothing to average"
    );
    r.sample(1000, &with(0, 4, 100));
    r.sample(2000, &with(30, 6, 300));
    let series = r.series();
    assert_eq!(series[1].request_latency_avg, Some(25.0));
    assert_eq!(series[2].request_latency_avg, Some(100.0));
    assert_eq!(series[2].record_error_rate, 30);
    let snap = r.snapshot(3000);
    assert_eq!(value(&snap, "record-error-rate"), Some(10.0), "30 over 3 s");
    assert_eq!(
        value(&snap, "request-latency-avg"),
        Some(50.0),
        "300 ms over 6"
    );
}

#[test]
fn a_phase_keeps_the_gauges_value_at_its_end_and_its_range() {
    let urp = |isr| ClusterSample {
        nodes: vec![node(1, true, true, vec![led("t-0", 3, isr, 2)])],
        ..ClusterSample::default()
    };
    let mut r = MetricsRecorder::new(0).starting_from(0, &urp(3));
    r.sample(500, &urp(1));
    r.sample(900, &urp(2));
    r.mark_phase(1000);
    r.sample(1500, &urp(3));
    let report = r.finish(2000);
    let first = &report.phases[0].metrics[0];
    assert_eq!(first.name, "UnderReplicatedPartitions");
    assert_eq!(
        (first.at_end, first.min, first.max),
        (Some(1), Some(0), Some(1))
    );
    let min_isr = &report.phases[0].metrics[1];
    assert_eq!((min_isr.at_end, min_isr.max), (Some(0), Some(1)));
    let second = &report.phases[1].metrics[0];
    assert_eq!(
        (second.at_end, second.min, second.max),
        (Some(0), Some(0), Some(1))
    );
}

#[test]
fn the_snapshot_lists_every_metric_with_its_mbean_kind_and_meaning_as_json() {
    let r = MetricsRecorder::new(0);
    let snap = r.snapshot(0);
    assert_eq!(snap.len(), MetricId::ALL.len());
    let json = serde_json::to_value(&snap).expect("serializes");
    let first = &json[0];
    assert_eq!(first["name"], "UnderReplicatedPartitions");
    assert_eq!(
        first["mbean"],
        "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions"
    );
    assert_eq!(first["kind"], "gauge");
    assert!(first["meaning"].as_str().is_some_and(|m| m.contains("ISR")));
    let timer = &json[6];
    assert_eq!(timer["name"], "LeaderElectionRateAndTimeMs");
    assert_eq!(timer["kind"], "timer");
    assert_eq!(json[10]["name"], "request-latency-avg");
    assert!(json[10]["value"].is_null());
}
