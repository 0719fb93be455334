// Command argocd-cm writes config/argocd/argocd-cm-patch.yaml from the Lua
// health checks beside it. It runs from go generate in config/argocd.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/elevator-dev/elevator/config/argocd"
)

func main() {
	out := flag.String("o", argocd.PatchFile, "file to write the argocd-cm patch to")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-cm:", err)
		os.Exit(1)
	}
}

func write(path string) error {
	patch, err := argocd.ConfigMapPatch()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, patch, 0o644); err != nil { //nolint:gosec // G306: a checked-in manifest, world-readable like every file of the repository
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
