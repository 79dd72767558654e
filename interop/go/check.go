package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// A group as DescribeGroups shows it.
type groupView struct {
	state   string
	members []memberView
}

// One member as DescribeGroups shows it: the client id it joined with and the
// partitions of the topic the leader assigned it.
type memberView struct {
	clientID   string
	partitions []int32
}

func (g groupView) String() string {
	parts := make([]string, len(g.members))
	for i, m := range g.members {
		parts[i] = fmt.Sprintf("%q owns %v", m.clientID, m.partitions)
	}
	return fmt.Sprintf("%s, %d members: %s", g.state, len(g.members), strings.Join(parts, ", "))
}

// describedAs says whether the view is a Stable group of exactly the members that own
// these partitions, by client id; each member's client id is clientIDPrefix+name.
func (g groupView) describedAs(owned map[string][]int32, clientIDPrefix string) bool {
	if g.state != "Stable" || len(g.members) != len(owned) {
		return false
	}
	for _, m := range g.members {
		want, ok := owned[strings.TrimPrefix(m.clientID, clientIDPrefix)]
		if !ok || !slices.Equal(m.partitions, want) {
			return false
		}
	}
	return true
}

// Where a record is: its partition and offset.
type position struct {
	partition int32
	offset    int64
}

func (p position) String() string { return fmt.Sprintf("%d@%d", p.partition, p.offset) }

// One read of a record by a member.
type read struct {
	member string
	at     position
}

// The ledger of what was produced and what each member read.
type ledger struct {
	mu       sync.Mutex
	produced map[string]position
	reads    map[string][]read
	byMember map[string]int
	total    int
}

func newLedger() *ledger {
	return &ledger{
		produced: map[string]position{},
		reads:    map[string][]read{},
		byMember: map[string]int{},
	}
}

func (l *ledger) addProduced(values []string, at []position) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, v := range values {
		l.produced[v] = at[i]
	}
}

// record notes that member read value at p.
func (l *ledger) record(member, value string, p position) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads[value] = append(l.reads[value], read{member, p})
	l.byMember[member]++
	l.total++
}

func (l *ledger) readCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func (l *ledger) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.byMember))
	for m := range l.byMember {
		names = append(names, m)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, m := range names {
		parts = append(parts, fmt.Sprintf("%s read %d", m, l.byMember[m]))
	}
	return fmt.Sprintf("%d reads (%s)", l.total, strings.Join(parts, ", "))
}

// differences lists every way the reads differ from "each produced record read exactly
// once, at the position its produce was acknowledged at", at most `limit` lines of each
// kind (with a count of the rest).
func (l *ledger) differences(limit int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var missing, duplicated, unexpected, moved []string
	for v, at := range l.produced {
		rs := l.reads[v]
		switch {
		case len(rs) == 0:
			missing = append(missing, fmt.Sprintf("%s (produced at %s)", v, at))
		case len(rs) > 1:
			duplicated = append(duplicated, fmt.Sprintf("%s read %d times: %s", v, len(rs), describeReads(rs)))
		case rs[0].at != at:
			moved = append(moved, fmt.Sprintf("%s produced at %s, read at %s", v, at, rs[0].at))
		}
	}
	for v, rs := range l.reads {
		if _, ok := l.produced[v]; !ok {
			unexpected = append(unexpected, fmt.Sprintf("%q read: %s", v, describeReads(rs)))
		}
	}
	var out []string
	add := func(kind string, items []string) {
		if len(items) == 0 {
			return
		}
		sort.Strings(items)
		shown := items[:min(limit, len(items))]
		line := fmt.Sprintf("%d %s: %s", len(items), kind, strings.Join(shown, "; "))
		if len(items) > limit {
			line += fmt.Sprintf("; and %d more", len(items)-limit)
		}
		out = append(out, line)
	}
	add("records never read", missing)
	add("records read more than once", duplicated)
	add("records read at another position than produced", moved)
	add("records read that were never produced", unexpected)
	return out
}

func describeReads(rs []read) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("by %s at %s", r.member, r.at)
	}
	return strings.Join(parts, ", ")
}

// offsetGaps checks the produce acknowledgements: on a new topic an idempotent producer's
// records must occupy offsets 0..n-1 of each partition, without a gap or a repeat.
func offsetGaps(at []position) []string {
	byPartition := map[int32][]int64{}
	for _, p := range at {
		byPartition[p.partition] = append(byPartition[p.partition], p.offset)
	}
	var out []string
	for p, offsets := range byPartition {
		slices.Sort(offsets)
		for i, o := range offsets {
			if o != int64(i) {
				out = append(out, fmt.Sprintf("partition %d: acknowledged offsets are not 0..%d (the %dth is %d)",
					p, len(offsets)-1, i, o))
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

func numbered(client string, from, to int) []string {
	values := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		values = append(values, fmt.Sprintf("%s-record-%05d", client, i))
	}
	return values
}

// waitFor polls done every 50 ms until it holds, or fails naming what it waited for and
// the state then.
func waitFor(ctx context.Context, what string, done func() bool, state func() string) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting until %s; state: %s", what, state())
		case <-t.C:
		}
	}
	return nil
}

// splitsTopic says whether a and b own disjoint, non-empty sets of partitions that
// together are all n of them.
func splitsTopic(a, b []int32, n int32) bool {
	if len(a) == 0 || len(b) == 0 || int32(len(a)+len(b)) != n {
		return false
	}
	seen := map[int32]bool{}
	for _, p := range append(slices.Clone(a), b...) {
		if seen[p] || p < 0 || p >= n {
			return false
		}
		seen[p] = true
	}
	return true
}

// clientIDPrefix+name is the client id of each group member.
const clientIDPrefix = "kraftsim-go-interop-"

// run is the whole check for one client.
func run(ctx context.Context, d driver, s settings) error {
	topic := "go-" + s.client
	group := topic + "-group"
	half := s.records / 2
	l := newLedger()

	if err := d.createTopic(ctx, topic, s.partitions, s.replicationFactor); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	var acked []position
	produce := func(from, to int) error {
		values := numbered(s.client, from, to)
		at, err := d.produce(ctx, topic, values)
		if err != nil {
			return fmt.Errorf("produce records %d..%d: %w", from, to-1, err)
		}
		l.addProduced(values, at)
		acked = append(acked, at...)
		return nil
	}
	if err := produce(0, half); err != nil {
		return err
	}

	a, err := d.startMember(ctx, "member-a", group, topic, l)
	if err != nil {
		return fmt.Errorf("start member-a: %w", err)
	}
	members := []member{a}
	stopAll := func() {
		for _, m := range members {
			m.stop()
		}
	}
	defer stopAll()
	state := func() string {
		parts := []string{l.summary()}
		for i, m := range members {
			parts = append(parts, fmt.Sprintf("member-%c owns %v", 'a'+i, m.assigned()))
		}
		return strings.Join(parts, "; ")
	}
	if err := waitFor(ctx, fmt.Sprintf("member-a alone has read the first %d records", half),
		func() bool { return l.readCount() >= half }, state); err != nil {
		return err
	}

	b, err := d.startMember(ctx, "member-b", group, topic, l)
	if err != nil {
		return fmt.Errorf("start member-b: %w", err)
	}
	members = append(members, b)
	if err := waitFor(ctx, "the rebalance splits the partitions between member-a and member-b",
		func() bool { return splitsTopic(a.assigned(), b.assigned(), s.partitions) }, state); err != nil {
		return err
	}
	split := fmt.Sprintf("member-a owns %v, member-b owns %v", a.assigned(), b.assigned())
	// An admin's view of the group agrees with what the members were given.
	var described groupView
	if err := waitFor(ctx, "DescribeGroups shows the group Stable with both members and their partitions",
		func() bool {
			view, err := d.describeGroup(ctx, group, topic)
			slices.SortFunc(view.members, func(x, y memberView) int { return strings.Compare(x.clientID, y.clientID) })
			described = view
			if err != nil {
				described.state = "error: " + err.Error()
			}
			owned := map[string][]int32{"member-a": a.assigned(), "member-b": b.assigned()}
			return err == nil && described.describedAs(owned, clientIDPrefix)
		},
		func() string { return fmt.Sprintf("%s; described: %v", state(), described) }); err != nil {
		return err
	}

	if err := produce(half, s.records); err != nil {
		return err
	}
	if err := waitFor(ctx, fmt.Sprintf("the group has read all %d records", s.records),
		func() bool { return l.readCount() >= s.records }, state); err != nil {
		return err
	}
	// Keep consuming a moment: a record read twice may arrive after the last new one.
	settle, cancelSettle := context.WithTimeout(ctx, time.Second)
	<-settle.Done()
	cancelSettle()
	stopAll()
	members = nil

	var diffs []string
	diffs = append(diffs, offsetGaps(acked)...)
	diffs = append(diffs, l.differences(5)...)
	if l.byMember["member-b"] == 0 {
		diffs = append(diffs, "member-b read nothing after the rebalance")
	}
	committed, err := d.committedOffsets(ctx, group, topic, s.partitions)
	if err != nil {
		return errors.Join(append(toErrors(diffs), fmt.Errorf("fetch committed offsets: %w", err))...)
	}
	end, err := d.endOffsets(ctx, topic, s.partitions)
	if err != nil {
		return errors.Join(append(toErrors(diffs), fmt.Errorf("list end offsets: %w", err))...)
	}
	for p := int32(0); p < s.partitions; p++ {
		if committed[p] != end[p] {
			diffs = append(diffs, fmt.Sprintf("partition %d: committed offset %d, end offset %d", p, committed[p], end[p]))
		}
	}
	var problems []string
	for i, m := range []member{a, b} {
		for _, p := range m.problems() {
			problems = append(problems, fmt.Sprintf("member-%c: %s", 'a'+i, p))
		}
	}
	if len(diffs) > 0 {
		return errors.Join(append(toErrors(diffs), toErrors(problems)...)...)
	}
	for _, p := range problems {
		fmt.Printf("%s: note: %s\n", s.client, p)
	}
	fmt.Printf("%s: produced %d records (acks=all, idempotent) to %d partitions of %s\n",
		s.client, s.records, s.partitions, topic)
	fmt.Printf("%s: group %s rebalanced: %s\n", s.client, group, split)
	fmt.Printf("%s: DescribeGroups: %v\n", s.client, described)
	fmt.Printf("%s: every record read exactly once: %s\n", s.client, l.summary())
	fmt.Printf("%s: committed offsets equal end offsets on all %d partitions (%d records)\n",
		s.client, s.partitions, sum(end))
	return nil
}

func sortedKeys(m map[int32]bool) []int32 {
	out := make([]int32, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func sum(m map[int32]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}

func toErrors(lines []string) []error {
	out := make([]error, len(lines))
	for i, l := range lines {
		out[i] = errors.New(l)
	}
	return out
}
