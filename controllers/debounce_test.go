package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestDebouncer(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		touches []time.Duration // after start
		at      time.Duration
		want    time.Duration
	}{
		{name: "no event", at: 0, want: 0},
		{name: "right after an event", touches: []time.Duration{0}, at: 0, want: time.Second},
		{name: "quiet period over", touches: []time.Duration{0}, at: time.Second, want: 0},
		{name: "a later event extends the wait", touches: []time.Duration{0, 800 * time.Millisecond}, at: time.Second, want: 1400 * time.Millisecond},
		{name: "max wait caps a steady stream", touches: []time.Duration{0, 4 * time.Second, 4900 * time.Millisecond}, at: 4900 * time.Millisecond, want: 100 * time.Millisecond},
		{name: "max wait reached", touches: []time.Duration{0, 4 * time.Second, 5 * time.Second}, at: 5 * time.Second, want: 0},
		{name: "a slow steady stream waits twice its mean gap", touches: []time.Duration{0, 1200 * time.Millisecond}, at: 2500 * time.Millisecond, want: 1100 * time.Millisecond},
		{name: "the pause is capped", touches: []time.Duration{0, 2 * time.Second}, at: 2 * time.Second, want: 2500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			d := newDebouncer(time.Second, 2500*time.Millisecond, 5*time.Second)
			for _, at := range tc.touches {
				d.now = func() time.Time { return start.Add(at) }
				d.touch("org")
			}
			d.now = func() time.Time { return start.Add(tc.at) }
			g.Expect(d.wait("org")).To(Equal(tc.want))
			d.done("org")
			g.Expect(d.wait("org")).To(BeZero())
		})
	}
}
