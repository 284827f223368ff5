package io.statehouse.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.statehouse.v1.EventServiceGrpc;
import io.statehouse.v1.StateChangeEvent;
import io.statehouse.v1.SubscribeRequest;
import io.statehouse.v1.SubscribeResponse;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.OptionalLong;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A subscription to state-change events that resumes by itself: each event once, in order, across
 * reconnections and server restarts.
 *
 * <p>Iterate it ({@code for (StateChangeEvent e : subscription)}: it blocks until the next event)
 * or {@link #poll(Duration)} it with a deadline. When the stream fails with a transient error (or
 * ends), it is reopened after the {@link RetryPolicy}'s backoff with {@code after_sequence} set to
 * the last sequence received; events received again are dropped. When it gives up, the iteration
 * throws a {@link StatehouseException} whose {@link StatehouseException#lastSequence()} says where
 * to resume.
 *
 * <p>One thread consumes it; {@link #close()} may be called from any thread and wakes the
 * consumer, whose iteration then ends.
 */
public final class Subscription implements Iterator<StateChangeEvent>, Iterable<StateChangeEvent>, AutoCloseable {
  private static final Metadata.Key<String> START =
      Metadata.Key.of(SubscriptionCursor.START_HEADER, Metadata.ASCII_STRING_MARSHALLER);
  private static final Object WAKE = new Object();

  /** What the call's listener hands to the consumer, in the order it happened. */
  private record Headers(ClientCall<?, ?> call, String start) {}

  private record Message(ClientCall<?, ?> call, SubscribeResponse response) {}

  private record Closed(ClientCall<?, ?> call, Status status, Metadata trailers) {}

  private final Channel channel;
  /**
   * Makes the channel dial again at once if it is waiting to. After a failed connection
   * grpc-java waits 1 s, then 1.6 times longer each time up to 2 minutes, and every call meanwhile
   * fails at once: a reopening after its own backoff would otherwise fail without trying the
   * server, and spend the policy's attempts on a server that may be back.
   */
  private final Runnable redial;
  private final CallOptions options;
  private final SubscriptionCursor cursor;
  private final RetryPolicy retry;
  private final String target;
  private final BlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
  private final ArrayDeque<StateChangeEvent> ready = new ArrayDeque<>();
  private volatile ClientCall<SubscribeRequest, SubscribeResponse> call;
  private boolean connected;
  private long reopenAt;
  private int failures;
  private int opens;
  private volatile boolean closed;

  Subscription(
      Channel channel,
      Runnable redial,
      CallOptions options,
      SubscriptionCursor cursor,
      RetryPolicy retry,
      String target) {
    this.channel = channel;
    this.redial = redial;
    this.options = options;
    this.cursor = cursor;
    this.retry = retry;
    this.target = target;
    open();
  }

  /** The sequence to resume after: the last event (or heartbeat) received; empty before any. */
  public OptionalLong lastSequence() {
    return cursor.resumePoint();
  }

  /** How many times the stream was opened again after a failure or its end. */
  public int reconnects() {
    return Math.max(opens - 1, 0);
  }

  /** Events received again (at or below the last sequence) and not handed over. */
  public long duplicatesDropped() {
    return cursor.duplicatesDropped();
  }

  /**
   * Waits until the stream now open has been accepted by the server (its headers arrived), opening
   * it again if it failed. A {@code fromLatest} subscription knows its position from then on.
   * Events that arrive meanwhile are kept for the iteration.
   *
   * @return false when {@code timeout} passed first, or the subscription was closed
   */
  public boolean awaitConnected(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!connected) {
      if (closed || !step(deadline)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The next event, waiting at most {@code timeout}; null when none came in time or the
   * subscription was closed.
   */
  public StateChangeEvent poll(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (ready.isEmpty()) {
      if (closed || !step(deadline)) {
        return null;
      }
    }
    return ready.poll();
  }

  @Override
  public boolean hasNext() {
    while (ready.isEmpty()) {
      if (closed) {
        return false;
      }
      step(Long.MAX_VALUE);
    }
    return true;
  }

  @Override
  public StateChangeEvent next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the subscription is closed");
    }
    return ready.poll();
  }

  @Override
  public Iterator<StateChangeEvent> iterator() {
    return this;
  }

  /** Cancels the stream; the iteration ends. Safe from any thread, and more than once. */
  @Override
  public void close() {
    closed = true;
    ClientCall<SubscribeRequest, SubscribeResponse> open = call;
    if (open != null) {
      open.cancel("the subscription was closed", null);
    }
    inbox.add(WAKE);
  }

  /**
   * One step: reopen the stream when its backoff is over, else take one thing from the call
   * (headers, a message, its end). False when the deadline passed first.
   */
  private boolean step(long deadline) {
    if (call == null && System.nanoTime() - reopenAt >= 0) {
      redial.run();
      open();
    }
    long until = call == null ? Math.min(deadline, reopenAt) : deadline;
    Object item;
    try {
      item =
          until == Long.MAX_VALUE
              ? inbox.take()
              : inbox.poll(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      close();
      return false;
    }
    if (closed) {
      cancel();
      return false;
    }
    if (item == null) {
      return System.nanoTime() - deadline < 0;
    }
    if (item instanceof Headers headers && headers.call() == call) {
      connected = true;
      cursor.started(headers.start());
    } else if (item instanceof Message message && message.call() == call) {
      connected = true;
      failures = 0;
      ready.addAll(cursor.accept(message.response()));
      call.request(1);
    } else if (item instanceof Closed end && end.call() == call) {
      call = null;
      connected = false;
      reopenAfter(end.status(), end.trailers());
    }
    return true;
  }

  /** The stream failed (or ended): schedule its reopening, or throw when that is over. */
  private void reopenAfter(Status status, Metadata trailers) {
    StatehouseException error =
        status.isOk() ? null : StatehouseException.from(status, trailers, target);
    failures++;
    if ((error == null || retry.transientIf().test(error)) && retry.allows(failures)) {
      reopenAt = System.nanoTime() + retry.backoff(failures).toNanos();
      return;
    }
    closed = true;
    if (error == null) {
      error =
          StatehouseException.from(
              Status.UNAVAILABLE.withDescription("the subscription ended " + failures + " times in a row"),
              new Metadata(),
              target);
    }
    throw error.withLastSequence(cursor.resumePoint());
  }

  private void open() {
    opens++;
    connected = false;
    ClientCall<SubscribeRequest, SubscribeResponse> opened =
        channel.newCall(EventServiceGrpc.getSubscribeMethod(), options);
    call = opened;
    opened.start(
        new ClientCall.Listener<>() {
          @Override
          public void onHeaders(Metadata headers) {
            inbox.add(new Headers(opened, headers.get(START)));
          }

          @Override
          public void onMessage(SubscribeResponse response) {
            inbox.add(new Message(opened, response));
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            inbox.add(new Closed(opened, status, trailers));
          }
        },
        new Metadata());
    opened.sendMessage(cursor.request());
    opened.halfClose();
    opened.request(1);
  }

  private void cancel() {
    if (call != null) {
      call.cancel("the subscription was closed", null);
      call = null;
    }
  }
}
