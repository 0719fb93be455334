//go:build !linux

package scimtest

import "os/exec"

// killWithParent does nothing where the kernel has no parent-death signal;
// the test's cleanup stops the server.
func killWithParent(*exec.Cmd) {}
