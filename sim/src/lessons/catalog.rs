//! # The course: issue 14's lessons, in order
//!
//! Each entry is a scenario from `lessons/` (built in with `include_str!`, so `sim lesson`
//! works from any directory) and the authored text around its run: what to watch, the
//! claims the text depends on (checked on every run, see [`super::claims`]), and what to
//! try next. Config names and defaults are Apache Kafka's (`docs/configs.md`).

use super::claims::Claim;
use super::{Lesson, TryNext};

pub const LESSONS: &[Lesson] = &[
    Lesson {
        number: 1,
        name: "anatomy",
        teaches: "the anatomy of a partition: leader, followers, ISR, and what kafka-topics --describe shows",
        file: "lessons/01-anatomy.scenario",
        scenario: include_str!("../../../lessons/01-anatomy.scenario"),
        watch: "A topic is split into partitions; each partition is a log kept on replication.factor nodes (its replicas). One replica, the leader, takes every write and answers every read; the others, followers, copy the leader's log by fetching from it, as a consumer would. The followers that are caught up (within replica.lag.time.max.ms, 30 s by default) form the in-sync replica set, the ISR, and only they can become leader without losing committed records.\n\nWatch the table kafka-topics --describe prints: the first replica in Replicas is the preferred leader, and the controller spreads the leaderships so that each node leads one partition. Then watch the per-phase partition table: every replica's log end offset (LEO, the next offset it will write) and high watermark (HW, the end of what is committed) agree once the load stops.",
        focus: &["leader ->", "ISR ->"],
        describe_topic: true,
        claims: &[
            Claim::LeadersOnEveryNode,
            Claim::EveryReplicaInSync,
            Claim::NothingLost,
            Claim::ConvergedClean,
        ],
        try_next: &[
            TryNext {
                flags: "--config min.insync.replicas=3",
                differs: "acks=all now needs all three replicas in the ISR; with every node up nothing changes, which is the point: min.insync.replicas only bites when the ISR shrinks (lesson 4).",
            },
            TryNext {
                flags: "--seed 7",
                differs: "a different seed moves the network's jitter and the election timeouts, so the active controller and the records' partitions change, but the anatomy does not.",
            },
        ],
        leaves_out: Some("Kafka's describe output also has the topic's id and the ELR columns (KIP-966); the table prints only the columns the report keeps. Replica placement follows kraftsim's controller, which places replicas round-robin; Kafka's is rack-aware and randomised."),
    },
    Lesson {
        number: 2,
        name: "high-watermark",
        teaches: "the high watermark and the log end offset: consumers read below the HW, followers learn it a fetch later",
        file: "lessons/02-high-watermark.scenario",
        scenario: include_str!("../../../lessons/02-high-watermark.scenario"),
        watch: "Every replica has a log end offset (LEO): the offset its next record will get. The leader also keeps the high watermark (HW): the lowest LEO among the ISR, the end of what every in-sync replica has, which is what committed means. Consumers read only below the HW (a consumer's fetch is served with FetchIsolation.HIGH_WATERMARK; followers read to the log end), so they never see a record that a failover could take back.\n\nThe leader learns a follower's LEO from the offset the follower asks for in its next fetch, and the follower learns the new HW from the answer to that fetch. So the leader's HW trails its LEO by one round of fetches, and each follower's HW trails the leader's. Here acks=1 answers the producer at the leader's append, and the link from node 1 to node 3 is slowed by 400 ms, so node 3's fetches from node 1 are answered late and node 1's fetches reach node 3 late. Watch the phase tables: at the end of the slow phase the leaders of the partitions those two share are ahead of their HW, and everywhere a follower's HW trails its leader's by a fetch.",
        focus: &["ISR ->", "leader ->"],
        describe_topic: false,
        claims: &[
            Claim::LeaderAheadOfHighWatermark,
            Claim::FollowerHighWatermarkBehind,
            Claim::NothingLost,
            Claim::EveryReplicaInSync,
        ],
        try_next: &[
            TryNext {
                flags: "--acks all",
                differs: "the producer now waits for the HW to pass its records, so its latency grows by the slow link's round trips (the final line's average goes from a few ms to about half a second), while the LEO and HW in the tables behave the same.",
            },
        ],
        leaves_out: Some("No consumer runs during the load: the verdict's read-back at the end is the consumer, and it fetches only up to each leader's HW, which is why it never reads an uncommitted record. Transactions, read_committed consumers and the last stable offset (KIP-98) are another story: a scenario's processor line runs one (docs/scenarios.md)."),
    },
    Lesson {
        number: 3,
        name: "acks",
        teaches: "acks 0, 1 and all, with a leader killed right after acknowledging",
        file: "lessons/03-acks.scenario",
        scenario: include_str!("../../../lessons/03-acks.scenario"),
        watch: "acks says when the leader answers a produce request: acks=0, never (the producer does not even wait for the TCP answer); acks=1, once the leader has appended the batch to its own log; acks=all (-1, the default since Kafka 3.0), once every replica in the ISR has it, that is, once it is committed.\n\nHere acks=1. Node 2's fetch responses to its followers are slowed by 1 s, then node 2 is killed. Its followers never got its last second of writes; the controller fences node 2 after broker.session.timeout.ms (9 s) and elects a new leader from the ISR, which does not have them. Watch the verdict: records the producer was told were written are gone, and Kafka calls that the documented price of acks=1, not a bug.",
        focus: &["leader ->", "ISR ->", "fenced", "diverged"],
        describe_topic: false,
        claims: &[
            Claim::LostAtLeast(1),
            Claim::Says {
                text: "fenced: no heartbeat",
                meaning: "the killed leader is fenced (no heartbeat for broker.session.timeout.ms) before its partitions move",
            },
            Claim::ConvergedClean,
        ],
        try_next: &[
            TryNext {
                flags: "--acks all",
                differs: "nothing acknowledged is lost: each answer waited for the slow followers, so the new leader has every acknowledged record (and the producer's latency shows the 1 s).",
            },
            TryNext {
                flags: "--acks 0",
                differs: "the producer hears nothing back, so it cannot know what it lost; the verdict looks for every record sent and finds the same gap.",
            },
        ],
        leaves_out: Some("The slowed link stands in for the ordinary replication delay, which on a quiet network is a fraction of a millisecond: with it the loss window is wide enough to see in a few seconds."),
    },
    Lesson {
        number: 4,
        name: "min-insync",
        teaches: "min.insync.replicas with one and then two replicas down: NOT_ENOUGH_REPLICAS",
        file: "lessons/04-min-insync.scenario",
        scenario: include_str!("../../../lessons/04-min-insync.scenario"),
        watch: "acks=all waits for every member of the ISR, and the ISR shrinks when replicas die: alone, acks=all with an ISR of one is acks=1. min.insync.replicas (1 by default; 2 is the usual advice with RF 3) is the floor: a leader whose ISR is smaller refuses acks=all writes with NOT_ENOUGH_REPLICAS (Kafka's Partition.appendRecordsToLeader), rather than accept a write that one failure could lose.\n\nFive nodes, three replicas per partition, min.insync.replicas=2. Node 2 dies: its partitions' ISRs shrink to two, which is still enough, and writes go on. Then node 3 dies too: partitions that had both 2 and 3 among their replicas are down to one in-sync replica, and their leader refuses. The producer retries (NOT_ENOUGH_REPLICAS is retriable) until the nodes come back.",
        focus: &["ISR ->", "leader ->", "fenced", "NOT_ENOUGH_REPLICAS"],
        describe_topic: false,
        claims: &[
            Claim::ProducerSaw("NOT_ENOUGH_REPLICAS"),
            Claim::NothingLost,
            Claim::ConvergedClean,
        ],
        try_next: &[
            TryNext {
                flags: "--config min.insync.replicas=1",
                differs: "no write is refused: partitions go on with one copy (lesson 10), and the producer never sees NOT_ENOUGH_REPLICAS.",
            },
            TryNext {
                flags: "--acks 1",
                differs: "min.insync.replicas applies to acks=all only: acks=1 writes are taken with one replica in sync.",
            },
        ],
        leaves_out: Some("Kafka also refuses with NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrinks while a write waits; that race is not staged here."),
    },
    Lesson {
        number: 5,
        name: "isr",
        teaches: "ISR shrink and expand: a follower paused past replica.lag.time.max.ms",
        file: "lessons/05-isr.scenario",
        scenario: include_str!("../../../lessons/05-isr.scenario"),
        watch: "A follower stays in the ISR while it keeps up: the leader removes it once it has not caught up to the leader's LEO for replica.lag.time.max.ms (30 s by default; 5 s here), checking every half of that (Kafka's Partition.maybeShrinkIsr). The leader asks the controller with an AlterPartition request (KIP-497); once the change is committed the ISR is smaller and acks=all writes no longer wait for the laggard. When the follower catches up again the leader adds it back the same way.\n\nNode 3 is frozen for 15 s (a GC pause, SIGSTOP). broker.session.timeout.ms is raised to 60 s here, so the controller does not fence node 3 first: watch the ISR shrink with the follower's actual lag as the reason, the acks=all latency while the leaders wait for it, and the ISR grow back once node 3 resumes and catches up.",
        focus: &["ISR ->", "leader ->", "fenced", "caught up"],
        describe_topic: false,
        claims: &[
            Claim::Says {
                text: "ISR ->",
                meaning: "the ISR changes (node 3 leaves, then rejoins)",
            },
            Claim::NothingLost,
            Claim::EveryReplicaInSync,
        ],
        try_next: &[
            TryNext {
                flags: "--config replica.lag.time.max.ms=30000 --config broker.session.timeout.ms=9000",
                differs: "Kafka's defaults: the controller fences the silent node after 9 s, long before the leaders' 30 s lag limit, and takes it out of every ISR itself (the reason reads 'fenced: no heartbeat').",
            },
            TryNext {
                flags: "--config replica.lag.time.max.ms=30000",
                differs: "Kafka's default: the 15 s pause is shorter than the limit, so the ISR never shrinks and acks=all writes wait for node 3 until it resumes.",
            },
        ],
        leaves_out: None,
    },
    Lesson {
        number: 6,
        name: "leader-failover",
        teaches: "leader failover and what clients see: NOT_LEADER_OR_FOLLOWER, metadata refresh, the throughput dip",
        file: "lessons/06-leader-failover.scenario",
        scenario: include_str!("../../../lessons/06-leader-failover.scenario"),
        watch: "A producer sends each batch to the partition's leader as its metadata says. When the leader changes, its next request goes to the old leader, which answers NOT_LEADER_OR_FOLLOWER (if it is still up) or does not answer (if it died); either way the producer refreshes its metadata (a Metadata request) and retries to the new leader, within retries and delivery.timeout.ms (120 s).\n\nNode 2 is first stopped (SIGTERM): a controlled shutdown (KIP-631) moves its leaderships while it still serves, so the producer sees NOT_LEADER_OR_FOLLOWER and moves on at once. Node 2 comes back (as a follower: its leaderships return only with the preferred-leader check, lesson 11). Then node 3, which now leads, is killed (SIGKILL): nobody tells the controller, which waits broker.session.timeout.ms (9 s) for a heartbeat before it fences node 3 and elects new leaders. Until then node 3's partitions have no leader that answers, and the other partitions' acks=all writes wait for node 3, still in their ISR. Watch the acked column and the picture's throughput.",
        focus: &["leader ->", "fenced", "controlled shutdown", "NOT_LEADER"],
        describe_topic: false,
        claims: &[
            Claim::ProducerSaw("NOT_LEADER_OR_FOLLOWER"),
            Claim::ThroughputDip,
            Claim::NothingLost,
        ],
        try_next: &[
            TryNext {
                flags: "--config broker.session.timeout.ms=3000",
                differs: "the controller fences the killed node after 3 s, so the stall after the kill is a third as long.",
            },
            TryNext {
                flags: "--acks 1",
                differs: "writes to the partitions node 3 does not lead no longer wait for it, so only its own partitions stall after the kill, and the dip is smaller.",
            },
        ],
        leaves_out: None,
    },
    Lesson {
        number: 7,
        name: "controller-failover",
        teaches: "the KRaft controller failover and the lost quorum (the seed's story)",
        file: "lessons/07-controller-failover.scenario",
        scenario: include_str!("../../../lessons/07-controller-failover.scenario"),
        watch: "In KRaft (KIP-500, KIP-595) the metadata (topics, leaders, ISRs, brokers) is a log replicated by Raft among the controller voters, here every node. One voter is the active controller: it alone decides elections and ISR changes. If it dies, the others notice within controller.quorum.fetch.timeout.ms (2 s) and elect another.\n\nThis is the seed's story: the active controller is killed, a new one is elected; then that one is killed too, and two of three voters are down. A Raft quorum needs a majority, so no controller can be elected: no leader can move, no ISR can shrink, no broker can be fenced. The partitions the survivor leads keep dead followers in their ISR, so acks=all writes time out; the dead nodes' partitions have no reachable leader. Watch 'metadata quorum lost', the producer's errors, and everything resuming when the nodes come back.",
        focus: &["controller", "quorum", "leader ->", "fenced"],
        describe_topic: false,
        claims: &[
            Claim::Says {
                text: "metadata quorum lost",
                meaning: "with two of three voters down the metadata quorum is lost",
            },
            Claim::Says {
                text: "metadata quorum can form again",
                meaning: "it forms again once a node comes back",
            },
            Claim::Says {
                text: "won the election",
                meaning: "a new active controller is elected (a KRaft election)",
            },
            Claim::ProducerSaw("REQUEST_TIMED_OUT"),
            Claim::NothingLost,
            Claim::ConvergedClean,
        ],
        try_next: &[
            TryNext {
                flags: "--acks 1",
                differs: "after the second kill the survivor's partitions go on taking writes for several seconds (acks=1 does not wait for the dead followers its ISR cannot drop), and the producer never reports REQUEST_TIMED_OUT.",
            },
            TryNext {
                flags: "--producer-props request.timeout.ms=30000",
                differs: "Kafka's default request timeout: every wait ends before it does, so the producer never reports REQUEST_TIMED_OUT; its records just wait longer (watch the latency).",
            },
        ],
        leaves_out: Some("The seed used docker stop, which should be a graceful SIGTERM; what it saw matches SIGKILL (docs/simulation.md explains why). sim run --stop 1,2 tells the graceful version."),
    },
    Lesson {
        number: 8,
        name: "unclean-election",
        teaches: "unclean leader election, off and on",
        file: "lessons/08-unclean-election.scenario",
        scenario: include_str!("../../../lessons/08-unclean-election.scenario"),
        watch: "Only an ISR member is a clean leader: it has every committed record. When every ISR member is gone, Kafka must choose between availability and consistency. unclean.leader.election.enable (false by default) decides: off, the partition stays offline until an in-sync replica returns; on, the controller elects any live replica, and the records it never had are lost.\n\nReplication factor 2. Node 2 dies and is fenced: its partitions' ISRs shrink to the other replica. Then node 1 dies, so partitions on {1,2} have node 1 as their only in-sync replica. Node 2 comes back: it is alive but out of sync. Watch those partitions stay offline (leader none) until node 1 returns, and nothing acknowledged lost.",
        focus: &["leader ->", "ISR ->", "ELR ->", "fenced", "UNCLEAN", "quorum"],
        describe_topic: false,
        claims: &[
            Claim::PartitionOffline,
            Claim::Says {
                text: "ELR -> [",
                meaning: "the last in-sync replica, fenced, is kept as an eligible leader (ELR, KIP-966)",
            },
            Claim::NeverSays {
                text: "outside the ISR, unclean.leader.election.enable=true",
                meaning: "no replica outside the ISR is elected by unclean.leader.election.enable",
            },
            Claim::NothingLost,
        ],
        try_next: &[TryNext {
            flags: "--config unclean.leader.election.enable=true",
            differs: "the controller elects node 2 though it is out of sync (the trace says UNCLEAN), writes resume at once, and the records acknowledged while node 2 was down are lost: a violation of acks=all that the setting knowingly allows.",
        }],
        leaves_out: None,
    },
    Lesson {
        number: 9,
        name: "truncation",
        teaches: "log divergence and truncation by leader epoch (KIP-101, KIP-279)",
        file: "lessons/09-truncation.scenario",
        scenario: include_str!("../../../lessons/09-truncation.scenario"),
        watch: "Every leader election starts a new leader epoch, and each log remembers where each epoch began (the leader-epoch checkpoint). A replica that comes back asks the leader where its own last epoch ended (OffsetsForLeaderEpoch, KIP-101; since KIP-279 it walks back epoch by epoch), and truncates everything after that offset: records that only it had, written under an epoch the others never finished. Before KIP-101 Kafka truncated to the HW, which could lose committed records or leave replicas diverged.\n\nNode 2 leads with slow followers and is killed with acks=1 records only it has. A new leader writes other records at those offsets. When node 2 returns, watch it find that its log diverged and drop its uncommitted tail: the same offsets now hold the new leader's records on every replica.",
        focus: &["diverged", "leader ->", "epoch", "fenced"],
        describe_topic: false,
        claims: &[
            Claim::Says {
                text: "log diverged",
                meaning: "the returning replica finds its log diverged and truncates",
            },
            Claim::LostAtLeast(1),
            Claim::EveryReplicaInSync,
        ],
        try_next: &[TryNext {
            flags: "--acks all",
            differs: "nothing acknowledged is lost, since every answer waited for the followers to have the batch.",
        }],
        leaves_out: None,
    },
    Lesson {
        number: 10,
        name: "last-replica",
        teaches: "the last replica standing: acks=all with an ISR of one",
        file: "lessons/10-last-replica.scenario",
        scenario: include_str!("../../../lessons/10-last-replica.scenario"),
        watch: "acks=all means every replica in the ISR, not every replica. As replicas die the ISR shrinks, and with min.insync.replicas=1 (Kafka's default) a partition goes on taking acks=all writes with a single copy: the last replica standing. Every one of those acknowledged writes rests on one disk until the others catch up.\n\nFive nodes, three replicas per partition. Nodes 2 and 3 are killed: partitions that had both are down to one in-sync replica, and writes to them go on. Watch the ISRs of one, and the followers catching up when they return.",
        focus: &["ISR ->", "leader ->", "fenced"],
        describe_topic: false,
        claims: &[
            Claim::IsrOfOne,
            Claim::ProducerNeverSaw("NOT_ENOUGH_REPLICAS"),
            Claim::NothingLost,
            Claim::ConvergedClean,
        ],
        try_next: &[TryNext {
            flags: "--config min.insync.replicas=2",
            differs: "lesson 4: the single-copy partitions refuse acks=all writes with NOT_ENOUGH_REPLICAS until a second replica is back.",
        }],
        leaves_out: Some("A power cut of the last replica (crash) would lose its unflushed writes; with every ISR member gone Kafka 4 elects the last known leader (KIP-966), as the verdict notes when it happens. This lesson does not stage it."),
    },
    Lesson {
        number: 11,
        name: "restart-catch-up",
        teaches: "restart and catch-up, and the preferred leader coming back",
        file: "lessons/11-restart-catch-up.scenario",
        scenario: include_str!("../../../lessons/11-restart-catch-up.scenario"),
        watch: "A killed node comes back with its disks: it replays its logs, registers with the controller under a new incarnation, truncates what diverged, and fetches what it missed. Once it has caught up to a leader's LEO it rejoins that partition's ISR. Leadership does not come back by itself at once: the controller checks every leader.imbalance.check.interval.seconds (300 s in Kafka, 10 s here) whether partitions are led by their preferred replica (the first in Replicas) and, with auto.leader.rebalance.enable (true by default), moves them back.\n\nWatch node 2 killed, its partitions led elsewhere, then its return: the ISRs grow back, and a few seconds later node 2 leads again the partitions it prefers.",
        focus: &["leader ->", "ISR ->", "fenced", "registered", "preferred"],
        describe_topic: false,
        claims: &[
            Claim::Says {
                text: "registered",
                meaning: "the restarted node registers again",
            },
            Claim::Says {
                text: "moved leadership back to the preferred replica",
                meaning: "the leader imbalance check gives the preferred replica its leadership back",
            },
            Claim::EveryReplicaInSync,
            Claim::LeadersOnEveryNode,
            Claim::NothingLost,
        ],
        try_next: &[TryNext {
            flags: "--config auto.leader.rebalance.enable=false",
            differs: "node 2 comes back and catches up, but leads nothing until an operator runs a preferred election (kafka-leader-election).",
        }],
        leaves_out: None,
    },
    Lesson {
        number: 12,
        name: "network-partition",
        teaches: "a leader cut off by a network partition",
        file: "lessons/12-network-partition.scenario",
        scenario: include_str!("../../../lessons/12-network-partition.scenario"),
        watch: "A network partition is not a crash: the isolated node keeps running and its clients may still reach it. A leader cut off from its followers and from the controller still believes it leads. With acks=all it cannot commit: its followers no longer fetch from it, and dropping them from the ISR needs the controller, which it cannot reach (and with min.insync.replicas=2, as here, an ISR of itself alone would not be enough anyway). Meanwhile the controller, hearing no heartbeat, fences it and elects a new leader. When the partition heals, the old leader learns its epoch is over, truncates, and follows.\n\nWatch the isolated node's writes wait and fail over to the new leader, and nothing acknowledged lost.",
        focus: &["leader ->", "ISR ->", "fenced", "diverged"],
        describe_topic: false,
        claims: &[
            Claim::Says {
                text: "fenced: no heartbeat",
                meaning: "the controller fences the isolated node: its heartbeats do not arrive",
            },
            Claim::Says {
                text: "log diverged",
                meaning: "back in touch, the old leader finds its log diverged and truncates what it took alone",
            },
            Claim::NothingLost,
            Claim::ConvergedClean,
        ],
        try_next: &[TryNext {
            flags: "--acks 1",
            differs: "the isolated leader acknowledges writes no follower will ever copy (a zombie): when it rejoins it truncates them, and the verdict finds them lost.",
        }],
        leaves_out: Some("Clients here reach every node, so the producer finds the new leader as soon as its metadata says so; a client on the isolated side of a real partition would keep failing."),
    },
    Lesson {
        number: 13,
        name: "idempotence",
        teaches: "the idempotent producer: a lost acknowledgement and a retry, with and without idempotence",
        file: "lessons/13-idempotence.scenario",
        scenario: include_str!("../../../lessons/13-idempotence.scenario"),
        watch: "A producer that hears nothing back within request.timeout.ms (30 s by default, 1 s here) cannot tell a lost request from a lost answer, so it retries. If the batch was in fact written, a plain producer writes it twice. The idempotent producer (KIP-98; enable.idempotence, true by default since Kafka 3.0) gets a producer id and numbers its batches per partition; the leader remembers the last five batches of each producer and answers a retry of one of them as a duplicate instead of appending it again. That is also why idempotence allows up to five requests in flight (max.in.flight.requests.per.connection) without reordering.\n\nHere idempotence is off, and every message node 2 sends its peers is delayed 1.5 s, past the producer's 1 s timeout: its answers to its followers' fetches and its own fetches as a follower, so every partition's HW waits on node 2. The acks=all answers come too late, the producer retries, and the retried batches are written twice.",
        focus: &["leader ->", "ISR ->"],
        describe_topic: false,
        claims: &[
            Claim::ProducerSaw("REQUEST_TIMED_OUT"),
            Claim::DuplicatedAtLeast(1),
            Claim::NothingLost,
        ],
        try_next: &[
            TryNext {
                flags: "--producer-props enable.idempotence=true",
                differs: "the same timeouts and retries, but no record is written twice: the leader recognises each retried batch by its sequence number.",
            },
            TryNext {
                flags: "--producer-props max.in.flight.requests.per.connection=1",
                differs: "fewer batches wait in flight when the answers come late, so fewer are retried and written twice (a copy written after later records also counts as reordered); only idempotence removes them.",
            },
        ],
        leaves_out: None,
    },
    Lesson {
        number: 14,
        name: "consumer-offsets",
        teaches: "consumer offsets across a failover: the coordinator moves, the commits survive, and a crash reads records twice (at-least-once)",
        file: "lessons/14-consumer-offsets.scenario",
        scenario: include_str!("../../../lessons/14-consumer-offsets.scenario"),
        watch: "A consumer group (group.id) remembers how far it read by committing offsets to the internal topic __consumer_offsets. The group's coordinator is the broker leading the group's partition of that topic (abs(hash(group.id)) % offsets.topic.num.partitions, 50 by default); members find it with FindCoordinator, join it (JoinGroup, SyncGroup: one member assigns the partitions), heartbeat to it every heartbeat.interval.ms, and commit to it. A commit is appended to __consumer_offsets and answered only once the ISR has it (offsets.commit.required.acks, replicated to offsets.topic.replication.factor = 3 nodes), so it survives its coordinator: when the coordinator dies, the partition's next leader replays the log and becomes the coordinator, with the same offsets.\n\nWhat does not survive is anything not yet committed. With enable.auto.commit (the Java default) the consumer commits what poll() returned every auto.commit.interval.ms (5 s). Here group billing reads while the producer writes; its coordinator's node is killed (watch the member lose it, ask FindCoordinator again and find the new leader once the dead node is fenced); then the member crashes a few seconds after a commit, before the next, and a new member takes over at the committed offsets: everything the dead member read after its last commit is read twice. The new member waits for the dead one's session.timeout.ms (10 s here) before the group can rebalance, and when the killed node returns and takes its leadership back, the coordinator moves again: the member is told NOT_COORDINATOR.",
        focus: &["consumer billing", "__consumer_offsets-39:", "controller: broker"],
        describe_topic: false,
        claims: &[
            Claim::Says {
                text: "lost (its connection closed)",
                meaning: "the coordinator's node is killed: the member loses its coordinator and asks FindCoordinator again",
            },
            Claim::Says {
                text: "the coordinator of group billing is node 2",
                meaning: "the new leader of the group's __consumer_offsets partition becomes the coordinator",
            },
            Claim::Says {
                text: "NOT_COORDINATOR",
                meaning: "when the leadership moves back, the old coordinator answers NOT_COORDINATOR and the member finds the new one",
            },
            Claim::ResumedAtCommittedOffsets,
            Claim::ReadTwiceAtLeast(1),
            Claim::ConsumerCaughtUp,
            Claim::NothingLost,
        ],
        try_next: &[
            TryNext {
                flags: "--consumer-props auto.commit.interval.ms=1000",
                differs: "commits every second: the crash finds at most about a second of records uncommitted, so far fewer are read twice, for several times as many commits written to __consumer_offsets.",
            },
            TryNext {
                flags: "--consumer-props commit=every-1-records",
                differs: "enable.auto.commit=false and a commit after every record processed (each batch taken): only records processed but not yet acknowledged as committed can be read twice, a window of one commit's round trip (in this run the crash falls outside it and the claim above no longer holds), at the price of a commit per batch, thousands of them. The window shrinks but never closes: idempotent processing, or transactions (KIP-98, with the offsets committed in the producer's transaction, KIP-447), is what removes the duplicates.",
            },
        ],
        leaves_out: Some("The consumer crashes rather than closing: a clean close() would commit and send LeaveGroup, and the next member would start at once with nothing read twice. This member uses the classic protocol and commits outside any transaction; a scenario's processor line commits its offsets in a transaction (sendOffsetsToTransaction, read_committed), the way to close the window (docs/scenarios.md). The member does not commit before a rebalance (the Java client's onJoinPrepare does)."),
    },
];
