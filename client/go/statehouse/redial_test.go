package statehouse

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	statehousev1 "github.com/statehouse/statehouse/gen/go/statehouse/v1"
)

// attempts is how many times the retries below try; each must dial the server.
const attempts = 20

var quick = RetryPolicy{MaxAttempts: attempts, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 5 * time.Millisecond}

// downServer dials a port nothing listens on, counting the dials.
func downServer(t *testing.T) (*Client, *int32) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := listener.Addr().String()
	listener.Close()
	dials := new(int32)
	dialer := func(ctx context.Context, address string) (net.Conn, error) {
		atomic.AddInt32(dials, 1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", address)
	}
	c, err := Dial(target, WithRetry(quick), WithTimeout(30*time.Second),
		WithDialOptions(grpc.WithContextDialer(dialer)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, dials
}

// Without a dial at each retry, grpc-go would dial once and then wait a
// second before the next, and the attempts in between would fail at once.
func atLeastOneDialPerRetry(t *testing.T, dials *int32) {
	t.Helper()
	if n := atomic.LoadInt32(dials); n < attempts*3/4 {
		t.Fatalf("%d dials for %d attempts: the retries did not try the server", n, attempts)
	}
}

func TestACallRetriedDialsTheServerAgain(t *testing.T) {
	c, dials := downServer(t)
	_, err := c.Executions.CreateExecution(context.Background(), &statehousev1.CreateExecutionRequest{
		Namespace: "go.redial", FlowId: "f", RequestId: NewRequestID()})
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.Unavailable {
		t.Fatalf("want UNAVAILABLE, got %v", err)
	}
	atLeastOneDialPerRetry(t, dials)
}

func TestASubscriptionReconnectingDialsTheServerAgain(t *testing.T) {
	c, dials := downServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	retry := quick
	sub := c.Subscribe(ctx, SubscribeOptions{FromLatest: true, Retry: &retry})
	defer sub.Close()
	_, err := sub.Next()
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.Unavailable {
		t.Fatalf("want UNAVAILABLE after the attempts, got %v", err)
	}
	atLeastOneDialPerRetry(t, dials)
}
