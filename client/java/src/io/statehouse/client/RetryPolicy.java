package io.statehouse.client;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;

/**
 * When and how often the client tries a failed call again (the Python SDK's {@code CallRetry}).
 *
 * <p>A unary call is retried only when {@link #transientIf} says its error is transient (by
 * default UNAVAILABLE only) and the call is safe to repeat: a read, or a change that carries a
 * {@code request_id}. A subscription reconnects with the same backoff, the count of attempts
 * restarting after each message received.
 *
 * <p>{@code maxAttempts} counts the first try (1 disables retries; {@link #UNLIMITED} retries
 * without limit). The wait before retry {@code n} (1-based) is {@code min(maxBackoff,
 * initialBackoff * multiplier^(n - 1))}, randomly shortened by up to {@code jitter} (a fraction).
 *
 * @param maxAttempts the most attempts in a row, the first included
 * @param initialBackoff the wait before the first retry
 * @param maxBackoff the longest wait between two attempts
 * @param multiplier how much each wait grows (at least 1)
 * @param jitter the fraction by which a wait may be shortened at random (0 to 1)
 * @param transientIf which errors are worth another attempt
 */
public record RetryPolicy(
    int maxAttempts,
    Duration initialBackoff,
    Duration maxBackoff,
    double multiplier,
    double jitter,
    Predicate<StatehouseException> transientIf) {

  /** No limit on the attempts. */
  public static final int UNLIMITED = Integer.MAX_VALUE;

  /** The default of unary calls: 5 attempts within about 1.5 s, on UNAVAILABLE. */
  public static final RetryPolicy DEFAULT =
      new RetryPolicy(
          5,
          Duration.ofMillis(100),
          Duration.ofSeconds(3),
          2.0,
          0.2,
          StatehouseException::isUnavailable);

  /**
   * The default of subscriptions: up to 30 failed reconnections in a row, about a minute, long
   * enough to ride out a server restart.
   */
  public static final RetryPolicy STREAM_DEFAULT =
      new RetryPolicy(
          30,
          Duration.ofMillis(50),
          Duration.ofSeconds(2),
          2.0,
          0.2,
          StatehouseException::isUnavailable);

  /** Checks the values. */
  public RetryPolicy {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1 (or UNLIMITED)");
    }
    Objects.requireNonNull(initialBackoff, "initialBackoff");
    Objects.requireNonNull(maxBackoff, "maxBackoff");
    Objects.requireNonNull(transientIf, "transientIf");
    if (initialBackoff.isNegative() || maxBackoff.isNegative()) {
      throw new IllegalArgumentException("backoffs must not be negative");
    }
    if (multiplier < 1) {
      throw new IllegalArgumentException("multiplier must be at least 1");
    }
    if (jitter < 0 || jitter > 1) {
      throw new IllegalArgumentException("jitter must be between 0 and 1");
    }
  }

  /** A policy that never retries. */
  public static RetryPolicy disabled() {
    return DEFAULT.withMaxAttempts(1);
  }

  /** This policy with another number of attempts. */
  public RetryPolicy withMaxAttempts(int attempts) {
    return new RetryPolicy(attempts, initialBackoff, maxBackoff, multiplier, jitter, transientIf);
  }

  /** This policy with other waits. */
  public RetryPolicy withBackoff(Duration initial, Duration max) {
    return new RetryPolicy(maxAttempts, initial, max, multiplier, jitter, transientIf);
  }

  /** This policy with another predicate of what is transient. */
  public RetryPolicy withTransientIf(Predicate<StatehouseException> predicate) {
    return new RetryPolicy(maxAttempts, initialBackoff, maxBackoff, multiplier, jitter, predicate);
  }

  /** Whether a call (or stream) that already failed {@code failures} times may try again. */
  public boolean allows(int failures) {
    return failures < maxAttempts;
  }

  /** The wait before retry number {@code retry} (1-based). */
  public Duration backoff(int retry) {
    double nanos =
        Math.min(
            (double) maxBackoff.toNanos(),
            initialBackoff.toNanos() * Math.pow(multiplier, Math.max(0, retry - 1)));
    if (jitter > 0) {
      nanos *= 1 - ThreadLocalRandom.current().nextDouble() * jitter;
    }
    return Duration.ofNanos((long) nanos);
  }
}
