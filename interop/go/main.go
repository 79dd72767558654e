// Command kraftsim-go-interop checks a Kafka cluster with a real Go client.
//
// Usage:
//
//	kraftsim-go-interop [flags] <franz-go|sarama> <bootstrap.servers>
//
// For the chosen client it creates a topic, produces numbered records with acks=all and
// an idempotent producer, then consumes them in a consumer group of two members: member
// A reads the first half alone, member B joins (a rebalance), the second half is produced
// and both read on. Each member commits synchronously after every batch it processes and
// before it gives partitions up, so with a correct broker every record is read exactly
// once and the group's committed offsets end equal to the partitions' end offsets.
//
// It exits 0 and prints "<client>: OK" on success; otherwise it prints exactly what
// differed and exits 1. Every wait is bounded by -timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// A client under test: the few operations the check needs, each done the way an
// application using that client would do it.
type driver interface {
	// createTopic creates the topic; one that already exists is fine.
	createTopic(ctx context.Context, topic string, partitions int32, replicationFactor int16) error
	// produce writes the values (each also its record's key) with acks=all and
	// idempotence, and returns where each landed.
	produce(ctx context.Context, topic string, values []string) ([]position, error)
	// startMember joins the group as one consumer that records what it reads in l.
	startMember(ctx context.Context, name, group, topic string, l *ledger) (member, error)
	// describeGroup is the group as an admin client sees it (DescribeGroups).
	describeGroup(ctx context.Context, group, topic string) (groupView, error)
	// committedOffsets is the group's committed offset of each partition of topic.
	committedOffsets(ctx context.Context, group, topic string, partitions int32) (map[int32]int64, error)
	// endOffsets is each partition's end offset (the high watermark).
	endOffsets(ctx context.Context, topic string, partitions int32) (map[int32]int64, error)
	close()
}

// One consumer group member, running in the background.
type member interface {
	// assigned is the member's current assignment of the topic's partitions.
	assigned() []int32
	// stop leaves the group and returns once the member is closed.
	stop()
	// problems are the errors the member saw (commit, fetch and group errors).
	problems() []string
}

// verbose turns on the clients' debug logs (-v).
var verbose bool

type settings struct {
	client            string
	bootstrap         []string
	records           int
	partitions        int32
	replicationFactor int16
	timeout           time.Duration
}

func main() {
	var s settings
	flag.IntVar(&s.records, "records", 2000, "records to produce and consume (even)")
	partitions := flag.Int("partitions", 6, "partitions of the topic")
	rf := flag.Int("replication-factor", 3, "replication factor of the topic")
	flag.DurationVar(&s.timeout, "timeout", 60*time.Second, "bound on the whole check")
	flag.BoolVar(&verbose, "v", false, "log the client's own debug output to stderr")
	flag.StringVar(&saramaVersion, "sarama-version", "4.0.0",
		"the Kafka version sarama is configured for (its Config.Version)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: %s [flags] <franz-go|sarama> <bootstrap.servers>\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 || s.records < 2 || s.records%2 != 0 || *partitions < 2 {
		flag.Usage()
		os.Exit(2)
	}
	s.client = flag.Arg(0)
	s.bootstrap = strings.Split(flag.Arg(1), ",")
	s.partitions = int32(*partitions)
	s.replicationFactor = int16(*rf)

	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var (
		d   driver
		err error
	)
	switch s.client {
	case "franz-go":
		d, err = newFranz(s.bootstrap)
	case "sarama":
		d, err = newSarama(s.bootstrap)
	default:
		fmt.Fprintf(os.Stderr, "unknown client %q: franz-go or sarama\n", s.client)
		os.Exit(2)
	}
	if err != nil {
		fmt.Printf("%s: FAIL: cannot create the client: %v\n", s.client, err)
		os.Exit(1)
	}
	err = run(ctx, d, s)
	d.close()
	if err != nil {
		fmt.Printf("%s: FAIL: %v\n", s.client, err)
		os.Exit(1)
	}
	fmt.Printf("%s: OK\n", s.client)
}
