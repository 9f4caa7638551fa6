package rabbitmq

import (
	"strings"
	"testing"
)

// Without the server's scripts, starting a node fails with the command
// that installs them.
func TestMissingServerNamesTheInstallCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, _, _, err := findRabbitMQ(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y --no-install-recommends rabbitmq-server") {
		t.Fatalf("findRabbitMQ without the server: %v, want the install command", err)
	}
}
