package io.statehouse.client;

import io.statehouse.v1.EventFilter;
import io.statehouse.v1.State;
import java.time.Duration;
import java.util.Objects;

/**
 * What to subscribe to and from where, an immutable value: {@code
 * SubscribeOptions.all().namespace("demo").fromLatest()}.
 */
public final class SubscribeOptions {
  private final EventFilter filter;
  private final long afterSequence;
  private final boolean fromLatest;
  private final Duration heartbeatInterval;
  private final RetryPolicy retry;

  private SubscribeOptions(
      EventFilter filter,
      long afterSequence,
      boolean fromLatest,
      Duration heartbeatInterval,
      RetryPolicy retry) {
    this.filter = Objects.requireNonNull(filter, "filter");
    if (afterSequence < 0) {
      throw new IllegalArgumentException("afterSequence must not be negative");
    }
    this.afterSequence = afterSequence;
    this.fromLatest = fromLatest;
    this.heartbeatInterval = heartbeatInterval;
    this.retry = retry;
  }

  /** Which events (empty: all). */
  public EventFilter filter() {
    return filter;
  }

  /** The sequence after which events are sent (0: the retained history first). */
  public long afterSequence() {
    return afterSequence;
  }

  /** Whether the stream starts after the latest event, ignoring {@link #afterSequence()}. */
  public boolean isFromLatest() {
    return fromLatest;
  }

  /** The heartbeat interval asked for (null: no heartbeats). */
  public Duration heartbeatInterval() {
    return heartbeatInterval;
  }

  /** How the stream reconnects (null: the client's stream retry). */
  public RetryPolicy retry() {
    return retry;
  }

  /** Every event, from the start of the retained history. */
  public static SubscribeOptions all() {
    return new SubscribeOptions(EventFilter.getDefaultInstance(), 0, false, null, null);
  }

  /** These options with another filter. */
  public SubscribeOptions filter(EventFilter eventFilter) {
    return new SubscribeOptions(eventFilter, afterSequence, fromLatest, heartbeatInterval, retry);
  }

  /** Only the events of this namespace. */
  public SubscribeOptions namespace(String namespace) {
    return filter(filter.toBuilder().setNamespace(namespace).build());
  }

  /** Only the events of this execution (may be given several times). */
  public SubscribeOptions execution(String executionId) {
    return filter(filter.toBuilder().addExecutionIds(executionId).build());
  }

  /** Only the events entering this state (may be given several times). */
  public SubscribeOptions state(State state) {
    return filter(filter.toBuilder().addStates(state).build());
  }

  /** The events after {@code sequence}: resume where a previous subscription stopped. */
  public SubscribeOptions after(long sequence) {
    return new SubscribeOptions(filter, sequence, false, heartbeatInterval, retry);
  }

  /** Only the events committed from now on. */
  public SubscribeOptions fromLatest() {
    return new SubscribeOptions(filter, 0, true, heartbeatInterval, retry);
  }

  /** Heartbeats when nothing was sent for {@code interval} (at least 100 ms). */
  public SubscribeOptions heartbeats(Duration interval) {
    return new SubscribeOptions(filter, afterSequence, fromLatest, interval, retry);
  }

  /** Reconnect by this policy. */
  public SubscribeOptions retry(RetryPolicy policy) {
    return new SubscribeOptions(filter, afterSequence, fromLatest, heartbeatInterval, policy);
  }
}
