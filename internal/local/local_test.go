package local

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// running is one `roster local` process, started as a user would start it.
type running struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    []string
	stderr *gbytes.Buffer
	done   chan struct{}
}

func (r *running) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.out...)
}

// commands returns the commands the guide tells the user to try: kubectl's
// own and the kubectl plugin's (`kubectl roster --kubeconfig ...`).
func (r *running) commands() []string {
	var cmds []string
	for _, l := range r.lines() {
		if t := strings.TrimSpace(l); strings.Contains(t, "/kubectl --kubeconfig ") || strings.Contains(t, "/kubectl roster --kubeconfig ") {
			cmds = append(cmds, t)
		}
	}
	return cmds
}

var binary, dataDir string

func start(port int) *running {
	GinkgoHelper()
	cmd := exec.Command(binary, "local",
		"--data-dir", dataDir, "--port", strconv.Itoa(port),
		"--assets", os.Getenv("KUBEBUILDER_ASSETS"),
		"--crds", filepath.Join("..", "..", "config", "crd", "bases"),
		"--samples", filepath.Join("..", "..", "config", "samples"),
		"--policy", filepath.Join("..", "..", "config", "policy"))
	r := &running{cmd: cmd, stderr: gbytes.NewBuffer(), done: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(GinkgoWriter, r.stderr)
	stdout, err := cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	Expect(cmd.Start()).To(Succeed())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.mu.Lock()
			r.out = append(r.out, sc.Text())
			r.mu.Unlock()
		}
		_ = cmd.Wait()
		close(r.done)
	}()
	DeferCleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(os.Interrupt)
			Eventually(r.done, time.Minute).Should(BeClosed())
		}
	})
	Eventually(func() []string {
		select {
		case <-r.done:
			StopTrying("roster local exited before it was ready:\n" + string(r.stderr.Contents())).Now()
		default:
		}
		return r.lines()
	}, 3*time.Minute, 250*time.Millisecond).Should(
		ContainElement(ContainSubstring(ReadyLine)), "roster local did not become ready")
	return r
}

// stop sends Ctrl-C and expects a clean exit that leaves no etcd or
// kube-apiserver behind.
func (r *running) stop() {
	GinkgoHelper()
	Expect(r.cmd.Process.Signal(os.Interrupt)).To(Succeed())
	Eventually(r.done, time.Minute).Should(BeClosed())
	Expect(r.cmd.ProcessState.ExitCode()).To(Equal(0))
	Eventually(func() []leftover { return leftovers(dataDir) }, 30*time.Second).Should(BeEmpty(),
		"etcd and kube-apiserver must stop with roster local")
}

// kubectlAs runs kubectl with the kubeconfig roster local wrote for user.
func kubectlAs(user string, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"),
		append([]string{"--kubeconfig", filepath.Join(dataDir, "kubeconfigs", user+".kubeconfig")}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func sh(command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput()
	return string(out), err
}

func newPort() int {
	GinkgoHelper()
	p, err := freePort()
	Expect(err).NotTo(HaveOccurred())
	return p
}

// plantStaleDiscovery leaves, for 127.0.0.1:port, the discovery cache that
// kubectl writes for a kube-apiserver without the directory: a copy of the
// cache the earlier specs' kubectl wrote, with directory.roster.dev taken out.
func plantStaleDiscovery(port int) {
	GinkgoHelper()
	discovery := filepath.Join(os.Getenv("KUBECACHEDIR"), "discovery")
	earlier, err := filepath.Glob(filepath.Join(discovery, "127.0.0.1_*"))
	Expect(err).NotTo(HaveOccurred())
	Expect(earlier).NotTo(BeEmpty(), "the earlier specs' kubectl leaves a cache")
	stale := filepath.Join(discovery, "127.0.0.1_"+strconv.Itoa(port))
	Expect(os.CopyFS(stale, os.DirFS(earlier[0]))).To(Succeed())
	Expect(os.RemoveAll(filepath.Join(stale, "directory.roster.dev"))).To(Succeed())
	path := filepath.Join(stale, "servergroups.json")
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var groups metav1.APIGroupList
	Expect(json.Unmarshal(b, &groups)).To(Succeed())
	groups.Groups = slices.DeleteFunc(groups.Groups, func(g metav1.APIGroup) bool { return g.Name == "directory.roster.dev" })
	b, err = json.Marshal(groups)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(path, b, 0o600)).To(Succeed())
}

// names returns the first column of a kubectl table, header excluded.
func names(table string) []string {
	var out []string
	for i, l := range strings.Split(strings.TrimSpace(table), "\n") {
		if f := strings.Fields(l); i > 0 && len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

var _ = Describe("roster local", Ordered, func() {
	BeforeAll(func() {
		var err error
		binary, err = gexec.Build("github.com/roster-dev/roster")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(gexec.CleanupBuildArtifacts)
		dataDir = GinkgoT().TempDir()
		// The printed commands run kubectl with its default discovery cache;
		// keep this run's cache apart from what earlier runs left for a port.
		GinkgoT().Setenv("KUBECACHEDIR", GinkgoT().TempDir())
		// The guide's `kubectl roster` lines need the plugin on PATH: the
		// same binary, named kubectl-roster.
		pluginDir := GinkgoT().TempDir()
		Expect(os.Symlink(binary, filepath.Join(pluginDir, "kubectl-roster"))).To(Succeed())
		GinkgoT().Setenv("PATH", pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	})

	var ids string

	It("starts a complete Roster whose printed commands work as printed, for each role", func() {
		r := start(newPort())
		cmds := r.commands()
		Expect(cmds).To(HaveLen(17), strings.Join(r.lines(), "\n"))

		By("the administrator sees everyone")
		out, err := sh(cmds[0])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(names(out)).To(ConsistOf("admin", "alice", "bob", "carol", "dave", "erin", "frank", "grace",
			"heidi", "ivan", "judy", "mallory", "natalia", "oscar", "peggy", "trent"))

		By("an organization owner sees the active members of acme")
		out, err = sh(cmds[1])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(names(out)).To(ConsistOf("alice", "bob", "carol", "dave", "erin", "frank", "grace"))

		By("a user in no organization sees only themselves")
		out, err = sh(cmds[2])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(names(out)).To(ConsistOf("trent"))

		By("the controllers' metrics, at the printed loopback address, count the sample users")
		var metricsURL string
		for _, l := range r.lines() {
			if i := strings.Index(l, MetricsLine); i >= 0 {
				metricsURL = strings.Fields(l[i+len(MetricsLine):])[0]
			}
		}
		Expect(metricsURL).To(HavePrefix("http://127.0.0.1:"), strings.Join(r.lines(), "\n"))
		Eventually(func(g Gomega) {
			resp, err := http.Get(metricsURL)
			g.Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(body)).To(ContainSubstring("roster_build_info{"))
			total := 0
			for _, l := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(l, "roster_users{") {
					n, err := strconv.Atoi(l[strings.LastIndex(l, " ")+1:])
					g.Expect(err).NotTo(HaveOccurred(), l)
					total += n
				}
			}
			g.Expect(total).To(Equal(16), "roster_users sums to the sample users")
		}).Should(Succeed())

		By("the kubectl plugin searches, and shows others in the basic view")
		out, err = sh(cmds[3])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(MatchRegexp(`^NAME\s+ID\s+USERNAME\s+FIRST NAME\s+LAST NAME\s+EMAIL\s+ACTIVE\n`))
		Expect(out).To(MatchRegexp(`(?m)^alice\s+\d+\s+alice\s+Alice\s+Nguyen\s+alice\.nguyen@example\.com\s+true$`))
		Expect(out).To(MatchRegexp(`(?m)^grace\s+\d+\s+grace\s+Grace\s+Ali\s+<none>\s+<none>$`))
		Expect(out).To(HaveSuffix("\npage 1 of 1 (2 users)\n"))

		By("the kubectl plugin shows the caller's own record")
		out, err = sh(cmds[4])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(MatchRegexp(`(?m)^Username:\s+erin$`))
		Expect(out).To(MatchRegexp(`(?m)^  acme\s+\d+\s+worker\s+true$`))

		By("a search sorted by last name, paged")
		out, err = sh(cmds[5])
		Expect(err).NotTo(HaveOccurred(), out)
		var page struct {
			Count int     `json:"count"`
			Next  *string `json:"next"`
			Items []struct {
				Username string `json:"username"`
			} `json:"items"`
		}
		Expect(json.Unmarshal([]byte(out), &page)).To(Succeed(), out)
		Expect(page.Count).To(Equal(4))
		Expect(page.Next).NotTo(BeNil())
		var got []string
		for _, it := range page.Items {
			got = append(got, it.Username)
		}
		Expect(got).To(Equal([]string{"grace", "peggy", "alice"}))

		By("a worker reads their own record with their organizations")
		out, err = sh(cmds[6])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("username: erin"))
		Expect(out).To(ContainSubstring("slug: acme"))
		Expect(out).To(ContainSubstring("role: worker"))

		By("a forbidden patch is refused")
		out, err = sh(cmds[7])
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring(`users.directory.roster.dev "erin" is forbidden: only administrators may change isSuperuser`))

		By("a watch shows the visible users")
		watch := exec.Command("sh", "-c", "exec "+cmds[8])
		stdout, err := watch.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(watch.Start()).To(Succeed())
		DeferCleanup(func() { _ = watch.Process.Kill(); _ = watch.Wait() })
		var mu sync.Mutex
		var seen []string
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				mu.Lock()
				seen = append(seen, sc.Text())
				mu.Unlock()
			}
		}()
		Eventually(func() string { mu.Lock(); defer mu.Unlock(); return strings.Join(seen, "\n") }).Should(
			MatchRegexp(`(?m)^alice\s+\d+\s+alice\s+Alice\s+Nguyen`))
		Expect(watch.Process.Signal(syscall.SIGTERM)).To(Succeed())

		out, err = sh(strings.Replace(cmds[0], "get users", "get users.iam.roster.dev -o jsonpath={range.items[*]}{.metadata.name}={.status.id},{end}", 1))
		Expect(err).NotTo(HaveOccurred(), out)
		ids = out
		Expect(strings.Count(ids, "=")).To(Equal(16))

		By("an invitation round: alice invites trent, trent sees and accepts it, alice finds trent among the workers")
		out, err = sh(cmds[9])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("membership.directory.roster.dev/acme.trent created"))
		out, err = sh(cmds[10])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(MatchRegexp(`(?m)^acme\.trent\s+acme\s+trent\s+worker\s+pending\s+alice\s`))
		out, err = sh(cmds[11])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("membership.directory.roster.dev/acme.trent patched"))
		Eventually(func() string { out, _ := sh(cmds[12]); return out }).Should(ContainSubstring(`"username":"trent"`))

		By("the same round with the kubectl plugin: trent leaves, alice invites him again, he accepts")
		out, err = sh(cmds[13])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal("membership.directory.roster.dev/acme.trent deleted\n"))
		out, err = sh(cmds[14])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal("membership.directory.roster.dev/acme.trent created\n"))
		out, err = sh(cmds[15])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal("membership.directory.roster.dev/acme.trent accepted\n"))
		Eventually(func() string { out, _ := sh(cmds[16]); return out }).Should(
			MatchRegexp(`(?m)^acme\.trent\s+trent\s+trent\s+worker\s+active\s+alice\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`),
			"the controllers set the joined date")

		By("the samples, applied users first, leave no owner warning")
		out, err = kubectlAs("admin", "", "get", "events", "-A", "--field-selector", "reason=OwnerNotFound", "-o", "name")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.TrimSpace(out)).To(BeEmpty())

		By("kubectl wait reads a user's Ready condition through the directory")
		out, err = kubectlAs("alice", "", "wait", "--for=condition=Ready", "user/alice", "--timeout=60s")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("user.directory.roster.dev/alice condition met"))

		By("the admission policy holds a non-administrator with RBAC on the CRD")
		out, err = kubectlAs("admin", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: crd-users-editor}
rules:
- apiGroups: [iam.roster.dev]
  resources: [users]
  verbs: [get, list, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crd-users-editor-trent}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: crd-users-editor}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: trent}
`, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
		patch := []string{"patch", "users.iam.roster.dev", "trent", "--type=merge", "-p", `{"spec":{"isSuperuser":true}}`}
		Eventually(func() string {
			out, _ := kubectlAs("trent", "", append(patch, "--dry-run=server")...)
			return out
		}).Should(ContainSubstring("only administrators may change isSuperuser"))
		out, err = kubectlAs("trent", "", patch...)
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("ValidatingAdmissionPolicy 'roster-user-field-rules' with binding 'roster-user-field-rules' denied request: only administrators may change isSuperuser"))
		out, err = kubectlAs("admin", "", "get", "users.iam.roster.dev", "trent", "-o", "jsonpath={.spec.isSuperuser}")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).NotTo(Equal("true"))

		r.stop()
	})

	// listIDs lists name=id of every User, as the administrator's kubectl.
	listIDs := func(r *running) string {
		GinkgoHelper()
		out, err := sh(strings.Replace(r.commands()[0], "get users", "get users.iam.roster.dev -o jsonpath={range.items[*]}{.metadata.name}={.status.id},{end}", 1))
		Expect(err).NotTo(HaveOccurred(), out)
		return out
	}

	It("keeps every user and ID across a restart, and refuses a second roster local on the same data", func() {
		Expect(ids).NotTo(BeEmpty())
		port := newPort()
		By("with kubectl's discovery cache for the port left by an earlier server without the directory")
		plantStaleDiscovery(port)

		r := start(port)
		out, err := sh(r.commands()[0])
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(MatchRegexp(`^NAME\s+ID\s+USERNAME\s+FIRST NAME\s`), "plain users must reach the directory")
		Expect(listIDs(r)).To(Equal(ids))

		By("the CRD's USERNAME column shows each user's login name, defaulted or not")
		out, err = sh(strings.Replace(r.commands()[0], "get users", "get users.iam.roster.dev", 1))
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(MatchRegexp(`(?m)^ivan\s+ivan\s+ivan\.petrov@example\.com\s`))
		Expect(out).To(MatchRegexp(`(?m)^natalia\s+natalia\.r\s+natalia\.rossi@example\.com\s`))

		By("a second roster local on the same data directory stops at once and says why")
		b, err := exec.Command(binary, "local", "--data-dir", dataDir, "--port", strconv.Itoa(newPort()),
			"--assets", os.Getenv("KUBEBUILDER_ASSETS")).CombinedOutput()
		Expect(err).To(HaveOccurred())
		Expect(string(b)).To(ContainSubstring(dataDir + " is in use by another roster local; stop it first"))
		Expect(listIDs(r)).To(Equal(ids), "the running one is untouched")
		r.stop()
	})

	It("refuses a port that is in use, naming it", func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ln.Close)
		port := ln.Addr().(*net.TCPAddr).Port
		out, err := exec.Command(binary, "local", "--data-dir", GinkgoT().TempDir(), "--port", strconv.Itoa(port),
			"--assets", os.Getenv("KUBEBUILDER_ASSETS")).CombinedOutput()
		Expect(err).To(HaveOccurred())
		Expect(string(out)).To(ContainSubstring(fmt.Sprintf("127.0.0.1:%d is in use; stop what listens there or choose another port with --port", port)))
	})

	It("stops everything it started when a start fails, and says why", func() {
		for _, tc := range []struct{ crds, samples, want string }{
			{"/nonexistent-crds", filepath.Join("..", "..", "config", "samples"), "unable to read CRD files: stat /nonexistent-crds"},
			{filepath.Join("..", "..", "config", "crd", "bases"), "/nonexistent-samples", `reading the samples: open /nonexistent-samples: no such file or directory`},
		} {
			dir := GinkgoT().TempDir()
			out, err := exec.Command(binary, "local", "--data-dir", dir, "--port", strconv.Itoa(newPort()),
				"--assets", os.Getenv("KUBEBUILDER_ASSETS"), "--crds", tc.crds, "--samples", tc.samples,
				"--policy", filepath.Join("..", "..", "config", "policy")).CombinedOutput()
			Expect(err).To(HaveOccurred())
			Expect(string(out)).To(ContainSubstring(tc.want))
			Expect(leftovers(dir)).To(BeEmpty(), "a failed start leaves no etcd or kube-apiserver")
		}
	})

	It("starts again after being killed, stopping the etcd and kube-apiserver the killed run left", func() {
		r := start(newPort())
		Expect(r.cmd.Process.Kill()).To(Succeed())
		Eventually(r.done, time.Minute).Should(BeClosed())
		DeferCleanup(func() { // should the restart fail
			for _, p := range leftovers(dataDir) {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
		})
		Expect(leftovers(dataDir)).To(ConsistOf(
			HaveField("Name", "etcd"), HaveField("Name", "kube-apiserver")), "SIGKILL leaves etcd and kube-apiserver running")

		r = start(newPort())
		Expect(string(r.stderr.Contents())).To(MatchRegexp(`roster: stopped what an earlier run left on \S+: kube-apiserver \(pid \d+\), etcd \(pid \d+\)`))
		Expect(listIDs(r)).To(Equal(ids))
		r.stop()
	})
})
