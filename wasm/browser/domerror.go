package browser

import (
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// DOMError is a JavaScript exception (a DOMException such as NotAllowedError from
// getUserMedia, or a TypeError) carried as a Go error. It matches another DOMError of
// the same name with errors.Is, so callers test names, never messages.
type DOMError struct {
	Name    string
	Message string
}

func (e DOMError) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// Is reports whether target is a DOMError with the same name.
func (e DOMError) Is(target error) bool {
	t, ok := find[DOMError](target)
	return ok && t.Name == e.Name
}

// mediaFailure turns a failure of getUserMedia or MediaRecorder into the catalogue's
// error. A failure that is not a DOMException (a broken browser API, a Go bug) is
// reported as the device being unusable, with what was seen in the details.
func mediaFailure(during string, err error, now time.Time) *catalog.Error {
	if ce, ok := find[*catalog.Error](err); ok {
		return ce
	}
	name := "Error"
	if de, ok := find[DOMError](err); ok {
		name = de.Name
	}
	return catalog.Newf(catalog.MediaErrorCode(name), map[string]any{"name": name, "during": during},
		now, "%s failed: %v", during, err)
}

// find stands in for errors.As, for one concrete type.
// Why: errors.As brings the reflection package into the wasm (26 KB) for what a loop of type assertions does.
func find[T error](err error) (T, bool) {
	for err != nil {
		if t, ok := err.(T); ok {
			return t, true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			break
		}
		err = u.Unwrap()
	}
	var zero T
	return zero, false
}
