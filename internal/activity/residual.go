package activity

import (
	"fmt"
	"strings"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// LinkResidual names, on each residual access path not yet linked, the access
// change recorded while elevated that made it: a source names an access
// change's object as the provider's Check names a residual path, so a path
// whose name contains the object was made by that action. It reports whether
// it linked any.
func LinkResidual(paths []accessv1alpha1.ResidualAccessPath, changes []accessv1alpha1.ActivityAction) bool {
	linked := false
	for i := range paths {
		if paths[i].MadeWhileElevated != "" {
			continue
		}
		if a, ok := madeBy(paths[i].Name, changes); ok {
			paths[i].MadeWhileElevated = describe(a)
			linked = true
		}
	}
	return linked
}

func madeBy(path string, changes []accessv1alpha1.ActivityAction) (accessv1alpha1.ActivityAction, bool) {
	for _, a := range changes {
		// Lower case: a DN configured as CN=Ops names the entry slapd logs as cn=ops.
		if a.Object != "" && containsWhole(strings.ToLower(path), strings.ToLower(a.Object)) {
			return a, true
		}
	}
	return accessv1alpha1.ActivityAction{}, false
}

// containsWhole reports whether obj occurs in path as a whole name: not as
// the start of a longer one ("RoleBinding ns/backdoor" is not in
// "RoleBinding ns/backdoor2"), nor as the parent part of a longer DN
// ("cn=ops,dc=x" is not in "cn=sub,cn=ops,dc=x").
func containsWhole(path, obj string) bool {
	for from := 0; ; {
		i := strings.Index(path[from:], obj)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(obj)
		if (start == 0 || !isNameByte(path[start-1]) && path[start-1] != ',') && (end == len(path) || !isNameByte(path[end])) {
			return true
		}
		from = start + 1
	}
}

func isNameByte(b byte) bool {
	return b == '-' || b == '_' || b == '.' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func describe(a accessv1alpha1.ActivityAction) string {
	return truncate(fmt.Sprintf("%s %s at %s (%s)", a.Action, a.Object, a.At.UTC().Format(time.RFC3339), a.ID), 1024)
}
