//go:build unix

package transcribe

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the command in a process group of its own and makes the context's end
// kill the whole group, so that nothing the tool started outlives it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the leader's pid; fall back to the leader alone.
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
}

// lowerPriority makes the tool yield the processor to the server: recognition is
// background work, and the API must keep answering while it runs.
func lowerPriority(cmd *exec.Cmd) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, 19) // best effort: a normal priority still works
}
