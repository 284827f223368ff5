package statehouse

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	statehousev1 "github.com/statehouse/statehouse/gen/go/statehouse/v1"
)

var fast = RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}

// failing is an invoker that fails with UNAVAILABLE `failures` times, then
// succeeds, recording the request_id of every attempt.
type failing struct {
	failures int
	ids      []string
}

func (f *failing) invoke(_ context.Context, _ string, req, _ interface{}, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	if r, ok := req.(interface{ GetRequestId() string }); ok {
		f.ids = append(f.ids, r.GetRequestId())
	} else {
		f.ids = append(f.ids, "")
	}
	if len(f.ids) <= f.failures {
		return status.Error(codes.Unavailable, "down")
	}
	return nil
}

const create = "/statehouse.v1.ExecutionService/CreateExecution"

func TestAChangeWithARequestIDIsRetriedWithTheSameID(t *testing.T) {
	f := &failing{failures: 2}
	req := &statehousev1.CreateExecutionRequest{Namespace: "demo", FlowId: "f"}
	id := EnsureRequestID(req)
	if len(id) != 32 || req.GetRequestId() != id {
		t.Fatalf("request id %q on %v", id, req)
	}
	if err := unaryInterceptor(time.Second, fast)(context.Background(), create, req, nil, nil, f.invoke); err != nil {
		t.Fatal(err)
	}
	if len(f.ids) != 3 || f.ids[0] != id || f.ids[1] != id || f.ids[2] != id {
		t.Fatalf("attempts sent %v", f.ids)
	}
}

func TestAChangeWithoutARequestIDIsNotRetried(t *testing.T) {
	f := &failing{failures: 1}
	req := &statehousev1.CreateExecutionRequest{Namespace: "demo", FlowId: "f"}
	err := unaryInterceptor(time.Second, fast)(context.Background(), create, req, nil, nil, f.invoke)
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.Unavailable || len(f.ids) != 1 {
		t.Fatalf("err %v after %d attempts", err, len(f.ids))
	}
}

func TestReadsAreRetriedAndAttemptsAreBounded(t *testing.T) {
	f := &failing{failures: 10}
	req := &statehousev1.GetExecutionRequest{ExecutionId: "x"}
	err := unaryInterceptor(time.Second, fast)(context.Background(),
		"/statehouse.v1.ExecutionService/GetExecution", req, nil, nil, f.invoke)
	if Code(err) != codes.Unavailable || len(f.ids) != 5 {
		t.Fatalf("err %v after %d attempts", err, len(f.ids))
	}
}

func TestIdempotentGivesEveryItemOfABatchAnID(t *testing.T) {
	req := &statehousev1.TransitionTaskRunsRequest{Requests: []*statehousev1.TransitionTaskRunRequest{
		{TaskRunId: "a"}, {TaskRunId: "b", RequestId: "mine"}}}
	var sent *statehousev1.TransitionTaskRunsRequest
	call := func(_ context.Context, r *statehousev1.TransitionTaskRunsRequest, _ ...grpc.CallOption) (*statehousev1.TransitionTaskRunsResponse, error) {
		sent = r
		return &statehousev1.TransitionTaskRunsResponse{}, nil
	}
	if _, err := Idempotent(context.Background(), call, req); err != nil {
		t.Fatal(err)
	}
	if sent.GetRequests()[0].GetRequestId() == "" || sent.GetRequests()[1].GetRequestId() != "mine" {
		t.Fatalf("sent %v", sent)
	}
	if !idempotent("/statehouse.v1.ExecutionService/TransitionTaskRuns", sent) {
		t.Fatal("a batch whose items all carry a request_id is not idempotent")
	}
}

func TestErrorsCarryTheirDetailsAndStayStatuses(t *testing.T) {
	st, err := status.New(codes.FailedPrecondition, "CREATED -> SUCCESS is not allowed").WithDetails(
		&errdetails.ErrorInfo{Reason: "INVALID_TRANSITION", Domain: ErrorDomain,
			Metadata: map[string]string{"current_state": "CREATED"}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "state", Description: "no"}}},
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{Type: "STATE", Subject: "x", Description: "d"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := convert(st.Err())
	var e *Error
	if !errors.As(wrapped, &e) {
		t.Fatalf("%T is not an *Error", wrapped)
	}
	if e.Reason != "INVALID_TRANSITION" || e.Domain != ErrorDomain || e.Metadata["current_state"] != "CREATED" {
		t.Fatalf("error info %+v", e)
	}
	if len(e.FieldViolations) != 1 || e.FieldViolations[0].Field != "state" {
		t.Fatalf("field violations %+v", e.FieldViolations)
	}
	if len(e.PreconditionViolations) != 1 || e.PreconditionViolations[0].Subject != "x" {
		t.Fatalf("precondition violations %+v", e.PreconditionViolations)
	}
	if status.Code(wrapped) != codes.FailedPrecondition || Code(wrapped) != codes.FailedPrecondition {
		t.Fatalf("status code lost: %v", status.Code(wrapped))
	}
}

func TestTLSOptionsAreChecked(t *testing.T) {
	if _, err := Dial("127.0.0.1:1", WithTLS(TLS{CAFile: "/nonexistent/ca.pem"})); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
	if _, err := Dial("127.0.0.1:1", WithTLS(TLS{CertFile: "client.crt"})); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
	if _, err := Dial("127.0.0.1:1", WithToken("two words")); err == nil {
		t.Fatal("a token with a space was accepted")
	}
}
