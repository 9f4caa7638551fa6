package browsertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chatProcess is the chat example running with -debug as a child process
// of the test.
type chatProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string           // the debug page's URL
	lines <-chan string    // the rest of its standard output
	done  <-chan error     // Wait's result
	out   *strings.Builder // everything it printed, for failures
}

// startChat builds the chat example and runs it with -debug on a free
// 127.0.0.1 port; it returns once the script has played and the chat reads
// its standard input. The process is interrupted, and waited for, when the
// test ends.
func startChat(t *testing.T) *chatProcess {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chat")
	build := exec.Command("go", "build", "-o", bin, "./examples/chat")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the chat example: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-debug", "127.0.0.1:0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the chat example: %v", err)
	}
	p := &chatProcess{cmd: cmd, stdin: stdin, out: new(strings.Builder)}
	lines := make(chan string, 256)
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	p.lines, p.done = lines, done
	t.Cleanup(func() { p.stop(t) })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for p.url == "" {
		line, err := p.next(ctx)
		if err != nil {
			t.Fatalf("the chat example printed no debug page URL: %v\n%s", err, p.out)
		}
		if u, ok := strings.CutPrefix(line, "debug page: "); ok {
			p.url = u
		}
	}
	p.waitFor(t, ctx, "Type a message")
	return p
}

// next returns the next line the chat printed.
func (p *chatProcess) next(ctx context.Context) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", errors.New("the chat example exited")
		}
		p.out.WriteString(line + "\n")
		return line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// waitFor reads the chat's output up to a line that contains text.
func (p *chatProcess) waitFor(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	for {
		line, err := p.next(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v\n%s", text, err, p.out)
		}
		if strings.Contains(line, text) {
			return
		}
	}
}

// send types a line on the chat's standard input.
func (p *chatProcess) send(t *testing.T, line string) {
	t.Helper()
	if _, err := fmt.Fprintln(p.stdin, line); err != nil {
		t.Fatalf("type %q: %v", line, err)
	}
}

// stop interrupts the chat, as Ctrl-C would, and waits for it to exit,
// killing it if it does not within a minute.
func (p *chatProcess) stop(t *testing.T) {
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(os.Interrupt)
	go func() {
		for range p.lines { // drain, so that the reader can finish
		}
	}()
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Errorf("the chat example: %v", err)
		}
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("the chat example did not stop when interrupted")
	}
}
