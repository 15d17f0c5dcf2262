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

	once, overflowed sync.Once
	done, lagging    chan struct{}
}

func newStream(buffer int) stream {
	return stream{out: make(chan watch.Event, buffer), done: make(chan struct{}), lagging: make(chan struct{})}
}

func (s *stream) ResultChan() <-chan watch.Event { return s.out }

func (s *stream) Stop() { s.stop() }

func (s *stream) stop() { s.once.Do(func() { close(s.done) }) }

// overflow marks the watch as too far behind: it stops what it is doing
// and ends its stream with a 410 the client cannot miss.
func (s *stream) overflow() { s.overflowed.Do(func() { close(s.lagging) }) }

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
