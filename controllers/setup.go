package controllers

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// Options configure the controllers. The zero value is the production default.
type Options struct {
	// Namespace holds the ConfigMap with the ID counters (CounterConfigMapName).
	// Default: roster-system.
	Namespace string
	// MaxConcurrentReconciles is the number of workers of each controller. Default: 8.
	MaxConcurrentReconciles int
	// CoalesceDelay is how long a User or an Organization waits after a
	// Membership event before it is reconciled, so that a burst of membership
	// changes costs one status write. An Organization's member counts also
	// wait until membership events pause (for twice this long, or twice their
	// mean gap up to five times this long), at most 30 times this long.
	// Default: 1s.
	CoalesceDelay time.Duration
	// MaxIDBlock bounds how many IDs one counter write reserves. Default: 256.
	MaxIDBlock int64
	// StalledRetry is how often a User or an Organization that is Stalled
	// (an unusable ID annotation, a corrupted or exhausted ID counter) is
	// tried again, so it recovers on its own once the cause is fixed.
	// Default: 1m.
	StalledRetry time.Duration
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = "roster-system"
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 8
	}
	if o.CoalesceDelay <= 0 {
		o.CoalesceDelay = time.Second
	}
	if o.MaxIDBlock <= 0 {
		o.MaxIDBlock = 256
	}
	if o.StalledRetry <= 0 {
		o.StalledRetry = time.Minute
	}
	return o
}

// SetupWithManager registers the field indexes, the User, Organization and
// Membership controllers and the metrics with mgr.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	opts = opts.withDefaults()
	if err := setupIndexes(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	ids := newIDAllocator(mgr.GetAPIReader(), mgr.GetClient(), mgr.GetClient(), opts.Namespace, opts.MaxIDBlock)
	users := &UserReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("roster-users"), IDs: ids,
		StalledRetry: opts.StalledRetry, written: newWrittenStatus[iamv1alpha1.UserStatus]()}
	if err := users.SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up the User controller: %w", err)
	}
	orgs := &OrganizationReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("roster-organizations"), IDs: ids,
		APIReader: mgr.GetAPIReader(), StalledRetry: opts.StalledRetry,
		written: newWrittenStatus[iamv1alpha1.OrganizationStatus]()}
	if err := orgs.SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up the Organization controller: %w", err)
	}
	memberships := &MembershipReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		written: newWrittenStatus[iamv1alpha1.MembershipStatus]()}
	if err := memberships.SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up the Membership controller: %w", err)
	}
	if err := registerMetrics(mgr); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	return nil
}
