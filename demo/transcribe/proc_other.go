//go:build !unix

package transcribe

import "os/exec"

// ownGroup: without Unix process groups the context's end kills the tool alone
// (exec.CommandContext's default); WaitDelay still bounds the wait for its pipes.
func ownGroup(cmd *exec.Cmd) {}

func lowerPriority(cmd *exec.Cmd) {}
