/*
 * Exactly-once across node deaths: Kafka's documented read-process-write loop (KIP-98,
 * KIP-447; the KafkaProducer javadoc's transactional example and Kafka's
 * examples/ExactlyOnceMessageProcessor) while the nodes under it are killed and restarted.
 *
 * The input topic is filled with N numbered records ("rpw-0" .. "rpw-N-1", record i in
 * partition i % P) by an idempotent producer. Then one consumer in a group
 * (isolation.level=read_committed, enable.auto.commit=false) and one transactional producer
 * copy them: each poll's records go to the same partition of the output topic, the
 * consumer's positions go to the transaction (sendOffsetsToTransaction(offsets,
 * consumer.groupMetadata()): AddOffsetsToTxn, then TxnOffsetCommit to the group
 * coordinator), and the transaction commits. The errors are handled as Kafka documents:
 * ProducerFencedException and InvalidProducerEpochException mean this producer is a zombie,
 * so it is closed and a new one with the same transactional.id takes over (initTransactions
 * aborts whatever the old one left open); any other KafkaException aborts the transaction
 * and seeks the consumer back to the group's committed offsets, so the aborted records are
 * read and copied again.
 *
 * With "faults", while the loop runs the check asks whoever started it to kill, and later
 * restart, three nodes in turn: the leader of output partition 0, the transaction
 * coordinator's node (the Admin's describeTransactions names it), and the group
 * coordinator's node (describeConsumerGroups' coordinator). The request is one stdout
 * line, "FAULT kill N <why>" or "FAULT restart N <why>"; the driver answers one stdin line
 * ("done ...") once the node is dead, or back in every ISR. A request goes between a
 * transaction's sendOffsetsToTransaction and its commitTransaction, so the fault lands while
 * that transaction's records may still be in flight and its EndTxn is about to go; the next
 * waits until the loop has committed COMMITS_BETWEEN_FAULTS more transactions, so the loop
 * is seen to recover from each.
 *
 * With "crash", the application dies once mid-transaction (after sendOffsetsToTransaction,
 * before commitTransaction: its producer is closed at once, the open transaction left to the
 * coordinator, and its consumer leaves the group) and a new instance with the same
 * transactional.id and group takes over: initTransactions aborts the dead one's transaction,
 * the new consumer starts at the group's committed offsets, and exactly-once holds.
 * "crash-at-least-once" is the control that shows the check can fail: the offsets are
 * committed by the consumer (commitSync) after the transaction instead of in it, and the
 * application dies between the two, so the new instance copies that batch again: the check
 * must fail, naming the first duplicated record.
 *
 * The group protocol is the classic one (JoinGroup, SyncGroup, Heartbeat) unless the last
 * argument is "group-protocol=consumer": then the loop's consumer is a KIP-848 member
 * (group.protocol=consumer: ConsumerGroupHeartbeat, its partitions given by the group
 * coordinator's assignor), and sendOffsetsToTransaction's TxnOffsetCommit carries its
 * member id and member epoch instead of a generation (KIP-447 with KIP-848's epochs). When
 * the group coordinator's node dies, the member must find the new coordinator, which loaded
 * the group from __consumer_offsets, and go on with the same member epoch; the offsets its
 * transactions commit there must still be exactly the ones the output holds.
 *
 * At the end a fresh read_committed consumer reads the whole output: every input record
 * exactly once, each output partition in its input partition's order; and the group's
 * committed offsets (the Admin, requireStable) equal the input's end offsets. The check
 * prints what the loop saw (STATS: the group protocol, the member's assignments,
 * revocations and losses, records copied, transactions committed and aborted, producers
 * rebuilt, errors by class) and fails with the first missing or duplicated
 * record. Everything is bounded: the records (N), the loop's time (LOOP_DEADLINE), each
 * wait for the driver (Check.TIMEOUT).
 */
package dev.kraftsim.oracle;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code ClientChecks read-process-write BOOTSTRAP INPUT OUTPUT RECORDS
 * [faults|crash|crash-at-least-once] [group-protocol=classic|consumer]}.
 */
final class ReadProcessWriteCheck {
    private ReadProcessWriteCheck() {}

    /** Transactions the loop must commit after one fault is done before asking the next. */
    static final int COMMITS_BETWEEN_FAULTS = 3;
    /** Records one transaction copies at most (max.poll.records), so the loop runs many. */
    static final int RECORDS_PER_TRANSACTION = 50;
    /** The loop's whole budget; ClientChecks' watchdog (120 s) is the hard stop. */
    static final Duration LOOP_DEADLINE = Duration.ofSeconds(80);
    /** A transaction that is not decided in this long is aborted by the coordinator. */
    static final int TRANSACTION_TIMEOUT_MS = 20_000;

    static final String USAGE = "usage: read-process-write BOOTSTRAP INPUT OUTPUT RECORDS "
        + "[faults|crash|crash-at-least-once] [group-protocol=classic|consumer]";

    static void run(String bootstrap, String[] args) throws Exception {
        Check.expect(args.length >= 3 && args[2].matches("[0-9]{1,9}"), USAGE);
        String input = args[0];
        String output = args[1];
        int records = Integer.parseInt(args[2]);
        List<String> rest = new ArrayList<>(List.of(args).subList(3, args.length));
        // group.protocol (KIP-848): the last word when it is given.
        String groupProtocol = "classic";
        if (!rest.isEmpty() && rest.get(rest.size() - 1).startsWith("group-protocol=")) {
            groupProtocol = rest.remove(rest.size() - 1).substring("group-protocol=".length());
        }
        Check.expect(List.of("classic", "consumer").contains(groupProtocol),
            "group-protocol=%s: want classic or consumer", groupProtocol);
        Check.expect(rest.size() <= 1, USAGE);
        String mode = rest.isEmpty() ? "" : rest.get(0);
        Check.expect(List.of("", "faults", "crash", "crash-at-least-once").contains(mode),
            "mode %s: want faults, crash or crash-at-least-once", mode);
        boolean faults = mode.equals("faults");
        Check.expect(records > 0 && records <= 100_000, "RECORDS %d: want 1..100000", records);

        String group = Check.unique("java-rpw-group");
        String transactionalId = Check.unique("java-rpw");
        Map<TopicPartition, Long> inputEnds = fill(bootstrap, input, records);
        Check.ok("filled %s with %d records: end offsets %s", input, records, inputEnds);

        Loop loop = new Loop(bootstrap, input, output, group, groupProtocol, transactionalId, inputEnds,
            faults ? new FaultPlan(bootstrap, output, group, transactionalId) : null);
        loop.crashPending = mode.startsWith("crash");
        loop.atLeastOnce = mode.equals("crash-at-least-once");
        loop.run();
        System.out.println("STATS group.protocol=" + groupProtocol + " " + loop.rebalances
            + " copied=" + loop.copied + " committed=" + loop.committed
            + " aborted=" + loop.aborted + " rebuilt=" + loop.rebuilt + " errors=" + loop.errors);
        if (faults) {
            // The member must outlive its coordinator: the coordinator that takes over loads
            // the group from __consumer_offsets (classic: the generation; KIP-848: the member
            // and its epoch), so the member is never fenced and its partitions never lost.
            Check.expect(loop.rebalances.lost == 0 && loop.rebalances.revoked == 0,
                "the member's partitions were revoked or lost while the nodes were killed (%s): "
                    + "the new group coordinator did not carry the member on", loop.rebalances);
        }

        verifyOutput(bootstrap, output, records, inputEnds.size());
        verifyGroupOffsets(bootstrap, group, inputEnds);
        verifyGroupType(bootstrap, group, groupProtocol);
        System.out.println("OUTCOME read-process-write: works: every input record copied exactly once"
            + (faults ? " across a leader kill, a transaction coordinator kill and a group coordinator kill" : "")
            + (mode.equals("crash") ? " across the application's crash mid-transaction" : "")
            + ", the group's committed offsets at the input's end"
            + (groupProtocol.equals("consumer") ? ", with a KIP-848 consumer (group.protocol=consumer)" : ""));
    }

    /** Writes record i to partition i % partitions; returns the input's end offsets. */
    private static Map<TopicPartition, Long> fill(String bootstrap, String topic, int records) throws Exception {
        Properties p = Check.clientProps(bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        try (KafkaProducer<String, String> producer =
                 new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            int partitions = producer.partitionsFor(topic).size();
            List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> acks =
                new ArrayList<>(records);
            for (int i = 0; i < records; i++) {
                acks.add(producer.send(new ProducerRecord<>(topic, i % partitions, null, value(i))));
            }
            producer.flush();
            for (var ack : acks) {
                ack.get(Check.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
            Map<TopicPartition, Long> ends = new TreeMap<>(java.util.Comparator.comparing(TopicPartition::partition));
            for (int q = 0; q < partitions; q++) {
                ends.put(new TopicPartition(topic, q), (long) ((records - q + partitions - 1) / partitions));
            }
            return ends;
        }
    }

    static String value(int i) {
        return "rpw-" + i;
    }

    /** The loop and what it saw. */
    private static final class Loop {
        final String bootstrap;
        final String input;
        final String output;
        final String group;
        /** group.protocol: classic, or consumer (KIP-848). */
        final String groupProtocol;
        final String transactionalId;
        final Map<TopicPartition, Long> inputEnds;
        final FaultPlan plan;
        /** What the member's rebalance listener saw before the loop closed it. */
        final Rebalances rebalances = new Rebalances();
        /** Where the group's committed offsets are, as far as this loop's commits know. */
        final Map<TopicPartition, Long> committedPositions = new HashMap<>();
        long copied;
        int committed;
        int aborted;
        int rebuilt;
        final Map<String, Integer> errors = new TreeMap<>();
        /** The application dies once, after COMMITS_BETWEEN_FAULTS commits. */
        boolean crashPending;
        /** The control: offsets committed by the consumer after the transaction, not in it. */
        boolean atLeastOnce;

        Loop(String bootstrap, String input, String output, String group, String groupProtocol,
                String transactionalId, Map<TopicPartition, Long> inputEnds, FaultPlan plan) {
            this.bootstrap = bootstrap;
            this.input = input;
            this.output = output;
            this.group = group;
            this.groupProtocol = groupProtocol;
            this.transactionalId = transactionalId;
            this.inputEnds = inputEnds;
            this.plan = plan;
        }

        KafkaProducer<String, String> newProducer() {
            Properties p = Check.clientProps(bootstrap);
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
            p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, Integer.toString(TRANSACTION_TIMEOUT_MS));
            p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
            p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
            p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "20000");
            KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
            producer.initTransactions();
            return producer;
        }

        KafkaConsumer<String, String> newConsumer() {
            Properties c = Check.clientProps(bootstrap);
            c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            c.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, groupProtocol);
            c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(RECORDS_PER_TRANSACTION));
            c.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
            c.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
            return new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer());
        }

        void run() throws Exception {
            long deadline = System.nanoTime() + LOOP_DEADLINE.toNanos();
            KafkaProducer<String, String> producer = newProducer();
            KafkaConsumer<String, String> consumer = newConsumer();
            try {
                consumer.subscribe(List.of(input), rebalances);
                while (!done()) {
                    if (System.nanoTime() > deadline) {
                        throw new Check.Failed(String.format(
                            "the loop did not finish within %d s: committed positions %s of %s, "
                                + "%d transactions committed, %d aborted, faults %s, errors %s",
                            LOOP_DEADLINE.toSeconds(), committedPositions, inputEnds, committed, aborted,
                            plan == null ? "none" : plan.progress(), errors));
                    }
                    if (plan != null) {
                        // Takes the driver's answer (the requests go from transact).
                        plan.step(committed);
                    }
                    ConsumerRecords<String, String> batch = consumer.poll(Duration.ofMillis(100));
                    if (batch.isEmpty()) {
                        continue;
                    }
                    try {
                        transact(producer, consumer, batch);
                    } catch (Crash e) {
                        // A new instance: the dead producer's transaction is aborted by the
                        // new one's initTransactions; the new consumer starts at the group's
                        // committed offsets.
                        Check.ok("the application crashed after %d commits; a new instance takes over", committed);
                        producer.close(Duration.ZERO);
                        consumer.close();
                        producer = newProducer();
                        consumer = newConsumer();
                        consumer.subscribe(List.of(input), rebalances);
                    } catch (ProducerFencedException | InvalidProducerEpochException e) {
                        // A zombie: only a new instance may go on (initTransactions aborts
                        // what this one left open).
                        count(e);
                        producer.close(Duration.ZERO);
                        producer = newProducer();
                        rebuilt++;
                        rewind(consumer);
                    } catch (KafkaException e) {
                        count(e);
                        if (!abort(producer)) {
                            // The producer is in a fatal state: as with fencing, a new
                            // instance takes over.
                            producer.close(Duration.ZERO);
                            producer = newProducer();
                            rebuilt++;
                        }
                        rewind(consumer);
                    }
                }
            } finally {
                rebalances.closing = true;
                producer.close(Duration.ZERO);
                consumer.close(Duration.ZERO);
            }
            if (plan != null) {
                plan.finish();
            }
        }

        /** All input committed. */
        boolean done() {
            return committedPositions.equals(inputEnds);
        }

        void transact(KafkaProducer<String, String> producer, KafkaConsumer<String, String> consumer,
                ConsumerRecords<String, String> batch) {
            producer.beginTransaction();
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            for (ConsumerRecord<String, String> r : batch) {
                producer.send(new ProducerRecord<>(output, r.partition(), r.key(), r.value()));
                offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
            }
            boolean crashNow = crashPending && committed == COMMITS_BETWEEN_FAULTS;
            if (atLeastOnce) {
                commit(producer);
                if (crashNow) {
                    crashPending = false;
                    throw new Crash();
                }
                consumer.commitSync(offsets);
            } else {
                producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
                if (crashNow) {
                    crashPending = false;
                    throw new Crash();
                }
                if (plan != null) {
                    // A fault asked for here lands while this transaction's records may
                    // still be on their way and its EndTxn is about to go.
                    plan.step(committed);
                }
                commit(producer);
            }
            committed++;
            copied += batch.count();
            offsets.forEach((tp, o) -> committedPositions.put(tp, o.offset()));
        }

        /** The application dying: whatever it was doing stops here. */
        static final class Crash extends RuntimeException {
            Crash() {
                super("the application crashed", null, false, false);
            }
        }

        /**
         * commitTransaction, retried after a TimeoutException: the outcome is unknown then,
         * and Kafka's producer lets the same call be made again (it resumes waiting for the
         * decision; an abort here could contradict a commit already written).
         */
        void commit(KafkaProducer<String, String> producer) {
            for (int attempt = 1; ; attempt++) {
                try {
                    producer.commitTransaction();
                    return;
                } catch (TimeoutException e) {
                    count(e);
                    if (attempt == 3) {
                        throw new Check.Failed("commitTransaction timed out 3 times: " + Check.describe(e), e);
                    }
                }
            }
        }

        /** abortTransaction; false when the producer cannot abort (a fatal error). */
        boolean abort(KafkaProducer<String, String> producer) {
            try {
                producer.abortTransaction();
                aborted++;
                return true;
            } catch (KafkaException e) {
                count(e);
                return false;
            }
        }

        /** Seeks every assigned partition back to the group's committed offset. */
        void rewind(KafkaConsumer<String, String> consumer) {
            var assigned = consumer.assignment();
            Map<TopicPartition, OffsetAndMetadata> committedOffsets = consumer.committed(assigned);
            for (TopicPartition tp : assigned) {
                OffsetAndMetadata o = committedOffsets.get(tp);
                if (o == null) {
                    consumer.seekToBeginning(List.of(tp));
                } else {
                    consumer.seek(tp, o.offset());
                }
            }
        }

        void count(Exception e) {
            String name = e.getClass().getSimpleName();
            if (e.getCause() != null && e.getCause() != e) {
                name += "(" + e.getCause().getClass().getSimpleName() + ")";
            }
            errors.merge(name, 1, Integer::sum);
            Check.ok("handled %s", Check.describe(e));
        }
    }

    /**
     * Counts the member's non-empty assignments, revocations and losses (a loss is a fenced
     * member: KIP-848's FENCED_MEMBER_EPOCH or UNKNOWN_MEMBER_ID, the classic protocol's
     * ILLEGAL_GENERATION), until the loop closes the consumer.
     */
    static final class Rebalances implements ConsumerRebalanceListener {
        int assigned;
        int revoked;
        int lost;
        boolean closing;

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (!closing && !partitions.isEmpty()) {
                assigned++;
            }
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (!closing && !partitions.isEmpty()) {
                revoked++;
                Check.ok("the member's partitions %s were revoked", partitions);
            }
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            if (!closing && !partitions.isEmpty()) {
                lost++;
                Check.ok("the member lost its partitions %s", partitions);
            }
        }

        @Override
        public String toString() {
            return "assigned=" + assigned + " revoked=" + revoked + " lost=" + lost;
        }
    }

    /**
     * The faults: kill and restart the leader of output partition 0, then the transaction
     * coordinator's node, then the group coordinator's node, each after
     * COMMITS_BETWEEN_FAULTS more commits.
     */
    private static final class FaultPlan {
        final String bootstrap;
        final String output;
        final String group;
        final String transactionalId;
        final BlockingQueue<String> answers = new ArrayBlockingQueue<>(16);
        /** 0..5: the next request; 6: all done. */
        int next;
        /** The node the last kill took. */
        int killed = -1;
        /** The commit count at which the next request may go. */
        int dueAt = COMMITS_BETWEEN_FAULTS;
        boolean waiting;
        final List<String> applied = new ArrayList<>();

        FaultPlan(String bootstrap, String output, String group, String transactionalId) {
            this.bootstrap = bootstrap;
            this.output = output;
            this.group = group;
            this.transactionalId = transactionalId;
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        answers.offer(line);
                    }
                } catch (java.io.IOException e) {
                    answers.offer("stdin closed: " + e.getMessage());
                }
            }, "fault-answers");
            reader.setDaemon(true);
            reader.start();
        }

        String progress() {
            return applied + (waiting ? " (waiting for the driver)" : "");
        }

        /** Sends the next request when due, or takes the driver's answer. */
        void step(int committed) {
            if (waiting) {
                String answer = answers.poll();
                if (answer == null) {
                    return;
                }
                Check.expect(answer.startsWith("done"), "the fault driver answered %s", answer);
                applied.add(answer.substring(4).trim());
                waiting = false;
                dueAt = committed + COMMITS_BETWEEN_FAULTS;
                return;
            }
            if (next == 6 || committed < dueAt) {
                return;
            }
            String request;
            if (next % 2 == 1) {
                request = "restart " + killed + " (the node killed last)";
            } else {
                String why;
                try (Admin admin = AdminChecks.admin(bootstrap)) {
                    if (next == 0) {
                        killed = Check.get(admin.describeTopics(List.of(output)).allTopicNames(), "describeTopics")
                            .get(output).partitions().get(0).leader().id();
                        why = "leader of " + output + "-0";
                    } else if (next == 2) {
                        killed = Check.get(admin.describeTransactions(List.of(transactionalId))
                            .description(transactionalId), "describeTransactions").coordinatorId();
                        why = "transaction coordinator of " + transactionalId;
                    } else {
                        killed = Check.get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group),
                            "describeConsumerGroups").coordinator().id();
                        why = "group coordinator of " + group;
                    }
                }
                request = "kill " + killed + " (" + why + ")";
            }
            System.out.println("FAULT " + request);
            System.out.flush();
            waiting = true;
            next++;
        }

        /**
         * Waits for the last answer (the loop may finish while a restart is under way); fails
         * if the input ran out before every fault was asked for.
         */
        void finish() throws InterruptedException {
            Check.expect(next == 6, "the input ran out with faults still to apply (applied: %s): "
                + "give the check more records", applied);
            if (waiting) {
                String answer = answers.poll(Check.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                Check.expect(answer != null && answer.startsWith("done"), "the fault driver answered %s", answer);
                applied.add(answer.substring(4).trim());
                waiting = false;
            }
            Check.ok("faults applied: %s", applied);
        }
    }

    /**
     * A fresh read_committed consumer reads every output partition to its last stable
     * offset: each input record exactly once, each output partition in input order.
     */
    private static void verifyOutput(String bootstrap, String output, int records, int partitions) {
        Properties c = Check.clientProps(bootstrap);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        Map<Integer, List<String>> byPartition = new TreeMap<>();
        try (KafkaConsumer<String, String> consumer =
                 new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int q = 0; q < partitions; q++) {
                tps.add(new TopicPartition(output, q));
                byPartition.put(q, new ArrayList<>());
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            // read_committed: the end offsets are the last stable offsets.
            Map<TopicPartition, Long> ends = consumer.endOffsets(tps);
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (tps.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
                Check.expect(System.nanoTime() < deadline, "reading %s back did not reach %s within %d s",
                    output, ends, Check.TIMEOUT.toSeconds());
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    byPartition.get(r.partition()).add(r.value());
                }
            }
        }
        Map<String, Integer> seen = new HashMap<>();
        byPartition.values().forEach(vs -> vs.forEach(v -> seen.merge(v, 1, Integer::sum)));
        for (int i = 0; i < records; i++) {
            Integer n = seen.remove(value(i));
            Check.expect(n != null, "%s lost: it is not in %s (read_committed read %d records)",
                value(i), output, byPartition.values().stream().mapToInt(List::size).sum());
            Check.expect(n == 1, "%s duplicated: %s holds it %d times", value(i), output, n);
        }
        Check.expect(seen.isEmpty(), "%s holds records that were never input: %s", output, seen.keySet());
        for (var e : byPartition.entrySet()) {
            int q = e.getKey();
            List<String> want = new ArrayList<>();
            for (int i = q; i < records; i += partitions) {
                want.add(value(i));
            }
            Check.expect(e.getValue().equals(want), "%s-%d is not input partition %d in order", output, q, q);
        }
        Check.ok("read_committed read %d records from %s: each input record once, in order", records, output);
    }

    /**
     * The group is of the protocol its member spoke (describeConsumerGroups' type: a KIP-848
     * group stays a consumer group when its last member left).
     */
    private static void verifyGroupType(String bootstrap, String group, String groupProtocol) {
        try (Admin admin = AdminChecks.admin(bootstrap)) {
            ConsumerGroupDescription d = Check.get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group),
                "describeConsumerGroups " + group);
            GroupType want = groupProtocol.equals("consumer") ? GroupType.CONSUMER : GroupType.CLASSIC;
            Check.expect(d.type() == want, "group %s is a %s group, want %s", group, d.type(), want);
            Check.ok("group %s is a %s group (%s)", group, d.type(), d.groupState());
        }
    }

    /** The group's committed offsets (requireStable, KIP-447) equal the input's end offsets. */
    private static void verifyGroupOffsets(String bootstrap, String group, Map<TopicPartition, Long> inputEnds)
            throws Exception {
        try (Admin admin = AdminChecks.admin(bootstrap)) {
            ListConsumerGroupOffsetsSpec spec =
                new ListConsumerGroupOffsetsSpec().topicPartitions(new ArrayList<>(inputEnds.keySet()));
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            Map<TopicPartition, Long> got = new TreeMap<>(java.util.Comparator.comparing(TopicPartition::partition));
            while (true) {
                got.clear();
                // The Admin leaves out a partition answered UNSTABLE_OFFSET_COMMIT (the last
                // transaction's marker not applied yet): ask again until all are there.
                Check.get(admin.listConsumerGroupOffsets(Map.of(group, spec),
                        new ListConsumerGroupOffsetsOptions().requireStable(true))
                    .partitionsToOffsetAndMetadata(group), "listConsumerGroupOffsets " + group)
                    .forEach((tp, o) -> {
                        if (o != null) {
                            got.put(tp, o.offset());
                        }
                    });
                if (got.equals(inputEnds) || System.nanoTime() > deadline) {
                    break;
                }
                Thread.sleep(100);
            }
            Check.expect(got.equals(inputEnds), "the group's committed offsets are %s, want the input's end offsets %s",
                got, inputEnds);
            Check.ok("the group's committed offsets %s are the input's end offsets", got);
        }
    }
}
