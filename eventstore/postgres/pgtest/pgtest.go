// Package pgtest starts a PostgreSQL server of a test's own, as a child
// process of the test binary: a cluster made by initdb in a temp dir,
// listening on a free port of 127.0.0.1 and on a unix socket in the temp
// dir, with fsync off. initdb and postgres refuse to run as root, so when
// the tests run as root both run as the user nobody, owner of the temp dir.
// The binaries are found on PATH or in Debian's
// /usr/lib/postgresql/<version>/bin; when they are missing, Start fails
// with the command that installs them.
package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallCommand installs the server, on Debian or Ubuntu, as root.
const InstallCommand = "apt-get install -y --no-install-recommends postgresql"

// serverStartTimeout bounds how long Start and Restart wait for the
// server to accept connections.
const serverStartTimeout = 60 * time.Second

// Server is a PostgreSQL server, a child process of the test binary. Make
// one with Start and end it with Close.
type Server struct {
	bin  string // the directory of initdb and postgres
	dir  string // the temp dir: data/ and the socket
	port int
	cred *syscall.Credential // nil unless running as root

	dbs atomic.Int64 // databases created

	mu   sync.Mutex
	cmd  *exec.Cmd
	eof  chan struct{} // the log reader is done
	logs *logBuffer
}

// Start makes a cluster in a new temp dir and starts its server. It
// fails, with the command that installs PostgreSQL, if the binaries are
// missing.
func Start() (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "eventstore-postgres-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir}
	if err := s.init(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if s.port, err = freePort(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := s.start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// findBinaries returns the directory that holds initdb and postgres: the
// one of initdb on PATH, or Debian's /usr/lib/postgresql/<version>/bin of
// the highest version.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL is not installed (no initdb on PATH nor in /usr/lib/postgresql/*/bin); install it (as root) with: %s", InstallCommand)
}

// init runs initdb, as nobody when running as root.
func (s *Server) init() error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return fmt.Errorf("running as root, and no user nobody to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return err
		}
	}
	cmd := exec.Command(filepath.Join(s.bin, "initdb"), "-D", s.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v:\n%s", err, out)
	}
	return nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start starts postgres and waits until its log says it accepts
// connections.
func (s *Server) start() error {
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir(),
		"-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=300",
		"-c", "log_min_messages=warning", "-c", "log_min_error_statement=panic")
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	out, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	ready, eof := make(chan struct{}), make(chan struct{})
	logs := &logBuffer{}
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			logs.add(sc.Text())
			if !signalled && strings.Contains(sc.Text(), "database system is ready to accept connections") {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	s.mu.Lock()
	s.cmd, s.eof, s.logs = cmd, eof, logs
	s.mu.Unlock()
	timer := time.NewTimer(serverStartTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case <-eof:
		_ = cmd.Wait()
		s.mu.Lock()
		s.cmd = nil
		s.mu.Unlock()
		return fmt.Errorf("postgres on port %d exited at start:\n%s", s.port, logs)
	case <-timer.C:
		s.stop(syscall.SIGQUIT)
		return fmt.Errorf("postgres on port %d not ready within %v:\n%s", s.port, serverStartTimeout, logs)
	}
}

// stop sends sig to the server and waits until it is gone: SIGINT shuts
// it down, SIGQUIT ends it at once, as a crash would, leaving the
// recovery of its data to the next start. It may be called again.
func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	<-s.eof
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart ends the server as a crash would and starts it again on the
// same port and data.
func (s *Server) Restart() error {
	s.stop(syscall.SIGQUIT)
	return s.start()
}

// Close shuts the server down and removes its temp dir.
func (s *Server) Close() error {
	s.stop(syscall.SIGINT)
	return os.RemoveAll(s.dir)
}

// url returns the URL of database db over TCP.
func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&pool_max_conns=16", s.port, db)
}

// CreateDatabase creates a new, empty database and returns its URL, for
// the user postgres over TCP, with a pool of at most 16 connections.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := "store_" + strconv.FormatInt(s.dbs.Add(1), 10)
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", s.dir, s.port))
	if err != nil {
		return "", fmt.Errorf("connect over the unix socket: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.url(name), nil
}

// logBuffer keeps the server's log.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
