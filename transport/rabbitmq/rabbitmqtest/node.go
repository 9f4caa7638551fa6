package rabbitmqtest

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// InstallCommand installs the RabbitMQ server on Debian.
const InstallCommand = "apt-get install -y --no-install-recommends rabbitmq-server"

// ErrNotInstalled is wrapped by the error of Start when rabbitmq-server or
// epmd cannot be found; its message names InstallCommand.
var ErrNotInstalled = errors.New("eventbus/rabbitmq/rabbitmqtest: rabbitmq-server is not installed; install it with: " + InstallCommand)

const (
	// nodeStartTimeout bounds the wait for the node to start
	// (rabbitmqctl wait), and nodeStopTimeout for it to stop.
	nodeStartTimeout = 90 * time.Second
	nodeStopTimeout  = 30 * time.Second
)

// Node is a RabbitMQ node of its own. Its methods are not safe for
// concurrent use.
type Node struct {
	dir      string
	name     string
	port     int
	server   string // the rabbitmq-server script
	ctl      string // rabbitmqctl
	env      []string
	epmd     *child
	cmd      *child // the running server, or nil
	serverLo *os.File
}

// debianScripts is where Debian's rabbitmq-server package keeps the
// scripts that run the node as the calling user, unlike the wrappers it
// puts in /usr/sbin.
const debianScripts = "/usr/lib/rabbitmq/bin"

// findRabbitMQ returns the paths of rabbitmq-server and rabbitmqctl, in
// dir or else on PATH, and of epmd, on PATH.
func findRabbitMQ(dir string) (server, ctl, epmd string, err error) {
	if _, err := os.Stat(filepath.Join(dir, "rabbitmq-server")); err != nil {
		path, lookErr := exec.LookPath("rabbitmq-server")
		if lookErr != nil {
			return "", "", "", fmt.Errorf("%w (%v)", ErrNotInstalled, lookErr)
		}
		dir = filepath.Dir(path)
	}
	epmd, err = exec.LookPath("epmd")
	if err != nil {
		return "", "", "", fmt.Errorf("%w: epmd (Erlang) not found (%v)", ErrNotInstalled, err)
	}
	return filepath.Join(dir, "rabbitmq-server"), filepath.Join(dir, "rabbitmqctl"), epmd, nil
}

// freePort returns a port of 127.0.0.1 within [lo, hi) that nothing
// listens on.
func freePort(lo, hi int) (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(lo+rand.IntN(hi-lo)))
		if err != nil {
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		return port, nil
	}
	return 0, errors.New("eventbus/rabbitmq/rabbitmqtest: no free port on 127.0.0.1")
}

// Start starts a new node and waits until it accepts AMQP connections:
// rabbitmqctl wait blocks until the node runs (within 90 seconds), then one
// AMQP connection is opened and closed. Close the node when done.
func Start() (_ *Node, err error) {
	server, ctl, epmdBin, err := findRabbitMQ(debianScripts)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "eventbus-rabbitmq-")
	if err != nil {
		return nil, err
	}
	n := &Node{dir: dir, server: server, ctl: ctl}
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()
	// The AMQP and epmd ports are below the kernel's range of ports for
	// outgoing connections (32768 and up by default), so that none of
	// those takes the AMQP port while the server restarts.
	var ports [2]int
	for i := range ports {
		for ports[i] == 0 || i > 0 && ports[i] == ports[0] {
			if ports[i], err = freePort(10000, 20000); err != nil {
				return nil, err
			}
		}
	}
	// The CLI tools take ports from the distribution port + 10000 on,
	// which must stay below 65536.
	distPort, err := freePort(20000, 30000)
	if err != nil {
		return nil, err
	}
	n.port = ports[0]
	epmdPort := ports[1]
	n.name = fmt.Sprintf("eventbus-%d@localhost", n.port)
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	// The Erlang cookie, written before the server and rabbitmqctl start:
	// each would otherwise make one of its own when it finds none, and the
	// two, racing, could end with different cookies, which makes the node
	// refuse rabbitmqctl ("invalid challenge reply").
	var cookie [20]byte
	if _, err := crand.Read(cookie[:]); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(home, ".erlang.cookie"), []byte(strings.ToUpper(hex.EncodeToString(cookie[:]))), 0o400); err != nil {
		return nil, err
	}
	plugins := filepath.Join(dir, "enabled_plugins")
	if err := os.WriteFile(plugins, []byte("[].\n"), 0o600); err != nil { // management off
		return nil, err
	}
	env := make([]string, 0, len(os.Environ())+16)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RABBITMQ_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "ERL_") {
			env = append(env, kv)
		}
	}
	n.env = append(env,
		"HOME="+home, // the node's and the CLI's Erlang cookie
		"LC_ALL=C.UTF-8",
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
		"RABBITMQ_NODENAME="+n.name,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(n.port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "node.pid"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
	)
	// An epmd of the node's own, so that none is left running behind.
	if n.epmd, err = startChild(n.env, nil, epmdBin, "-port", strconv.Itoa(epmdPort), "-address", "127.0.0.1"); err != nil {
		return nil, fmt.Errorf("eventbus/rabbitmq/rabbitmqtest: start epmd: %w", err)
	}
	if err := n.Resume(); err != nil {
		return nil, err
	}
	return n, nil
}

// URL returns the node's AMQP URL, with the default guest user.
func (n *Node) URL() string {
	return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", n.port)
}

// Name returns the node's name, for rabbitmqctl -n.
func (n *Node) Name() string { return n.name }

// Resume starts the stopped server again with the node's data and port and
// waits, with rabbitmqctl wait, until it runs, then dials it once.
func (n *Node) Resume() error {
	if n.cmd != nil {
		return fmt.Errorf("eventbus/rabbitmq/rabbitmqtest: node %s is running", n.name)
	}
	logf, err := os.OpenFile(filepath.Join(n.dir, "server.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd, err := startChild(n.env, logf, n.server)
	if err != nil {
		logf.Close()
		return fmt.Errorf("eventbus/rabbitmq/rabbitmqtest: start %s: %w", n.server, err)
	}
	n.cmd, n.serverLo = cmd, logf
	ctx, cancel := context.WithTimeout(context.Background(), nodeStartTimeout)
	defer cancel()
	wait := exec.CommandContext(ctx, n.ctl, "-n", n.name, "wait", "--timeout", strconv.Itoa(int(nodeStartTimeout/time.Second)), filepath.Join(n.dir, "node.pid"))
	wait.Env = n.env
	if out, err := wait.CombinedOutput(); err != nil {
		return fmt.Errorf("eventbus/rabbitmq/rabbitmqtest: rabbitmqctl wait for node %s: %w\n%s\nserver output:\n%s", n.name, err, out, n.tail())
	}
	conn, err := amqp.Dial(n.URL())
	if err != nil {
		return fmt.Errorf("eventbus/rabbitmq/rabbitmqtest: dial node %s after it started: %w\nserver output:\n%s", n.name, err, n.tail())
	}
	return conn.Close()
}

// Stop stops the server (SIGTERM, an orderly shutdown as rabbitmqctl stop
// makes) and waits for it to exit, killing it after 30 seconds; the data
// stays for Resume. Stopping a stopped node does nothing.
func (n *Node) Stop() error {
	if n.cmd == nil {
		return nil
	}
	cmd := n.cmd
	n.cmd = nil
	defer n.serverLo.Close()
	if !cmd.stop(nodeStopTimeout) {
		return fmt.Errorf("eventbus/rabbitmq/rabbitmqtest: node %s did not stop within %v; killed", n.name, nodeStopTimeout)
	}
	return nil
}

// Restart stops the server and starts it again on the same port and data.
func (n *Node) Restart() error {
	if err := n.Stop(); err != nil {
		return err
	}
	return n.Resume()
}

// Kill kills the server (SIGKILL to the server and its start script), as
// a crash of its process would, and waits for it to exit; the data stays
// for Resume. What the server had written to its files survives, as it
// does a crash of the process (not of the machine, which would also lose
// what the kernel had not written to disk yet). The server keeps some of
// its state in DETS tables, which it saves about half a second after a
// change: among them Ra's directory of quorum queues, without which a
// quorum queue declared less than about a second before Kill comes back
// empty and without a leader, so that no publish to it is confirmed. Sync
// saves them at once. Killing a stopped node does nothing.
func (n *Node) Kill() error {
	if n.cmd == nil {
		return nil
	}
	cmd := n.cmd
	n.cmd = nil
	defer n.serverLo.Close()
	cmd.kill()
	// The server did not remove its pid file: rabbitmqctl wait in Resume
	// would read the dead one's pid.
	if err := os.Remove(filepath.Join(n.dir, "node.pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// ctlTimeout bounds each rabbitmqctl command of Ctl and Sync.
const ctlTimeout = 30 * time.Second

// Ctl runs rabbitmqctl with args against the running node (within 30
// seconds) and returns its output, without the trailing newline.
func (n *Node) Ctl(args ...string) (string, error) {
	if n.cmd == nil {
		return "", fmt.Errorf("eventbus/rabbitmq/rabbitmqtest: rabbitmqctl %s: node %s is not running", strings.Join(args, " "), n.name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.ctl, append([]string{"-n", n.name}, args...)...)
	cmd.Env = n.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("eventbus/rabbitmq/rabbitmqtest: rabbitmqctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Sync has the running server save every DETS table it has open
// (dets:sync, through rabbitmqctl eval), as it does by itself about half a
// second after a change; see Kill.
func (n *Node) Sync() error {
	out, err := n.Ctl("eval", "lists:foreach(fun(T) -> ok = dets:sync(T) end, dets:all()).")
	if err != nil {
		return err
	}
	if out != "ok" {
		return fmt.Errorf("eventbus/rabbitmq/rabbitmqtest: sync the DETS tables of node %s: %s", n.name, out)
	}
	return nil
}

// Crash saves the server's DETS tables (Sync), kills it (Kill) and starts
// it again on the same port and data (Resume): the crash of a node whose
// queues were declared more than a second before, and its start again.
func (n *Node) Crash() error {
	if err := n.Sync(); err != nil {
		return err
	}
	if err := n.Kill(); err != nil {
		return err
	}
	return n.Resume()
}

// Close stops the server and its epmd and removes the node's directory.
func (n *Node) Close() error {
	err := n.Stop()
	if n.epmd != nil {
		n.epmd.stop(nodeStopTimeout)
		n.epmd = nil
	}
	return errors.Join(err, os.RemoveAll(n.dir))
}

// tail returns the end of the server's output.
func (n *Node) tail() string {
	out, _ := os.ReadFile(filepath.Join(n.dir, "server.out"))
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	return string(out)
}
