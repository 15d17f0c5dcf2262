package directory

import (
	"slices"
	"sync"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// identities maps a Kubernetes user name to the Users it stands for: each
// User's effective username and its spec.identities, but for the User's own
// name, which the directory looks up in its store (most Users are named
// after their username, and need no entry). It is kept with the query index,
// from the same cache events. Nearly every name stands for one User, so one
// map holds those and a second the few names claimed by more.
type identities struct {
	mu   sync.RWMutex
	one  map[string]string
	more map[string][]string
}

func newIdentities() *identities {
	return &identities{one: map[string]string{}, more: map[string][]string{}}
}

// identityNames are the Kubernetes user names u stands for, but its own name.
func identityNames(u *iamv1alpha1.User) []string {
	if u == nil || (u.EffectiveUsername() == u.Name && len(u.Spec.Identities) == 0) {
		return nil
	}
	names := append([]string{u.EffectiveUsername()}, u.Spec.Identities...)
	slices.Sort(names)
	return slices.DeleteFunc(slices.Compact(names), func(n string) bool { return n == u.Name })
}

// set records that the User named user, which stood for the names of old
// (nil for a new User), now stands for the names of now (nil once deleted).
func (ids *identities) set(user string, old, now *iamv1alpha1.User) {
	before, after := identityNames(old), identityNames(now)
	if slices.Equal(before, after) {
		return
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	for _, name := range before {
		if !slices.Contains(after, name) {
			ids.remove(name, user)
		}
	}
	for _, name := range after {
		ids.add(name, user)
	}
}

func (ids *identities) add(name, user string) {
	if others, ok := ids.more[name]; ok {
		if !slices.Contains(others, user) {
			ids.more[name] = append(others, user)
		}
		return
	}
	switch first, ok := ids.one[name]; {
	case !ok:
		ids.one[name] = user
	case first != user:
		delete(ids.one, name)
		ids.more[name] = []string{first, user}
	}
}

func (ids *identities) remove(name, user string) {
	if others, ok := ids.more[name]; ok {
		others = slices.DeleteFunc(slices.Clone(others), func(u string) bool { return u == user })
		if len(others) == 1 {
			delete(ids.more, name)
			ids.one[name] = others[0]
		} else {
			ids.more[name] = others
		}
		return
	}
	if ids.one[name] == user {
		delete(ids.one, name)
	}
}

// users returns the names of the Users other than the one named name that
// name stands for.
func (ids *identities) users(name string) []string {
	ids.mu.RLock()
	defer ids.mu.RUnlock()
	if user, ok := ids.one[name]; ok {
		return []string{user}
	}
	return slices.Clone(ids.more[name])
}
