package main

// IBM/sarama (github.com/IBM/sarama), configured for Kafka 4.0 (it then uses, per API,
// the highest version both it and the broker's ApiVersions answer allow): a SyncProducer
// with acks=all and idempotence, ClusterAdmin for the topic and the group's offsets, and
// a ConsumerGroup with sarama's default range balancer (eager rebalances: every member
// gives up all its partitions, commits, and rejoins).

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// Bounds on single calls: sarama is not context-aware, its network timeouts are its bounds.
const (
	saramaNetTimeout    = 10 * time.Second
	saramaRetryBackoff  = 100 * time.Millisecond
	saramaRetryAttempts = 20
)

// saramaVersion is the Kafka release sarama is told the cluster runs (-sarama-version):
// sarama picks each request's version for that release, then lowers it to what the
// broker's ApiVersions answer allows.
var saramaVersion string

// debugLogs sends sarama's log to stderr with -v (it is silent by default).
func debugLogs() {
	if verbose {
		sarama.Logger = log.New(os.Stderr, "sarama: ", log.Lmicroseconds)
	}
}

func saramaConfig(clientID string) (*sarama.Config, error) {
	version, err := sarama.ParseKafkaVersion(saramaVersion)
	if err != nil {
		return nil, err
	}
	c := sarama.NewConfig()
	c.Version = version
	c.ClientID = clientID
	c.Net.DialTimeout = saramaNetTimeout
	c.Net.ReadTimeout = saramaNetTimeout
	c.Net.WriteTimeout = saramaNetTimeout
	c.Metadata.Retry.Backoff = saramaRetryBackoff
	c.Metadata.Retry.Max = saramaRetryAttempts
	return c, nil
}

type saramaDriver struct {
	seeds    []string
	client   sarama.Client
	admin    sarama.ClusterAdmin
	producer sarama.SyncProducer
}

func newSarama(seeds []string) (driver, error) {
	debugLogs()
	c, err := saramaConfig("kraftsim-go-interop")
	if err != nil {
		return nil, err
	}
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1 // sarama requires it for idempotence
	c.Producer.Return.Successes = true
	c.Producer.Retry.Max = saramaRetryAttempts
	c.Producer.Retry.Backoff = saramaRetryBackoff
	c.Admin.Retry.Max = saramaRetryAttempts
	c.Admin.Retry.Backoff = saramaRetryBackoff
	client, err := sarama.NewClient(seeds, c)
	if err != nil {
		return nil, err
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	producer, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		_ = admin.Close()
		return nil, err
	}
	return &saramaDriver{seeds: seeds, client: client, admin: admin, producer: producer}, nil
}

func (s *saramaDriver) close() {
	_ = s.producer.Close()
	_ = s.admin.Close() // closes the client too
}

func (s *saramaDriver) createTopic(_ context.Context, topic string, partitions int32, rf int16) error {
	err := s.admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: rf}, false)
	if errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return nil
	}
	return err
}

func (s *saramaDriver) produce(_ context.Context, topic string, values []string) ([]position, error) {
	msgs := make([]*sarama.ProducerMessage, len(values))
	for i, v := range values {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(v), Value: sarama.StringEncoder(v)}
	}
	if err := s.producer.SendMessages(msgs); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			return nil, fmt.Errorf("%d of %d records failed, first: %w", len(perrs), len(values), perrs[0].Err)
		}
		return nil, err
	}
	at := make([]position, len(values))
	for i, m := range msgs {
		at[i] = position{m.Partition, m.Offset}
	}
	return at, nil
}

func (s *saramaDriver) committedOffsets(_ context.Context, group, topic string, partitions int32) (map[int32]int64, error) {
	ps := make([]int32, partitions)
	for p := range ps {
		ps[p] = int32(p)
	}
	resp, err := s.admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: ps})
	if err != nil {
		return nil, err
	}
	if !errors.Is(resp.Err, sarama.ErrNoError) {
		return nil, resp.Err
	}
	out := make(map[int32]int64, partitions)
	for _, p := range ps {
		out[p] = -1
		if b := resp.GetBlock(topic, p); b != nil {
			if !errors.Is(b.Err, sarama.ErrNoError) {
				return nil, fmt.Errorf("partition %d: %w", p, b.Err)
			}
			out[p] = b.Offset
		}
	}
	return out, nil
}

func (s *saramaDriver) endOffsets(_ context.Context, topic string, partitions int32) (map[int32]int64, error) {
	out := make(map[int32]int64, partitions)
	for p := int32(0); p < partitions; p++ {
		o, err := s.client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p, err)
		}
		out[p] = o
	}
	return out, nil
}

func (s *saramaDriver) describeGroup(_ context.Context, group, topic string) (groupView, error) {
	described, err := s.admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		return groupView{}, err
	}
	if len(described) != 1 {
		return groupView{}, fmt.Errorf("%d groups in the answer", len(described))
	}
	g := described[0]
	if !errors.Is(g.Err, sarama.ErrNoError) {
		return groupView{}, g.Err
	}
	view := groupView{state: g.State}
	for _, m := range g.Members {
		mv := memberView{clientID: m.ClientId, partitions: []int32{}}
		if a, err := m.GetMemberAssignment(); err == nil && a != nil {
			mv.partitions = append(mv.partitions, a.Topics[topic]...)
		}
		slices.Sort(mv.partitions)
		view.members = append(view.members, mv)
	}
	return view, nil
}

// A sarama group member: a ConsumerGroup whose handler records each message, marks it,
// commits whenever it has caught up, and commits again when the session ends (before
// the member rejoins and its partitions may move).
type saramaMember struct {
	name   string
	topic  string
	ledger *ledger
	group  sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu    sync.Mutex
	owned map[int32]bool
	errs  []string
}

func (s *saramaDriver) startMember(ctx context.Context, name, group, topic string, l *ledger) (member, error) {
	c, err := saramaConfig(clientIDPrefix + name)
	if err != nil {
		return nil, err
	}
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Return.Errors = true
	c.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	c.Consumer.MaxWaitTime = 500 * time.Millisecond
	g, err := sarama.NewConsumerGroup(s.seeds, group, c)
	if err != nil {
		return nil, err
	}
	m := &saramaMember{name: name, topic: topic, ledger: l, group: g, owned: map[int32]bool{}, done: make(chan struct{})}
	ctx, m.cancel = context.WithCancel(ctx)
	go func() {
		for err := range g.Errors() {
			m.problem("%v", err)
		}
	}()
	go m.loop(ctx)
	return m, nil
}

func (m *saramaMember) loop(ctx context.Context) {
	defer close(m.done)
	for ctx.Err() == nil {
		// Consume returns at the end of each session (a rebalance); join the next one.
		if err := m.group.Consume(ctx, []string{m.topic}, m); err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return
			}
			m.problem("consume: %v", err)
			select {
			case <-ctx.Done():
			case <-time.After(saramaRetryBackoff):
			}
		}
	}
}

// Setup is sarama's start of a session: the partitions it now owns.
func (m *saramaMember) Setup(sess sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.owned = map[int32]bool{}
	for _, p := range sess.Claims()[m.topic] {
		m.owned[p] = true
	}
	return nil
}

// Cleanup is the end of a session, every ConsumeClaim returned: commit what was read.
func (m *saramaMember) Cleanup(sess sarama.ConsumerGroupSession) error {
	sess.Commit()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.owned = map[int32]bool{}
	return nil
}

func (m *saramaMember) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			m.ledger.record(m.name, string(msg.Value), position{msg.Partition, msg.Offset})
			sess.MarkMessage(msg, "")
			if len(claim.Messages()) == 0 {
				sess.Commit()
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

func (m *saramaMember) assigned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedKeys(m.owned)
}

func (m *saramaMember) problem(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
}

func (m *saramaMember) problems() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.errs...)
}

func (m *saramaMember) stop() {
	m.once.Do(func() {
		m.cancel()
		<-m.done
		if err := m.group.Close(); err != nil { // leaves the group
			m.problem("close: %v", err)
		}
	})
}
