package main

// franz-go (github.com/twmb/franz-go): kgo for producing and consuming, kadm for admin.
// Its defaults are what is tested: an idempotent producer with acks=all, and the
// classic consumer group protocol with the cooperative-sticky balancer (incremental
// rebalances, KIP-429), so member B's arrival costs two rebalances.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Bounds on single calls (the whole check is bounded by its context as well).
const (
	franzCommitTimeout = 10 * time.Second
	franzLeaveTimeout  = 10 * time.Second
	franzPollTimeout   = 250 * time.Millisecond
)

type franz struct {
	seeds []string
	cl    *kgo.Client
	adm   *kadm.Client
	// Whether the producer id has been printed.
	printedID bool
}

func franzLogger(who string) kgo.Opt {
	level := kgo.LogLevelWarn
	if verbose {
		level = kgo.LogLevelDebug
	}
	return kgo.WithLogger(kgo.BasicLogger(os.Stderr, level, func() string {
		return "franz-go " + who + ": "
	}))
}

func newFranz(seeds []string) (driver, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("kraftsim-go-interop"),
		// Both are franz-go's defaults; stated so the check says what it checks.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond),
		franzLogger("producer"),
	)
	if err != nil {
		return nil, err
	}
	return &franz{seeds: seeds, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (f *franz) close() { f.cl.Close() }

func (f *franz) createTopic(ctx context.Context, topic string, partitions int32, rf int16) error {
	_, err := f.adm.CreateTopic(ctx, partitions, rf, nil, topic)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return nil
	}
	return err
}

func (f *franz) produce(ctx context.Context, topic string, values []string) ([]position, error) {
	index := make(map[string]int, len(values))
	records := make([]*kgo.Record, len(values))
	for i, v := range values {
		index[v] = i
		records[i] = &kgo.Record{Topic: topic, Key: []byte(v), Value: []byte(v)}
	}
	at := make([]position, len(values))
	var errs []error
	for _, r := range f.cl.ProduceSync(ctx, records...) {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Record.Value, r.Err))
			continue
		}
		at[index[string(r.Record.Value)]] = position{r.Record.Partition, r.Record.Offset}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d records failed, first: %w", len(errs), len(values), errs[0])
	}
	id, epoch, err := f.cl.ProducerID(ctx)
	if err != nil || id < 0 {
		return nil, fmt.Errorf("the producer is not idempotent: producer id %d, %v", id, err)
	}
	if !f.printedID {
		fmt.Printf("franz-go: idempotent producer id %d, epoch %d\n", id, epoch)
		f.printedID = true
	}
	return at, nil
}

func (f *franz) committedOffsets(ctx context.Context, group, topic string, partitions int32) (map[int32]int64, error) {
	resp, err := f.adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, partitions)
	for p := int32(0); p < partitions; p++ {
		out[p] = -1
		if o, ok := resp.Lookup(topic, p); ok {
			if o.Err != nil {
				return nil, fmt.Errorf("partition %d: %w", p, o.Err)
			}
			out[p] = o.At
		}
	}
	return out, nil
}

func (f *franz) endOffsets(ctx context.Context, topic string, partitions int32) (map[int32]int64, error) {
	listed, err := f.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, partitions)
	for p := int32(0); p < partitions; p++ {
		o, ok := listed.Lookup(topic, p)
		switch {
		case !ok:
			return nil, fmt.Errorf("partition %d missing from the answer", p)
		case o.Err != nil:
			return nil, fmt.Errorf("partition %d: %w", p, o.Err)
		}
		out[p] = o.Offset
	}
	return out, nil
}

func (f *franz) describeGroup(ctx context.Context, group, topic string) (groupView, error) {
	described, err := f.adm.DescribeGroups(ctx, group)
	if err != nil {
		return groupView{}, err
	}
	g, ok := described[group]
	switch {
	case !ok:
		return groupView{}, fmt.Errorf("group %s missing from the answer", group)
	case g.Err != nil:
		return groupView{}, g.Err
	}
	view := groupView{state: g.State}
	for _, m := range g.Members {
		mv := memberView{clientID: m.ClientID, partitions: []int32{}}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				if t.Topic == topic {
					mv.partitions = append(mv.partitions, t.Partitions...)
				}
			}
		}
		slices.Sort(mv.partitions)
		view.members = append(view.members, mv)
	}
	return view, nil
}

// A franz-go group member: poll, record, commit synchronously, allow the rebalance.
type franzMember struct {
	name   string
	topic  string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu    sync.Mutex
	owned map[int32]bool
	errs  []string
}

func (f *franz) startMember(ctx context.Context, name, group, topic string, l *ledger) (member, error) {
	m := &franzMember{name: name, topic: topic, owned: map[int32]bool{}, done: make(chan struct{})}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(f.seeds...),
		kgo.ClientID(clientIDPrefix+name),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// Processing and committing a poll happen before any rebalance callback.
		kgo.BlockRebalanceOnPoll(),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.own(a[topic], true)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			// What this member read must be committed before another member reads on.
			cctx, cancel := context.WithTimeout(ctx, franzCommitTimeout)
			defer cancel()
			if err := cl.CommitUncommittedOffsets(cctx); err != nil {
				m.problem("commit before giving up %v: %v", r[topic], err)
			}
			m.own(r[topic], false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			m.problem("partitions lost: %v", lost[topic])
			m.own(lost[topic], false)
		}),
		franzLogger(name),
	)
	if err != nil {
		return nil, err
	}
	m.cl = cl
	ctx, m.cancel = context.WithCancel(ctx)
	go m.loop(ctx, l)
	return m, nil
}

func (m *franzMember) loop(ctx context.Context, l *ledger) {
	defer close(m.done)
	defer m.cl.AllowRebalance()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, franzPollTimeout)
		fetches := m.cl.PollFetches(pctx)
		cancel()
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				m.problem("fetch %s/%d: %v", topic, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			l.record(m.name, string(r.Value), position{r.Partition, r.Offset})
		})
		if fetches.NumRecords() > 0 {
			cctx, cancel := context.WithTimeout(ctx, franzCommitTimeout)
			if err := m.cl.CommitUncommittedOffsets(cctx); err != nil {
				m.problem("commit: %v", err)
			}
			cancel()
		}
		m.cl.AllowRebalance()
	}
}

func (m *franzMember) own(partitions []int32, owned bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range partitions {
		if owned {
			m.owned[p] = true
		} else {
			delete(m.owned, p)
		}
	}
}

func (m *franzMember) assigned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedKeys(m.owned)
}

func (m *franzMember) problem(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
}

func (m *franzMember) problems() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.errs...)
}

func (m *franzMember) stop() {
	m.once.Do(func() {
		m.cancel()
		<-m.done
		ctx, cancel := context.WithTimeout(context.Background(), franzLeaveTimeout)
		defer cancel()
		if err := m.cl.LeaveGroupContext(ctx); err != nil {
			m.problem("leave group: %v", err)
		}
		m.cl.Close()
	})
}
