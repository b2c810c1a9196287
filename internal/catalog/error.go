package catalog

import (
	"fmt"
	"strconv"
	"time"
)

// Error is what the SDK hands to JavaScript, field for field docs/sdk.md's VocaFuseError.
type Error struct {
	Code        Code
	Message     string
	UserMessage string
	Details     map[string]any
	Timestamp   int64 // milliseconds since the Unix epoch, as Date.now() gives; not a time.Time, whose formatting (90 KB) the wasm would carry for an error's sake
	Retryable   bool
	APICode     int // 0 when not from the API
	Status      int // HTTP status, 0 when there was no response
}

// Error returns "CODE: message", followed by the API code and HTTP status where known.
func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Message
	switch {
	case e.APICode != 0 && e.Status != 0:
		s += " (api " + strconv.Itoa(e.APICode) + ", http " + strconv.Itoa(e.Status) + ")"
	case e.APICode != 0:
		s += " (api " + strconv.Itoa(e.APICode) + ")"
	case e.Status != 0:
		s += " (http " + strconv.Itoa(e.Status) + ")"
	}
	return s
}

// Is reports whether target is an *Error with the same code, so callers match codes
// with errors.Is(err, &catalog.Error{Code: catalog.PermissionDenied}), never messages.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Code == e.Code
}

// New builds the error of a code with the catalogue's texts and retry advice. It is
// not from the API: APICode and Status stay 0 even for an API code (the SDK raises
// FILE_SIZE_EXCEEDED itself before uploading). An unknown code never panics: it keeps
// its string and gets INTERNAL_ERROR's texts, since it can only be a bug in the SDK.
func New(code Code, details map[string]any, now time.Time) *Error {
	if code == "" {
		code = InternalError
	}
	e, ok := Lookup(code)
	if !ok {
		e, _ = Lookup(InternalError)
		e.Message = "unknown error code " + strconv.Quote(string(code))
	}
	return &Error{
		Code:        code,
		Message:     e.Message,
		UserMessage: e.UserMessage,
		Details:     details,
		Timestamp:   now.UnixMilli(),
		Retryable:   e.Retryable,
	}
}

// Newf is New with a specific technical message.
func Newf(code Code, details map[string]any, now time.Time, format string, args ...any) *Error {
	e := New(code, details, now)
	e.Message = fmt.Sprintf(format, args...)
	return e
}

// MediaErrorCode maps the name of a DOMException thrown by getUserMedia or
// MediaRecorder to a client code. Old Chrome and Firefox used their own names.
// An unknown name means the microphone could not be used for a reason we cannot
// tell, which is what DEVICE_BUSY says.
func MediaErrorCode(domExceptionName string) Code {
	switch domExceptionName {
	case "NotAllowedError", "SecurityError", "PermissionDeniedError", "PermissionDismissedError":
		return PermissionDenied
	case "NotFoundError", "OverconstrainedError", "DevicesNotFoundError", "ConstraintNotSatisfiedError":
		return DeviceNotFound
	case "NotSupportedError", "TypeError":
		return NotSupported
	default: // NotReadableError, AbortError, TrackStartError, SourceUnavailableError, InvalidStateError, …
		return DeviceBusy
	}
}
