package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// The directory's HTTP fuzz: requests built from the committed seed corpora
// in testdata/fuzz, mutated at random, sent through kube-apiserver as every
// kind of caller. No answer may be a 5xx, and the server may not log a panic.
// Writes always carry dryRun=All, so the seeded directory stays as it is.
//
// ROSTER_FUZZ_REQUESTS sets the number of requests (default 300; `make fuzz`
// sends many more) and ROSTER_FUZZ_SEED the seed (default Ginkgo's).

// corpus reads one seed file: a line per seed, # comments skipped, \n in a
// line standing for a newline.
func corpus(name string) []string {
	GinkgoHelper()
	f, err := os.Open(filepath.Join("testdata", "fuzz", name))
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.ReplaceAll(line, `\n`, "\n"))
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	return out
}

// fuzzer builds requests from the corpora.
type fuzzer struct {
	rnd                       *rand.Rand
	queries, patches, headers []string
}

// pieces the mutations insert: what parsers of queries, JSON and YAML trip on.
var fuzzPieces = []string{
	"", "%", "%00", "%ff", "&", "=", ",", "-", "\"", "'", "\\", "{", "}", "[", "]", ":", " ", "\t",
	"0", "-1", "1e309", "9223372036854775808", "null", "true", "NaN", "ü", "\u202e", "\U0001F600",
	"\xff\xfe", "self", "~", "..", "/", "?", "#", strings.Repeat("a", 300), strings.Repeat("[", 64),
}

// mutate changes s a few times: a byte flipped, a piece inserted, a part
// cut or repeated.
func (f *fuzzer) mutate(s string) string {
	b := []byte(s)
	for range f.rnd.IntN(4) {
		switch op := f.rnd.IntN(5); {
		case op == 0 && len(b) > 0:
			b[f.rnd.IntN(len(b))] ^= byte(1 << f.rnd.IntN(8))
		case op == 1:
			at := f.rnd.IntN(len(b) + 1)
			b = slices.Insert(b, at, []byte(fuzzPieces[f.rnd.IntN(len(fuzzPieces))])...)
		case op == 2 && len(b) > 1:
			at := f.rnd.IntN(len(b))
			b = slices.Delete(b, at, at+1+f.rnd.IntN(len(b)-at))
		case op == 3 && len(b) > 0:
			from := f.rnd.IntN(len(b))
			b = slices.Insert(b, from, b[from:min(len(b), from+1+f.rnd.IntN(16))]...)
		}
	}
	return string(b)
}

// query combines one to three seed queries, mutated.
func (f *fuzzer) query() string {
	var parts []string
	for range 1 + f.rnd.IntN(3) {
		parts = append(parts, f.mutate(f.queries[f.rnd.IntN(len(f.queries))]))
	}
	q := strings.Join(parts, "&")
	// A watch is a stream: the fuzz asks for lists only.
	v, err := url.ParseQuery(q)
	if err == nil && v.Has("watch") {
		v.Del("watch")
		q = v.Encode()
	}
	return strings.ReplaceAll(q, "watch=", "w=")
}

var fuzzNames = []string{"alice", "bob", "frank", "ivan", "self", "~", "2", "999", "nosuchuser", "ALICE", "a%2Fb", "..", "-"}

var fuzzPatchTypes = []string{
	"application/merge-patch+json", "application/json-patch+json",
	"application/strategic-merge-patch+json", "application/apply-patch+yaml",
}

// caller is one kind of caller the fuzz sends requests as.
type fuzzCaller struct {
	name string
	cfg  *rest.Config
}

var _ = Describe("Fuzz", func() {
	It("answers random requests from every kind of caller without a 5xx or a panic", func() {
		n := 300
		if v := os.Getenv("ROSTER_FUZZ_REQUESTS"); v != "" {
			var err error
			n, err = strconv.Atoi(v)
			Expect(err).NotTo(HaveOccurred())
		}
		seed := uint64(GinkgoRandomSeed())
		if v := os.Getenv("ROSTER_FUZZ_SEED"); v != "" {
			var err error
			seed, err = strconv.ParseUint(v, 10, 64)
			Expect(err).NotTo(HaveOccurred())
		}
		By(fmt.Sprintf("sending %d requests with seed %d", n, seed))
		f := &fuzzer{rnd: rand.New(rand.NewPCG(seed, 0x726f73746572)),
			queries: corpus("queries.txt"), patches: corpus("patches.txt"), headers: corpus("headers.txt")}

		// The server's log, to look for panics it recovered from.
		var logged syncBuffer
		klog.LogToStderr(false)
		klog.SetOutput(io.MultiWriter(os.Stderr, &logged))
		DeferCleanup(func() {
			klog.Flush()
			klog.SetOutput(os.Stderr)
			klog.LogToStderr(true)
		})

		callers := []fuzzCaller{
			{"administrator", as("admin")},
			{"administrator by group", as("root", "system:masters")},
			{"owner", as("alice")},
			{"maintainer", as("bob")},
			{"worker", as("dave")},
			{"pending invitee", as("grace")},
			{"member of another organization", as("frank")},
			{"inactive user", as("ivan")},
			{"caller with no User", as("nobody")},
		}
		clients := map[string]*http.Client{}
		for _, c := range callers {
			hc, err := rest.HTTPClientFor(c.cfg)
			Expect(err).NotTo(HaveOccurred())
			clients[c.name] = hc
		}
		histogram := map[int]int{}
		host := strings.TrimSuffix(adminCfg.Host, "/")
		for i := range n {
			c := callers[f.rnd.IntN(len(callers))]
			var method, path, contentType string
			var body []byte
			switch op := f.rnd.IntN(10); {
			case op < 5:
				method, path = "GET", base+"?"+f.query()
			case op < 7:
				method, path = "GET", base+"/"+fuzzNames[f.rnd.IntN(len(fuzzNames))]+"?"+f.query()
			case op < 9:
				method, path = "PATCH", base+"/"+fuzzNames[f.rnd.IntN(len(fuzzNames))]+"?dryRun=All&fieldManager=fuzz"
				body = []byte(f.mutate(f.patches[f.rnd.IntN(len(f.patches))]))
				contentType = fuzzPatchTypes[f.rnd.IntN(len(fuzzPatchTypes))]
			default:
				method, path = "POST", base+"?dryRun=All"
				body = []byte(f.mutate(f.patches[f.rnd.IntN(len(f.patches))]))
				contentType = "application/json"
			}
			req, err := http.NewRequestWithContext(ctx, method, host+path, bytes.NewReader(body))
			if err != nil {
				// The mutation made a URL Go will not send: nothing reaches the server.
				histogram[0]++
				continue
			}
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			for range f.rnd.IntN(3) {
				name, value, _ := strings.Cut(f.headers[f.rnd.IntN(len(f.headers))], ":")
				req.Header.Add(name, strings.TrimSpace(f.mutate(value)))
			}
			resp, err := clients[c.name].Do(req)
			if err != nil {
				// A header Go will not send, for one.
				histogram[0]++
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			histogram[resp.StatusCode]++
			Expect(resp.StatusCode).To(BeNumerically("<", 500),
				"request %d as %s: %s %s\nContent-Type: %s\n%s\n-> %s", i, c.name, method, path, contentType, body, b)
		}
		klog.Flush()
		Expect(logged.String()).NotTo(ContainSubstring("panic"), "the server recovered from a panic")

		codes := make([]int, 0, len(histogram))
		for code := range histogram {
			codes = append(codes, code)
		}
		slices.Sort(codes)
		var lines []string
		for _, code := range codes {
			lines = append(lines, fmt.Sprintf("%d: %d", code, histogram[code]))
		}
		AddReportEntry("status codes (0: refused by the client)", strings.Join(lines, ", "))
		Expect(histogram[200]).To(BeNumerically(">", 0), "some requests must succeed, or the fuzz tests nothing")
	})
})

// syncBuffer is a bytes.Buffer that the server's goroutines may write to
// while the spec reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
