// The conformance driver of the Java client (client/java, io.statehouse.client).
//
// Compile it against the client's build (client/java/build.sh) and run it with
// the suite's variables set (tests/conformance/README.md):
//
//   javac -cp "$(cat client/java/build/classpath)" -d OUT tests/conformance/java/Driver.java
//   java -cp "$(cat client/java/build/classpath):OUT" Driver SCENARIO...
//
// It prints a JSON line per scenario: {"scenario", "status": "ran", "observed"}
// or {"scenario", "status": "fail" | "not-supported", "why"}.

import io.statehouse.client.StatehouseClient;
import io.statehouse.client.StatehouseException;
import io.statehouse.client.SubscribeOptions;
import io.statehouse.client.Subscription;
import io.statehouse.v1.CountExecutionsRequest;
import io.statehouse.v1.CreateExecutionRequest;
import io.statehouse.v1.CreateTaskRunRequest;
import io.statehouse.v1.Execution;
import io.statehouse.v1.GetExecutionRequest;
import io.statehouse.v1.KillExecutionRequest;
import io.statehouse.v1.PauseExecutionRequest;
import io.statehouse.v1.ResumeExecutionRequest;
import io.statehouse.v1.State;
import io.statehouse.v1.StateChangeEvent;
import io.statehouse.v1.TaskRun;
import io.statehouse.v1.TransitionExecutionRequest;
import io.statehouse.v1.TransitionTaskRunRequest;
import io.statehouse.v1.TransitionTaskRunResponse;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Collectors;

public final class Driver {
  /** How long the driver waits for any one event (a restart included). */
  private static final Duration WAIT = Duration.ofSeconds(30);

  private static final String TARGET = System.getenv("STATEHOUSE_CONFORMANCE_TARGET");
  private static final String AUTH_TARGET = System.getenv("STATEHOUSE_CONFORMANCE_AUTH_TARGET");
  private static final String READER_TOKEN = System.getenv("STATEHOUSE_CONFORMANCE_READER_TOKEN");
  private static final String RUN = System.getenv().getOrDefault("STATEHOUSE_CONFORMANCE_RUN", "conformance");
  private static final BufferedReader STDIN =
      new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));

  private interface Scenario {
    Map<String, String> observe(StatehouseClient client) throws Exception;
  }

  private static String namespace(String scenario) {
    return (RUN + "." + scenario).replace('_', '-');
  }

  // -- the output: JSON by hand, the JDK has no JSON library -------------------------------

  private static String quote(String text) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : text.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }

  private static String object(Map<String, ?> fields) {
    return fields.entrySet().stream()
        .map(e -> quote(e.getKey()) + ": "
            + (e.getValue() instanceof Map<?, ?> m ? object(castMap(m)) : quote(String.valueOf(e.getValue()))))
        .collect(Collectors.joining(", ", "{", "}"));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, ?> castMap(Map<?, ?> map) {
    return (Map<String, ?>) map;
  }

  private static void emit(Map<String, ?> line) {
    System.out.println(object(line));
    System.out.flush();
  }

  /** Asks the suite to restart the server; the ids of what it then created. */
  private static List<String> askRestart(String namespace) throws Exception {
    emit(Map.of("restart", namespace));
    String line = STDIN.readLine();
    if (line == null) {
      throw new IllegalStateException("the suite closed stdin instead of answering the restart");
    }
    return Arrays.stream(line.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList();
  }

  /** Runs {@code call}, which must be refused; its code and reason, and the exception. */
  private static StatehouseException refused(Runnable call, String what) {
    try {
      call.run();
    } catch (StatehouseException error) {
      return error;
    }
    throw new AssertionError(what + " was accepted");
  }

  private static Map<String, String> refusal(StatehouseException error, String prefix) {
    Map<String, String> out = new TreeMap<>();
    out.put(prefix + "code", error.code().name());
    out.put(prefix + "reason", error.reason());
    return out;
  }

  private static StatehouseClient connect(String target, String token) {
    return StatehouseClient.builder(target).plaintext().token(token).build();
  }

  // -- the scenarios -------------------------------------------------------------------------

  private static Execution create(StatehouseClient client, String scenario) {
    return client.createExecution(CreateExecutionRequest.newBuilder()
        .setNamespace(namespace(scenario)).setFlowId("etl").build()).getExecution();
  }

  private static TaskRun taskRun(StatehouseClient client, Execution execution, String task) {
    return client.createTaskRun(CreateTaskRunRequest.newBuilder()
        .setExecutionId(execution.getId()).setTaskId(task).build()).getTaskRun();
  }

  private static TransitionTaskRunResponse move(StatehouseClient client, TaskRun run, State state) {
    return client.transitionTaskRun(
        TransitionTaskRunRequest.newBuilder().setTaskRunId(run.getId()).setState(state).build());
  }

  private static Execution get(StatehouseClient client, Execution execution) {
    return client.getExecution(
        GetExecutionRequest.newBuilder().setExecutionId(execution.getId()).build()).getExecution();
  }

  private static Map<String, String> lifecycle(StatehouseClient client) {
    Execution execution = create(client, "lifecycle");
    TaskRun run = taskRun(client, execution, "extract");
    TransitionTaskRunResponse started = move(client, run, State.STATE_RUNNING);
    TransitionTaskRunResponse done = move(client, run, State.STATE_SUCCESS);
    client.transitionExecution(TransitionExecutionRequest.newBuilder()
        .setExecutionId(execution.getId()).setState(State.STATE_SUCCESS).build());
    Execution fin = get(client, execution);
    Map<String, String> out = new TreeMap<>();
    out.put("execution_created", execution.getState().name());
    out.put("task_run_created", run.getState().name());
    out.put("execution_after_task_run_started", started.getExecutionState().name());
    out.put("task_run_final", done.getTaskRun().getState().name());
    out.put("execution_final", fin.getState().name());
    out.put("execution_history",
        fin.getHistoryList().stream().map(h -> h.getState().name()).collect(Collectors.joining(" ")));
    return out;
  }

  private static Map<String, String> illegalMove(StatehouseClient client) {
    TaskRun run = taskRun(client, create(client, "illegal_move"), "extract");
    move(client, run, State.STATE_RUNNING);
    StatehouseException error = refused(() -> move(client, run, State.STATE_CREATED), "the illegal move");
    Map<String, String> out = refusal(error, "");
    out.put("current_state", error.metadata().get("current_state"));
    out.put("requested_state", error.metadata().get("requested_state"));
    return out;
  }

  private static Map<String, String> requestIdRetry(StatehouseClient client) {
    String ns = namespace("request_id_retry");
    CreateExecutionRequest request = CreateExecutionRequest.newBuilder().setNamespace(ns)
        .setFlowId("etl").setRequestId("conformance-" + UUID.randomUUID()).build();
    Execution first = client.createExecution(request).getExecution();
    Execution again = client.createExecution(request).getExecution();
    long total = client.countExecutions(CountExecutionsRequest.newBuilder().setNamespace(ns).build()).getTotal();
    StatehouseException error = refused(
        () -> client.createExecution(request.toBuilder().setFlowId("other").build()), "the reused request id");
    Map<String, String> out = refusal(error, "reused_");
    out.put("same_execution", String.valueOf(first.getId().equals(again.getId())));
    out.put("executions_created", String.valueOf(total));
    return out;
  }

  private static Map<String, String> revisionConflict(StatehouseClient client) {
    Execution execution = create(client, "revision_conflict");
    TransitionExecutionRequest.Builder request = TransitionExecutionRequest.newBuilder()
        .setExecutionId(execution.getId()).setExpectedRevision(execution.getRevision());
    Execution moved = client.transitionExecution(request.setState(State.STATE_RUNNING).build()).getExecution();
    StatehouseException error = refused(
        () -> client.transitionExecution(request.setState(State.STATE_SUCCESS).build()),
        "the stale expected_revision");
    Map<String, String> out = refusal(error, "");
    out.put("first_move", moved.getState().name());
    out.put("current_revision", error.metadata().get("current_revision"));
    out.put("expected_revision", error.metadata().get("expected_revision"));
    return out;
  }

  private static Map<String, String> pauseResume(StatehouseClient client) {
    Execution execution = create(client, "pause_resume");
    TaskRun a = taskRun(client, execution, "a");
    TaskRun b = taskRun(client, execution, "b");
    move(client, a, State.STATE_RUNNING);
    Execution paused = client.pauseExecution(
        PauseExecutionRequest.newBuilder().setExecutionId(execution.getId()).build()).getExecution();
    StatehouseException error = refused(
        () -> move(client, b, State.STATE_RUNNING), "a start in a paused execution");
    Execution resumed = client.resumeExecution(
        ResumeExecutionRequest.newBuilder().setExecutionId(execution.getId()).build()).getExecution();
    TransitionTaskRunResponse started = move(client, b, State.STATE_RUNNING);
    Map<String, String> out = refusal(error, "start_while_paused_");
    out.put("paused", paused.getState().name());
    out.put("resumed", resumed.getState().name());
    out.put("started_after_resume", started.getTaskRun().getState().name());
    return out;
  }

  private static Map<String, String> killCascade(StatehouseClient client) {
    Execution execution = create(client, "kill_cascade");
    TaskRun a = taskRun(client, execution, "a");
    TaskRun b = taskRun(client, execution, "b");
    move(client, a, State.STATE_RUNNING);
    Execution killed = client.killExecution(
        KillExecutionRequest.newBuilder().setExecutionId(execution.getId()).build()).getExecution();
    Map<String, State> byId = new LinkedHashMap<>();
    killed.getTaskRunsList().forEach(t -> byId.put(t.getId(), t.getState()));
    TransitionTaskRunResponse reported = move(client, a, State.STATE_KILLED);
    Map<String, String> out = new TreeMap<>();
    out.put("execution_after_kill", killed.getState().name());
    out.put("running_task_run_after_kill", byId.get(a.getId()).name());
    out.put("created_task_run_after_kill", byId.get(b.getId()).name());
    out.put("execution_after_report", reported.getExecutionState().name());
    out.put("execution_final", get(client, execution).getState().name());
    return out;
  }

  private static StateChangeEvent next(Subscription subscription) {
    StateChangeEvent event = subscription.poll(WAIT);
    if (event == null) {
      throw new IllegalStateException("no event in " + WAIT);
    }
    return event;
  }

  private static Map<String, String> subscriptionResume(StatehouseClient client) throws Exception {
    String ns = namespace("subscription_resume");
    try (Subscription subscription = client.subscribe(SubscribeOptions.all().namespace(ns).after(0))) {
      Execution before = client.createExecution(
          CreateExecutionRequest.newBuilder().setNamespace(ns).setFlowId("before").build()).getExecution();
      List<StateChangeEvent> received = new ArrayList<>(List.of(next(subscription)));
      List<String> expected = new ArrayList<>(askRestart(ns));
      // The channel may still be reconnecting: the same request, same id, until it is taken.
      CreateExecutionRequest request = CreateExecutionRequest.newBuilder().setNamespace(ns)
          .setFlowId("after").setRequestId("conformance-" + UUID.randomUUID()).build();
      long deadline = System.nanoTime() + WAIT.toNanos();
      Execution after;
      while (true) {
        try {
          after = client.createExecution(request).getExecution();
          break;
        } catch (StatehouseException error) {
          if (!error.isUnavailable() || System.nanoTime() > deadline) {
            throw error;
          }
          Thread.sleep(200);
        }
      }
      expected.add(after.getId());
      while (!received.get(received.size() - 1).getExecutionId().equals(after.getId())) {
        received.add(next(subscription));
      }
      List<String> ids = received.stream().map(StateChangeEvent::getExecutionId).toList();
      Set<String> seen = new HashSet<>(ids);
      boolean ordered = ids.subList(1, ids.size()).equals(expected);
      for (int i = 1; i < received.size(); i++) {
        ordered &= received.get(i - 1).getSequence() < received.get(i).getSequence();
      }
      Map<String, String> out = new TreeMap<>();
      out.put("before_restart", String.valueOf(ids.stream().filter(before.getId()::equals).count()));
      out.put("after_restart", String.valueOf(received.size() - 1));
      out.put("missing", String.valueOf(expected.stream().filter(id -> !seen.contains(id)).count()));
      out.put("duplicates", String.valueOf(ids.size() - seen.size()));
      out.put("in_order", String.valueOf(ordered));
      out.put("reopened", String.valueOf(subscription.reconnects() > 0));
      return out;
    }
  }

  private static Map<String, String> permissionDenied(StatehouseClient unused) {
    String ns = namespace("permission_denied");
    try (StatehouseClient reader = connect(AUTH_TARGET, READER_TOKEN)) {
      reader.countExecutions(CountExecutionsRequest.newBuilder().setNamespace(ns).build());
      StatehouseException error = refused(
          () -> reader.createExecution(CreateExecutionRequest.newBuilder().setNamespace(ns).setFlowId("etl").build()),
          "a create by a reader");
      Map<String, String> out = refusal(error, "");
      out.put("read_allowed", "true");
      out.put("role_needed", error.metadata().get("role_needed"));
      return out;
    }
  }

  private static final Map<String, Scenario> SCENARIOS = Map.of(
      "lifecycle", Driver::lifecycle,
      "illegal_move", Driver::illegalMove,
      "request_id_retry", Driver::requestIdRetry,
      "revision_conflict", Driver::revisionConflict,
      "pause_resume", Driver::pauseResume,
      "kill_cascade", Driver::killCascade,
      "subscription_resume", Driver::subscriptionResume,
      "permission_denied", Driver::permissionDenied);

  public static void main(String[] args) {
    try (StatehouseClient client = connect(TARGET, "")) {
      for (String name : args) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("scenario", name);
        Scenario scenario = SCENARIOS.get(name);
        if (scenario == null) {
          line.put("status", "fail");
          line.put("why", "this driver has no such scenario");
        } else {
          try {
            Map<String, String> observed = scenario.observe(client);
            line.put("status", "ran");
            line.put("observed", observed);
          } catch (Exception | AssertionError error) {
            error.printStackTrace();
            line.put("status", "fail");
            line.put("why", error.toString());
          }
        }
        emit(line);
      }
    }
  }
}
