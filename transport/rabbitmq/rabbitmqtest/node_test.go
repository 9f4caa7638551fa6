package rabbitmqtest

import (
	"errors"
	"strings"
	"testing"
	"time"
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

// A node starts, takes connections, restarts with its data and closes,
// leaving nothing behind.
func TestNodeLifecycle(t *testing.T) {
	n, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Restart(); err != nil {
		t.Errorf("Restart: %v", err)
	}
	if err := n.Resume(); err == nil {
		t.Error("Resume of a running node succeeded")
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := n.Stop(); err != nil {
		t.Errorf("Stop after Close: %v", err)
	}
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
