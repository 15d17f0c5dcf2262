package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockName is the file in the data directory that a running `roster local`
// holds locked, so two of them never share etcd's data.
const lockName = "roster.lock"

// claim takes the data directory for this process. It fails when another
// `roster local` holds it. Then, as the only user of the directory, it stops
// the etcd and kube-apiserver that an earlier run, killed with SIGKILL, left
// running on it: they would hold etcd's data and the port. It reports what it
// stopped to log. release gives the directory up.
func claim(dataDir string, log io.Writer) (release func(), err error) {
	path := filepath.Join(dataDir, lockName)
	release, err = lockFile(path)
	switch {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return nil, fmt.Errorf("%s is in use by another roster local; stop it first", dataDir)
	case err != nil:
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	stopped, err := stopLeftovers(dataDir)
	if err != nil {
		release()
		return nil, err
	}
	if len(stopped) > 0 {
		fmt.Fprintf(log, "roster: stopped what an earlier run left on %s: %s\n", dataDir, strings.Join(stopped, ", "))
	}
	return release, nil
}

// leftover is a control-plane process that uses a data directory.
type leftover struct {
	PID  int
	Name string
}

// leftovers lists the etcd and kube-apiserver processes whose arguments
// name a path inside dataDir: those `roster local` started on it. Nothing
// else is touched, not even a kubectl that uses one of its kubeconfigs. Where
// there is no /proc it finds nothing.
func leftovers(dataDir string) []leftover {
	var found []leftover
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		name := filepath.Base(args[0])
		if name != "etcd" && name != "kube-apiserver" {
			continue
		}
		for _, a := range args[1:] {
			if strings.Contains(a, dataDir+string(filepath.Separator)) {
				if !zombie(pid) {
					found = append(found, leftover{pid, name})
				}
				break
			}
		}
	}
	return found
}

// zombie reports whether pid has exited and waits only to be reaped: its
// leader is a zombie and no other thread is left, so its files and sockets
// are closed.
func zombie(pid int) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return true // gone
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i >= 0 && !strings.HasPrefix(s[i+1:], " Z") {
		return false
	}
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	return err != nil || len(tasks) <= 1
}

// stopLeftovers stops every leftover, kube-apiserver before etcd as envtest
// stops them, each with SIGTERM and, after a grace period, SIGKILL. It
// returns their names and pids.
func stopLeftovers(dataDir string) ([]string, error) {
	found := leftovers(dataDir)
	// kube-apiserver sorts after etcd; stop it first.
	slices.SortStableFunc(found, func(a, b leftover) int { return strings.Compare(b.Name, a.Name) })
	var names []string
	for _, p := range found {
		names = append(names, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
		if !stopProcess(p.PID, 15*time.Second) {
			return names, fmt.Errorf("%s (pid %d), left by an earlier run on %s, does not stop", p.Name, p.PID, dataDir)
		}
	}
	return names, nil
}

// stopProcess sends SIGTERM, then SIGKILL once grace has passed, and reports
// whether the process ended.
func stopProcess(pid int, grace time.Duration) bool {
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, grace}, {syscall.SIGKILL, 5 * time.Second}} {
		_ = syscall.Kill(pid, step.sig)
		for deadline := time.Now().Add(step.wait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if zombie(pid) {
				return true
			}
		}
	}
	return zombie(pid)
}

// lockFile holds an exclusive lock on path until release, or until the
// process ends, however it ends.
func lockFile(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
