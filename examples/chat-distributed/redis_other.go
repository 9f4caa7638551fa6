//go:build !unix

package main

import "os/exec"

// detachRedis leaves the redis-server child cmd as it is: Ctrl-C in the
// terminal may reach it too, and then it stops at once.
func detachRedis(*exec.Cmd) {}
