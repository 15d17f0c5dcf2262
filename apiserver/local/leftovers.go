package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// Leftover is a control-plane process that uses a data directory.
type Leftover struct {
	PID  int
	Name string
}

// Leftovers lists the etcd and kube-apiserver processes whose arguments
// name a path inside dataDir: those `roster local` started on it. Nothing
// else is touched, not even a kubectl that uses one of its kubeconfigs. Where
// there is no /proc it finds nothing.
func Leftovers(dataDir string) []Leftover {
	var found []Leftover
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
					found = append(found, Leftover{pid, name})
				}
				break
			}
		}
	}
	return found
}

// zombie reports whether pid has exited and waits only to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true // gone
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(s[i+1:], " Z")
}

// stopLeftovers sends SIGTERM to every leftover, and SIGKILL to those still
// running after a grace period, and returns their names and pids.
func stopLeftovers(dataDir string) ([]string, error) {
	found := Leftovers(dataDir)
	var names []string
	for _, p := range found {
		_ = syscall.Kill(p.PID, syscall.SIGTERM)
		names = append(names, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, p := range found {
		for !zombie(p.PID) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
				deadline = time.Now().Add(5 * time.Second)
				for !zombie(p.PID) {
					if time.Now().After(deadline) {
						return names, fmt.Errorf("%s (pid %d), left by an earlier run on %s, does not stop", p.Name, p.PID, dataDir)
					}
					time.Sleep(100 * time.Millisecond)
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return names, nil
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
