package eventbus

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteStatsTable writes subscription stats to w as a table with one row per
// element of subs, sorted by topic and then subscriber, and a TOTAL row
// with bus.Totals, followed by one line about what was published:
//
//	TOPIC         SUBSCRIBER  ENQUEUED  DELIVERED  FAILED  RETRIED  DEAD-LETTERED  DROPPED  PENDING
//	order.placed  billing     3         2          1       0        0              0        0
//	order.placed  shipping    3         3          0       0        0              0        0
//	TOTAL                     6         5          1       0        0              0        0
//	Published 4 events on 2 topics (1 with no subscriber).
//
// DROPPED is Dropped.Total() and PENDING is QueueLength + InFlight, the
// events queued or being handled when the snapshot was taken; the table
// leaves out Filtered and the reasons for drops, which
// SubscriptionStats.String gives. Columns are separated by at least two
// spaces. The TOTAL row counts every subscription the bus ever had, so it
// exceeds the sum of the rows when subs leaves some out: pass
// Bus.SubscriptionStats() for every live subscription, or, after Close,
// the Stats of the subscriptions whose handles were kept. The published
// line gives the number with no subscriber only when it is not zero.
//
// WriteStatsTable does not modify subs. It returns the first error from w.
func WriteStatsTable(w io.Writer, subs []SubscriptionStats, bus BusStats) error {
	rows := slices.Clone(subs)
	slices.SortStableFunc(rows, func(a, b SubscriptionStats) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), strings.Compare(a.Subscriber, b.Subscriber))
	})

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if _, err := io.WriteString(tw, "TOPIC\tSUBSCRIBER\tENQUEUED\tDELIVERED\tFAILED\tRETRIED\tDEAD-LETTERED\tDROPPED\tPENDING\n"); err != nil {
		return err
	}
	for _, s := range rows {
		if err := writeStatsRow(tw, s.Topic, s.Subscriber, s); err != nil {
			return err
		}
	}
	if err := writeStatsRow(tw, "TOTAL", "", bus.Totals); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	line := fmt.Sprintf("Published %s on %s", plural(bus.Published, "event", "events"), plural(bus.Topics, "topic", "topics"))
	if bus.NoSubscribers > 0 {
		line += fmt.Sprintf(" (%d with no subscriber)", bus.NoSubscribers)
	}
	_, err := io.WriteString(w, line+".\n")
	return err
}

// writeStatsRow writes one row of WriteStatsTable's table.
func writeStatsRow(w io.Writer, topic, subscriber string, s SubscriptionStats) error {
	_, err := fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", topic, subscriber,
		s.Enqueued, s.Delivered, s.Failed, s.Retried, s.DeadLettered, s.Dropped.Total(),
		s.QueueLength+s.InFlight)
	return err
}
