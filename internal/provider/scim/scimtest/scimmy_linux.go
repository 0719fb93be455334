package scimtest

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill the server if the test binary dies
// before its cleanup runs.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
