package statehouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	mathrand "math/rand"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// RetryPolicy says when and how often a failed call is tried again. A unary
// call is retried only when its error is transient (Retryable: by default
// UNAVAILABLE) and the call is safe to repeat: a read (Get, List, Count,
// Aggregate), or a change whose request carries a request_id (every item,
// for TransitionTaskRuns). A subscription reconnects with the same backoff,
// the attempt count restarting with each message received.
//
// MaxAttempts counts the first try (1: no retry; 0: no limit). The wait
// before retry n (from 1) is min(MaxBackoff, InitialBackoff*Multiplier^(n-1)),
// shortened at random by up to Jitter (a fraction).
type RetryPolicy struct {
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	Multiplier     float64
	Jitter         float64
	// Retryable says whether an error is transient (nil: UNAVAILABLE only).
	Retryable func(*Error) bool
}

// DefaultRetry is the policy of unary calls: 5 attempts within about 1.5 s.
var DefaultRetry = RetryPolicy{
	MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 3 * time.Second,
	Multiplier: 2, Jitter: 0.2,
}

// DefaultStreamRetry is the policy of subscriptions: up to 30 consecutive
// failed reconnections, about a minute, long enough for a server restart.
var DefaultStreamRetry = RetryPolicy{
	MaxAttempts: 30, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second,
	Multiplier: 2, Jitter: 0.2,
}

// NoRetry never tries again.
var NoRetry = RetryPolicy{MaxAttempts: 1}

func (p RetryPolicy) transient(e *Error) bool {
	if p.Retryable != nil {
		return p.Retryable(e)
	}
	return e.Code == codes.Unavailable
}

// allows says whether a call that failed `failures` times may try again.
func (p RetryPolicy) allows(failures int) bool {
	return p.MaxAttempts <= 0 || failures < p.MaxAttempts
}

// Backoff is the wait before retry number n (from 1).
func (p RetryPolicy) Backoff(n int) time.Duration {
	multiplier := math.Max(p.Multiplier, 1)
	delay := float64(p.InitialBackoff) * math.Pow(multiplier, float64(n-1))
	if p.MaxBackoff > 0 {
		delay = math.Min(delay, float64(p.MaxBackoff))
	}
	if p.Jitter > 0 {
		delay *= 1 - mathrand.Float64()*math.Min(p.Jitter, 1)
	}
	return time.Duration(delay)
}

// sleep waits d, or less if ctx ends first (its error then).
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewRequestID is a fresh random request id (32 hex digits).
func NewRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// EnsureRequestID gives req a fresh request_id where it has none (on each
// item of a batch such as TransitionTaskRunsRequest), so that sending it again
// cannot apply it twice, and returns the request_id (the first item's, for a
// batch). It returns "" for a request that has no request_id.
func EnsureRequestID(req proto.Message) string {
	m := req.ProtoReflect()
	if field := m.Descriptor().Fields().ByName("request_id"); field != nil {
		if m.Get(field).String() == "" {
			m.Set(field, protoreflect.ValueOfString(NewRequestID()))
		}
		return m.Get(field).String()
	}
	first := ""
	if items := m.Descriptor().Fields().ByName("requests"); items != nil && items.IsList() &&
		items.Message() != nil {
		list := m.Get(items).List()
		for i := 0; i < list.Len(); i++ {
			id := EnsureRequestID(list.Get(i).Message().Interface())
			if i == 0 {
				first = id
			}
		}
	}
	return first
}

// Idempotent sends req through call (a method of a Client's stub) with a
// request_id (a fresh one where it has none), so that the client retries it
// on UNAVAILABLE with the same id and the server applies it once:
//
//	resp, err := statehouse.Idempotent(ctx, client.Executions.CreateExecution,
//		&statehousev1.CreateExecutionRequest{Namespace: "demo", FlowId: "hello"})
func Idempotent[Req proto.Message, Resp any](
	ctx context.Context,
	call func(context.Context, Req, ...grpc.CallOption) (Resp, error),
	req Req,
	opts ...grpc.CallOption,
) (Resp, error) {
	EnsureRequestID(req)
	return call(ctx, req, opts...)
}

// idempotent says whether a call may be sent again: a read, or a request
// with request_id set (on every item of a batch).
func idempotent(method string, req interface{}) bool {
	name := method[strings.LastIndex(method, "/")+1:]
	for _, read := range []string{"Get", "List", "Count", "Aggregate"} {
		if strings.HasPrefix(name, read) {
			return true
		}
	}
	msg, ok := req.(proto.Message)
	if !ok {
		return false
	}
	return hasRequestIDs(msg.ProtoReflect())
}

func hasRequestIDs(m protoreflect.Message) bool {
	if field := m.Descriptor().Fields().ByName("request_id"); field != nil {
		return m.Get(field).String() != ""
	}
	items := m.Descriptor().Fields().ByName("requests")
	if items == nil || !items.IsList() || items.Message() == nil {
		return false
	}
	list := m.Get(items).List()
	for i := 0; i < list.Len(); i++ {
		if !hasRequestIDs(list.Get(i).Message()) {
			return false
		}
	}
	return list.Len() > 0
}

// unaryInterceptor gives a call its default deadline, converts its errors and
// retries it when the policy and idempotence allow.
func unaryInterceptor(timeout time.Duration, policy RetryPolicy) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply interface{},
		cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok && timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		retryable := idempotent(method, req)
		for failures := 1; ; failures++ {
			err := convert(invoker(ctx, method, req, reply, cc, opts...))
			var e *Error
			if err == nil || !retryable || !errors.As(err, &e) || !policy.transient(e) ||
				!policy.allows(failures) {
				return err
			}
			if sleep(ctx, policy.Backoff(failures)) != nil {
				return err
			}
			redial(cc)
		}
	}
}

// redial makes the connection dial again at once if it is waiting to: after a
// failed dial, grpc-go waits 1 s, then 1.6 times longer each time up to 2
// minutes, and every call meanwhile fails at once. A retry or a reconnection
// that came after its own backoff would otherwise fail without trying the
// server, and spend the policy's attempts on a server that may be back.
func redial(cc *grpc.ClientConn) {
	if cc != nil {
		cc.ResetConnectBackoff()
	}
}

// streamInterceptor converts the errors of a stream.
func streamInterceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
	method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	stream, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, convert(err)
	}
	return convertingStream{stream}, nil
}

type convertingStream struct{ grpc.ClientStream }

func (s convertingStream) RecvMsg(m interface{}) error { return convert(s.ClientStream.RecvMsg(m)) }
func (s convertingStream) SendMsg(m interface{}) error { return convert(s.ClientStream.SendMsg(m)) }

func (s convertingStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	return md, convert(err)
}
