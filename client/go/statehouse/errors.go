package statehouse

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the ErrorInfo domain of the errors Statehouse itself raises.
const ErrorDomain = "statehouse"

// Error is a failed call, with what the server said about it. Every error of
// a Client's calls and streams is one (except io.EOF at the end of a stream
// and the context's own errors); reach it with errors.As:
//
//	var e *statehouse.Error
//	if errors.As(err, &e) && e.Reason == "INVALID_TRANSITION" { ... }
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the status message.
	Message string
	// Reason, Domain and Metadata come from the google.rpc.ErrorInfo detail
	// (empty without one): INVALID_TRANSITION, REVISION_MISMATCH, ... (the
	// errors table of docs/concepts.md).
	Reason   string
	Domain   string
	Metadata map[string]string
	// FieldViolations come from a google.rpc.BadRequest detail.
	FieldViolations []FieldViolation
	// PreconditionViolations come from a google.rpc.PreconditionFailure detail.
	PreconditionViolations []PreconditionViolation
	// LastSequence is set on the error that ends a subscription: resume with
	// AfterSequence: LastSequence. HasLastSequence is false when a
	// FromLatest subscription never learnt its position.
	LastSequence    int64
	HasLastSequence bool

	status *status.Status
}

// FieldViolation is one bad field of a request, by its path.
type FieldViolation struct {
	Field       string
	Description string
}

// PreconditionViolation is one unmet precondition.
type PreconditionViolation struct {
	Type        string
	Subject     string
	Description string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("statehouse: %s (%s): %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("statehouse: %s: %s", e.Code, e.Message)
}

// GRPCStatus is the status the server sent, so status.FromError and
// status.Code keep working on an *Error.
func (e *Error) GRPCStatus() *status.Status { return e.status }

// Temporary says whether the call may succeed when tried again (UNAVAILABLE).
func (e *Error) Temporary() bool { return e.Code == codes.Unavailable }

// ErrorFromStatus reads the details of a status: ErrorInfo, BadRequest,
// PreconditionFailure.
func ErrorFromStatus(st *status.Status) *Error {
	e := &Error{Code: st.Code(), Message: st.Message(), Metadata: map[string]string{}, status: st}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			e.Reason, e.Domain = d.GetReason(), d.GetDomain()
			for k, v := range d.GetMetadata() {
				e.Metadata[k] = v
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.FieldViolations = append(e.FieldViolations, FieldViolation{v.GetField(), v.GetDescription()})
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				e.PreconditionViolations = append(e.PreconditionViolations,
					PreconditionViolation{v.GetType(), v.GetSubject(), v.GetDescription()})
			}
		}
	}
	return e
}

// convert makes a gRPC error an *Error; nil, io.EOF, context errors and
// errors that are already *Error pass unchanged.
func convert(err error) error {
	var already *Error
	if err == nil || err == io.EOF || errors.As(err, &already) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return ErrorFromStatus(st)
}

// Code is the gRPC code of err (codes.OK for nil, codes.Unknown for an error
// that is not a status).
func Code(err error) codes.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return status.Code(err)
}
