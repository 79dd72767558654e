/*
 * The Admin client's topic lifecycle, as kafka-topics and applications use it.
 *
 * One topic goes through: describeCluster (brokers, cluster id, a controller), createTopics
 * (whose v5+ answer carries the partition count, replication factor and id, KIP-525),
 * listTopics, describeTopics (Kafka 4.x sends DescribeTopicPartitions, KIP-966's paginated
 * API, and falls back to Metadata only when a broker lacks it), createPartitions,
 * listOffsets (earliest and latest, before and after a write), describeConfigs and
 * incrementalAlterConfigs of the topic's min.insync.replicas (SET, then DELETE back to the
 * default), and deleteTopics. Each step checks the answer Kafka 4.4 gives.
 */
package dev.kraftsim.oracle;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@code ClientChecks admin BOOTSTRAP}. */
final class AdminChecks {
    private static final String MIN_ISR = "min.insync.replicas";

    private AdminChecks() {}

    static Admin admin(String bootstrap) {
        Properties p = Check.clientProps(bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return Admin.create(p);
    }

    static void run(String bootstrap, String[] args) {
        try (Admin admin = admin(bootstrap)) {
            int brokers = describeCluster(admin);
            int rf = Math.min(3, brokers);
            String topic = Check.unique("java-admin");
            CreateTopicsResult created = admin.createTopics(List.of(new NewTopic(topic, 3, (short) rf)));
            Check.get(created.all(), "createTopics");
            // KIP-525: CreateTopics v5+ answers what it made.
            Check.expect(Check.get(created.numPartitions(topic), "createTopics numPartitions") == 3,
                "createTopics reports %s partitions", Check.get(created.numPartitions(topic), "numPartitions"));
            Check.expect(Check.get(created.replicationFactor(topic), "createTopics replicationFactor") == rf,
                "createTopics reports replication factor %s", Check.get(created.replicationFactor(topic), "rf"));
            Uuid createdId = Check.get(created.topicId(topic), "createTopics topicId");
            Check.ok("created %s with 3 partitions, replication factor %d, topic id %s", topic, rf, createdId);
            Check.waitUntil(topic + " appears in listTopics",
                () -> Check.get(admin.listTopics().names(), "listTopics").contains(topic));
            Check.ok("listTopics names %s", topic);
            Uuid describedId = describe(admin, topic, 3, rf);
            Check.expect(describedId.equals(createdId), "createTopics named topic id %s, describeTopics %s",
                createdId, describedId);
            Check.get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all(), "createPartitions");
            Check.waitUntil(topic + " has 5 partitions",
                () -> partitions(admin, topic).size() == 5);
            describe(admin, topic, 5, rf);
            Check.ok("createPartitions grew %s to 5 partitions", topic);
            listOffsets(bootstrap, admin, topic);
            configs(admin, topic);
            Check.get(admin.deleteTopics(List.of(topic)).all(), "deleteTopics");
            Check.waitUntil(topic + " is gone from listTopics",
                () -> !Check.get(admin.listTopics().names(), "listTopics").contains(topic));
            Check.ok("deleteTopics removed %s", topic);
        }
    }

    /** Brokers, cluster id and a controller; returns the broker count. */
    private static int describeCluster(Admin admin) {
        DescribeClusterResult c = admin.describeCluster();
        Collection<Node> nodes = Check.get(c.nodes(), "describeCluster nodes");
        String clusterId = Check.get(c.clusterId(), "describeCluster clusterId");
        Node controller = Check.get(c.controller(), "describeCluster controller");
        Check.expect(!nodes.isEmpty(), "describeCluster lists no brokers");
        Check.expect(clusterId != null && !clusterId.isEmpty(), "describeCluster has no cluster id");
        // In KRaft the "controller" a broker reports is one of the live brokers.
        Check.expect(controller != null && nodes.stream().anyMatch(n -> n.id() == controller.id()),
            "describeCluster's controller %s is not one of the brokers %s", controller, nodes);
        for (Node n : nodes) {
            Check.expect("127.0.0.1".equals(n.host()) || "localhost".equals(n.host()),
                "broker %s is not advertised on the loopback address", n);
        }
        Check.ok("describeCluster: %d brokers, cluster id %s, controller %d", nodes.size(), clusterId, controller.id());
        return nodes.size();
    }

    private static List<TopicPartitionInfo> partitions(Admin admin, String topic) {
        Map<String, TopicDescription> d = Check.get(admin.describeTopics(List.of(topic)).allTopicNames(), "describeTopics");
        return d.get(topic).partitions();
    }

    /** Every partition has a leader among its replicas, rf replicas, and a full ISR. */
    private static Uuid describe(Admin admin, String topic, int expectPartitions, int rf) {
        Map<String, TopicDescription> all = Check.get(admin.describeTopics(List.of(topic)).allTopicNames(), "describeTopics");
        TopicDescription d = all.get(topic);
        Check.expect(d != null, "describeTopics has no %s", topic);
        Check.expect(d.name().equals(topic), "describeTopics names %s, not %s", d.name(), topic);
        Check.expect(!d.isInternal(), "%s is described as internal", topic);
        Check.expect(d.topicId() != null && !d.topicId().equals(Uuid.ZERO_UUID),
            "describeTopics gives %s no topic id", topic);
        Check.expect(d.partitions().size() == expectPartitions, "describeTopics: %d partitions, expected %d",
            d.partitions().size(), expectPartitions);
        for (int i = 0; i < d.partitions().size(); i++) {
            TopicPartitionInfo p = d.partitions().get(i);
            Check.expect(p.partition() == i, "partitions out of order: index %d at position %d", p.partition(), i);
            Check.expect(p.replicas().size() == rf, "%s-%d has %d replicas, expected %d", topic, i, p.replicas().size(), rf);
            Check.expect(p.leader() != null && p.replicas().contains(p.leader()),
                "%s-%d's leader %s is not one of its replicas %s", topic, i, p.leader(), p.replicas());
            Check.expect(p.isr().size() == rf, "%s-%d's ISR %s is not full", topic, i, p.isr());
            // KIP-966: a broker with DescribeTopicPartitions reports the ELR (empty here).
            Check.expect(p.elr() != null && p.elr().isEmpty(), "%s-%d's ELR is %s, expected []", topic, i, p.elr());
            Check.expect(p.lastKnownElr() != null && p.lastKnownElr().isEmpty(),
                "%s-%d's last known ELR is %s, expected []", topic, i, p.lastKnownElr());
        }
        Check.ok("describeTopics: %s has %d partitions, each with %d in-sync replicas, ELR []", topic, expectPartitions, rf);
        return d.topicId();
    }

    /** Earliest and latest offsets of partition 0, before and after 7 records. */
    private static void listOffsets(String bootstrap, Admin admin, String topic) {
        TopicPartition tp = new TopicPartition(topic, 0);
        Check.expect(offset(admin, tp, OffsetSpec.earliest()) == 0, "earliest offset of an empty partition is not 0");
        Check.expect(offset(admin, tp, OffsetSpec.latest()) == 0, "latest offset of an empty partition is not 0");
        Properties p = Check.clientProps(bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, String> producer =
                 new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < 7; i++) {
                try {
                    producer.send(new ProducerRecord<>(topic, 0, null, "v" + i)).get();
                } catch (Exception e) {
                    throw new Check.Failed("producing to " + tp + " failed: " + Check.describe(e), e);
                }
            }
        }
        long earliest = offset(admin, tp, OffsetSpec.earliest());
        long latest = offset(admin, tp, OffsetSpec.latest());
        Check.expect(earliest == 0, "earliest offset after 7 records is %d, expected 0", earliest);
        Check.expect(latest == 7, "latest offset after 7 acks=all records is %d, expected 7", latest);
        Check.ok("listOffsets %s: earliest %d, latest %d", tp, earliest, latest);
    }

    private static long offset(Admin admin, TopicPartition tp, OffsetSpec spec) {
        Map<TopicPartition, ListOffsetsResultInfo> r = Check.get(admin.listOffsets(Map.of(tp, spec)).all(), "listOffsets");
        return r.get(tp).offset();
    }

    /** min.insync.replicas: the default, SET to 2, DELETE back to the default. */
    private static void configs(Admin admin, String topic) {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        ConfigEntry before = minIsr(admin, resource);
        Check.expect(before.source() != ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
            "a new topic's %s comes from %s, expected a default", MIN_ISR, before.source());
        Check.ok("describeConfigs: %s=%s (%s)", MIN_ISR, before.value(), before.source());
        Config all = Check.get(admin.describeConfigs(Set.of(resource)).all(), "describeConfigs").get(resource);
        for (String name : List.of("retention.ms", "retention.bytes", "segment.bytes")) {
            ConfigEntry e = all.get(name);
            Check.expect(e != null && e.value() != null, "describeConfigs of %s has no %s", topic, name);
        }
        Check.ok("describeConfigs: retention.ms=%s, retention.bytes=%s, segment.bytes=%s",
            all.get("retention.ms").value(), all.get("retention.bytes").value(), all.get("segment.bytes").value());
        alter(admin, resource, new AlterConfigOp(new ConfigEntry(MIN_ISR, "2"), AlterConfigOp.OpType.SET));
        Check.waitUntil(MIN_ISR + "=2 is described", () -> "2".equals(minIsr(admin, resource).value()));
        ConfigEntry set = minIsr(admin, resource);
        Check.expect(set.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
            "after SET, %s comes from %s, expected DYNAMIC_TOPIC_CONFIG", MIN_ISR, set.source());
        Check.expect(!set.isDefault(), "after SET, %s is still described as a default", MIN_ISR);
        Check.ok("incrementalAlterConfigs SET %s=2 (%s)", MIN_ISR, set.source());
        alter(admin, resource, new AlterConfigOp(new ConfigEntry(MIN_ISR, null), AlterConfigOp.OpType.DELETE));
        Check.waitUntil(MIN_ISR + " is back to " + before.value(),
            () -> before.value().equals(minIsr(admin, resource).value()));
        Check.ok("incrementalAlterConfigs DELETE %s: back to %s", MIN_ISR, before.value());
    }

    private static void alter(Admin admin, ConfigResource resource, AlterConfigOp op) {
        Check.get(admin.incrementalAlterConfigs(Map.of(resource, List.of(op))).all(),
            "incrementalAlterConfigs " + op.opType() + " " + op.configEntry().name());
    }

    private static ConfigEntry minIsr(Admin admin, ConfigResource resource) {
        Map<ConfigResource, Config> all = Check.get(admin.describeConfigs(Set.of(resource)).all(), "describeConfigs");
        ConfigEntry e = all.get(resource).get(MIN_ISR);
        Check.expect(e != null, "describeConfigs of %s has no %s", resource.name(), MIN_ISR);
        return e;
    }
}
