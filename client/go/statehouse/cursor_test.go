package statehouse

import (
	"testing"

	"google.golang.org/grpc/metadata"

	statehousev1 "github.com/statehouse/statehouse/gen/go/statehouse/v1"
)

func event(seq int64) *statehousev1.StateChangeEvent {
	return &statehousev1.StateChangeEvent{Sequence: seq}
}

func sequences(events []*statehousev1.StateChangeEvent) []int64 {
	out := []int64{}
	for _, ev := range events {
		out = append(out, ev.GetSequence())
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCursorAsksForBatchesAndResumesAfterTheLastEvent(t *testing.T) {
	c := newCursor(SubscribeOptions{AfterSequence: 5})
	req := c.request()
	if req.GetAfterSequence() != 5 || req.GetFromLatest() || req.GetMaxEventsPerMessage() != MaxEventsPerMessage {
		t.Fatalf("first request %v", req)
	}
	got := c.accept(&statehousev1.SubscribeResponse{Events: []*statehousev1.StateChangeEvent{event(6), event(7), event(8)}})
	if !equal(sequences(got), []int64{6, 7, 8}) {
		t.Fatalf("batch handed over as %v", sequences(got))
	}
	if req := c.request(); req.GetAfterSequence() != 8 || req.GetFromLatest() {
		t.Fatalf("resume request %v", req)
	}
}

func TestCursorDropsWhatItAlreadyHandedOver(t *testing.T) {
	c := newCursor(SubscribeOptions{})
	c.accept(&statehousev1.SubscribeResponse{Payload: &statehousev1.SubscribeResponse_Event{Event: event(1)}})
	c.accept(&statehousev1.SubscribeResponse{Payload: &statehousev1.SubscribeResponse_Event{Event: event(2)}})
	got := c.accept(&statehousev1.SubscribeResponse{Events: []*statehousev1.StateChangeEvent{event(2), event(3)}})
	if !equal(sequences(got), []int64{3}) || c.duplicates != 1 {
		t.Fatalf("got %v, %d duplicates", sequences(got), c.duplicates)
	}
}

func TestHeartbeatsMoveTheCursorAndAreNotHandedOver(t *testing.T) {
	c := newCursor(SubscribeOptions{FromLatest: true})
	hb := &statehousev1.SubscribeResponse{Payload: &statehousev1.SubscribeResponse_Heartbeat{
		Heartbeat: &statehousev1.Heartbeat{Sequence: 40}}}
	if got := c.accept(hb); len(got) != 0 {
		t.Fatalf("a heartbeat was handed over: %v", got)
	}
	if last, known := c.last, c.known; last != 40 || !known {
		t.Fatalf("cursor %d %v after a heartbeat", last, known)
	}
	if req := c.request(); req.GetFromLatest() || req.GetAfterSequence() != 40 {
		t.Fatalf("resume request %v", req)
	}
}

func TestAFromLatestCursorLearnsItsStartFromTheHeader(t *testing.T) {
	c := newCursor(SubscribeOptions{FromLatest: true, AfterSequence: 3})
	if req := c.request(); !req.GetFromLatest() || req.GetAfterSequence() != 0 {
		t.Fatalf("first request %v", req)
	}
	c.headers(metadata.Pairs(StartHeader, "17"))
	if req := c.request(); req.GetFromLatest() || req.GetAfterSequence() != 17 {
		t.Fatalf("a stream that received nothing resumes with %v", req)
	}
	// Once known, a later stream's header does not move the cursor back.
	c.headers(metadata.Pairs(StartHeader, "30"))
	if c.last != 17 {
		t.Fatalf("the header moved a known cursor to %d", c.last)
	}
}
