package rabbitmqtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Without the server's scripts, Start fails with the command that installs
// them.
func TestMissingServerNamesTheInstallCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, _, _, err := findRabbitMQ(t.TempDir())
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), InstallCommand) {
		t.Fatalf("findRabbitMQ without the server: %v, want ErrNotInstalled naming the install command", err)
	}
}

// A node starts, takes connections, restarts and crashes with its data,
// keeping the confirmed messages of a quorum queue, and closes, leaving
// nothing behind.
func TestNodeLifecycle(t *testing.T) {
	n, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	const queue = "lifecycle"
	publish(t, n, queue, 100)
	if err := n.Restart(); err != nil {
		t.Errorf("Restart: %v", err)
	}
	if err := n.Resume(); err == nil {
		t.Error("Resume of a running node succeeded")
	}
	publish(t, n, queue, 100)
	if err := n.Crash(); err != nil {
		t.Errorf("Crash: %v", err)
	}
	// The first publish after the crash is confirmed, and the queue kept
	// every message confirmed before.
	if got := publish(t, n, queue, 1); got != 201 {
		t.Errorf("after Restart and Crash the queue holds %d messages, want 201", got)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := n.Stop(); err != nil {
		t.Errorf("Stop after Close: %v", err)
	}
	if err := n.Kill(); err != nil {
		t.Errorf("Kill after Close: %v", err)
	}
}

// publish declares the quorum queue and publishes count persistent
// messages to it, each confirmed before the next, and returns the number
// of messages the queue holds then.
func publish(tb testing.TB, n *Node, queue string, count int) int {
	tb.Helper()
	conn, err := amqp.DialConfig(n.URL(), amqp.Config{Dial: amqp.DefaultDial(10 * time.Second)})
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		tb.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		tb.Fatal(err)
	}
	args := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, args); err != nil {
		tb.Fatal(err)
	}
	for i := range count {
		dc, err := ch.PublishWithDeferredConfirm("", queue, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: fmt.Append(nil, i)})
		if err != nil {
			tb.Fatal(err)
		}
		timer := time.NewTimer(20 * time.Second)
		select {
		case <-dc.Done():
		case <-timer.C:
			tb.Fatalf("no confirm for message %d within 20s", i)
		}
		timer.Stop()
		if !dc.Acked() {
			tb.Fatalf("message %d nacked", i)
		}
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, args)
	if err != nil {
		tb.Fatal(err)
	}
	return q.Messages
}

// A child ends with its lifeline: when the pipe closes, as it does when
// the process that started it dies, the child is stopped.
func TestChildEndsWithItsLifeline(t *testing.T) {
	c, err := startChild(nil, nil, "sleep", "600")
	if err != nil {
		t.Fatal(err)
	}
	if !c.stop(10 * time.Second) {
		t.Fatal("the child outlived its lifeline and had to be killed")
	}
}
