/*
 * A transactional producer (transactional.id, KIP-98). initTransactions() finds the
 * transaction coordinator (FindCoordinator with key type TRANSACTION) and asks it for a
 * producer id (InitProducerId with the transactional id). The producer then commits one
 * transaction and aborts another; a read_committed consumer must read exactly the
 * committed records (the aborted ones are filtered with the aborted-transactions list of
 * its Fetch answers, the undecided ones held back by the last stable offset). Finally a
 * second instance with the same transactional.id fences the first: the first's next
 * commit fails with ProducerFencedException. The Admin lists the id (ListTransactions) and
 * describes it as CompleteCommit (DescribeTransactions).
 *
 * Then a read-process-write step: a consumer in a group reads the committed records, a
 * new transactional producer writes one record per record read and sends the consumer's
 * position to the transaction (sendOffsetsToTransaction: AddOffsetsToTxn, then
 * TxnOffsetCommit to the group coordinator) and commits; the Admin's
 * listConsumerGroupOffsets must show the position. A second step that sends a further
 * offset and aborts must leave the group's offset where the first step put it.
 *
 * Prints one OUTCOME line: "works: ..." with what was checked, or "refused" with the
 * exact exception. A TimeoutException is a failure of the check.
 */
package dev.kraftsim.oracle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@code ClientChecks transactions BOOTSTRAP}. */
final class TransactionsCheck {
    private TransactionsCheck() {}

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = IdempotentProduceCheck.createTopic(bootstrap, "java-txn", 1);
        String transactionalId = Check.unique("java-txn");
        Properties p = Check.clientProps(bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        KafkaProducer<String, String> first =
            new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
        try {
            first.initTransactions();
            first.beginTransaction();
            for (int i = 0; i < 3; i++) {
                first.send(new ProducerRecord<>(topic, 0, null, "committed-" + i));
            }
            first.commitTransaction();
            first.beginTransaction();
            for (int i = 0; i < 2; i++) {
                first.send(new ProducerRecord<>(topic, 0, null, "aborted-" + i));
            }
            first.flush();
            first.abortTransaction();
            first.beginTransaction();
            first.send(new ProducerRecord<>(topic, 0, null, "committed-3"));
            first.commitTransaction();
        } catch (TimeoutException e) {
            first.close(Duration.ZERO);
            throw new Check.Failed("transactional producer: timed out: " + Check.describe(e), e);
        } catch (RuntimeException e) {
            first.close(Duration.ZERO);
            System.out.println("OUTCOME transactions: refused: " + Check.describe(e));
            return;
        }

        List<String> got = readCommitted(bootstrap, topic, 4);
        Check.expect(
            got.equals(List.of("committed-0", "committed-1", "committed-2", "committed-3")),
            "read_committed read %s, want the four committed records in order", got);

        // A second instance with the same id fences the first.
        String fenced;
        try (KafkaProducer<String, String> second =
                 new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            second.initTransactions();
            try {
                first.beginTransaction();
                first.send(new ProducerRecord<>(topic, 0, null, "zombie"));
                first.commitTransaction();
                fenced = "not fenced";
            } catch (ProducerFencedException e) {
                fenced = "fenced";
            } catch (org.apache.kafka.common.KafkaException e) {
                fenced = e.getCause() instanceof ProducerFencedException ? "fenced" : Check.describe(e);
            }
            second.beginTransaction();
            second.send(new ProducerRecord<>(topic, 0, null, "committed-4"));
            second.commitTransaction();
        } finally {
            first.close(Duration.ZERO);
        }
        Check.expect(fenced.equals("fenced"), "the old instance's commit: %s", fenced);
        got = readCommitted(bootstrap, topic, 5);
        Check.expect(got.size() == 5 && got.get(4).equals("committed-4") && !got.contains("zombie"),
            "after fencing, read_committed read %s", got);
        // The admin's view (KIP-664): the id is listed and described as committed.
        try (org.apache.kafka.clients.admin.Admin admin =
                 org.apache.kafka.clients.admin.Admin.create(Check.clientProps(bootstrap))) {
            boolean listed = admin.listTransactions().all().get().stream()
                .anyMatch(t -> t.transactionalId().equals(transactionalId));
            Check.expect(listed, "listTransactions names %s", transactionalId);
            org.apache.kafka.clients.admin.TransactionDescription d =
                admin.describeTransactions(List.of(transactionalId)).description(transactionalId).get();
            Check.expect(d.state() == org.apache.kafka.clients.admin.TransactionState.COMPLETE_COMMIT
                    && d.topicPartitions().isEmpty(),
                "describeTransactions: %s", d);
        }
        String offsets = readProcessWrite(bootstrap, topic, p);
        System.out.println("OUTCOME transactions: works: committed 4 records and aborted 2, "
            + "read_committed read exactly the committed ones, a second instance fenced the first, "
            + offsets);
    }

    /**
     * One read-process-write step committed and one aborted; what the Admin saw of the
     * group's offset after each.
     */
    private static String readProcessWrite(String bootstrap, String topic, Properties producerProps)
            throws Exception {
        String group = Check.unique("java-txn-group");
        TopicPartition input = new TopicPartition(topic, 0);
        Properties c = Check.clientProps(bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        Properties p = new Properties();
        p.putAll(producerProps);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, Check.unique("java-txn-rpw"));
        try (KafkaConsumer<String, String> consumer =
                 new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer());
             KafkaProducer<String, String> producer =
                 new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
             org.apache.kafka.clients.admin.Admin admin =
                 org.apache.kafka.clients.admin.Admin.create(Check.clientProps(bootstrap))) {
            consumer.assign(List.of(input));
            consumer.seekToBeginning(List.of(input));
            List<String> read = new ArrayList<>();
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (read.size() < 5 && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    read.add(r.value());
                }
            }
            long position = consumer.position(input);
            producer.initTransactions();
            producer.beginTransaction();
            for (String v : read) {
                producer.send(new ProducerRecord<>(topic, 0, null, "processed-" + v));
            }
            producer.sendOffsetsToTransaction(
                java.util.Map.of(input, new org.apache.kafka.clients.consumer.OffsetAndMetadata(position)),
                consumer.groupMetadata());
            producer.commitTransaction();
            long afterCommit = committedOffset(admin, group, input);
            Check.expect(afterCommit == position,
                "after the commit the group's offset is %d, want the position %d", afterCommit, position);

            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, 0, null, "processed-aborted"));
            producer.sendOffsetsToTransaction(
                java.util.Map.of(input, new org.apache.kafka.clients.consumer.OffsetAndMetadata(position + 1)),
                consumer.groupMetadata());
            producer.abortTransaction();
            long afterAbort = committedOffset(admin, group, input);
            Check.expect(afterAbort == position,
                "after the abort the group's offset is %d, want it still at %d", afterAbort, position);
        }
        return "sendOffsetsToTransaction moved the group's offset at the commit and not at the abort";
    }

    /**
     * The group's committed offset of {@code tp} as the Admin lists it with requireStable
     * (KIP-447), -1 when none came by the deadline. commitTransaction and abortTransaction
     * return once the decision is written, before the markers: while the group coordinator
     * still holds the transaction's offsets pending it answers UNSTABLE_OFFSET_COMMIT, and
     * this asks again. (Against Apache Kafka the same race holds.)
     */
    private static long committedOffset(
            org.apache.kafka.clients.admin.Admin admin, String group, TopicPartition tp) throws Exception {
        org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions stable =
            new org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions().requireStable(true);
        long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
        while (true) {
            try {
                // The partition named, not all of the group's: Kafka's fetchAllOffsets flags
                // only partitions that already have a committed offset as unstable, so a
                // first transactional commit whose marker has not landed yet would read as
                // no offset at all (OffsetMetadataManager.fetchAllOffsets).
                org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec spec =
                    new org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec().topicPartitions(List.of(tp));
                org.apache.kafka.clients.consumer.OffsetAndMetadata o = admin
                    .listConsumerGroupOffsets(java.util.Map.of(group, spec), stable)
                    .partitionsToOffsetAndMetadata(group).get().get(tp);
                // The Admin leaves out a partition answered UNSTABLE_OFFSET_COMMIT (its
                // ListConsumerGroupOffsetsHandler logs "Skipping return offset"), so a
                // missing partition is asked again until the deadline.
                if (o != null) {
                    return o.offset();
                }
                if (System.nanoTime() > deadline) {
                    return -1;
                }
                Thread.sleep(100);
            } catch (java.util.concurrent.ExecutionException e) {
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnstableOffsetCommitException)
                        || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    /** Reads partition 0 from the start at read_committed until {@code want} records came. */
    private static List<String> readCommitted(String bootstrap, String topic, int want) {
        Properties c = Check.clientProps(bootstrap);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer =
                 new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (got.size() < want && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    got.add(r.value());
                }
            }
            // One more poll: nothing beyond what is committed may arrive.
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                got.add(r.value());
            }
        }
        return got;
    }
}
