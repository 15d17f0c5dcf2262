package directory

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
)

// stream is the outgoing side of a watch, shared by the watches of users
// and of memberships: the events to the client, and what ends them (the
// client's Stop, or the watch falling too far behind).
type stream struct {
	out chan watch.Event
	// resource labels the watch in the metrics: users or memberships.
	resource string

	once, overflowed sync.Once
	done, lagging    chan struct{}
}

func newStream(buffer int, resource string) stream {
	return stream{out: make(chan watch.Event, buffer), resource: resource, done: make(chan struct{}), lagging: make(chan struct{})}
}

// begin counts the watch as open; finish, when it ends, closes its stream.
func (s *stream) begin() { watchersOpen.WithLabelValues(s.resource).Inc() }

func (s *stream) finish() {
	watchersOpen.WithLabelValues(s.resource).Dec()
	close(s.out)
}

func (s *stream) ResultChan() <-chan watch.Event { return s.out }

func (s *stream) Stop() { s.stop() }

func (s *stream) stop() { s.once.Do(func() { close(s.done) }) }

// overflow marks the watch as too far behind: it stops what it is doing
// and ends its stream with a 410 the client cannot miss.
func (s *stream) overflow() {
	s.overflowed.Do(func() {
		watchersDropped.WithLabelValues(s.resource).Inc()
		close(s.lagging)
	})
}

func (s *stream) isLagging() bool {
	select {
	case <-s.lagging:
		return true
	default:
		return false
	}
}

// send hands e to the client, unless the watch has ended.
func (s *stream) send(ctx context.Context, e watch.Event) bool {
	select {
	case s.out <- e:
		return true
	case <-s.lagging:
		return false
	case <-s.done:
		return false
	case <-ctx.Done():
		return false
	}
}

// sendGone ends the stream of a watch that fell too far behind with a 410,
// waiting for the client to take it: it then lists again on purpose rather
// than missing changes.
func (s *stream) sendGone(ctx context.Context) {
	if !s.isLagging() {
		return
	}
	gone := watch.Event{Type: watch.Error, Object: statusOf(apierrors.NewResourceExpired("the watch fell too far behind; list again"))}
	select {
	case s.out <- gone:
	case <-s.done:
	case <-ctx.Done():
	}
}
