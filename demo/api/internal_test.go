package api

import (
	"fmt"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
)

// A full disk is 503 / 5002 (it passes), any other storage failure 500 / 5001.
func TestStorageFailures(t *testing.T) {
	s := NewHandler(Config{})
	full := fmt.Errorf("write upload: %w", &os.PathError{Op: "write", Path: "/data/tmp/upload-1", Err: syscall.ENOSPC})
	for err, want := range map[error]string{
		full:                       `{"error":{"code":5002,"message":"Service temporarily unavailable"}}`,
		fmt.Errorf("disk on fire"): `{"error":{"code":5001,"message":"Internal server error"}}`,
	} {
		w := httptest.NewRecorder()
		s.storageFailure(w, httptest.NewRequest("PUT", "/v1/voicenotes/x", nil), "write upload", err)
		if got := w.Body.String(); got != want+"\n" {
			t.Errorf("%v: %s", err, got)
		}
	}
}
