package io.statehouse.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.statehouse.v1.CountExecutionsRequest;
import io.statehouse.v1.CreateExecutionRequest;
import io.statehouse.v1.CreateTaskRunRequest;
import io.statehouse.v1.EventFilter;
import io.statehouse.v1.Execution;
import io.statehouse.v1.ExecutionServiceGrpc;
import io.statehouse.v1.GetExecutionRequest;
import io.statehouse.v1.Heartbeat;
import io.statehouse.v1.State;
import io.statehouse.v1.StateChangeEvent;
import io.statehouse.v1.SubscribeRequest;
import io.statehouse.v1.SubscribeResponse;
import io.statehouse.v1.TaskRun;
import io.statehouse.v1.TransitionExecutionRequest;
import io.statehouse.v1.TransitionTaskRunRequest;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The Java client's tests: a plain runner (no JUnit), run by tests/integration/test_java_client.py
 * against real servers.
 *
 * <p>{@code java -cp ... io.statehouse.client.ClientTests [NAME...]} runs the named tests (all by
 * default) and ends with the line {@code N passed, N failed}; it exits 1 when one failed. The
 * cursor's tests need no server; the others read their servers from the environment and are
 * skipped without them: {@code STATEHOUSE_TARGET} (plaintext), {@code STATEHOUSE_TLS_TARGET} with
 * {@code STATEHOUSE_TEST_TLS_DIR} (ca.pem, client.crt, client.key), and the restart test
 * {@code STATEHOUSE_RESTART=stdio}, which prints {@code RESTART <namespace>} and waits for a line
 * on standard input once the server was restarted.
 */
public final class ClientTests {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final Map<String, Runnable> TESTS = new LinkedHashMap<>();
  private static final Map<String, String> ENV = System.getenv();

  static {
    // Without a server: the sans-I/O cursor and the retry policy.
    TESTS.put("cursor_asks_for_batches_and_resumes_after_the_last_sequence", ClientTests::cursorRequests);
    TESTS.put("cursor_drops_duplicates_and_moves_on_heartbeats", ClientTests::cursorDuplicates);
    TESTS.put("cursor_from_latest_starts_at_the_start_header", ClientTests::cursorStartHeader);
    TESTS.put("retry_policy_backoff_grows_to_its_bound", ClientTests::retryBackoff);
    TESTS.put("retried_calls_dial_the_server_again", ClientTests::retriedCallsRedial);
    TESTS.put("reconnecting_subscription_dials_the_server_again", ClientTests::reconnectionsRedial);
    // Against STATEHOUSE_TARGET.
    TESTS.put("execution_and_task_run_through_a_lifecycle", ClientTests::lifecycle);
    TESTS.put("illegal_move_has_reason_metadata_and_precondition_failure", ClientTests::invalidTransition);
    TESTS.put("malformed_request_has_field_violations", ClientTests::badRequest);
    TESTS.put("revision_conflict_has_both_revisions", ClientTests::revisionMismatch);
    TESTS.put("unknown_execution_is_not_found", ClientTests::notFound);
    TESTS.put("unavailable_call_with_request_id_is_retried_with_the_same_id", ClientTests::retrySameId);
    TESTS.put("unavailable_change_without_request_id_is_not_retried", ClientTests::noRetryWithoutId);
    TESTS.put("generated_request_ids_make_changes_retried", ClientTests::generatedIds);
    TESTS.put("token_is_sent_on_calls_and_streams", ClientTests::tokenSent);
    TESTS.put("subscription_delivers_history_then_live_events_in_order", ClientTests::subscriptionInOrder);
    TESTS.put("subscription_from_latest_sees_only_new_events", ClientTests::subscriptionFromLatest);
    TESTS.put("unreachable_server_names_the_address", ClientTests::unreachable);
    // Against STATEHOUSE_TLS_TARGET.
    TESTS.put("tls_with_ca_client_certificate_and_server_name", ClientTests::tls);
    TESTS.put("tls_without_the_ca_fails_the_handshake", ClientTests::tlsUntrusted);
    // STATEHOUSE_RESTART=stdio, against STATEHOUSE_TARGET.
    TESTS.put("subscriptions_resume_across_a_server_restart", ClientTests::resumeAcrossRestart);
  }

  /** A test that cannot run here (its server is not given). */
  private static final class Skipped extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Skipped(String why) {
      super(why);
    }
  }

  public static void main(String[] args) {
    List<String> names = args.length == 0 ? new ArrayList<>(TESTS.keySet()) : List.of(args);
    int passed = 0;
    int failed = 0;
    int skipped = 0;
    for (String name : names) {
      Runnable test = TESTS.get(name);
      if (test == null) {
        System.out.println("FAIL " + name + ": no such test");
        failed++;
        continue;
      }
      long start = System.nanoTime();
      try {
        test.run();
        System.out.printf("PASS %s (%d ms)%n", name, (System.nanoTime() - start) / 1_000_000);
        passed++;
      } catch (Skipped s) {
        System.out.println("SKIP " + name + ": " + s.getMessage());
        skipped++;
      } catch (Throwable t) {
        System.out.println("FAIL " + name + ": " + t);
        t.printStackTrace(System.out);
        failed++;
      }
      System.out.flush();
    }
    System.out.printf("%d passed, %d failed, %d skipped%n", passed, failed, skipped);
    System.exit(failed == 0 ? 0 : 1);
  }

  // Assertions.

  private static void check(boolean condition, String what) {
    if (!condition) {
      throw new AssertionError(what);
    }
  }

  private static void equal(Object expected, Object actual, String what) {
    if (!java.util.Objects.equals(expected, actual)) {
      throw new AssertionError(what + ": expected " + expected + ", got " + actual);
    }
  }

  private static StatehouseException fails(Runnable call) {
    try {
      call.run();
    } catch (StatehouseException e) {
      return e;
    }
    throw new AssertionError("the call succeeded");
  }

  // Fixtures.

  /** How many times the retries below try: each must dial the server. */
  private static final int ATTEMPTS = 20;

  private static final RetryPolicy QUICK =
      RetryPolicy.DEFAULT.withMaxAttempts(ATTEMPTS).withBackoff(Duration.ofMillis(5), Duration.ofMillis(5));

  /** A server that closes every connection at once, counting them. */
  private static final class DownServer implements AutoCloseable {
    final ServerSocket socket;
    final AtomicInteger accepted = new AtomicInteger();

    DownServer() {
      try {
        socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      Thread accepter =
          new Thread(
              () -> {
                while (!socket.isClosed()) {
                  try {
                    Socket connection = socket.accept();
                    accepted.incrementAndGet();
                    connection.close();
                  } catch (java.io.IOException e) {
                    // closed
                  }
                }
              });
      accepter.setDaemon(true);
      accepter.start();
    }

    String target() {
      return "127.0.0.1:" + socket.getLocalPort();
    }

    /**
     * Without a dial at each retry, grpc-java would dial once and then wait a second before the
     * next, and the attempts in between would fail at once.
     */
    void checkDialedAtEachRetry() {
      int dials = accepted.get();
      check(dials >= ATTEMPTS * 3 / 4, dials + " dials for " + ATTEMPTS + " attempts");
    }

    @Override
    public void close() throws java.io.IOException {
      socket.close();
    }
  }

  private static void retriedCallsRedial() {
    try (DownServer down = new DownServer();
        StatehouseClient client = StatehouseClient.builder(down.target()).plaintext().retry(QUICK).build()) {
      StatehouseException e =
          fails(
              () ->
                  client.createExecution(
                      CreateExecutionRequest.newBuilder()
                          .setNamespace("java.redial")
                          .setFlowId("java")
                          .setRequestId("redial-" + UUID.randomUUID())
                          .build()));
      check(e.isUnavailable(), "UNAVAILABLE: " + e);
      down.checkDialedAtEachRetry();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static void reconnectionsRedial() {
    try (DownServer down = new DownServer();
        StatehouseClient client = StatehouseClient.builder(down.target()).plaintext().build();
        Subscription subscription = client.subscribe(SubscribeOptions.all().fromLatest().retry(QUICK))) {
      StatehouseException e = fails(() -> subscription.poll(WAIT));
      check(e.isUnavailable(), "UNAVAILABLE after the attempts: " + e);
      down.checkDialedAtEachRetry();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static String target() {
    String target = ENV.get("STATEHOUSE_TARGET");
    if (target == null || target.isEmpty()) {
      throw new Skipped("STATEHOUSE_TARGET is not set");
    }
    return target;
  }

  private static StatehouseClient client() {
    return StatehouseClient.builder(target()).plaintext().token("").build();
  }

  private static String namespace() {
    return "java-" + UUID.randomUUID().toString().substring(0, 8);
  }

  private static Execution create(StatehouseClient client, String namespace) {
    return client
        .createExecution(CreateExecutionRequest.newBuilder().setNamespace(namespace).setFlowId("java").build())
        .getExecution();
  }

  private static long count(StatehouseClient client, String namespace) {
    return client.countExecutions(CountExecutionsRequest.newBuilder().setNamespace(namespace).build()).getTotal();
  }

  /** Turns the first answer of one method into UNAVAILABLE, after the server has acted on it. */
  private static final class LoseFirstAnswer implements ClientInterceptor {
    final AtomicInteger calls = new AtomicInteger();
    final List<String> requestIds = new ArrayList<>();
    private final String method;

    LoseFirstAnswer(MethodDescriptor<?, ?> method) {
      this.method = method.getFullMethodName();
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> m, CallOptions options, Channel next) {
      if (!m.getFullMethodName().equals(method)) {
        return next.newCall(m, options);
      }
      boolean lose = calls.getAndIncrement() == 0;
      return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, options)) {
        @Override
        public void sendMessage(Q message) {
          if (message instanceof CreateExecutionRequest request) {
            synchronized (requestIds) {
              requestIds.add(request.getRequestId());
            }
          }
          super.sendMessage(message);
        }

        @Override
        public void start(Listener<R> listener, Metadata headers) {
          super.start(
              new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                @Override
                public void onMessage(R message) {
                  if (!lose) {
                    super.onMessage(message);
                  }
                }

                @Override
                public void onClose(Status status, Metadata trailers) {
                  super.onClose(lose ? Status.UNAVAILABLE.withDescription("the answer was lost") : status, trailers);
                }
              },
              headers);
        }
      };
    }
  }

  // Without a server.

  private static void cursorRequests() {
    EventFilter filter = EventFilter.newBuilder().setNamespace("n").build();
    SubscriptionCursor cursor = new SubscriptionCursor(filter, 7, false, Duration.ofMillis(500));
    SubscribeRequest first = cursor.request();
    equal(7L, first.getAfterSequence(), "after_sequence");
    equal(false, first.getFromLatest(), "from_latest");
    equal(SubscriptionCursor.MAX_EVENTS_PER_MESSAGE, first.getMaxEventsPerMessage(), "max_events_per_message");
    equal(500_000_000, first.getHeartbeatInterval().getNanos(), "heartbeat_interval");
    equal(filter, first.getFilter(), "filter");
    cursor.accept(SubscribeResponse.newBuilder().addEvents(event(8)).addEvents(event(9)).build());
    equal(9L, cursor.request().getAfterSequence(), "after a batch");
  }

  private static StateChangeEvent event(long sequence) {
    return StateChangeEvent.newBuilder().setSequence(sequence).build();
  }

  private static void cursorDuplicates() {
    SubscriptionCursor cursor = new SubscriptionCursor(EventFilter.getDefaultInstance(), 0, false, null);
    List<StateChangeEvent> got =
        cursor.accept(SubscribeResponse.newBuilder().addEvents(event(1)).addEvents(event(2)).build());
    equal(2, got.size(), "a batch handed over whole");
    got = cursor.accept(SubscribeResponse.newBuilder().addEvents(event(2)).addEvents(event(3)).build());
    equal(List.of(event(3)), got, "the repeated event dropped");
    equal(1L, cursor.duplicatesDropped(), "duplicates");
    got = cursor.accept(SubscribeResponse.newBuilder().setHeartbeat(Heartbeat.newBuilder().setSequence(10)).build());
    equal(List.of(), got, "heartbeats are not handed over");
    equal(10L, cursor.resumePoint().getAsLong(), "a heartbeat moves the cursor");
    got = cursor.accept(SubscribeResponse.newBuilder().setEvent(event(9)).build());
    equal(List.of(), got, "an event a heartbeat covered");
    got = cursor.accept(SubscribeResponse.newBuilder().setEvent(event(11)).build());
    equal(List.of(event(11)), got, "one event per message");
  }

  private static void cursorStartHeader() {
    SubscriptionCursor cursor = new SubscriptionCursor(EventFilter.getDefaultInstance(), 0, true, null);
    check(cursor.resumePoint().isEmpty(), "no position before the stream starts");
    equal(true, cursor.request().getFromLatest(), "from_latest");
    cursor.started("not a number");
    check(cursor.resumePoint().isEmpty(), "a malformed header is ignored");
    cursor.started("41");
    equal(41L, cursor.resumePoint().getAsLong(), "the start header places the cursor");
    SubscribeRequest resumed = cursor.request();
    equal(false, resumed.getFromLatest(), "a reconnection resumes, not from the latest");
    equal(41L, resumed.getAfterSequence(), "after the start");
    cursor.started("50");
    equal(41L, cursor.resumePoint().getAsLong(), "a later stream's header does not move a placed cursor");
  }

  private static void retryBackoff() {
    RetryPolicy policy = RetryPolicy.DEFAULT.withBackoff(Duration.ofMillis(100), Duration.ofMillis(300));
    Duration first = policy.backoff(1);
    check(first.toMillis() <= 100 && first.toMillis() >= 80, "first wait " + first);
    check(policy.backoff(10).toMillis() <= 300, "bounded");
    check(policy.allows(4) && !policy.allows(5), "5 attempts");
    check(!RetryPolicy.disabled().allows(1), "disabled");
  }

  // Against a server.

  private static void lifecycle() {
    try (StatehouseClient client = client()) {
      Execution execution = create(client, namespace());
      equal(State.STATE_CREATED, execution.getState(), "a new execution");
      TaskRun run =
          client
              .createTaskRun(CreateTaskRunRequest.newBuilder().setExecutionId(execution.getId()).setTaskId("extract").build())
              .getTaskRun();
      client.transitionTaskRun(
          TransitionTaskRunRequest.newBuilder().setTaskRunId(run.getId()).setState(State.STATE_RUNNING).build());
      client.transitionTaskRun(
          TransitionTaskRunRequest.newBuilder().setTaskRunId(run.getId()).setState(State.STATE_SUCCESS).build());
      client.transitionExecution(
          TransitionExecutionRequest.newBuilder().setExecutionId(execution.getId()).setState(State.STATE_SUCCESS).build());
      Execution done =
          client.getExecution(GetExecutionRequest.newBuilder().setExecutionId(execution.getId()).build()).getExecution();
      equal(State.STATE_SUCCESS, done.getState(), "the execution's state");
      equal(State.STATE_SUCCESS, done.getTaskRuns(0).getState(), "the task run's state");
    }
  }

  private static void invalidTransition() {
    try (StatehouseClient client = client()) {
      Execution execution = create(client, namespace());
      TaskRun run =
          client
              .createTaskRun(CreateTaskRunRequest.newBuilder().setExecutionId(execution.getId()).setTaskId("t").build())
              .getTaskRun();
      StatehouseException e =
          fails(
              () ->
                  client.transitionTaskRun(
                      TransitionTaskRunRequest.newBuilder().setTaskRunId(run.getId()).setState(State.STATE_SUCCESS).build()));
      equal(Status.Code.FAILED_PRECONDITION, e.code(), "code");
      equal("INVALID_TRANSITION", e.reason(), "reason");
      equal("CREATED", e.metadata().get("current_state"), "current_state");
      equal("SUCCESS", e.metadata().get("requested_state"), "requested_state");
      check(!e.preconditionViolations().isEmpty(), "a PreconditionFailure: " + e);
      check(e.lastSequence().isEmpty(), "no sequence on a unary error");
    }
  }

  private static void badRequest() {
    try (StatehouseClient client = client()) {
      StatehouseException e =
          fails(() -> client.createExecution(CreateExecutionRequest.newBuilder().setFlowId("f").build()));
      equal(Status.Code.INVALID_ARGUMENT, e.code(), "code");
      check(
          e.fieldViolations().stream().anyMatch(v -> v.field().equals("namespace")),
          "a violation of namespace: " + e.fieldViolations());
    }
  }

  private static void revisionMismatch() {
    try (StatehouseClient client = client()) {
      Execution execution = create(client, namespace());
      StatehouseException e =
          fails(
              () ->
                  client.transitionExecution(
                      TransitionExecutionRequest.newBuilder()
                          .setExecutionId(execution.getId())
                          .setState(State.STATE_RUNNING)
                          .setExpectedRevision(execution.getRevision() + 5)
                          .build()));
      equal(Status.Code.ABORTED, e.code(), "code");
      equal("REVISION_MISMATCH", e.reason(), "reason");
      equal(String.valueOf(execution.getRevision()), e.metadata().get("current_revision"), "current_revision");
      equal(String.valueOf(execution.getRevision() + 5), e.metadata().get("expected_revision"), "expected_revision");
    }
  }

  private static void notFound() {
    try (StatehouseClient client = client()) {
      StatehouseException e =
          fails(() -> client.getExecution(GetExecutionRequest.newBuilder().setExecutionId("no-such-execution").build()));
      equal(Status.Code.NOT_FOUND, e.code(), "code");
    }
  }

  private static void retrySameId() {
    LoseFirstAnswer lose = new LoseFirstAnswer(ExecutionServiceGrpc.getCreateExecutionMethod());
    String namespace = namespace();
    try (StatehouseClient client = StatehouseClient.builder(target()).plaintext().intercept(lose).build()) {
      String id = "create-" + UUID.randomUUID();
      Execution execution =
          client
              .createExecution(
                  CreateExecutionRequest.newBuilder().setNamespace(namespace).setFlowId("java").setRequestId(id).build())
              .getExecution();
      equal(2, lose.calls.get(), "attempts");
      equal(List.of(id, id), lose.requestIds, "the request ids sent");
      equal(1L, count(client, namespace), "executions created");
      equal(namespace, execution.getNamespace(), "the stored answer");
    }
  }

  private static void noRetryWithoutId() {
    LoseFirstAnswer lose = new LoseFirstAnswer(ExecutionServiceGrpc.getCreateExecutionMethod());
    String namespace = namespace();
    try (StatehouseClient client = StatehouseClient.builder(target()).plaintext().intercept(lose).build()) {
      StatehouseException e = fails(() -> create(client, namespace));
      check(e.isUnavailable(), "UNAVAILABLE: " + e);
      equal(1, lose.calls.get(), "attempts");
      equal(1L, count(client, namespace), "executions created");
    }
  }

  private static void generatedIds() {
    LoseFirstAnswer lose = new LoseFirstAnswer(ExecutionServiceGrpc.getCreateExecutionMethod());
    String namespace = namespace();
    try (StatehouseClient client =
        StatehouseClient.builder(target()).plaintext().generateRequestIds(true).intercept(lose).build()) {
      create(client, namespace);
      equal(2, lose.calls.get(), "attempts");
      check(!lose.requestIds.get(0).isEmpty(), "an id was generated");
      equal(lose.requestIds.get(0), lose.requestIds.get(1), "the same id sent twice");
      equal(1L, count(client, namespace), "executions created");
    }
  }

  private static void tokenSent() {
    List<String> seen = new ArrayList<>();
    ClientInterceptor record =
        new ClientInterceptor() {
          @Override
          public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> m, CallOptions options, Channel next) {
            return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, options)) {
              @Override
              public void start(Listener<R> listener, Metadata headers) {
                synchronized (seen) {
                  seen.add(m.getBareMethodName() + " " + headers.get(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER)));
                }
                super.start(listener, headers);
              }
            };
          }
        };
    // The server runs without --auth: it ignores the token, the client must still send it.
    try (StatehouseClient client =
            StatehouseClient.builder(target()).plaintext().token("sht_test_secret").intercept(record).build();
        Subscription subscription = client.subscribe(SubscribeOptions.all().fromLatest())) {
      create(client, namespace());
      check(subscription.awaitConnected(WAIT), "the stream is accepted");
      synchronized (seen) {
        check(seen.contains("CreateExecution Bearer sht_test_secret"), "the call's header: " + seen);
        check(seen.contains("Subscribe Bearer sht_test_secret"), "the stream's header: " + seen);
      }
    }
    Map<String, String> env = Map.of(StatehouseClient.TOKEN_ENV, "from-env");
    AtomicReference<String> header = new AtomicReference<>();
    ClientInterceptor one =
        new ClientInterceptor() {
          @Override
          public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> m, CallOptions options, Channel next) {
            return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, options)) {
              @Override
              public void start(Listener<R> listener, Metadata headers) {
                header.set(headers.get(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER)));
                super.start(listener, headers);
              }
            };
          }
        };
    try (StatehouseClient client = StatehouseClient.builder(target()).environment(env).intercept(one).build()) {
      create(client, namespace());
      equal("Bearer from-env", header.get(), "the token of $STATEHOUSE_TOKEN");
    }
  }

  private static void subscriptionInOrder() {
    try (StatehouseClient client = client()) {
      String namespace = namespace();
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        ids.add(create(client, namespace).getId());
      }
      try (Subscription subscription = client.subscribe(SubscribeOptions.all().namespace(namespace))) {
        List<StateChangeEvent> got = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
          got.add(subscription.poll(WAIT));
        }
        String live = create(client, namespace).getId();
        StateChangeEvent last = subscription.poll(WAIT);
        check(last != null, "the live event came");
        equal(live, last.getExecutionId(), "the live event");
        for (int i = 0; i < 30; i++) {
          check(got.get(i) != null, "event " + i + " came");
          equal(ids.get(i), got.get(i).getExecutionId(), "event " + i);
          equal(State.STATE_CREATED, got.get(i).getState(), "event " + i + "'s state");
          if (i > 0) {
            check(got.get(i).getSequence() > got.get(i - 1).getSequence(), "in sequence order");
          }
        }
        equal(last.getSequence(), subscription.lastSequence().getAsLong(), "the cursor");
        equal(0, subscription.reconnects(), "reconnects");
      }
    }
  }

  private static void subscriptionFromLatest() {
    try (StatehouseClient client = client()) {
      String namespace = namespace();
      create(client, namespace);
      try (Subscription subscription = client.subscribe(SubscribeOptions.all().namespace(namespace).fromLatest())) {
        check(subscription.awaitConnected(WAIT), "the stream is accepted");
        check(subscription.lastSequence().isPresent(), "the start header placed the cursor");
        String id = create(client, namespace).getId();
        StateChangeEvent event = subscription.poll(WAIT);
        check(event != null, "the new event came");
        equal(id, event.getExecutionId(), "only the new execution's event");
      }
    }
  }

  private static void unreachable() {
    try (StatehouseClient client =
        StatehouseClient.builder("127.0.0.1:1").plaintext().retry(RetryPolicy.disabled()).build()) {
      StatehouseException e = fails(() -> create(client, "n"));
      check(e.isUnavailable(), "UNAVAILABLE: " + e);
      check(e.getMessage().contains("cannot reach the Statehouse server at 127.0.0.1:1"), e.getMessage());
    }
  }

  // Over TLS.

  private static Path tlsFile(String name) {
    String dir = ENV.get("STATEHOUSE_TEST_TLS_DIR");
    String target = ENV.get("STATEHOUSE_TLS_TARGET");
    if (dir == null || target == null) {
      throw new Skipped("STATEHOUSE_TLS_TARGET and STATEHOUSE_TEST_TLS_DIR are not set");
    }
    return Path.of(dir, name);
  }

  private static void tls() {
    TlsOptions options =
        TlsOptions.trusting(tlsFile("ca.pem"))
            .withClientCertificate(tlsFile("client.crt"), tlsFile("client.key"))
            .withServerName("localhost");
    try (StatehouseClient client = StatehouseClient.builder(ENV.get("STATEHOUSE_TLS_TARGET")).tls(options).build()) {
      Execution execution = create(client, namespace());
      equal(State.STATE_CREATED, execution.getState(), "created over TLS");
    }
  }

  private static void tlsUntrusted() {
    TlsOptions options =
        TlsOptions.systemRoots()
            .withClientCertificate(tlsFile("client.crt"), tlsFile("client.key"))
            .withServerName("localhost");
    try (StatehouseClient client =
        StatehouseClient.builder(ENV.get("STATEHOUSE_TLS_TARGET")).tls(options).retry(RetryPolicy.disabled()).build()) {
      StatehouseException e = fails(() -> create(client, namespace()));
      check(e.isUnavailable(), "UNAVAILABLE: " + e);
      check(e.getMessage().contains("TLS handshake"), e.getMessage());
    }
  }

  // Across a restart of the server (driven by the pytest side).

  private static void resumeAcrossRestart() {
    if (!"stdio".equals(ENV.get("STATEHOUSE_RESTART"))) {
      throw new Skipped("STATEHOUSE_RESTART=stdio is not set");
    }
    String namespace = namespace();
    try (StatehouseClient client = client()) {
      for (int i = 0; i < 3; i++) {
        create(client, namespace);
      }
      // One from the start of the log, and one from the latest event that receives nothing
      // before the restart: it resumes from the start header, so it misses nothing either.
      try (Subscription history = client.subscribe(SubscribeOptions.all().namespace(namespace));
          Subscription latest = client.subscribe(SubscribeOptions.all().namespace(namespace).fromLatest())) {
        List<StateChangeEvent> before = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
          StateChangeEvent e = history.poll(WAIT);
          check(e != null, "history event " + i);
          before.add(e);
        }
        check(latest.awaitConnected(WAIT), "the latest stream is accepted");
        long start = latest.lastSequence().getAsLong();
        System.out.println("RESTART " + namespace);
        System.out.flush();
        // The pytest side restarts the server and creates executions in the namespace while
        // these streams are down, then answers with how many.
        int written = Integer.parseInt(readLine().trim());
        for (int i = 0; i < 2; i++) {
          create(client, namespace);
        }
        int after = written + 2;
        List<StateChangeEvent> resumed = new ArrayList<>();
        List<StateChangeEvent> fromLatest = new ArrayList<>();
        for (int i = 0; i < after; i++) {
          StateChangeEvent e = history.poll(WAIT);
          check(e != null, "history event after the restart " + i);
          resumed.add(e);
          StateChangeEvent l = latest.poll(WAIT);
          check(l != null, "latest event " + i);
          fromLatest.add(l);
        }
        check(history.reconnects() >= 1 && latest.reconnects() >= 1, "both streams reconnected");
        // What a fresh subscription reads from the log is what the resumed ones delivered.
        List<StateChangeEvent> log = new ArrayList<>();
        try (Subscription fresh = client.subscribe(SubscribeOptions.all().namespace(namespace))) {
          for (int i = 0; i < 3 + after; i++) {
            StateChangeEvent e = fresh.poll(WAIT);
            check(e != null, "log event " + i);
            log.add(e);
          }
          check(fresh.poll(Duration.ofMillis(200)) == null, "no more events in the log");
        }
        List<StateChangeEvent> all = new ArrayList<>(before);
        all.addAll(resumed);
        equal(sequences(log), sequences(all), "the resumed subscription: no gap, no duplicate");
        equal(sequences(log.subList(3, log.size())), sequences(fromLatest), "the from-latest one");
        check(start < fromLatest.get(0).getSequence(), "it started after its start header");
        check(history.poll(Duration.ofMillis(200)) == null, "nothing more on the resumed stream");
      }
    }
  }

  private static List<Long> sequences(List<StateChangeEvent> events) {
    return events.stream().map(StateChangeEvent::getSequence).toList();
  }

  private static BufferedReader stdin;

  private static String readLine() {
    try {
      if (stdin == null) {
        stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      }
      String line = stdin.readLine();
      if (line == null) {
        throw new AssertionError("standard input closed before the server was restarted");
      }
      return line;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private ClientTests() {}
}
