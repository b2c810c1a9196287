package catalog

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

var testNow = time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, time.UTC)

func TestNew(t *testing.T) {
	e := New(PermissionDenied, nil, testNow)
	entry, _ := Lookup(PermissionDenied)
	if e.Code != PermissionDenied || e.Message != entry.Message || e.UserMessage != entry.UserMessage ||
		e.Retryable || e.APICode != 0 || e.Status != 0 || e.Timestamp != testNow.UnixMilli() || e.Details != nil {
		t.Errorf("New(PERMISSION_DENIED) = %+v", e)
	}

	d := map[string]any{"option": "maxDuration", "value": 90, "reason": "must be at most 60"}
	e = Newf(InvalidOption, d, testNow, "invalid option %s: %s", "maxDuration", "must be at most 60")
	if e.Message != "invalid option maxDuration: must be at most 60" || e.Details["value"] != 90 || e.Retryable {
		t.Errorf("Newf = %+v", e)
	}

	// An API code raised by the SDK itself is not from the API.
	e = New(FileSizeExceeded, nil, testNow)
	if e.APICode != 0 || e.Status != 0 || e.Message != "File size exceeds maximum limit" {
		t.Errorf("New(FILE_SIZE_EXCEEDED) = %+v", e)
	}

	internal, _ := Lookup(InternalError)
	e = New("NO_SUCH_CODE", nil, testNow)
	if e.Code != "NO_SUCH_CODE" || e.UserMessage != internal.UserMessage || e.Message == "" || e.Retryable {
		t.Errorf("New(unknown) = %+v", e)
	}
	if e = New("", nil, testNow); e.Code != InternalError || e.Message == "" {
		t.Errorf("New(\"\") = %+v", e)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Code: DeviceBusy, Message: "busy"}, "DEVICE_BUSY: busy"},
		{&Error{Code: UnsupportedAudioFormat, Message: "Audio format not supported", APICode: 2005, Status: 400},
			"UNSUPPORTED_AUDIO_FORMAT: Audio format not supported (api 2005, http 400)"},
		{&Error{Code: APIError, Message: "x", APICode: 9999}, "API_ERROR: x (api 9999)"},
		{&Error{Code: ServiceUnavailable, Message: "y", Status: 502}, "SERVICE_UNAVAILABLE: y (http 502)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestIs(t *testing.T) {
	err := fmt.Errorf("starting: %w", New(PermissionDenied, nil, testNow))
	if !errors.Is(err, &Error{Code: PermissionDenied}) {
		t.Error("errors.Is does not match the same code through a wrap")
	}
	if errors.Is(err, &Error{Code: DeviceBusy}) {
		t.Error("errors.Is matches another code")
	}
	if errors.Is(err, errors.New("PERMISSION_DENIED")) {
		t.Error("errors.Is matches a plain error")
	}
	var nilErr *Error
	if New(DeviceBusy, nil, testNow).Is(nilErr) {
		t.Error("Is matches a nil *Error")
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != PermissionDenied {
		t.Error("errors.As does not find the *Error")
	}
}

func TestMediaErrorCode(t *testing.T) {
	tests := map[string]Code{
		"NotAllowedError":             PermissionDenied,
		"SecurityError":               PermissionDenied,
		"PermissionDeniedError":       PermissionDenied,
		"PermissionDismissedError":    PermissionDenied,
		"NotFoundError":               DeviceNotFound,
		"OverconstrainedError":        DeviceNotFound,
		"DevicesNotFoundError":        DeviceNotFound,
		"ConstraintNotSatisfiedError": DeviceNotFound,
		"NotReadableError":            DeviceBusy,
		"AbortError":                  DeviceBusy,
		"TrackStartError":             DeviceBusy,
		"SourceUnavailableError":      DeviceBusy,
		"InvalidStateError":           DeviceBusy,
		"NotSupportedError":           NotSupported,
		"TypeError":                   NotSupported,
		"Error":                       DeviceBusy,
		"":                            DeviceBusy,
		"notallowederror":             DeviceBusy, // names are case-sensitive in the DOM
	}
	for name, want := range tests {
		if got := MediaErrorCode(name); got != want {
			t.Errorf("MediaErrorCode(%q) = %s, want %s", name, got, want)
		}
	}
}
