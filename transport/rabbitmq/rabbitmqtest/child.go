package rabbitmqtest

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// lifeline runs its arguments in the background and sends them SIGTERM,
// then waits for them, once its standard input reaches its end: when the
// process that started it closes the pipe's other end, or dies.
const lifeline = `"$@" </dev/null & pid=$!; read -r _; kill "$pid"; wait "$pid"`

// child is a process started under a lifeline, in a process group of its
// own: the server does not outlive the process that started it, even one
// that panics or is killed.
type child struct {
	cmd    *exec.Cmd
	line   *os.File // the write end of the lifeline's pipe
	exited chan struct{}
}

// startChild starts name with args under a lifeline, with env, writing
// its output to out (discarded if nil).
func startChild(env []string, out *os.File, name string, args ...string) (*child, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", append([]string{"-c", lifeline, "lifeline", name}, args...)...)
	cmd.Env = env
	cmd.Stdin = r
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, err
	}
	c := &child{cmd: cmd, line: w, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // stopped on purpose: its status says nothing more
		close(c.exited)
	}()
	return c, nil
}

// stop cuts the lifeline and waits for the process to exit, killing its
// process group after timeout; it reports whether it exited in time.
func (c *child) stop(timeout time.Duration) bool {
	c.line.Close()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.exited:
		return true
	case <-timer.C:
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.exited
		return false
	}
}

// kill kills the process group at once (SIGKILL), waits for the process
// to exit and cuts the lifeline.
func (c *child) kill() {
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.exited
	c.line.Close()
}
