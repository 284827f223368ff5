package io.statehouse.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * MetricService records the counters and timers of task run attempts, lists
 * them and aggregates them over time.
 * </pre>
 */
@javax.annotation.Generated(
    value = "by gRPC proto compiler",
    comments = "Source: statehouse/v1/metric_service.proto")
@io.grpc.stub.annotations.GrpcGenerated
public final class MetricServiceGrpc {

  private MetricServiceGrpc() {}

  public static final String SERVICE_NAME = "statehouse.v1.MetricService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.RecordMetricsRequest,
      io.statehouse.v1.RecordMetricsResponse> getRecordMetricsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RecordMetrics",
      requestType = io.statehouse.v1.RecordMetricsRequest.class,
      responseType = io.statehouse.v1.RecordMetricsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.RecordMetricsRequest,
      io.statehouse.v1.RecordMetricsResponse> getRecordMetricsMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.RecordMetricsRequest, io.statehouse.v1.RecordMetricsResponse> getRecordMetricsMethod;
    if ((getRecordMetricsMethod = MetricServiceGrpc.getRecordMetricsMethod) == null) {
      synchronized (MetricServiceGrpc.class) {
        if ((getRecordMetricsMethod = MetricServiceGrpc.getRecordMetricsMethod) == null) {
          MetricServiceGrpc.getRecordMetricsMethod = getRecordMetricsMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.RecordMetricsRequest, io.statehouse.v1.RecordMetricsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RecordMetrics"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.RecordMetricsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.RecordMetricsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new MetricServiceMethodDescriptorSupplier("RecordMetrics"))
              .build();
        }
      }
    }
    return getRecordMetricsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.ListMetricsRequest,
      io.statehouse.v1.ListMetricsResponse> getListMetricsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListMetrics",
      requestType = io.statehouse.v1.ListMetricsRequest.class,
      responseType = io.statehouse.v1.ListMetricsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.ListMetricsRequest,
      io.statehouse.v1.ListMetricsResponse> getListMetricsMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.ListMetricsRequest, io.statehouse.v1.ListMetricsResponse> getListMetricsMethod;
    if ((getListMetricsMethod = MetricServiceGrpc.getListMetricsMethod) == null) {
      synchronized (MetricServiceGrpc.class) {
        if ((getListMetricsMethod = MetricServiceGrpc.getListMetricsMethod) == null) {
          MetricServiceGrpc.getListMetricsMethod = getListMetricsMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.ListMetricsRequest, io.statehouse.v1.ListMetricsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListMetrics"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ListMetricsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ListMetricsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new MetricServiceMethodDescriptorSupplier("ListMetrics"))
              .build();
        }
      }
    }
    return getListMetricsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.AggregateMetricsRequest,
      io.statehouse.v1.AggregateMetricsResponse> getAggregateMetricsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "AggregateMetrics",
      requestType = io.statehouse.v1.AggregateMetricsRequest.class,
      responseType = io.statehouse.v1.AggregateMetricsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.AggregateMetricsRequest,
      io.statehouse.v1.AggregateMetricsResponse> getAggregateMetricsMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.AggregateMetricsRequest, io.statehouse.v1.AggregateMetricsResponse> getAggregateMetricsMethod;
    if ((getAggregateMetricsMethod = MetricServiceGrpc.getAggregateMetricsMethod) == null) {
      synchronized (MetricServiceGrpc.class) {
        if ((getAggregateMetricsMethod = MetricServiceGrpc.getAggregateMetricsMethod) == null) {
          MetricServiceGrpc.getAggregateMetricsMethod = getAggregateMetricsMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.AggregateMetricsRequest, io.statehouse.v1.AggregateMetricsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "AggregateMetrics"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.AggregateMetricsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.AggregateMetricsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new MetricServiceMethodDescriptorSupplier("AggregateMetrics"))
              .build();
        }
      }
    }
    return getAggregateMetricsMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static MetricServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<MetricServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<MetricServiceStub>() {
        @java.lang.Override
        public MetricServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new MetricServiceStub(channel, callOptions);
        }
      };
    return MetricServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static MetricServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<MetricServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<MetricServiceBlockingStub>() {
        @java.lang.Override
        public MetricServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new MetricServiceBlockingStub(channel, callOptions);
        }
      };
    return MetricServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static MetricServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<MetricServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<MetricServiceFutureStub>() {
        @java.lang.Override
        public MetricServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new MetricServiceFutureStub(channel, callOptions);
        }
      };
    return MetricServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * MetricService records the counters and timers of task run attempts, lists
   * them and aggregates them over time.
   * </pre>
   */
  public static abstract class MetricServiceImplBase implements io.grpc.BindableService {

    /**
     * <pre>
     * Records metrics for one attempt of a task run.
     * </pre>
     */
    public void recordMetrics(io.statehouse.v1.RecordMetricsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.RecordMetricsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRecordMetricsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists stored metrics of an execution or a task run.
     * </pre>
     */
    public void listMetrics(io.statehouse.v1.ListMetricsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ListMetricsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListMetricsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Aggregates one metric over a time range in time buckets.
     * </pre>
     */
    public void aggregateMetrics(io.statehouse.v1.AggregateMetricsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.AggregateMetricsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getAggregateMetricsMethod(), responseObserver);
    }

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
          .addMethod(
            getRecordMetricsMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.RecordMetricsRequest,
                io.statehouse.v1.RecordMetricsResponse>(
                  this, METHODID_RECORD_METRICS)))
          .addMethod(
            getListMetricsMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.ListMetricsRequest,
                io.statehouse.v1.ListMetricsResponse>(
                  this, METHODID_LIST_METRICS)))
          .addMethod(
            getAggregateMetricsMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.AggregateMetricsRequest,
                io.statehouse.v1.AggregateMetricsResponse>(
                  this, METHODID_AGGREGATE_METRICS)))
          .build();
    }
  }

  /**
   * <pre>
   * MetricService records the counters and timers of task run attempts, lists
   * them and aggregates them over time.
   * </pre>
   */
  public static final class MetricServiceStub extends io.grpc.stub.AbstractAsyncStub<MetricServiceStub> {
    private MetricServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected MetricServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new MetricServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Records metrics for one attempt of a task run.
     * </pre>
     */
    public void recordMetrics(io.statehouse.v1.RecordMetricsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.RecordMetricsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRecordMetricsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists stored metrics of an execution or a task run.
     * </pre>
     */
    public void listMetrics(io.statehouse.v1.ListMetricsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ListMetricsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListMetricsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Aggregates one metric over a time range in time buckets.
     * </pre>
     */
    public void aggregateMetrics(io.statehouse.v1.AggregateMetricsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.AggregateMetricsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getAggregateMetricsMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * <pre>
   * MetricService records the counters and timers of task run attempts, lists
   * them and aggregates them over time.
   * </pre>
   */
  public static final class MetricServiceBlockingStub extends io.grpc.stub.AbstractBlockingStub<MetricServiceBlockingStub> {
    private MetricServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected MetricServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new MetricServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Records metrics for one attempt of a task run.
     * </pre>
     */
    public io.statehouse.v1.RecordMetricsResponse recordMetrics(io.statehouse.v1.RecordMetricsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRecordMetricsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists stored metrics of an execution or a task run.
     * </pre>
     */
    public io.statehouse.v1.ListMetricsResponse listMetrics(io.statehouse.v1.ListMetricsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListMetricsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Aggregates one metric over a time range in time buckets.
     * </pre>
     */
    public io.statehouse.v1.AggregateMetricsResponse aggregateMetrics(io.statehouse.v1.AggregateMetricsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getAggregateMetricsMethod(), getCallOptions(), request);
    }
  }

  /**
   * <pre>
   * MetricService records the counters and timers of task run attempts, lists
   * them and aggregates them over time.
   * </pre>
   */
  public static final class MetricServiceFutureStub extends io.grpc.stub.AbstractFutureStub<MetricServiceFutureStub> {
    private MetricServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected MetricServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new MetricServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Records metrics for one attempt of a task run.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.RecordMetricsResponse> recordMetrics(
        io.statehouse.v1.RecordMetricsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRecordMetricsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists stored metrics of an execution or a task run.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.ListMetricsResponse> listMetrics(
        io.statehouse.v1.ListMetricsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListMetricsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Aggregates one metric over a time range in time buckets.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.AggregateMetricsResponse> aggregateMetrics(
        io.statehouse.v1.AggregateMetricsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getAggregateMetricsMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_RECORD_METRICS = 0;
  private static final int METHODID_LIST_METRICS = 1;
  private static final int METHODID_AGGREGATE_METRICS = 2;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final MetricServiceImplBase serviceImpl;
    private final int methodId;

    MethodHandlers(MetricServiceImplBase serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_RECORD_METRICS:
          serviceImpl.recordMetrics((io.statehouse.v1.RecordMetricsRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.RecordMetricsResponse>) responseObserver);
          break;
        case METHODID_LIST_METRICS:
          serviceImpl.listMetrics((io.statehouse.v1.ListMetricsRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.ListMetricsResponse>) responseObserver);
          break;
        case METHODID_AGGREGATE_METRICS:
          serviceImpl.aggregateMetrics((io.statehouse.v1.AggregateMetricsRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.AggregateMetricsResponse>) responseObserver);
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

  private static abstract class MetricServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    MetricServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.statehouse.v1.MetricServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("MetricService");
    }
  }

  private static final class MetricServiceFileDescriptorSupplier
      extends MetricServiceBaseDescriptorSupplier {
    MetricServiceFileDescriptorSupplier() {}
  }

  private static final class MetricServiceMethodDescriptorSupplier
      extends MetricServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final String methodName;

    MetricServiceMethodDescriptorSupplier(String methodName) {
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
      synchronized (MetricServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new MetricServiceFileDescriptorSupplier())
              .addMethod(getRecordMetricsMethod())
              .addMethod(getListMetricsMethod())
              .addMethod(getAggregateMetricsMethod())
              .build();
        }
      }
    }
    return result;
  }
}
