package query

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestConcurrentReaders runs readers against one writer (meant for -race):
// every snapshot a reader takes must stay self-consistent while the writer
// goes on.
func TestConcurrentReaders(t *testing.T) {
	g := NewWithT(t)
	ix := NewIndex()
	for i := range 2000 {
		ix.UpsertUser(User{Name: fmt.Sprintf("u%d", i), ID: int64(i + 1), Username: fmt.Sprintf("user%d", i), LastName: "Smith"})
	}
	ix.UpsertOrganization(Organization{Slug: "acme", ID: 1})
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	// The test means something only if readers read while the writer
	// wrote: count those reads and the snapshots they saw.
	var writing atomic.Bool
	var overlapping atomic.Int64
	var seenMu sync.Mutex
	seen := map[*Snapshot]bool{}
	var started sync.WaitGroup
	started.Add(3)
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			warm := false
			for {
				select {
				case <-done:
					return
				default:
				}
				s := ix.Snapshot()
				if writing.Load() {
					overlapping.Add(1)
					seenMu.Lock()
					seen[s] = true
					seenMu.Unlock()
				}
				req, _ := ParseListRequest(map[string][]string{"sort": {"last_name"}, "page_size": {"50"}, "page": {"last"}}, nil, ParseOptions{})
				first, err := s.List(Caller{Admin: true}, req)
				if err == nil {
					var second *Result
					second, err = s.List(Caller{Admin: true}, req)
					if err == nil && (first.Count != s.size() || fmt.Sprint(first) != fmt.Sprint(second)) {
						err = fmt.Errorf("reader %d: snapshot changed under it: %d of %d", r, first.Count, s.size())
					}
				}
				if err != nil {
					errs <- err
					return
				}
				if !warm {
					warm = true
					started.Done()
				}
			}
		}()
	}
	started.Wait()
	writing.Store(true)
	rnd := rand.New(rand.NewPCG(1, 1))
	for i := range 3000 {
		if i%1000 == 0 {
			// Readers read at several points of the writes, not only
			// after them, however the machine schedules the goroutines.
			read := overlapping.Load()
			for deadline := time.Now().Add(10 * time.Second); overlapping.Load() == read && time.Now().Before(deadline); {
				runtime.Gosched()
			}
		}
		if i%100 == 0 {
			runtime.Gosched()
		}
		n := fmt.Sprintf("u%d", rnd.IntN(2500))
		switch rnd.IntN(4) {
		case 0:
			ix.DeleteUser(n)
		case 1:
			ix.UpsertMembership(Membership{Name: n, Organization: "acme", User: n, Active: true})
		default:
			ix.UpsertUser(User{Name: n, ID: int64(i), Username: n, LastName: fmt.Sprint(rnd.IntN(50))})
		}
	}
	// Let the readers see the last writes too (a reader that failed has
	// stopped: the deadline ends the wait, and the errors are reported).
	for deadline := time.Now().Add(10 * time.Second); overlapping.Load() < 3 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	writing.Store(false)
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(overlapping.Load()).To(BeNumerically(">=", 3), "readers read while the writer wrote")
	g.Expect(len(seen)).To(BeNumerically(">=", 2), "readers saw more than one generation of the index")
}
