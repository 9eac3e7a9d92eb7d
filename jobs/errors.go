package jobs

import (
	"errors"
	"fmt"
)

// ErrorKind classifies the errors the controller returns to its API.
type ErrorKind int

const (
	// KindInvalid: the request is malformed (HTTP 400).
	KindInvalid ErrorKind = iota + 1
	// KindNotFound: no such job or task (HTTP 404).
	KindNotFound
	// KindConflict: the job is not in a state that allows it (HTTP 409).
	KindConflict
	// KindUnsupported: this controller or engine cannot do it (HTTP 501).
	KindUnsupported
	// KindUnavailable: the controller is not running (HTTP 503).
	KindUnavailable
)

// Error is a classified controller error.
type Error struct {
	Kind ErrorKind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func newError(kind ErrorKind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Invalid builds a KindInvalid error.
func Invalid(format string, args ...any) error { return newError(KindInvalid, format, args...) }

// NotFound builds a KindNotFound error.
func NotFound(format string, args ...any) error { return newError(KindNotFound, format, args...) }

// Conflict builds a KindConflict error.
func Conflict(format string, args ...any) error { return newError(KindConflict, format, args...) }

// Unsupported builds a KindUnsupported error.
func Unsupported(format string, args ...any) error { return newError(KindUnsupported, format, args...) }

// KindOf returns the kind of a classified error, or 0.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// IsInvalid reports whether err is a KindInvalid error.
func IsInvalid(err error) bool { return KindOf(err) == KindInvalid }

// IsNotFound reports whether err is a KindNotFound error.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// IsConflict reports whether err is a KindConflict error.
func IsConflict(err error) bool { return KindOf(err) == KindConflict }

// IsUnsupported reports whether err is a KindUnsupported error.
func IsUnsupported(err error) bool { return KindOf(err) == KindUnsupported }

// ErrNotRunning is returned by calls that need the controller loop before
// Start or after Stop.
var ErrNotRunning error = &Error{Kind: KindUnavailable, Msg: "controller is not running"}
