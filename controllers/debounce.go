package controllers

import (
	"sync"
	"time"
)

// debouncer holds back a status write while events for the same object keep
// coming: the write happens once the events pause, or at the latest maxWait
// after the first held-back event. A pause is quiet, or twice the mean gap
// between the events held back so far when that is longer (at most
// maxQuiet), so that a slow but steady stream still counts as one burst.
// During a bulk apply an Organization's members arrive over the whole apply;
// this turns one status write per member into one per organization (plus one
// per maxWait).
type debouncer struct {
	quiet, maxQuiet, maxWait time.Duration
	now                      func() time.Time

	mu      sync.Mutex
	pending map[string]burst
}

type burst struct {
	first, last time.Time
	events      int
}

func newDebouncer(quiet, maxQuiet, maxWait time.Duration) *debouncer {
	return &debouncer{quiet: quiet, maxQuiet: maxQuiet, maxWait: maxWait, now: time.Now, pending: map[string]burst{}}
}

// touch records an event for key.
func (d *debouncer) touch(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	b, ok := d.pending[key]
	if !ok {
		b.first = now
	}
	b.last = now
	b.events++
	d.pending[key] = b
}

// wait is how long the write for key should still be held back; 0 means
// write now.
func (d *debouncer) wait(key string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.pending[key]
	if !ok {
		return 0
	}
	now := d.now()
	quiet := d.quiet
	if b.events > 1 {
		gap := b.last.Sub(b.first) / time.Duration(b.events-1)
		quiet = max(quiet, min(2*gap, d.maxQuiet))
	}
	due := b.last.Add(quiet)
	if capped := b.first.Add(d.maxWait); capped.Before(due) {
		due = capped
	}
	if !now.Before(due) {
		return 0
	}
	return due.Sub(now)
}

// done forgets the events of key once its status has been written.
func (d *debouncer) done(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.pending, key)
}
