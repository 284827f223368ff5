package statehouse_test

// These tests run against a real server: `make test` starts one
// (tests/integration/test_go_client.py) and passes its address in
// STATEHOUSE_TARGET; without it they are skipped.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/statehouse/statehouse/client/go/statehouse"
	statehousev1 "github.com/statehouse/statehouse/gen/go/statehouse/v1"
)

func dial(t *testing.T, variable string, opts ...statehouse.Option) *statehouse.Client {
	t.Helper()
	target := os.Getenv(variable)
	if target == "" {
		t.Skipf("%s is not set", variable)
	}
	client, err := statehouse.Dial(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// unique is a namespace no other test (or earlier run) writes to.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func create(ctx context.Context, t *testing.T, c *statehouse.Client, namespace string) *statehousev1.Execution {
	t.Helper()
	resp, err := statehouse.Idempotent(ctx, c.Executions.CreateExecution,
		&statehousev1.CreateExecutionRequest{Namespace: namespace, FlowId: "go"})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetExecution()
}

func move(ctx context.Context, t *testing.T, c *statehouse.Client, id string, state statehousev1.State) {
	t.Helper()
	_, err := statehouse.Idempotent(ctx, c.Executions.TransitionExecution,
		&statehousev1.TransitionExecutionRequest{ExecutionId: id, State: state})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAnExecutionGoesThroughItsLifecycle(t *testing.T) {
	c := dial(t, "STATEHOUSE_TARGET")
	ctx := timeout(t, 30*time.Second)
	ex := create(ctx, t, c, "go.test")
	move(ctx, t, c, ex.GetId(), statehousev1.State_STATE_RUNNING)
	move(ctx, t, c, ex.GetId(), statehousev1.State_STATE_SUCCESS)
	got, err := c.Executions.GetExecution(ctx, &statehousev1.GetExecutionRequest{ExecutionId: ex.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetExecution().GetState() != statehousev1.State_STATE_SUCCESS {
		t.Fatalf("state %v", got.GetExecution().GetState())
	}
}

func TestARequestIDSentTwiceCreatesOnce(t *testing.T) {
	c := dial(t, "STATEHOUSE_TARGET")
	ctx := timeout(t, 30*time.Second)
	req := &statehousev1.CreateExecutionRequest{Namespace: "go.test", FlowId: "go"}
	id := statehouse.EnsureRequestID(req)
	first, err := c.Executions.CreateExecution(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Executions.CreateExecution(ctx, &statehousev1.CreateExecutionRequest{
		Namespace: "go.test", FlowId: "go", RequestId: id})
	if err != nil {
		t.Fatal(err)
	}
	if first.GetExecution().GetId() != again.GetExecution().GetId() {
		t.Fatalf("two executions for one request id: %s, %s", first.GetExecution().GetId(), again.GetExecution().GetId())
	}
	_, err = c.Executions.CreateExecution(ctx, &statehousev1.CreateExecutionRequest{
		Namespace: "go.test", FlowId: "other", RequestId: id})
	var e *statehouse.Error
	if !errors.As(err, &e) || e.Code != codes.AlreadyExists || e.Reason != "REQUEST_ID_REUSED" {
		t.Fatalf("the id reused with other content: %v", err)
	}
}

func TestAnIllegalMoveSaysWhyInItsErrorInfo(t *testing.T) {
	c := dial(t, "STATEHOUSE_TARGET")
	ctx := timeout(t, 30*time.Second)
	ex := create(ctx, t, c, "go.test")
	_, err := c.Executions.TransitionExecution(ctx, &statehousev1.TransitionExecutionRequest{
		ExecutionId: ex.GetId(), State: statehousev1.State_STATE_SUCCESS})
	var e *statehouse.Error
	if !errors.As(err, &e) {
		t.Fatalf("%T %v is not an *Error", err, err)
	}
	if e.Code != codes.FailedPrecondition || e.Reason != "INVALID_TRANSITION" || e.Domain != statehouse.ErrorDomain {
		t.Fatalf("error %+v", e)
	}
	if e.Metadata["current_state"] != "CREATED" || e.Metadata["requested_state"] != "SUCCESS" {
		t.Fatalf("metadata %v", e.Metadata)
	}
}

func TestABadRequestNamesItsFields(t *testing.T) {
	c := dial(t, "STATEHOUSE_TARGET")
	ctx := timeout(t, 30*time.Second)
	_, err := c.Executions.CreateExecution(ctx, &statehousev1.CreateExecutionRequest{Namespace: "Not A Namespace"})
	var e *statehouse.Error
	if !errors.As(err, &e) || e.Code != codes.InvalidArgument {
		t.Fatalf("error %v", err)
	}
	fields := map[string]bool{}
	for _, v := range e.FieldViolations {
		fields[v.Field] = true
	}
	if !fields["namespace"] || !fields["flow_id"] {
		t.Fatalf("field violations %+v", e.FieldViolations)
	}
	_, err = c.Executions.GetExecution(ctx, &statehousev1.GetExecutionRequest{ExecutionId: "no-such-execution"})
	if statehouse.Code(err) != codes.NotFound {
		t.Fatalf("a missing execution: %v", err)
	}
}

func TestASubscriptionReplaysHistoryInOrderOneByOne(t *testing.T) {
	c := dial(t, "STATEHOUSE_TARGET")
	ctx := timeout(t, 60*time.Second)
	namespace := unique("go.replay")
	const executions = 40
	for i := 0; i < executions; i++ {
		ex := create(ctx, t, c, namespace)
		move(ctx, t, c, ex.GetId(), statehousev1.State_STATE_RUNNING)
	}
	sub := c.Subscribe(ctx, statehouse.SubscribeOptions{Filter: &statehousev1.EventFilter{Namespace: namespace}})
	defer sub.Close()
	var last int64
	for i := 0; i < 2*executions; i++ {
		ev, err := sub.Next()
		if err != nil {
			t.Fatalf("after %d events: %v", i, err)
		}
		if ev.GetSequence() <= last {
			t.Fatalf("sequence %d after %d", ev.GetSequence(), last)
		}
		last = ev.GetSequence()
	}
	if got, known := sub.LastSequence(); got != last || !known {
		t.Fatalf("LastSequence %d %v, last event %d", got, known, last)
	}
}

func TestAFromLatestSubscriptionKnowsWhereItStartsBeforeAnyEvent(t *testing.T) {
	c := dial(t, "STATEHOUSE_TARGET")
	ctx := timeout(t, 30*time.Second)
	namespace := unique("go.latest")
	connected := make(chan statehouse.ConnectInfo, 1)
	sub := c.Subscribe(ctx, statehouse.SubscribeOptions{
		Filter:     &statehousev1.EventFilter{Namespace: namespace},
		FromLatest: true,
		OnConnect:  func(info statehouse.ConnectInfo) { connected <- info },
	})
	defer sub.Close()
	events := make(chan *statehousev1.StateChangeEvent, 1)
	go func() {
		if ev, err := sub.Next(); err == nil {
			events <- ev
		}
	}()
	select {
	case info := <-connected:
		if !info.HasLastSequence || info.Opens != 1 {
			t.Fatalf("connected without a position: %+v", info)
		}
	case <-ctx.Done():
		t.Fatal("the subscription was never accepted")
	}
	ex := create(ctx, t, c, namespace)
	select {
	case ev := <-events:
		if ev.GetExecutionId() != ex.GetId() {
			t.Fatalf("event of %s", ev.GetExecutionId())
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
}

// TestASubscriptionResumesAcrossARestart is one side of a protocol with the
// pytest that restarts the server (STATEHOUSE_GO_RESTART_DIR): this test
// subscribes from the latest event (it has received nothing), writes
// "subscribed", and waits for the stream to break; the pytest restarts the
// server and writes "restarted"; this test then commits events while the
// subscription waits to reconnect, and must receive each of them once, in
// order: it resumes from the position the start header gave, not from the
// latest event again.
func TestASubscriptionResumesAcrossARestart(t *testing.T) {
	dir := os.Getenv("STATEHOUSE_GO_RESTART_DIR")
	if dir == "" {
		t.Skip("STATEHOUSE_GO_RESTART_DIR is not set")
	}
	c := dial(t, "STATEHOUSE_TARGET")
	ctx := timeout(t, 90*time.Second)
	namespace := unique("go.restart")
	connected := make(chan statehouse.ConnectInfo, 4)
	dropped := make(chan struct{})
	written := make(chan struct{})
	reconnects := 0
	sub := c.Subscribe(ctx, statehouse.SubscribeOptions{
		Filter:     &statehousev1.EventFilter{Namespace: namespace},
		FromLatest: true,
		OnConnect:  func(info statehouse.ConnectInfo) { connected <- info },
		OnReconnect: func(info statehouse.ReconnectInfo) {
			reconnects++
			if reconnects == 1 {
				close(dropped)
				// Reconnect only once the events are committed: a resumption
				// from the latest event would miss them.
				select {
				case <-written:
				case <-ctx.Done():
				}
			}
		},
	})
	defer sub.Close()
	type result struct {
		ev  *statehousev1.StateChangeEvent
		err error
	}
	results := make(chan result, 16)
	go func() {
		for {
			ev, err := sub.Next()
			results <- result{ev, err}
			if err != nil {
				return
			}
		}
	}()
	select {
	case info := <-connected:
		if !info.HasLastSequence {
			t.Fatalf("accepted without a position: %+v", info)
		}
	case <-ctx.Done():
		t.Fatal("the subscription was never accepted")
	}
	touch(t, dir, "subscribed")
	select {
	case <-dropped:
	case <-ctx.Done():
		t.Fatal("the stream did not break when the server stopped")
	}
	waitFor(ctx, t, filepath.Join(dir, "restarted"))
	writer := dial(t, "STATEHOUSE_TARGET")
	ex := create(ctx, t, writer, namespace)
	move(ctx, t, writer, ex.GetId(), statehousev1.State_STATE_RUNNING)
	move(ctx, t, writer, ex.GetId(), statehousev1.State_STATE_SUCCESS)
	close(written)
	want := []statehousev1.State{statehousev1.State_STATE_CREATED, statehousev1.State_STATE_RUNNING, statehousev1.State_STATE_SUCCESS}
	for i, state := range want {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatalf("event %d: %v", i, r.err)
			}
			if r.ev.GetExecutionId() != ex.GetId() || r.ev.GetState() != state {
				t.Fatalf("event %d: %v", i, r.ev)
			}
		case <-ctx.Done():
			t.Fatalf("event %d (%v) never came: the subscription missed it", i, state)
		}
	}
	if sub.Reconnects() < 1 {
		t.Fatalf("no reconnection counted")
	}
}

func touch(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitFor(ctx context.Context, t *testing.T, path string) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never appeared", path)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestTokenAndMutualTLS runs against a server with --auth and mTLS
// (STATEHOUSE_SECURE_TARGET; its token in STATEHOUSE_SECURE_TOKEN; ca.pem,
// client.crt and client.key in STATEHOUSE_TLS_DIR; a certificate for
// localhost and 127.0.0.1).
func TestTokenAndMutualTLS(t *testing.T) {
	dir := os.Getenv("STATEHOUSE_TLS_DIR")
	token := os.Getenv("STATEHOUSE_SECURE_TOKEN")
	if dir == "" || token == "" {
		t.Skip("STATEHOUSE_TLS_DIR or STATEHOUSE_SECURE_TOKEN is not set")
	}
	tlsOptions := statehouse.TLS{
		CAFile:     filepath.Join(dir, "ca.pem"),
		CertFile:   filepath.Join(dir, "client.crt"),
		KeyFile:    filepath.Join(dir, "client.key"),
		ServerName: "localhost",
	}
	ctx := timeout(t, 30*time.Second)
	request := &statehousev1.CreateExecutionRequest{Namespace: "go.secure", FlowId: "go"}

	c := dial(t, "STATEHOUSE_SECURE_TARGET", statehouse.WithTLS(tlsOptions), statehouse.WithToken(token))
	if _, err := c.Executions.CreateExecution(ctx, request); err != nil {
		t.Fatalf("with the token, the CA and a client certificate: %v", err)
	}

	anonymous := dial(t, "STATEHOUSE_SECURE_TARGET", statehouse.WithTLS(tlsOptions))
	_, err := anonymous.Executions.CreateExecution(ctx, request)
	if statehouse.Code(err) != codes.Unauthenticated {
		t.Fatalf("without the token: %v", err)
	}

	noCA := tlsOptions
	noCA.CAFile = ""
	untrusting := dial(t, "STATEHOUSE_SECURE_TARGET", statehouse.WithTLS(noCA), statehouse.WithToken(token),
		statehouse.WithRetry(statehouse.NoRetry))
	if _, err := untrusting.Executions.CreateExecution(ctx, request); statehouse.Code(err) != codes.Unavailable {
		t.Fatalf("without the CA: %v", err)
	}
}
