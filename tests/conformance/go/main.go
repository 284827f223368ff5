// Command conformance is the conformance driver of the Go client
// (client/go/statehouse over gen/go/statehouse/v1).
//
// Build it in GOPATH mode (client/go/README.md) and run it from anywhere with
// the suite's variables set (tests/conformance/README.md):
//
//	go build -o conformance github.com/statehouse/statehouse/tests/conformance/go
//	./conformance SCENARIO...
//
// It prints a JSON line per scenario: {"scenario", "status": "ran", "observed"}
// or {"scenario", "status": "fail" | "not-supported", "why"}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/statehouse/statehouse/client/go/statehouse"
	statehousev1 "github.com/statehouse/statehouse/gen/go/statehouse/v1"
)

// wait bounds the wait for any one event (a restart included).
const wait = 30 * time.Second

type observed map[string]string

var (
	env = struct{ target, authTarget, readerToken, run string }{
		os.Getenv("STATEHOUSE_CONFORMANCE_TARGET"),
		os.Getenv("STATEHOUSE_CONFORMANCE_AUTH_TARGET"),
		os.Getenv("STATEHOUSE_CONFORMANCE_READER_TOKEN"),
		os.Getenv("STATEHOUSE_CONFORMANCE_RUN"),
	}
	stdin = bufio.NewReader(os.Stdin)
	ctx   = context.Background()
)

func namespace(scenario string) string {
	return strings.ReplaceAll(env.run+"."+scenario, "_", "-")
}

func emit(line map[string]interface{}) {
	text, _ := json.Marshal(line)
	fmt.Println(string(text))
}

// askRestart asks the suite to restart the server; the ids of what it then created.
func askRestart(ns string) ([]string, error) {
	emit(map[string]interface{}{"restart": ns})
	line, err := stdin.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("the suite did not answer the restart: %w", err)
	}
	return strings.Fields(line), nil
}

var capital = regexp.MustCompile(`([a-z])([A-Z])`)

// codeName spells a gRPC code as the other languages do: FAILED_PRECONDITION.
func codeName(c codes.Code) string {
	return strings.ToUpper(capital.ReplaceAllString(c.String(), "${1}_${2}"))
}

// refused requires err to be a refusal; its code and reason, and the error.
func refused(err error, what, prefix string) (observed, *statehouse.Error, error) {
	var e *statehouse.Error
	if err == nil {
		return nil, nil, fmt.Errorf("%s was accepted", what)
	}
	if !errors.As(err, &e) {
		return nil, nil, err
	}
	return observed{prefix + "code": codeName(e.Code), prefix + "reason": e.Reason}, e, nil
}

func dial(target, token string) (*statehouse.Client, error) {
	if token != "" {
		return statehouse.Dial(target, statehouse.WithToken(token))
	}
	return statehouse.Dial(target)
}

func state(s statehousev1.State) string { return s.String() }

func started(ex statehousev1.ExecutionServiceClient, scenario string, tasks ...string) (
	*statehousev1.Execution, []*statehousev1.TaskRun, error) {
	created, err := ex.CreateExecution(ctx, &statehousev1.CreateExecutionRequest{
		Namespace: namespace(scenario), FlowId: "etl"})
	if err != nil {
		return nil, nil, err
	}
	var runs []*statehousev1.TaskRun
	for _, task := range tasks {
		run, err := ex.CreateTaskRun(ctx, &statehousev1.CreateTaskRunRequest{
			ExecutionId: created.GetExecution().GetId(), TaskId: task})
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, run.GetTaskRun())
	}
	return created.GetExecution(), runs, nil
}

func move(ex statehousev1.ExecutionServiceClient, id string, to statehousev1.State) (
	*statehousev1.TransitionTaskRunResponse, error) {
	return ex.TransitionTaskRun(ctx, &statehousev1.TransitionTaskRunRequest{TaskRunId: id, State: to})
}

func lifecycle(c *statehouse.Client) (observed, error) {
	ex := c.Executions
	execution, runs, err := started(ex, "lifecycle", "extract")
	if err != nil {
		return nil, err
	}
	start, err := move(ex, runs[0].GetId(), statehousev1.State_STATE_RUNNING)
	if err != nil {
		return nil, err
	}
	done, err := move(ex, runs[0].GetId(), statehousev1.State_STATE_SUCCESS)
	if err != nil {
		return nil, err
	}
	if _, err := ex.TransitionExecution(ctx, &statehousev1.TransitionExecutionRequest{
		ExecutionId: execution.GetId(), State: statehousev1.State_STATE_SUCCESS}); err != nil {
		return nil, err
	}
	final, err := ex.GetExecution(ctx, &statehousev1.GetExecutionRequest{ExecutionId: execution.GetId()})
	if err != nil {
		return nil, err
	}
	var history []string
	for _, h := range final.GetExecution().GetHistory() {
		history = append(history, state(h.GetState()))
	}
	return observed{
		"execution_created":                state(execution.GetState()),
		"task_run_created":                 state(runs[0].GetState()),
		"execution_after_task_run_started": state(start.GetExecutionState()),
		"task_run_final":                   state(done.GetTaskRun().GetState()),
		"execution_final":                  state(final.GetExecution().GetState()),
		"execution_history":                strings.Join(history, " "),
	}, nil
}

func illegalMove(c *statehouse.Client) (observed, error) {
	_, runs, err := started(c.Executions, "illegal_move", "extract")
	if err != nil {
		return nil, err
	}
	if _, err := move(c.Executions, runs[0].GetId(), statehousev1.State_STATE_RUNNING); err != nil {
		return nil, err
	}
	_, err = move(c.Executions, runs[0].GetId(), statehousev1.State_STATE_CREATED)
	o, e, err := refused(err, "the illegal move", "")
	if err != nil {
		return nil, err
	}
	o["current_state"], o["requested_state"] = e.Metadata["current_state"], e.Metadata["requested_state"]
	return o, nil
}

func requestIDRetry(c *statehouse.Client) (observed, error) {
	ns := namespace("request_id_retry")
	request := &statehousev1.CreateExecutionRequest{Namespace: ns, FlowId: "etl"}
	statehouse.EnsureRequestID(request)
	first, err := c.Executions.CreateExecution(ctx, request)
	if err != nil {
		return nil, err
	}
	again, err := c.Executions.CreateExecution(ctx, request)
	if err != nil {
		return nil, err
	}
	count, err := c.Executions.CountExecutions(ctx, &statehousev1.CountExecutionsRequest{Namespace: ns})
	if err != nil {
		return nil, err
	}
	_, err = c.Executions.CreateExecution(ctx, &statehousev1.CreateExecutionRequest{
		Namespace: ns, FlowId: "other", RequestId: request.GetRequestId()})
	o, _, err := refused(err, "the reused request id", "reused_")
	if err != nil {
		return nil, err
	}
	o["same_execution"] = fmt.Sprint(first.GetExecution().GetId() == again.GetExecution().GetId())
	o["executions_created"] = fmt.Sprint(count.GetTotal())
	return o, nil
}

func revisionConflict(c *statehouse.Client) (observed, error) {
	execution, _, err := started(c.Executions, "revision_conflict")
	if err != nil {
		return nil, err
	}
	revision := execution.GetRevision()
	moved, err := c.Executions.TransitionExecution(ctx, &statehousev1.TransitionExecutionRequest{
		ExecutionId: execution.GetId(), State: statehousev1.State_STATE_RUNNING, ExpectedRevision: &revision})
	if err != nil {
		return nil, err
	}
	_, err = c.Executions.TransitionExecution(ctx, &statehousev1.TransitionExecutionRequest{
		ExecutionId: execution.GetId(), State: statehousev1.State_STATE_SUCCESS, ExpectedRevision: &revision})
	o, e, err := refused(err, "the stale expected_revision", "")
	if err != nil {
		return nil, err
	}
	o["first_move"] = state(moved.GetExecution().GetState())
	o["current_revision"], o["expected_revision"] = e.Metadata["current_revision"], e.Metadata["expected_revision"]
	return o, nil
}

func pauseResume(c *statehouse.Client) (observed, error) {
	ex := c.Executions
	execution, runs, err := started(ex, "pause_resume", "a", "b")
	if err != nil {
		return nil, err
	}
	if _, err := move(ex, runs[0].GetId(), statehousev1.State_STATE_RUNNING); err != nil {
		return nil, err
	}
	paused, err := ex.PauseExecution(ctx, &statehousev1.PauseExecutionRequest{ExecutionId: execution.GetId()})
	if err != nil {
		return nil, err
	}
	_, err = move(ex, runs[1].GetId(), statehousev1.State_STATE_RUNNING)
	o, _, err := refused(err, "a start in a paused execution", "start_while_paused_")
	if err != nil {
		return nil, err
	}
	resumed, err := ex.ResumeExecution(ctx, &statehousev1.ResumeExecutionRequest{ExecutionId: execution.GetId()})
	if err != nil {
		return nil, err
	}
	start, err := move(ex, runs[1].GetId(), statehousev1.State_STATE_RUNNING)
	if err != nil {
		return nil, err
	}
	o["paused"] = state(paused.GetExecution().GetState())
	o["resumed"] = state(resumed.GetExecution().GetState())
	o["started_after_resume"] = state(start.GetTaskRun().GetState())
	return o, nil
}

func killCascade(c *statehouse.Client) (observed, error) {
	ex := c.Executions
	execution, runs, err := started(ex, "kill_cascade", "a", "b")
	if err != nil {
		return nil, err
	}
	if _, err := move(ex, runs[0].GetId(), statehousev1.State_STATE_RUNNING); err != nil {
		return nil, err
	}
	killed, err := ex.KillExecution(ctx, &statehousev1.KillExecutionRequest{ExecutionId: execution.GetId()})
	if err != nil {
		return nil, err
	}
	byID := map[string]*statehousev1.TaskRun{}
	for _, t := range killed.GetExecution().GetTaskRuns() {
		byID[t.GetId()] = t
	}
	reported, err := move(ex, runs[0].GetId(), statehousev1.State_STATE_KILLED)
	if err != nil {
		return nil, err
	}
	final, err := ex.GetExecution(ctx, &statehousev1.GetExecutionRequest{ExecutionId: execution.GetId()})
	if err != nil {
		return nil, err
	}
	return observed{
		"execution_after_kill":        state(killed.GetExecution().GetState()),
		"running_task_run_after_kill": state(byID[runs[0].GetId()].GetState()),
		"created_task_run_after_kill": state(byID[runs[1].GetId()].GetState()),
		"execution_after_report":      state(reported.GetExecutionState()),
		"execution_final":             state(final.GetExecution().GetState()),
	}, nil
}

func subscriptionResume(c *statehouse.Client) (observed, error) {
	ns := namespace("subscription_resume")
	streamCtx, cancel := context.WithTimeout(ctx, 4*wait)
	defer cancel()
	sub := c.Subscribe(streamCtx, statehouse.SubscribeOptions{
		Filter: &statehousev1.EventFilter{Namespace: ns}})
	defer sub.Close()
	before, err := c.Executions.CreateExecution(ctx, &statehousev1.CreateExecutionRequest{Namespace: ns, FlowId: "before"})
	if err != nil {
		return nil, err
	}
	first, err := sub.Next()
	if err != nil {
		return nil, err
	}
	received := []*statehousev1.StateChangeEvent{first}
	created, err := askRestart(ns)
	if err != nil {
		return nil, err
	}
	// The channel may still be reconnecting: the same request, same id, until it is taken.
	request := &statehousev1.CreateExecutionRequest{Namespace: ns, FlowId: "after"}
	statehouse.EnsureRequestID(request)
	deadline := time.Now().Add(wait)
	after, err := c.Executions.CreateExecution(ctx, request)
	for err != nil && statehouse.Code(err) == codes.Unavailable && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		after, err = c.Executions.CreateExecution(ctx, request)
	}
	if err != nil {
		return nil, err
	}
	expected := append(created, after.GetExecution().GetId())
	for received[len(received)-1].GetExecutionId() != after.GetExecution().GetId() {
		event, err := sub.Next()
		if err != nil {
			return nil, err
		}
		received = append(received, event)
	}
	seen, duplicates, ordered, beforeCount := map[string]bool{}, 0, true, 0
	for i, event := range received {
		if seen[event.GetExecutionId()] {
			duplicates++
		}
		seen[event.GetExecutionId()] = true
		if event.GetExecutionId() == before.GetExecution().GetId() {
			beforeCount++
		}
		if i > 0 && (received[i-1].GetSequence() >= event.GetSequence() ||
			i-1 >= len(expected) || expected[i-1] != event.GetExecutionId()) {
			ordered = false
		}
	}
	missing := 0
	for _, id := range expected {
		if !seen[id] {
			missing++
		}
	}
	return observed{
		"before_restart": fmt.Sprint(beforeCount),
		"after_restart":  fmt.Sprint(len(received) - 1),
		"missing":        fmt.Sprint(missing),
		"duplicates":     fmt.Sprint(duplicates),
		"in_order":       fmt.Sprint(ordered && len(received)-1 == len(expected)),
		"reopened":       fmt.Sprint(sub.Reconnects() > 0),
	}, nil
}

func permissionDenied(*statehouse.Client) (observed, error) {
	c, err := dial(env.authTarget, env.readerToken)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ns := namespace("permission_denied")
	if _, err := c.Executions.CountExecutions(ctx, &statehousev1.CountExecutionsRequest{Namespace: ns}); err != nil {
		return nil, err
	}
	_, err = c.Executions.CreateExecution(ctx, &statehousev1.CreateExecutionRequest{Namespace: ns, FlowId: "etl"})
	o, e, err := refused(err, "a create by a reader", "")
	if err != nil {
		return nil, err
	}
	o["read_allowed"] = "true"
	o["role_needed"] = e.Metadata["role_needed"]
	return o, nil
}

var scenarios = map[string]func(*statehouse.Client) (observed, error){
	"lifecycle":           lifecycle,
	"illegal_move":        illegalMove,
	"request_id_retry":    requestIDRetry,
	"revision_conflict":   revisionConflict,
	"pause_resume":        pauseResume,
	"kill_cascade":        killCascade,
	"subscription_resume": subscriptionResume,
	"permission_denied":   permissionDenied,
}

func main() {
	client, err := dial(env.target, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer client.Close()
	for _, name := range os.Args[1:] {
		scenario, ok := scenarios[name]
		if !ok {
			emit(map[string]interface{}{"scenario": name, "status": "fail", "why": "this driver has no such scenario"})
			continue
		}
		result, err := scenario(client)
		if err != nil {
			emit(map[string]interface{}{"scenario": name, "status": "fail", "why": err.Error()})
			continue
		}
		emit(map[string]interface{}{"scenario": name, "status": "ran", "observed": result})
	}
}
