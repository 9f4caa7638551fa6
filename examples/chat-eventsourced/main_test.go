package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore/postgres/pgtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// readModelLines returns the lines of the read model's report.
func readModelLines(out string) []string {
	var lines []string
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "[read model]") {
			lines = append(lines, line)
		}
	}
	return lines
}

// TestRunsKeepAndRebuildTheReadModel runs the demo three times on one
// SQLite file: the read model keeps the open conversations of every run,
// and rebuilding it from the events gives it back as it was, plus the
// third run's.
func TestRunsKeepAndRebuildTheReadModel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "chat.db")
	checkRuns(t, func(rebuild bool) (string, error) {
		var out bytes.Buffer
		err := runSQLite(ctx, &out, path, rebuild)
		return out.String(), err
	})
}

// TestRunsOverPostgres is TestRunsKeepAndRebuildTheReadModel on a
// database of a PostgreSQL server that the test starts.
func TestRunsOverPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	url, err := srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkRuns(t, func(rebuild bool) (string, error) {
		var out bytes.Buffer
		err := runPostgres(ctx, &out, url, rebuild)
		return out.String(), err
	})
}

// checkRuns runs the demo three times through run, the third time
// rebuilding the read model, and checks what they print.
func checkRuns(t *testing.T, run func(rebuild bool) (string, error)) {
	t.Helper()
	runOnce := func(rebuild bool) string {
		t.Helper()
		out, err := run(rebuild)
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out)
		}
		return out
	}

	first := runOnce(false)
	for _, want := range []string{
		"[store] 0 events stored before this run\n",
		"[transcript] c1 alice: Hi, my order is late.\n",
		"[transcript] c1 ai: Thanks, alice. An agent will be with you shortly.\n",
		"[notify] bob: conversation c1 is yours\n",
		"[transcript] c1 bob: It ships today, sorry for the wait.\n",
		"[transcript] c2 ai: Thanks, carol. An agent will be with you shortly.\n",
		"[transcript] c1 closed\n",
		"[store] a message after the close is refused: c1: the conversation is closed\n",
		"[analytics] c1: 4 messages this run\n",
		"[read model]   c2: 2 messages, no agent yet\n",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("the first run's output lacks %q:\n%s", want, first)
		}
	}
	if n := strings.Count(first, "[ai] replied"); n != 2 {
		t.Errorf("the AI replied %d times, want 2 (before an agent was assigned):\n%s", n, first)
	}

	second := runOnce(false)
	if !strings.Contains(second, "[store] 8 events stored before this run\n") {
		t.Errorf("the second run does not find the first's 8 events:\n%s", second)
	}
	wantModel := []string{
		"[read model] 2 open conversations:\n",
		"[read model]   c10: 2 messages, no agent yet\n",
		"[read model]   c2: 2 messages, no agent yet\n",
	}
	if got := readModelLines(second); strings.Join(got, "") != strings.Join(wantModel, "") {
		t.Errorf("the read model after two runs:\n%s\nwant:\n%s", strings.Join(got, ""), strings.Join(wantModel, ""))
	}

	third := runOnce(true)
	if !strings.Contains(third, "[store] read model emptied, to be rebuilt from the first event\n") {
		t.Errorf("the rebuild is not reported:\n%s", third)
	}
	wantModel = []string{
		"[read model] 3 open conversations:\n",
		"[read model]   c10: 2 messages, no agent yet\n",
		"[read model]   c18: 2 messages, no agent yet\n",
		"[read model]   c2: 2 messages, no agent yet\n",
	}
	if got := readModelLines(third); strings.Join(got, "") != strings.Join(wantModel, "") {
		t.Errorf("the rebuilt read model:\n%s\nwant:\n%s\n%s", strings.Join(got, ""), strings.Join(wantModel, ""), third)
	}
	if strings.Contains(third, "[transcript] c1 ") {
		t.Errorf("the outbox published the first run's events again:\n%s", third)
	}
}
