package io.statehouse.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * EventService streams state changes: ordered by sequence, each event once,
 * no gaps, resumable from the last sequence received.
 * </pre>
 */
@javax.annotation.Generated(
    value = "by gRPC proto compiler",
    comments = "Source: statehouse/v1/event_service.proto")
@io.grpc.stub.annotations.GrpcGenerated
public final class EventServiceGrpc {

  private EventServiceGrpc() {}

  public static final String SERVICE_NAME = "statehouse.v1.EventService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.SubscribeRequest,
      io.statehouse.v1.SubscribeResponse> getSubscribeMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Subscribe",
      requestType = io.statehouse.v1.SubscribeRequest.class,
      responseType = io.statehouse.v1.SubscribeResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.SubscribeRequest,
      io.statehouse.v1.SubscribeResponse> getSubscribeMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.SubscribeRequest, io.statehouse.v1.SubscribeResponse> getSubscribeMethod;
    if ((getSubscribeMethod = EventServiceGrpc.getSubscribeMethod) == null) {
      synchronized (EventServiceGrpc.class) {
        if ((getSubscribeMethod = EventServiceGrpc.getSubscribeMethod) == null) {
          EventServiceGrpc.getSubscribeMethod = getSubscribeMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.SubscribeRequest, io.statehouse.v1.SubscribeResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Subscribe"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.SubscribeRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.SubscribeResponse.getDefaultInstance()))
              .setSchemaDescriptor(new EventServiceMethodDescriptorSupplier("Subscribe"))
              .build();
        }
      }
    }
    return getSubscribeMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.FollowExecutionRequest,
      io.statehouse.v1.FollowExecutionResponse> getFollowExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "FollowExecution",
      requestType = io.statehouse.v1.FollowExecutionRequest.class,
      responseType = io.statehouse.v1.FollowExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.FollowExecutionRequest,
      io.statehouse.v1.FollowExecutionResponse> getFollowExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.FollowExecutionRequest, io.statehouse.v1.FollowExecutionResponse> getFollowExecutionMethod;
    if ((getFollowExecutionMethod = EventServiceGrpc.getFollowExecutionMethod) == null) {
      synchronized (EventServiceGrpc.class) {
        if ((getFollowExecutionMethod = EventServiceGrpc.getFollowExecutionMethod) == null) {
          EventServiceGrpc.getFollowExecutionMethod = getFollowExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.FollowExecutionRequest, io.statehouse.v1.FollowExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "FollowExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.FollowExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.FollowExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new EventServiceMethodDescriptorSupplier("FollowExecution"))
              .build();
        }
      }
    }
    return getFollowExecutionMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static EventServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<EventServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<EventServiceStub>() {
        @java.lang.Override
        public EventServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new EventServiceStub(channel, callOptions);
        }
      };
    return EventServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static EventServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<EventServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<EventServiceBlockingStub>() {
        @java.lang.Override
        public EventServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new EventServiceBlockingStub(channel, callOptions);
        }
      };
    return EventServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static EventServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<EventServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<EventServiceFutureStub>() {
        @java.lang.Override
        public EventServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new EventServiceFutureStub(channel, callOptions);
        }
      };
    return EventServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * EventService streams state changes: ordered by sequence, each event once,
   * no gaps, resumable from the last sequence received.
   * </pre>
   */
  public static abstract class EventServiceImplBase implements io.grpc.BindableService {

    /**
     * <pre>
     * Streams the events after a sequence, then live events as they commit.
     * The response headers say where the stream starts, as soon as it is
     * accepted: `statehouse-start-sequence` is the sequence after which its
     * events come (with from_latest, the newest event then), the cursor to
     * resume from before any event or heartbeat has arrived.
     * </pre>
     */
    public void subscribe(io.statehouse.v1.SubscribeRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.SubscribeResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getSubscribeMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams snapshots of one execution: one at once, one after each change,
     * ending when the execution and all its task runs are terminal.
     * </pre>
     */
    public void followExecution(io.statehouse.v1.FollowExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.FollowExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getFollowExecutionMethod(), responseObserver);
    }

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
          .addMethod(
            getSubscribeMethod(),
            io.grpc.stub.ServerCalls.asyncServerStreamingCall(
              new MethodHandlers<
                io.statehouse.v1.SubscribeRequest,
                io.statehouse.v1.SubscribeResponse>(
                  this, METHODID_SUBSCRIBE)))
          .addMethod(
            getFollowExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncServerStreamingCall(
              new MethodHandlers<
                io.statehouse.v1.FollowExecutionRequest,
                io.statehouse.v1.FollowExecutionResponse>(
                  this, METHODID_FOLLOW_EXECUTION)))
          .build();
    }
  }

  /**
   * <pre>
   * EventService streams state changes: ordered by sequence, each event once,
   * no gaps, resumable from the last sequence received.
   * </pre>
   */
  public static final class EventServiceStub extends io.grpc.stub.AbstractAsyncStub<EventServiceStub> {
    private EventServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected EventServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new EventServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Streams the events after a sequence, then live events as they commit.
     * The response headers say where the stream starts, as soon as it is
     * accepted: `statehouse-start-sequence` is the sequence after which its
     * events come (with from_latest, the newest event then), the cursor to
     * resume from before any event or heartbeat has arrived.
     * </pre>
     */
    public void subscribe(io.statehouse.v1.SubscribeRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.SubscribeResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getSubscribeMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams snapshots of one execution: one at once, one after each change,
     * ending when the execution and all its task runs are terminal.
     * </pre>
     */
    public void followExecution(io.statehouse.v1.FollowExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.FollowExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getFollowExecutionMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * <pre>
   * EventService streams state changes: ordered by sequence, each event once,
   * no gaps, resumable from the last sequence received.
   * </pre>
   */
  public static final class EventServiceBlockingStub extends io.grpc.stub.AbstractBlockingStub<EventServiceBlockingStub> {
    private EventServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected EventServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new EventServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Streams the events after a sequence, then live events as they commit.
     * The response headers say where the stream starts, as soon as it is
     * accepted: `statehouse-start-sequence` is the sequence after which its
     * events come (with from_latest, the newest event then), the cursor to
     * resume from before any event or heartbeat has arrived.
     * </pre>
     */
    public java.util.Iterator<io.statehouse.v1.SubscribeResponse> subscribe(
        io.statehouse.v1.SubscribeRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getSubscribeMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams snapshots of one execution: one at once, one after each change,
     * ending when the execution and all its task runs are terminal.
     * </pre>
     */
    public java.util.Iterator<io.statehouse.v1.FollowExecutionResponse> followExecution(
        io.statehouse.v1.FollowExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getFollowExecutionMethod(), getCallOptions(), request);
    }
  }

  /**
   * <pre>
   * EventService streams state changes: ordered by sequence, each event once,
   * no gaps, resumable from the last sequence received.
   * </pre>
   */
  public static final class EventServiceFutureStub extends io.grpc.stub.AbstractFutureStub<EventServiceFutureStub> {
    private EventServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected EventServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new EventServiceFutureStub(channel, callOptions);
    }
  }

  private static final int METHODID_SUBSCRIBE = 0;
  private static final int METHODID_FOLLOW_EXECUTION = 1;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final EventServiceImplBase serviceImpl;
    private final int methodId;

    MethodHandlers(EventServiceImplBase serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_SUBSCRIBE:
          serviceImpl.subscribe((io.statehouse.v1.SubscribeRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.SubscribeResponse>) responseObserver);
          break;
        case METHODID_FOLLOW_EXECUTION:
          serviceImpl.followExecution((io.statehouse.v1.FollowExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.FollowExecutionResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  private static abstract class EventServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    EventServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.statehouse.v1.EventServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("EventService");
    }
  }

  private static final class EventServiceFileDescriptorSupplier
      extends EventServiceBaseDescriptorSupplier {
    EventServiceFileDescriptorSupplier() {}
  }

  private static final class EventServiceMethodDescriptorSupplier
      extends EventServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final String methodName;

    EventServiceMethodDescriptorSupplier(String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (EventServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new EventServiceFileDescriptorSupplier())
              .addMethod(getSubscribeMethod())
              .addMethod(getFollowExecutionMethod())
              .build();
        }
      }
    }
    return result;
  }
}
