package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redisInstallCommand installs redis-server on Debian and Ubuntu.
const redisInstallCommand = "apt-get install -y --no-install-recommends redis-server"

// redisStartTimeout bounds the wait for redis-server to accept
// connections.
const redisStartTimeout = 15 * time.Second

// redisReadyLine is what redis-server logs once it accepts connections.
const redisReadyLine = "Ready to accept connections"

// redisServer is a redis-server child process of this program.
type redisServer struct {
	url    string // where it listens: redis://host:port
	pid    int
	dir    string // its data directory, removed by stop
	cmd    *exec.Cmd
	exited chan error // receives what Wait returned, once
	once   sync.Once
}

// startRedis starts redis-server as a child process listening on the host
// and port of addr (a redis:// URL or host:port; port 0: a free port),
// with its data in a new temporary directory: an append-only file
// (appendonly yes) and no snapshots. It returns once the server accepts
// connections. If redis-server is not on the PATH, the error says how to
// install it. Stop the server with stop.
func startRedis(addr string) (*redisServer, error) {
	u := &url.URL{Scheme: "redis", Host: addr}
	if strings.Contains(addr, "://") {
		var err error
		if u, err = url.Parse(addr); err != nil {
			return nil, fmt.Errorf("-redis: %w", err)
		}
	}
	host := u.Hostname()
	port, err := strconv.Atoi(u.Port())
	if err != nil || host == "" {
		return nil, fmt.Errorf("-redis %q: want host:port", addr)
	}
	if port == 0 {
		if port, err = freePort(host); err != nil {
			return nil, fmt.Errorf("-redis %q: %w", addr, err)
		}
	}
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))

	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (%w); install it, as root, with: %s", err, redisInstallCommand)
	}
	dir, err := os.MkdirTemp("", "chat-distributed-redis-")
	if err != nil {
		return nil, err
	}
	log := &redisLog{ready: make(chan struct{})}
	cmd := exec.Command(bin,
		"--bind", host, "--port", strconv.Itoa(port),
		"--dir", dir, "--appendonly", "yes", "--save", "",
		"--daemonize", "no", "--logfile", "")
	cmd.Stdout, cmd.Stderr = log, log
	// Wait returns at most this long after the server exits, should a
	// process it forked still hold its output.
	cmd.WaitDelay = 2 * time.Second
	detachRedis(cmd)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	s := &redisServer{url: u.String(), pid: cmd.Process.Pid, dir: dir, cmd: cmd, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()

	timer := time.NewTimer(redisStartTimeout)
	defer timer.Stop()
	select {
	case <-log.ready:
		return s, nil
	case err := <-s.exited:
		os.RemoveAll(dir)
		return nil, fmt.Errorf("redis-server on %s exited at start (%v):\n%s", u.Host, err, log.String())
	case <-timer.C:
		s.stop()
		return nil, fmt.Errorf("redis-server on %s not ready within %v:\n%s", u.Host, redisStartTimeout, log.String())
	}
}

// stop kills the server, waits until the process is gone and removes its
// data directory. It may be called again.
func (s *redisServer) stop() {
	s.once.Do(func() {
		// Kill fails if the process has exited already; Wait has it then.
		_ = s.cmd.Process.Kill()
		<-s.exited
		os.RemoveAll(s.dir)
	})
}

// freePort returns a TCP port that is free on host at the time of the
// call.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// redisLog is where redis-server writes its log. It keeps the log until
// the server is ready, to show it should the server not start, and closes
// ready once the log says that the server accepts connections.
type redisLog struct {
	ready chan struct{} // closed at the ready line

	mu      sync.Mutex
	buf     strings.Builder
	isReady bool
}

func (l *redisLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isReady {
		return len(p), nil
	}
	l.buf.Write(p)
	if strings.Contains(l.buf.String(), redisReadyLine) {
		l.isReady = true
		close(l.ready)
	}
	return len(p), nil
}

func (l *redisLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
