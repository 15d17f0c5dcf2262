package directory

import "sigs.k8s.io/controller-runtime/pkg/client"

// IsDryRun reports whether a write's dryRun option asks to check and render
// the write without storing it. The generic API server has already refused
// any value but "All".
func IsDryRun(dryRun []string) bool { return len(dryRun) > 0 }

// WriteOptions passes a dry run on to kube-apiserver, so that the CRD's own
// validation and admission run and nothing is stored. O is the option type
// of the write (client.CreateOption, client.PatchOption, ...), all of which
// client.DryRunAll is.
func WriteOptions[O any](dryRun bool) []O {
	if dryRun {
		return []O{any(client.DryRunAll).(O)}
	}
	return nil
}
