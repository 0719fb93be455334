// Command kubectl-elevate is the kubectl plugin of Elevator: installed on the
// PATH (or with krew), it runs as kubectl elevate. See docs/kubectl-elevate.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/elevator-dev/elevator/internal/cli/elevate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := elevate.NewCommand(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		_, _ = fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
