// A first Statehouse program in Go: create an execution, see a refused move,
// run it to SUCCESS and read its events back.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/statehouse/statehouse/client/go/statehouse"
	statehousev1 "github.com/statehouse/statehouse/gen/go/statehouse/v1"
)

func main() {
	target := os.Getenv("STATEHOUSE_TARGET")
	if target == "" {
		target = "127.0.0.1:50051" // make run
	}
	// Options: statehouse.WithToken(secret), statehouse.WithTLS(statehouse.TLS{CAFile: "ca.pem"}).
	client, err := statehouse.Dial(target)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Idempotent gives the request a request_id: the client retries UNAVAILABLE
	// with the same id, and the server applies it once.
	created, err := statehouse.Idempotent(ctx, client.Executions.CreateExecution,
		&statehousev1.CreateExecutionRequest{Namespace: "demo", FlowId: "hello-go"})
	if err != nil {
		log.Fatal(err)
	}
	id := created.GetExecution().GetId()
	fmt.Println("created", id)

	// CREATED -> SUCCESS is not a legal move: the error says why.
	_, err = client.Executions.TransitionExecution(ctx, &statehousev1.TransitionExecutionRequest{
		ExecutionId: id, State: statehousev1.State_STATE_SUCCESS})
	var refused *statehouse.Error
	if !errors.As(err, &refused) {
		log.Fatalf("expected a refusal, got %v", err)
	}
	fmt.Println("refused:", refused.Code, refused.Reason, refused.Metadata)

	for _, state := range []statehousev1.State{statehousev1.State_STATE_RUNNING, statehousev1.State_STATE_SUCCESS} {
		_, err := statehouse.Idempotent(ctx, client.Executions.TransitionExecution,
			&statehousev1.TransitionExecutionRequest{ExecutionId: id, State: state})
		if err != nil {
			log.Fatal(err)
		}
	}

	// Its events from the start of the log, one by one; the subscription
	// resumes by itself after a lost connection.
	events := client.Subscribe(ctx, statehouse.SubscribeOptions{
		Filter: &statehousev1.EventFilter{ExecutionIds: []string{id}}})
	defer events.Close()
	for i := 0; i < 3; i++ {
		event, err := events.Next()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("event", event.GetSequence(), event.GetState())
	}
}
