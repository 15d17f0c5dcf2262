package controllers

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

const (
	// AnnotationID records an object's numeric ID in its metadata, so that the
	// ID survives a backup and restore that drops status.
	AnnotationID = "iam.roster.dev/id"
	// CounterConfigMapName is the ConfigMap that holds the high-water marks of
	// the ID sequences, one data key per kind.
	CounterConfigMapName = "roster-ids"

	// maxCounterAttempts bounds the optimistic-concurrency retries of one reservation.
	maxCounterAttempts = 20
)

// idKind is one ID sequence: its key in the counter ConfigMap and how to read
// the objects that use it from the cache.
type idKind struct {
	key     string
	newList func() client.ObjectList
	holders func(client.ObjectList) []idHolder
}

var (
	userIDs = idKind{
		key:     "users",
		newList: func() client.ObjectList { return &iamv1alpha1.UserList{} },
		holders: func(l client.ObjectList) []idHolder {
			items := l.(*iamv1alpha1.UserList).Items
			out := make([]idHolder, len(items))
			for i := range items {
				out[i] = userIDHolder{&items[i]}
			}
			return out
		},
	}
	organizationIDs = idKind{
		key:     "organizations",
		newList: func() client.ObjectList { return &iamv1alpha1.OrganizationList{} },
		holders: func(l client.ObjectList) []idHolder {
			items := l.(*iamv1alpha1.OrganizationList).Items
			out := make([]idHolder, len(items))
			for i := range items {
				out[i] = orgIDHolder{&items[i]}
			}
			return out
		},
	}
)

// idAllocator hands out numeric IDs. The high-water mark of each sequence
// lives in a ConfigMap that is read from the API server (never the cache) and
// written with its resourceVersion, so two processes can never reserve the
// same ID: one of two concurrent writes fails with a conflict and retries.
// A write reserves a block sized by the number of objects still waiting for
// an ID (doubling while blocks run out quickly), and the process hands the
// block out from memory. IDs of a block that
// are never handed out (the process stops) are skipped, never reused.
type idAllocator struct {
	api      client.Reader // reads the counter from the API server
	writer   client.Writer // writes the counter
	cache    client.Reader // the manager's cache, for the indexes
	key      types.NamespacedName
	maxBlock int64

	mu    sync.Mutex // one reservation at a time; waiters share its block
	pools map[string]*idPool
}

// idPool is the part of a reserved block not handed out yet, [next, last],
// and the lowest value the counter is known to hold.
type idPool struct {
	next, last int64
	known      int64
	// size and reserved are the size and time of the last reservation: a
	// block used up within blockReuseWindow makes the next one twice as large.
	size     int64
	reserved time.Time
}

// blockReuseWindow: a block used up faster than this means a bulk apply is
// under way, and the next block doubles.
const blockReuseWindow = 2 * time.Second

func newIDAllocator(api client.Reader, writer client.Writer, cache client.Reader, namespace string, maxBlock int64) *idAllocator {
	return &idAllocator{
		api: api, writer: writer, cache: cache,
		key:      types.NamespacedName{Namespace: namespace, Name: CounterConfigMapName},
		maxBlock: maxBlock,
		pools:    map[string]*idPool{},
	}
}

func (a *idAllocator) pool(kind idKind) *idPool {
	p, ok := a.pools[kind.key]
	if !ok {
		p = &idPool{next: 1, last: 0}
		a.pools[kind.key] = p
	}
	return p
}

// Allocate returns an ID of kind that no object has held and no other call,
// in this or any other process, ever returns.
func (a *idAllocator) Allocate(ctx context.Context, kind idKind) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pool(kind)
	for {
		for p.next <= p.last {
			id := p.next
			p.next++
			// A restored object may carry an ID inside the block; skip it.
			taken, err := a.heldInCache(ctx, kind, id)
			if err != nil {
				return 0, err
			}
			if !taken {
				return id, nil
			}
		}
		if err := a.reserveLocked(ctx, kind, p); err != nil {
			return 0, err
		}
	}
}

// EnsureAtLeast makes sure the counter of kind never hands out id or any
// lower ID again: it is called before an object takes an ID back from its
// annotation, for example after a restore into a cluster with a lower counter.
func (a *idAllocator) EnsureAtLeast(ctx context.Context, kind idKind, id int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pool(kind)
	if p.next <= id {
		// Drop the part of the block at or below id.
		p.next = id + 1
	}
	if id <= p.known {
		return nil
	}
	_, last, err := a.reserve(ctx, kind, 0, id)
	if err != nil {
		return err
	}
	p.known = max(p.known, last)
	return nil
}

// reserveLocked refills p with a new block. a.mu is held.
func (a *idAllocator) reserveLocked(ctx context.Context, kind idKind, p *idPool) error {
	pending, floor, err := a.scan(ctx, kind)
	if err != nil {
		return err
	}
	n := max(pending, 1)
	if time.Since(p.reserved) < blockReuseWindow {
		n = max(n, 2*p.size)
	}
	n = min(n, a.maxBlock)
	first, last, err := a.reserve(ctx, kind, n, floor)
	if err != nil {
		return err
	}
	p.next, p.last = first, last
	p.known = max(p.known, last)
	p.size, p.reserved = n, time.Now()
	return nil
}

// scan counts the objects of kind waiting for an ID and finds the highest ID
// any object of kind holds, from the cache.
func (a *idAllocator) scan(ctx context.Context, kind idKind) (pending int64, floor int64, err error) {
	list := kind.newList()
	if err := a.cache.List(ctx, list, client.MatchingFields{indexPendingID: "true"}, client.UnsafeDisableDeepCopy); err != nil {
		return 0, 0, fmt.Errorf("counting objects waiting for an ID: %w", err)
	}
	pending = int64(len(kind.holders(list)))
	list = kind.newList()
	if err := a.cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return 0, 0, fmt.Errorf("listing IDs in use: %w", err)
	}
	for _, h := range kind.holders(list) {
		floor = max(floor, recordedID(h))
	}
	return pending, floor, nil
}

// heldInCache reports whether an object of kind already holds id.
func (a *idAllocator) heldInCache(ctx context.Context, kind idKind, id int64) (bool, error) {
	list := kind.newList()
	if err := a.cache.List(ctx, list, client.MatchingFields{indexID: strconv.FormatInt(id, 10)}, client.UnsafeDisableDeepCopy); err != nil {
		return false, fmt.Errorf("looking up ID %d: %w", id, err)
	}
	return len(kind.holders(list)) > 0, nil
}

// reserve moves the high-water mark of kind from max(counter, floor) up by n
// and returns the reserved IDs [first, last]. With n == 0 it only raises the
// counter to floor, writing nothing when the counter is already there.
func (a *idAllocator) reserve(ctx context.Context, kind idKind, n, floor int64) (first, last int64, err error) {
	for range maxCounterAttempts {
		cm := &corev1.ConfigMap{}
		err := a.api.Get(ctx, a.key, cm)
		if apierrors.IsNotFound(err) {
			if floor > iamv1alpha1.MaxID-n {
				return 0, 0, stalledError(ReasonIDsExhausted, fmt.Errorf("no %s ID is left: the largest ID is %d", kind.key, iamv1alpha1.MaxID))
			}
			cm = &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Namespace: a.key.Namespace, Name: a.key.Name,
					Labels: map[string]string{"app.kubernetes.io/name": "roster"}},
				Data: map[string]string{kind.key: strconv.FormatInt(floor+n, 10)},
			}
			err = a.writer.Create(ctx, cm)
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return 0, 0, fmt.Errorf("creating ConfigMap %s: %w", a.key, err)
			}
			return floor + 1, floor + n, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("reading ConfigMap %s: %w", a.key, err)
		}
		var current int64
		if v, ok := cm.Data[kind.key]; ok {
			current, err = strconv.ParseInt(v, 10, 64)
			if err != nil || current < 0 || current > iamv1alpha1.MaxID {
				// Guessing could hand out IDs twice: stop until a person fixes it.
				return 0, 0, stalledError(ReasonIDCounterInvalid, fmt.Errorf("ConfigMap %s: key %q holds %q, not an integer from 0 to %d", a.key, kind.key, v, iamv1alpha1.MaxID))
			}
		}
		base := max(current, floor)
		if base > iamv1alpha1.MaxID-n {
			return 0, 0, stalledError(ReasonIDsExhausted, fmt.Errorf("no %s ID is left: the counter is at %d and the largest ID is %d", kind.key, base, iamv1alpha1.MaxID))
		}
		if n == 0 && base == current {
			return 0, current, nil
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[kind.key] = strconv.FormatInt(base+n, 10)
		// Update sends the resourceVersion read above: if another process
		// moved the counter since, this fails with a conflict and we re-read.
		err = a.writer.Update(ctx, cm)
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("updating ConfigMap %s: %w", a.key, err)
		}
		return base + 1, base + n, nil
	}
	return 0, 0, fmt.Errorf("updating ConfigMap %s: still conflicting after %d attempts", a.key, maxCounterAttempts)
}
