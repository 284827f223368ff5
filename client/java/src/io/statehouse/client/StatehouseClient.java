package io.statehouse.client;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.netty.handler.ssl.SslContextBuilder;
import io.statehouse.v1.*;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A client of a Statehouse server: one channel, a method per RPC, and subscriptions that resume by
 * themselves.
 *
 * <pre>{@code
 * try (StatehouseClient client = StatehouseClient.builder("127.0.0.1:50051").build()) {
 *   Execution execution = client.createExecution(
 *       CreateExecutionRequest.newBuilder().setNamespace("demo").setFlowId("hello").build())
 *       .getExecution();
 * }
 * }</pre>
 *
 * <p>Each method takes the generated request and returns the generated response. A failed call
 * throws {@link StatehouseException}. A call is tried again after a transient error (by default
 * UNAVAILABLE, per {@link RetryPolicy}) only when repeating it is safe: a read, or a change that
 * carries a {@code request_id} (the server answers a repeated id with the stored response, so the
 * change is made once). {@link Builder#generateRequestIds(boolean)} gives every change a fresh id
 * when it has none, so that it too is retried. Each call has a deadline ({@link
 * Builder#timeout(Duration)}, 30 s by default).
 *
 * <p>{@link #channel()} is the channel with the client's token on it, for the generated stubs of
 * anything this class does not wrap ({@code FollowExecution}, health).
 */
public final class StatehouseClient implements AutoCloseable {
  /** The bearer token when the builder is given none. */
  public static final String TOKEN_ENV = "STATEHOUSE_TOKEN";

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Pattern TOKEN = Pattern.compile("[\\x21-\\x7e]+");

  /** Whether a request may be sent again after a transient error. */
  private enum Repeat {
    /** A read, or a change that repeating cannot alter. */
    READ,
    /** A change: when it carries a request_id (every item of a batch). */
    BY_REQUEST_ID,
    /** A change that repeating could apply twice. */
    NEVER
  }

  private final ManagedChannel managed;
  private final Channel channel;
  private final String target;
  private final Duration timeout;
  private final RetryPolicy retry;
  private final RetryPolicy streamRetry;
  private final boolean generateRequestIds;

  private StatehouseClient(Builder builder, ManagedChannel managed, Channel channel) {
    this.managed = managed;
    this.channel = channel;
    this.target = builder.target;
    this.timeout = builder.timeout;
    this.retry = builder.retry;
    this.streamRetry = builder.streamRetry;
    this.generateRequestIds = builder.generateRequestIds;
  }

  /** A builder of a client of the server at {@code target} ("host:port"). */
  public static Builder builder(String target) {
    return new Builder(target);
  }

  /** How to connect: token, TLS, deadline, retries. */
  public static final class Builder {
    private final String target;
    private String token;
    private boolean tokenSet;
    private TlsOptions tls;
    private boolean tlsSet;
    private Duration timeout = Duration.ofSeconds(30);
    private RetryPolicy retry = RetryPolicy.DEFAULT;
    private RetryPolicy streamRetry = RetryPolicy.STREAM_DEFAULT;
    private boolean generateRequestIds;
    private final List<ClientInterceptor> interceptors = new ArrayList<>();
    private Map<String, String> environment = System.getenv();

    private Builder(String target) {
      this.target = Objects.requireNonNull(target, "target");
    }

    /**
     * Send {@code authorization: Bearer <token>} with every call and stream. Not called: {@code
     * $STATEHOUSE_TOKEN} if set; null or "": no token.
     */
    public Builder token(String token) {
      this.token = token;
      this.tokenSet = true;
      return this;
    }

    /**
     * Connect with TLS. Not called: TLS when {@code $STATEHOUSE_TLS_CA} (and {@code _CERT}, {@code
     * _KEY}) are set, else plaintext.
     */
    public Builder tls(TlsOptions options) {
      this.tls = Objects.requireNonNull(options, "options");
      this.tlsSet = true;
      return this;
    }

    /** Connect without TLS, whatever the environment says. */
    public Builder plaintext() {
      this.tls = null;
      this.tlsSet = true;
      return this;
    }

    /** The deadline of each unary call (default 30 s). */
    public Builder timeout(Duration timeout) {
      this.timeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** When unary calls are retried (default {@link RetryPolicy#DEFAULT}). */
    public Builder retry(RetryPolicy policy) {
      this.retry = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /** When subscriptions reconnect (default {@link RetryPolicy#STREAM_DEFAULT}). */
    public Builder streamRetry(RetryPolicy policy) {
      this.streamRetry = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * Give each change that has no {@code request_id} a random one (a UUID), so that it is retried
     * after a transient error like a read (default false: only changes that carry an id are).
     */
    public Builder generateRequestIds(boolean generate) {
      this.generateRequestIds = generate;
      return this;
    }

    /** Intercept every call (they see the token's header). */
    public Builder intercept(ClientInterceptor interceptor) {
      interceptors.add(Objects.requireNonNull(interceptor, "interceptor"));
      return this;
    }

    /** Read {@code STATEHOUSE_TOKEN} and {@code STATEHOUSE_TLS_*} from this map, not the process's. */
    public Builder environment(Map<String, String> environment) {
      this.environment = Map.copyOf(environment);
      return this;
    }

    /** Opens the channel (it connects lazily, on the first call). */
    public StatehouseClient build() {
      String bearer = tokenSet ? token : environment.get(TOKEN_ENV);
      if (bearer != null && !bearer.isEmpty() && !TOKEN.matcher(bearer).matches()) {
        throw new IllegalArgumentException("the token must be printable ASCII without spaces");
      }
      TlsOptions security = tlsSet ? tls : TlsOptions.fromEnvironment(environment);
      NettyChannelBuilder channel = NettyChannelBuilder.forTarget(target);
      if (security == null) {
        channel.usePlaintext();
      } else {
        channel.sslContext(sslContext(security));
        if (security.serverName() != null) {
          channel.overrideAuthority(security.serverName());
        }
      }
      ManagedChannel managed = channel.build();
      List<ClientInterceptor> all = new ArrayList<>(interceptors);
      if (bearer != null && !bearer.isEmpty()) {
        all.add(bearerToken(bearer));
      }
      return new StatehouseClient(this, managed, ClientInterceptors.intercept(managed, all));
    }
  }

  private static io.netty.handler.ssl.SslContext sslContext(TlsOptions options) {
    try {
      SslContextBuilder ssl = GrpcSslContexts.forClient();
      if (options.ca() != null) {
        ssl.trustManager(options.ca().toFile());
      }
      if (options.certificateChain() != null) {
        ssl.keyManager(options.certificateChain().toFile(), options.privateKey().toFile());
      }
      return ssl.build();
    } catch (UnsupportedOperationException e) {
      // GrpcSslContexts fell back on the JDK's TLS, to which Debian's Netty gives no ALPN.
      throw new IllegalStateException(
          "TLS needs OpenSSL through netty-tcnative (Debian: libnetty-tcnative-java and"
              + " libnetty-tcnative-jni, on the class path as client/java/build.sh puts it): "
              + e.getMessage(),
          e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot use the TLS files: " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("cannot use the TLS files: " + e.getMessage(), e);
    }
  }

  /** Adds the token's header to every call (the last interceptor: the others see it). */
  private static ClientInterceptor bearerToken(String token) {
    String value = "Bearer " + token;
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(
          MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            headers.put(AUTHORIZATION, value);
            super.start(listener, headers);
          }
        };
      }
    };
  }

  /** The channel, with the token on it: for the generated stubs of what is not wrapped here. */
  public Channel channel() {
    return channel;
  }

  /** The address this client connects to. */
  public String target() {
    return target;
  }

  @Override
  public String toString() {
    return "StatehouseClient(" + target + ")";
  }

  /** Closes the channel: open calls are cancelled after a short grace. */
  @Override
  public void close() {
    managed.shutdown();
    try {
      if (!managed.awaitTermination(5, TimeUnit.SECONDS)) {
        managed.shutdownNow();
      }
    } catch (InterruptedException e) {
      managed.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Subscribes to state-change events (EventService.Subscribe), resuming by itself after failures.
   *
   * <p>The stream is opened now. {@code afterSequence} 0 replays the retained history, then goes
   * live; {@code fromLatest} starts after the latest event: the server's response header says
   * which, so even a subscription that has received nothing resumes from there without a gap.
   * Several events may come in one message; they are handed over one by one. Heartbeats (every
   * {@code heartbeatInterval}, when set) move the cursor without being handed over.
   */
  public Subscription subscribe(SubscribeOptions options) {
    SubscriptionCursor cursor =
        new SubscriptionCursor(
            options.filter(), options.afterSequence(), options.isFromLatest(), options.heartbeatInterval());
    RetryPolicy policy = options.retry() == null ? streamRetry : options.retry();
    return new Subscription(
        channel, managed::resetConnectBackoff, CallOptions.DEFAULT, cursor, policy, target);
  }

  /** One unary call with its deadline and retries. */
  private <Q extends Message, R> R call(MethodDescriptor<Q, R> method, Q request, Repeat repeat) {
    Q sent = request;
    if (repeat == Repeat.BY_REQUEST_ID && generateRequestIds) {
      sent = withRequestIds(request);
    }
    boolean repeatable = repeat == Repeat.READ || (repeat == Repeat.BY_REQUEST_ID && hasRequestIds(sent));
    int failures = 0;
    while (true) {
      try {
        CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
        return ClientCalls.blockingUnaryCall(channel, method, options, sent);
      } catch (StatusRuntimeException e) {
        StatehouseException error = StatehouseException.from(e, target);
        failures++;
        if (!repeatable || !retry.transientIf().test(error) || !retry.allows(failures)) {
          throw error;
        }
        sleep(retry.backoff(failures));
        // Dial again now if the channel is waiting to (see Subscription's redial).
        managed.resetConnectBackoff();
      }
    }
  }

  private static void sleep(Duration wait) {
    try {
      Thread.sleep(wait.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting to retry", e);
    }
  }

  /** The request's own request_id field, or for a batch each item's. */
  private static boolean hasRequestIds(Message request) {
    FieldDescriptor id = request.getDescriptorForType().findFieldByName("request_id");
    if (id != null) {
      return !((String) request.getField(id)).isEmpty();
    }
    FieldDescriptor items = request.getDescriptorForType().findFieldByName("requests");
    if (items == null || request.getRepeatedFieldCount(items) == 0) {
      return false;
    }
    for (int i = 0; i < request.getRepeatedFieldCount(items); i++) {
      if (!hasRequestIds((Message) request.getRepeatedField(items, i))) {
        return false;
      }
    }
    return true;
  }

  /** The request with a fresh request_id where it has none (each item of a batch alike). */
  @SuppressWarnings("unchecked")
  private static <Q extends Message> Q withRequestIds(Q request) {
    FieldDescriptor id = request.getDescriptorForType().findFieldByName("request_id");
    if (id != null) {
      if (!((String) request.getField(id)).isEmpty()) {
        return request;
      }
      return (Q) request.toBuilder().setField(id, UUID.randomUUID().toString()).build();
    }
    FieldDescriptor items = request.getDescriptorForType().findFieldByName("requests");
    if (items == null) {
      return request;
    }
    Message.Builder builder = request.toBuilder();
    for (int i = 0; i < request.getRepeatedFieldCount(items); i++) {
      builder.setRepeatedField(items, i, withRequestIds((Message) request.getRepeatedField(items, i)));
    }
    return (Q) builder.build();
  }

  /** ExecutionService.CreateExecution: Creates an execution in CREATED; repeatable with a request_id. */
  public CreateExecutionResponse createExecution(CreateExecutionRequest request) {
    return call(ExecutionServiceGrpc.getCreateExecutionMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** ExecutionService.GetExecution: Reads an execution (a read: always repeatable). */
  public GetExecutionResponse getExecution(GetExecutionRequest request) {
    return call(ExecutionServiceGrpc.getGetExecutionMethod(), request, Repeat.READ);
  }

  /** ExecutionService.ListExecutions: One page of executions; the next with page_token set to next_page_token. */
  public ListExecutionsResponse listExecutions(ListExecutionsRequest request) {
    return call(ExecutionServiceGrpc.getListExecutionsMethod(), request, Repeat.READ);
  }

  /** ExecutionService.CountExecutions: Counts the executions that match. */
  public CountExecutionsResponse countExecutions(CountExecutionsRequest request) {
    return call(ExecutionServiceGrpc.getCountExecutionsMethod(), request, Repeat.READ);
  }

  /** ExecutionService.DeleteExecution: Deletes an execution (never repeated on its own). */
  public DeleteExecutionResponse deleteExecution(DeleteExecutionRequest request) {
    return call(ExecutionServiceGrpc.getDeleteExecutionMethod(), request, Repeat.NEVER);
  }

  /** ExecutionService.CreateTaskRun: Creates a task run of an execution; repeatable with a request_id. */
  public CreateTaskRunResponse createTaskRun(CreateTaskRunRequest request) {
    return call(ExecutionServiceGrpc.getCreateTaskRunMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** ExecutionService.GetTaskRun: Reads a task run with its attempts. */
  public GetTaskRunResponse getTaskRun(GetTaskRunRequest request) {
    return call(ExecutionServiceGrpc.getGetTaskRunMethod(), request, Repeat.READ);
  }

  /** ExecutionService.TransitionExecution: Moves an execution to another state; repeatable with a request_id. */
  public TransitionExecutionResponse transitionExecution(TransitionExecutionRequest request) {
    return call(ExecutionServiceGrpc.getTransitionExecutionMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** ExecutionService.TransitionTaskRun: Moves a task run to another state; repeatable with a request_id. */
  public TransitionTaskRunResponse transitionTaskRun(TransitionTaskRunRequest request) {
    return call(ExecutionServiceGrpc.getTransitionTaskRunMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** ExecutionService.TransitionTaskRuns: Several task run moves, each with its own result; repeatable when every item has a request_id. */
  public TransitionTaskRunsResponse transitionTaskRuns(TransitionTaskRunsRequest request) {
    return call(ExecutionServiceGrpc.getTransitionTaskRunsMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** ExecutionService.PauseExecution: Pauses an execution (or one task run); repeatable with a request_id. */
  public PauseExecutionResponse pauseExecution(PauseExecutionRequest request) {
    return call(ExecutionServiceGrpc.getPauseExecutionMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** ExecutionService.ResumeExecution: Resumes a paused execution; repeatable with a request_id. */
  public ResumeExecutionResponse resumeExecution(ResumeExecutionRequest request) {
    return call(ExecutionServiceGrpc.getResumeExecutionMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** ExecutionService.KillExecution: Kills an execution and its active task runs; repeatable with a request_id. */
  public KillExecutionResponse killExecution(KillExecutionRequest request) {
    return call(ExecutionServiceGrpc.getKillExecutionMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** ExecutionService.RestartExecution: Restarts a failed or killed execution; repeatable with a request_id. */
  public RestartExecutionResponse restartExecution(RestartExecutionRequest request) {
    return call(ExecutionServiceGrpc.getRestartExecutionMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** ExecutionService.CompleteExecution: Ends an execution in a terminal state; repeatable with a request_id. */
  public CompleteExecutionResponse completeExecution(CompleteExecutionRequest request) {
    return call(ExecutionServiceGrpc.getCompleteExecutionMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** MetricService.RecordMetrics: Records metrics of a task run's attempt; repeatable with a request_id. */
  public RecordMetricsResponse recordMetrics(RecordMetricsRequest request) {
    return call(MetricServiceGrpc.getRecordMetricsMethod(), request, Repeat.BY_REQUEST_ID);
  }

  /** MetricService.ListMetrics: One page of metrics. */
  public ListMetricsResponse listMetrics(ListMetricsRequest request) {
    return call(MetricServiceGrpc.getListMetricsMethod(), request, Repeat.READ);
  }

  /** MetricService.AggregateMetrics: Aggregates metrics. */
  public AggregateMetricsResponse aggregateMetrics(AggregateMetricsRequest request) {
    return call(MetricServiceGrpc.getAggregateMetricsMethod(), request, Repeat.READ);
  }

  /** AdminService.CreateToken: Creates a token (admin); never repeated on its own: a second would be another token. */
  public CreateTokenResponse createToken(CreateTokenRequest request) {
    return call(AdminServiceGrpc.getCreateTokenMethod(), request, Repeat.NEVER);
  }

  /** AdminService.ListTokens: Lists the tokens (admin). */
  public ListTokensResponse listTokens(ListTokensRequest request) {
    return call(AdminServiceGrpc.getListTokensMethod(), request, Repeat.READ);
  }

  /** AdminService.RevokeToken: Revokes a token (admin); revoking twice is revoking once, so it is repeated. */
  public RevokeTokenResponse revokeToken(RevokeTokenRequest request) {
    return call(AdminServiceGrpc.getRevokeTokenMethod(), request, Repeat.READ);
  }

  /** AdminService.GetServerInfo: What the server is: its version, limits and options. */
  public GetServerInfoResponse getServerInfo(GetServerInfoRequest request) {
    return call(AdminServiceGrpc.getGetServerInfoMethod(), request, Repeat.READ);
  }
}
