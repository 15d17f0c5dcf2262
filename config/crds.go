package config

import (
	"embed"
	"fmt"
)

//go:embed crd/bases/*.yaml
var crds embed.FS

// CRD returns the manifest of the CustomResourceDefinition named name (for
// example users.iam.roster.dev) as generated into config/crd/bases, so that
// the binary validates with the very schema kube-apiserver serves.
func CRD(name string) ([]byte, error) {
	b, err := crds.ReadFile("crd/bases/iam.roster.dev_" + trimGroup(name) + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no CRD %s in config/crd/bases: %w", name, err)
	}
	return b, nil
}

func trimGroup(name string) string {
	for i := range len(name) {
		if name[i] == '.' {
			return name[:i]
		}
	}
	return name
}
