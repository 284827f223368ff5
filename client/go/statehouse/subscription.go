package statehouse

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	statehousev1 "github.com/statehouse/statehouse/gen/go/statehouse/v1"
)

// StartHeader is the response header of Subscribe that says after which
// sequence the stream's events come (with FromLatest: the newest event then).
const StartHeader = "statehouse-start-sequence"

// MaxEventsPerMessage is how many events a subscription accepts in one
// message (they are handed over one by one).
const MaxEventsPerMessage = 1000

// SubscribeOptions says which events to receive and from where.
type SubscribeOptions struct {
	// Filter selects the events (nil: all).
	Filter *statehousev1.EventFilter
	// AfterSequence: 0 replays the retained history, then goes live; the
	// last sequence received resumes after it.
	AfterSequence int64
	// FromLatest starts after the newest event (AfterSequence is ignored).
	FromLatest bool
	// HeartbeatInterval asks for heartbeats when nothing was sent for this
	// long (0: none). They are not handed over; they move the cursor.
	HeartbeatInterval time.Duration
	// Retry governs reconnection (nil: DefaultStreamRetry). Its MaxAttempts
	// bounds consecutive failed reconnections.
	Retry *RetryPolicy
	// OnConnect is called each time the server accepts the stream, before
	// any event of that connection.
	OnConnect func(ConnectInfo)
	// OnReconnect is called before each wait and reopening.
	OnReconnect func(ReconnectInfo)
}

// ConnectInfo describes an accepted stream.
type ConnectInfo struct {
	// Opens is 1 the first time, more after reconnections.
	Opens int
	// LastSequence is where the stream resumes after (HasLastSequence false:
	// a FromLatest subscription that does not know it yet).
	LastSequence    int64
	HasLastSequence bool
}

// ReconnectInfo describes a coming reconnection.
type ReconnectInfo struct {
	// Attempt counts the consecutive failures, from 1.
	Attempt int
	// Err is the stream's error (nil: the server ended it).
	Err error
	// Delay is the wait before reopening.
	Delay           time.Duration
	LastSequence    int64
	HasLastSequence bool
}

// cursor is the resumable position of a subscription, without I/O (the
// Python SDK's SubscriptionCursor): it remembers the last sequence received,
// from events and heartbeats (a heartbeat covers every event up to its
// sequence) and from the start header, builds the request that resumes after
// it, and drops anything at or below it, so that each event is handed over
// once, in order, across reconnections.
type cursor struct {
	filter            *statehousev1.EventFilter
	heartbeatInterval time.Duration
	last              int64
	known             bool
	duplicates        int
}

func newCursor(opts SubscribeOptions) *cursor {
	return &cursor{
		filter:            opts.Filter,
		heartbeatInterval: opts.HeartbeatInterval,
		last:              opts.AfterSequence,
		known:             !opts.FromLatest,
	}
}

func (c *cursor) request() *statehousev1.SubscribeRequest {
	req := &statehousev1.SubscribeRequest{
		Filter:              c.filter,
		FromLatest:          !c.known,
		MaxEventsPerMessage: MaxEventsPerMessage,
	}
	if c.known {
		req.AfterSequence = c.last
	}
	if c.heartbeatInterval > 0 {
		req.HeartbeatInterval = durationpb.New(c.heartbeatInterval)
	}
	return req
}

// headers reads where an accepted stream starts: a cursor that asked for the
// latest event knows its position from then on, so a reconnection before any
// event misses nothing committed in between.
func (c *cursor) headers(md metadata.MD) {
	values := md.Get(StartHeader)
	if c.known || len(values) == 0 {
		return
	}
	if start, err := strconv.ParseInt(values[0], 10, 64); err == nil && start >= 0 {
		c.last, c.known = start, true
	}
}

// accept advances the cursor and returns the events to hand over, in order.
func (c *cursor) accept(resp *statehousev1.SubscribeResponse) []*statehousev1.StateChangeEvent {
	if hb := resp.GetHeartbeat(); hb != nil {
		if !c.known || hb.GetSequence() > c.last {
			c.last, c.known = hb.GetSequence(), true
		}
		return nil
	}
	events := resp.GetEvents()
	if ev := resp.GetEvent(); ev != nil {
		events = []*statehousev1.StateChangeEvent{ev}
	}
	fresh := make([]*statehousev1.StateChangeEvent, 0, len(events))
	for _, ev := range events {
		if c.known && ev.GetSequence() <= c.last {
			c.duplicates++
			continue
		}
		c.last, c.known = ev.GetSequence(), true
		fresh = append(fresh, ev)
	}
	return fresh
}

// Subscription is a stream of state-change events that reopens itself after
// a failure or an end, resuming after the last sequence it saw. Use it from
// one goroutine.
type Subscription struct {
	ctx     context.Context
	client  statehousev1.EventServiceClient
	conn    *grpc.ClientConn
	opts    SubscribeOptions
	retry   RetryPolicy
	cursor  *cursor
	stream  statehousev1.EventService_SubscribeClient
	cancel  context.CancelFunc
	pending []*statehousev1.StateChangeEvent
	opens   int
	// failures counts consecutive failed (or ended) streams since the last message.
	failures  int
	connected bool
	err       error
}

// Subscribe opens a subscription; the stream opens at the first Next. It
// lasts until ctx ends, Close is called, or reconnection gives up.
func (c *Client) Subscribe(ctx context.Context, opts SubscribeOptions) *Subscription {
	retry := DefaultStreamRetry
	if opts.Retry != nil {
		retry = *opts.Retry
	}
	return &Subscription{ctx: ctx, client: c.Events, conn: c.conn, opts: opts, retry: retry, cursor: newCursor(opts)}
}

// LastSequence is the sequence the subscription would resume after (false:
// a FromLatest subscription that does not know its position yet).
func (s *Subscription) LastSequence() (int64, bool) { return s.cursor.last, s.cursor.known }

// Reconnects is how many times the stream was opened again.
func (s *Subscription) Reconnects() int {
	if s.opens == 0 {
		return 0
	}
	return s.opens - 1
}

// Close ends the stream; Next then returns context.Canceled.
func (s *Subscription) Close() {
	s.closeStream()
	if s.err == nil {
		s.err = context.Canceled
	}
}

// Next waits for the next event. It returns the context's error when the
// context ends, and an *Error (LastSequence set) when the stream failed with
// an error that is not transient or reconnection gave up.
func (s *Subscription) Next() (*statehousev1.StateChangeEvent, error) {
	for {
		if len(s.pending) > 0 {
			ev := s.pending[0]
			s.pending = s.pending[1:]
			return ev, nil
		}
		if s.err != nil {
			return nil, s.err
		}
		if err := s.ctx.Err(); err != nil {
			s.closeStream()
			s.err = err
			continue
		}
		if s.stream == nil {
			if err := s.open(); err != nil {
				s.reopenAfter(err)
				continue
			}
		}
		resp, err := s.stream.Recv()
		if err != nil {
			s.closeStream()
			s.reopenAfter(err)
			continue
		}
		s.accepted()
		s.failures = 0
		s.pending = s.cursor.accept(resp)
	}
}

func (s *Subscription) open() error {
	s.opens++
	s.connected = false
	ctx, cancel := context.WithCancel(s.ctx)
	stream, err := s.client.Subscribe(ctx, s.cursor.request())
	if err != nil {
		cancel()
		return err
	}
	s.stream, s.cancel = stream, cancel
	// The headers come as soon as the server accepts the stream: the cursor
	// learns where it starts before any event (an error shows at Recv).
	if md, err := stream.Header(); err == nil && len(md.Get(StartHeader)) > 0 {
		s.cursor.headers(md)
		s.accepted()
	}
	return nil
}

func (s *Subscription) accepted() {
	if s.connected {
		return
	}
	s.connected = true
	if s.opts.OnConnect != nil {
		s.opts.OnConnect(ConnectInfo{Opens: s.opens, LastSequence: s.cursor.last, HasLastSequence: s.cursor.known})
	}
}

func (s *Subscription) closeStream() {
	if s.cancel != nil {
		s.cancel()
	}
	s.stream, s.cancel = nil, nil
}

// reopenAfter decides, after the stream failed with err (io.EOF: it ended),
// whether to reopen it (after a wait) or to end the subscription with an error
// (io.EOF when the server kept ending it).
func (s *Subscription) reopenAfter(err error) {
	if ctxErr := s.ctx.Err(); ctxErr != nil {
		s.err = ctxErr
		return
	}
	s.connected = false
	s.failures++
	var e *Error
	isError := errors.As(err, &e)
	ended := err == io.EOF
	if (ended || (isError && s.retry.transient(e))) && s.retry.allows(s.failures) {
		delay := s.retry.Backoff(s.failures)
		if s.opts.OnReconnect != nil {
			info := ReconnectInfo{Attempt: s.failures, Delay: delay,
				LastSequence: s.cursor.last, HasLastSequence: s.cursor.known}
			if !ended {
				info.Err = err
			}
			s.opts.OnReconnect(info)
		}
		if sleepErr := sleep(s.ctx, delay); sleepErr != nil {
			s.err = sleepErr
			return
		}
		redial(s.conn)
		return
	}
	if isError {
		e.LastSequence, e.HasLastSequence = s.cursor.last, s.cursor.known
	}
	s.err = err
}
