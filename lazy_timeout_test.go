package eventbus

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLazyTimeout(t *testing.T) {
	t.Run("ends at its deadline once Done is asked for", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			ctx := newLazyTimeout(10 * time.Second)
			defer ctx.stop()
			deadline, ok := ctx.Deadline()
			require.True(t, ok)
			assert.Equal(t, start.Add(10*time.Second), deadline)
			assert.NoError(t, ctx.Err())
			<-ctx.Done()
			assert.Equal(t, 10*time.Second, time.Since(start))
			assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
		})
	})
	t.Run("reports its deadline without a timer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := newLazyTimeout(time.Second)
			defer ctx.stop()
			time.Sleep(time.Second) // virtual time
			assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
			select {
			case <-ctx.Done():
			default:
				t.Fatal("Done asked for after the deadline is not closed")
			}
		})
	})
	t.Run("stop cancels it before and after Done", func(t *testing.T) {
		ctx := newLazyTimeout(time.Minute)
		ctx.stop()
		assert.ErrorIs(t, ctx.Err(), context.Canceled)
		<-ctx.Done()
		assert.ErrorIs(t, ctx.Err(), context.Canceled)

		ctx = newLazyTimeout(time.Minute)
		done := ctx.Done()
		ctx.stop()
		<-done
		assert.ErrorIs(t, ctx.Err(), context.Canceled)
	})
	t.Run("a child ends with it", func(t *testing.T) {
		ctx := newLazyTimeout(time.Minute)
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		ctx.stop()
		<-child.Done()
		assert.ErrorIs(t, child.Err(), context.Canceled)
		assert.Nil(t, ctx.Value("any"))
	})
}
