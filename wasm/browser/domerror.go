package browser

import (
	"errors"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
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
	var t DOMError
	return errors.As(target, &t) && t.Name == e.Name
}

// mediaFailure turns a failure of getUserMedia or MediaRecorder into the catalogue's
// error. A failure that is not a DOMException (a broken browser API, a Go bug) is
// reported as the device being unusable, with what was seen in the details.
func mediaFailure(during string, err error, now time.Time) *catalog.Error {
	var ce *catalog.Error
	if errors.As(err, &ce) {
		return ce
	}
	name := "Error"
	var de DOMError
	if errors.As(err, &de) {
		name = de.Name
	}
	return catalog.Newf(catalog.MediaErrorCode(name), map[string]any{"name": name, "during": during},
		now, "%s failed: %v", during, err)
}
