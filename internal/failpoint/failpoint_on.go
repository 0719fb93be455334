//go:build failpoints

package failpoint

import (
	"fmt"
	"os"
)

// Reach holds the calling goroutine forever when Env names point, after
// writing Marker(point) to standard error; otherwise it returns at once.
func Reach(point string) {
	if os.Getenv(Env) != point {
		return
	}
	fmt.Fprintln(os.Stderr, Marker(point)+": holding here until killed")
	select {}
}
