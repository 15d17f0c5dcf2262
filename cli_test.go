package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// The roster binary as a user runs it: help, version, and bad flags named
// exactly, in one line.
func TestCLI(t *testing.T) {
	g := NewWithT(t)
	bin, err := gexec.Build("github.com/roster-dev/roster", "-ldflags",
		"-X github.com/roster-dev/roster/internal/version.Version=v9.8.7-test -X github.com/roster-dev/roster/internal/version.Commit=abc1234")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(gexec.CleanupBuildArtifacts)
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Env = append(os.Environ(), "KUBEBUILDER_ASSETS=")
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return stdout.String(), stderr.String(), code
	}

	out, _, code := run("-h")
	g.Expect(code).To(Equal(0))
	for _, c := range []string{"controllers", "apiserver", "local", "version"} {
		g.Expect(out).To(ContainSubstring(c))
	}
	out, _, code = run("help", "local")
	g.Expect(code).To(Equal(0))
	g.Expect(out).To(ContainSubstring("--data-dir"))
	out, _, _ = run("controllers", "--help")
	g.Expect(out).To(ContainSubstring("--leader-election-namespace"))

	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, code = run(args...)
		g.Expect(code).To(Equal(0), "%v", args)
		g.Expect(out).To(Equal("roster v9.8.7-test (commit abc1234)\n"), "%v", args)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"local", "--port", "70000", "--assets", "/x"}, "--port 70000 is out of range: a port is from 1 to 65535"},
		{[]string{"local", "stray"}, `unknown command "stray" for "roster local"`},
		{[]string{"controllers", "stray"}, `unknown command "stray" for "roster controllers"`},
		{[]string{"local", "--assets", "/nonexistent-assets"}, "--assets /nonexistent-assets holds no kube-apiserver: run `make envtest`"},
		{[]string{"local", "--prot", "7"}, "unknown flag: --prot"},
		{[]string{"nosuchcommand"}, `unknown command "nosuchcommand" for "roster"`},
		{[]string{"apiserver", "--logging-format", "xml"}, `logging flags: format: Invalid value: "xml": Unsupported log format`},
		{[]string{"controllers", "--logging-format", "xml"}, `logging flags: format: Invalid value: "xml": Unsupported log format`},
	} {
		_, stderr, code := run(tc.args...)
		g.Expect(code).NotTo(Equal(0), "%v", tc.args)
		g.Expect(stderr).To(ContainSubstring(tc.want), "%v", tc.args)
		g.Expect(stderr).NotTo(ContainSubstring("goroutine"), "%v: no stack trace", tc.args)
		g.Expect(strings.Count(strings.TrimSpace(stderr), "Error:")).To(Equal(1), "%v: one error line\n%s", tc.args, stderr)
	}
}

// Both components log through klog, as text by default and as JSON with
// --logging-format=json, with the same keys.
func TestLogFormat(t *testing.T) {
	g := NewWithT(t)
	bin, err := gexec.Build("github.com/roster-dev/roster")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(gexec.CleanupBuildArtifacts)
	// Outside a cluster and with no kubeconfig, the controllers log why they
	// cannot start and exit.
	controllers := func(args ...string) string {
		cmd := exec.Command(bin, append([]string{"controllers", "--metrics-bind-address=0", "--health-probe-bind-address=0"}, args...)...)
		cmd.Env = []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "none"), "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		g.Expect(err).To(HaveOccurred(), "%s", out)
		return string(out)
	}
	text := controllers()
	g.Expect(text).To(MatchRegexp(`(?m)^E\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] "unable to get kubeconfig"`), "klog's text format")

	var entry map[string]any
	for _, l := range strings.Split(strings.TrimSpace(controllers("--logging-format=json")), "\n") {
		g.Expect(json.Unmarshal([]byte(l), &entry)).To(Succeed(), "every line is a JSON object: %s", l)
		g.Expect(entry).To(HaveKey("ts"))
		g.Expect(entry).To(HaveKey("msg"))
	}
	g.Expect(entry).To(HaveKeyWithValue("msg", "unable to get kubeconfig"))
	g.Expect(entry).To(HaveKey("err"))
}

// The Dockerfile copies every directory of the module that the binary is
// built from.
func TestDockerfileCopiesEveryPackage(t *testing.T) {
	g := NewWithT(t)
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	g.Expect(err).NotTo(HaveOccurred())
	docker, err := os.ReadFile("Dockerfile")
	g.Expect(err).NotTo(HaveOccurred())
	ignore, err := os.ReadFile(".dockerignore")
	g.Expect(err).NotTo(HaveOccurred())
	const module = "github.com/roster-dev/roster/"
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, module) {
			continue
		}
		top := strings.SplitN(strings.TrimPrefix(pkg, module), "/", 2)[0]
		g.Expect(string(docker)).To(ContainSubstring("COPY "+top+"/ "+top+"/"), "the image builds %s", filepath.Join(top))
		g.Expect(strings.Split(string(ignore), "\n")).To(ContainElement("!"+top+"/"), ".dockerignore lets %s into the build context", top)
	}
}
