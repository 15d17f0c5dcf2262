package directory

import (
	"testing"

	. "github.com/onsi/gomega"
)

func TestSlowWatcherIsClosedWithoutBlockingOthers(t *testing.T) {
	g := NewWithT(t)
	h := newHub(16)
	slow := &watcher{in: make(chan change, 2), done: make(chan struct{})}
	fast := &watcher{in: make(chan change, 16), done: make(chan struct{})}
	_, ok := h.subscribe(slow, 0)
	g.Expect(ok).To(BeTrue())
	_, ok = h.subscribe(fast, 0)
	g.Expect(ok).To(BeTrue())

	for rv := uint64(1); rv <= 5; rv++ {
		h.publish(change{kind: kindUser, user: "u", rv: rv})
	}

	g.Expect(slow.done).To(BeClosed(), "a watcher that fell behind is stopped")
	g.Expect(slow.lagging).NotTo(BeNil(), "and told to list again")
	g.Expect(fast.in).To(HaveLen(5), "the other watcher got every change")
	g.Expect(fast.done).NotTo(BeClosed())
	g.Expect(h.watchers).NotTo(HaveKey(slow))
}

func TestWatchResumesOnlyWithinHistory(t *testing.T) {
	g := NewWithT(t)
	h := newHub(3)
	h.startAt(10)
	for rv := uint64(11); rv <= 15; rv++ {
		h.publish(change{kind: kindUser, user: "u", rv: rv})
	}

	_, ok := h.subscribe(&watcher{in: make(chan change, 8), done: make(chan struct{})}, 9)
	g.Expect(ok).To(BeFalse(), "before the cache's start there is no history")
	_, ok = h.subscribe(&watcher{in: make(chan change, 8), done: make(chan struct{})}, 11)
	g.Expect(ok).To(BeFalse(), "history holds only the last 3 changes")

	replay, ok := h.subscribe(&watcher{in: make(chan change, 8), done: make(chan struct{})}, 13)
	g.Expect(ok).To(BeTrue())
	g.Expect(replay).To(HaveLen(2))
	g.Expect(replay[0].rv).To(Equal(uint64(14)))
}
