package io.statehouse.client;

import com.google.protobuf.Duration;
import io.statehouse.v1.EventFilter;
import io.statehouse.v1.StateChangeEvent;
import io.statehouse.v1.SubscribeRequest;
import io.statehouse.v1.SubscribeResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * The resumable position of a subscription, without I/O (the Python SDK's {@code
 * SubscriptionCursor}, rule for rule).
 *
 * <p>It remembers the last sequence received, from events and from heartbeats (a heartbeat covers
 * every event up to its sequence), and from the {@code statehouse-start-sequence} header of a
 * {@code fromLatest} stream that has received nothing yet; it builds the request that resumes
 * after it, and drops anything at or below it, so a caller sees each event once, in order, across
 * reconnections.
 */
public final class SubscriptionCursor {
  /** The response header that says after which sequence a stream's events come. */
  public static final String START_HEADER = "statehouse-start-sequence";

  /** The most events the client accepts in one message (they are handed over one by one). */
  public static final int MAX_EVENTS_PER_MESSAGE = 1000;

  private final EventFilter filter;
  private final Duration heartbeatInterval;
  private long lastSequence;
  private boolean known;
  private long duplicatesDropped;

  /**
   * A cursor at {@code afterSequence}, or not yet placed when {@code fromLatest}.
   *
   * @param heartbeatInterval null: no heartbeats
   */
  public SubscriptionCursor(
      EventFilter filter,
      long afterSequence,
      boolean fromLatest,
      java.time.Duration heartbeatInterval) {
    if (afterSequence < 0) {
      throw new IllegalArgumentException("afterSequence must not be negative");
    }
    this.filter = filter;
    this.lastSequence = fromLatest ? 0 : afterSequence;
    this.known = !fromLatest;
    this.heartbeatInterval =
        heartbeatInterval == null
            ? null
            : Duration.newBuilder()
                .setSeconds(heartbeatInterval.getSeconds())
                .setNanos(heartbeatInterval.getNano())
                .build();
  }

  /** The sequence to resume after; empty when {@code fromLatest} and nothing received yet. */
  public OptionalLong resumePoint() {
    return known ? OptionalLong.of(lastSequence) : OptionalLong.empty();
  }

  /** Events received at or below the cursor and not handed over. */
  public long duplicatesDropped() {
    return duplicatesDropped;
  }

  /** The request that opens (or resumes) the stream. */
  public SubscribeRequest request() {
    SubscribeRequest.Builder request =
        SubscribeRequest.newBuilder()
            .setFilter(filter)
            .setAfterSequence(known ? lastSequence : 0)
            .setFromLatest(!known)
            .setMaxEventsPerMessage(MAX_EVENTS_PER_MESSAGE);
    if (heartbeatInterval != null) {
      request.setHeartbeatInterval(heartbeatInterval);
    }
    return request.build();
  }

  /**
   * The stream was accepted and its headers say where it starts ({@code value} of {@link
   * #START_HEADER}, or null): a cursor that asked for the latest event knows its position from
   * now on, so a reconnection before any event resumes from it and misses nothing committed in
   * between.
   */
  public void started(String value) {
    if (!known && value != null && value.matches("[0-9]+")) {
      lastSequence = Long.parseLong(value);
      known = true;
    }
  }

  /** Advances the cursor; returns the events to hand to the caller, in order. */
  public List<StateChangeEvent> accept(SubscribeResponse response) {
    switch (response.getPayloadCase()) {
      case EVENT:
        return fresh(List.of(response.getEvent()));
      case HEARTBEAT:
        long sequence = response.getHeartbeat().getSequence();
        if (!known || sequence > lastSequence) {
          lastSequence = sequence;
          known = true;
        }
        return List.of();
      default:
        return fresh(response.getEventsList());
    }
  }

  private List<StateChangeEvent> fresh(List<StateChangeEvent> events) {
    List<StateChangeEvent> fresh = new ArrayList<>(events.size());
    for (StateChangeEvent event : events) {
      if (known && event.getSequence() <= lastSequence) {
        duplicatesDropped++;
        continue;
      }
      lastSequence = event.getSequence();
      known = true;
      fresh.add(event);
    }
    return fresh;
  }
}
