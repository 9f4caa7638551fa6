package main

import (
	"os/exec"
	"syscall"
)

// detachRedis puts the redis-server child cmd in a process group of its
// own, so that Ctrl-C in the terminal reaches this program only, which
// stops the server once its buses are closed; and has the kernel kill the
// server should this program end without stopping it.
func detachRedis(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
