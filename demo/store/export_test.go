package store

import "os"

// FailRenames makes the store's renames go through rename until the returned func is
// called: for a test in another package (the API's answer to a full disk).
func FailRenames(rename func(from, to string) error) (restore func()) {
	renameFile = rename
	return func() { renameFile = os.Rename }
}
