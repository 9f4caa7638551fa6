package testkit

import (
	"context"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRecvReturnsTheValue(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Recv(t, ch, "seven"); got != 7 {
		t.Fatalf("got %d", got)
	}
}

func TestWaitSpyClosesWaitingOnDone(t *testing.T) {
	spy := NewWaitSpy(context.Background())
	select {
	case <-spy.Waiting():
		t.Fatal("waiting before Done")
	default:
	}
	_ = spy.Done()
	_ = spy.Done()
	<-spy.Waiting()
}
