package io.statehouse.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * AdminService describes the server and manages the credentials that
 * Statehouse issues: bearer tokens and grants for client-certificate subjects.
 * The credential RPCs need the admin role, and an admin manages only
 * credentials whose namespaces lie within its own.
 * </pre>
 */
@javax.annotation.Generated(
    value = "by gRPC proto compiler",
    comments = "Source: statehouse/v1/admin_service.proto")
@io.grpc.stub.annotations.GrpcGenerated
public final class AdminServiceGrpc {

  private AdminServiceGrpc() {}

  public static final String SERVICE_NAME = "statehouse.v1.AdminService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.CreateTokenRequest,
      io.statehouse.v1.CreateTokenResponse> getCreateTokenMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateToken",
      requestType = io.statehouse.v1.CreateTokenRequest.class,
      responseType = io.statehouse.v1.CreateTokenResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.CreateTokenRequest,
      io.statehouse.v1.CreateTokenResponse> getCreateTokenMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.CreateTokenRequest, io.statehouse.v1.CreateTokenResponse> getCreateTokenMethod;
    if ((getCreateTokenMethod = AdminServiceGrpc.getCreateTokenMethod) == null) {
      synchronized (AdminServiceGrpc.class) {
        if ((getCreateTokenMethod = AdminServiceGrpc.getCreateTokenMethod) == null) {
          AdminServiceGrpc.getCreateTokenMethod = getCreateTokenMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.CreateTokenRequest, io.statehouse.v1.CreateTokenResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateToken"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CreateTokenRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CreateTokenResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AdminServiceMethodDescriptorSupplier("CreateToken"))
              .build();
        }
      }
    }
    return getCreateTokenMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.ListTokensRequest,
      io.statehouse.v1.ListTokensResponse> getListTokensMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListTokens",
      requestType = io.statehouse.v1.ListTokensRequest.class,
      responseType = io.statehouse.v1.ListTokensResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.ListTokensRequest,
      io.statehouse.v1.ListTokensResponse> getListTokensMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.ListTokensRequest, io.statehouse.v1.ListTokensResponse> getListTokensMethod;
    if ((getListTokensMethod = AdminServiceGrpc.getListTokensMethod) == null) {
      synchronized (AdminServiceGrpc.class) {
        if ((getListTokensMethod = AdminServiceGrpc.getListTokensMethod) == null) {
          AdminServiceGrpc.getListTokensMethod = getListTokensMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.ListTokensRequest, io.statehouse.v1.ListTokensResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListTokens"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ListTokensRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ListTokensResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AdminServiceMethodDescriptorSupplier("ListTokens"))
              .build();
        }
      }
    }
    return getListTokensMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.RevokeTokenRequest,
      io.statehouse.v1.RevokeTokenResponse> getRevokeTokenMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RevokeToken",
      requestType = io.statehouse.v1.RevokeTokenRequest.class,
      responseType = io.statehouse.v1.RevokeTokenResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.RevokeTokenRequest,
      io.statehouse.v1.RevokeTokenResponse> getRevokeTokenMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.RevokeTokenRequest, io.statehouse.v1.RevokeTokenResponse> getRevokeTokenMethod;
    if ((getRevokeTokenMethod = AdminServiceGrpc.getRevokeTokenMethod) == null) {
      synchronized (AdminServiceGrpc.class) {
        if ((getRevokeTokenMethod = AdminServiceGrpc.getRevokeTokenMethod) == null) {
          AdminServiceGrpc.getRevokeTokenMethod = getRevokeTokenMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.RevokeTokenRequest, io.statehouse.v1.RevokeTokenResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RevokeToken"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.RevokeTokenRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.RevokeTokenResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AdminServiceMethodDescriptorSupplier("RevokeToken"))
              .build();
        }
      }
    }
    return getRevokeTokenMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.GetServerInfoRequest,
      io.statehouse.v1.GetServerInfoResponse> getGetServerInfoMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetServerInfo",
      requestType = io.statehouse.v1.GetServerInfoRequest.class,
      responseType = io.statehouse.v1.GetServerInfoResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.GetServerInfoRequest,
      io.statehouse.v1.GetServerInfoResponse> getGetServerInfoMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.GetServerInfoRequest, io.statehouse.v1.GetServerInfoResponse> getGetServerInfoMethod;
    if ((getGetServerInfoMethod = AdminServiceGrpc.getGetServerInfoMethod) == null) {
      synchronized (AdminServiceGrpc.class) {
        if ((getGetServerInfoMethod = AdminServiceGrpc.getGetServerInfoMethod) == null) {
          AdminServiceGrpc.getGetServerInfoMethod = getGetServerInfoMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.GetServerInfoRequest, io.statehouse.v1.GetServerInfoResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetServerInfo"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.GetServerInfoRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.GetServerInfoResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AdminServiceMethodDescriptorSupplier("GetServerInfo"))
              .build();
        }
      }
    }
    return getGetServerInfoMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static AdminServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AdminServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AdminServiceStub>() {
        @java.lang.Override
        public AdminServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AdminServiceStub(channel, callOptions);
        }
      };
    return AdminServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static AdminServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AdminServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AdminServiceBlockingStub>() {
        @java.lang.Override
        public AdminServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AdminServiceBlockingStub(channel, callOptions);
        }
      };
    return AdminServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static AdminServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AdminServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AdminServiceFutureStub>() {
        @java.lang.Override
        public AdminServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AdminServiceFutureStub(channel, callOptions);
        }
      };
    return AdminServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * AdminService describes the server and manages the credentials that
   * Statehouse issues: bearer tokens and grants for client-certificate subjects.
   * The credential RPCs need the admin role, and an admin manages only
   * credentials whose namespaces lie within its own.
   * </pre>
   */
  public static abstract class AdminServiceImplBase implements io.grpc.BindableService {

    /**
     * <pre>
     * Issues a token (its secret is returned once and stored only as a hash),
     * or grants a role to a client-certificate subject.
     * </pre>
     */
    public void createToken(io.statehouse.v1.CreateTokenRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CreateTokenResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateTokenMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists the credentials within the caller's namespaces, without secrets.
     * </pre>
     */
    public void listTokens(io.statehouse.v1.ListTokensRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ListTokensResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListTokensMethod(), responseObserver);
    }

    /**
     * <pre>
     * Revokes a credential: every replica refuses it within two seconds.
     * </pre>
     */
    public void revokeToken(io.statehouse.v1.RevokeTokenRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.RevokeTokenResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRevokeTokenMethod(), responseObserver);
    }

    /**
     * <pre>
     * Describes the server that answers: its version, its database backend and
     * the extent of its event log. Any caller may ask (with authentication on,
     * any valid credential: the reader role is enough).
     * </pre>
     */
    public void getServerInfo(io.statehouse.v1.GetServerInfoRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.GetServerInfoResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetServerInfoMethod(), responseObserver);
    }

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
          .addMethod(
            getCreateTokenMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.CreateTokenRequest,
                io.statehouse.v1.CreateTokenResponse>(
                  this, METHODID_CREATE_TOKEN)))
          .addMethod(
            getListTokensMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.ListTokensRequest,
                io.statehouse.v1.ListTokensResponse>(
                  this, METHODID_LIST_TOKENS)))
          .addMethod(
            getRevokeTokenMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.RevokeTokenRequest,
                io.statehouse.v1.RevokeTokenResponse>(
                  this, METHODID_REVOKE_TOKEN)))
          .addMethod(
            getGetServerInfoMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.GetServerInfoRequest,
                io.statehouse.v1.GetServerInfoResponse>(
                  this, METHODID_GET_SERVER_INFO)))
          .build();
    }
  }

  /**
   * <pre>
   * AdminService describes the server and manages the credentials that
   * Statehouse issues: bearer tokens and grants for client-certificate subjects.
   * The credential RPCs need the admin role, and an admin manages only
   * credentials whose namespaces lie within its own.
   * </pre>
   */
  public static final class AdminServiceStub extends io.grpc.stub.AbstractAsyncStub<AdminServiceStub> {
    private AdminServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AdminServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AdminServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Issues a token (its secret is returned once and stored only as a hash),
     * or grants a role to a client-certificate subject.
     * </pre>
     */
    public void createToken(io.statehouse.v1.CreateTokenRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CreateTokenResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateTokenMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists the credentials within the caller's namespaces, without secrets.
     * </pre>
     */
    public void listTokens(io.statehouse.v1.ListTokensRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ListTokensResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListTokensMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Revokes a credential: every replica refuses it within two seconds.
     * </pre>
     */
    public void revokeToken(io.statehouse.v1.RevokeTokenRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.RevokeTokenResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRevokeTokenMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Describes the server that answers: its version, its database backend and
     * the extent of its event log. Any caller may ask (with authentication on,
     * any valid credential: the reader role is enough).
     * </pre>
     */
    public void getServerInfo(io.statehouse.v1.GetServerInfoRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.GetServerInfoResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetServerInfoMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * <pre>
   * AdminService describes the server and manages the credentials that
   * Statehouse issues: bearer tokens and grants for client-certificate subjects.
   * The credential RPCs need the admin role, and an admin manages only
   * credentials whose namespaces lie within its own.
   * </pre>
   */
  public static final class AdminServiceBlockingStub extends io.grpc.stub.AbstractBlockingStub<AdminServiceBlockingStub> {
    private AdminServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AdminServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AdminServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Issues a token (its secret is returned once and stored only as a hash),
     * or grants a role to a client-certificate subject.
     * </pre>
     */
    public io.statehouse.v1.CreateTokenResponse createToken(io.statehouse.v1.CreateTokenRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateTokenMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the credentials within the caller's namespaces, without secrets.
     * </pre>
     */
    public io.statehouse.v1.ListTokensResponse listTokens(io.statehouse.v1.ListTokensRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListTokensMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Revokes a credential: every replica refuses it within two seconds.
     * </pre>
     */
    public io.statehouse.v1.RevokeTokenResponse revokeToken(io.statehouse.v1.RevokeTokenRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRevokeTokenMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Describes the server that answers: its version, its database backend and
     * the extent of its event log. Any caller may ask (with authentication on,
     * any valid credential: the reader role is enough).
     * </pre>
     */
    public io.statehouse.v1.GetServerInfoResponse getServerInfo(io.statehouse.v1.GetServerInfoRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetServerInfoMethod(), getCallOptions(), request);
    }
  }

  /**
   * <pre>
   * AdminService describes the server and manages the credentials that
   * Statehouse issues: bearer tokens and grants for client-certificate subjects.
   * The credential RPCs need the admin role, and an admin manages only
   * credentials whose namespaces lie within its own.
   * </pre>
   */
  public static final class AdminServiceFutureStub extends io.grpc.stub.AbstractFutureStub<AdminServiceFutureStub> {
    private AdminServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AdminServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AdminServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Issues a token (its secret is returned once and stored only as a hash),
     * or grants a role to a client-certificate subject.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.CreateTokenResponse> createToken(
        io.statehouse.v1.CreateTokenRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateTokenMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists the credentials within the caller's namespaces, without secrets.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.ListTokensResponse> listTokens(
        io.statehouse.v1.ListTokensRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListTokensMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Revokes a credential: every replica refuses it within two seconds.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.RevokeTokenResponse> revokeToken(
        io.statehouse.v1.RevokeTokenRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRevokeTokenMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Describes the server that answers: its version, its database backend and
     * the extent of its event log. Any caller may ask (with authentication on,
     * any valid credential: the reader role is enough).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.GetServerInfoResponse> getServerInfo(
        io.statehouse.v1.GetServerInfoRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetServerInfoMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_TOKEN = 0;
  private static final int METHODID_LIST_TOKENS = 1;
  private static final int METHODID_REVOKE_TOKEN = 2;
  private static final int METHODID_GET_SERVER_INFO = 3;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AdminServiceImplBase serviceImpl;
    private final int methodId;

    MethodHandlers(AdminServiceImplBase serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_CREATE_TOKEN:
          serviceImpl.createToken((io.statehouse.v1.CreateTokenRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.CreateTokenResponse>) responseObserver);
          break;
        case METHODID_LIST_TOKENS:
          serviceImpl.listTokens((io.statehouse.v1.ListTokensRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.ListTokensResponse>) responseObserver);
          break;
        case METHODID_REVOKE_TOKEN:
          serviceImpl.revokeToken((io.statehouse.v1.RevokeTokenRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.RevokeTokenResponse>) responseObserver);
          break;
        case METHODID_GET_SERVER_INFO:
          serviceImpl.getServerInfo((io.statehouse.v1.GetServerInfoRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.GetServerInfoResponse>) responseObserver);
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

  private static abstract class AdminServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    AdminServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.statehouse.v1.AdminServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("AdminService");
    }
  }

  private static final class AdminServiceFileDescriptorSupplier
      extends AdminServiceBaseDescriptorSupplier {
    AdminServiceFileDescriptorSupplier() {}
  }

  private static final class AdminServiceMethodDescriptorSupplier
      extends AdminServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final String methodName;

    AdminServiceMethodDescriptorSupplier(String methodName) {
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
      synchronized (AdminServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new AdminServiceFileDescriptorSupplier())
              .addMethod(getCreateTokenMethod())
              .addMethod(getListTokensMethod())
              .addMethod(getRevokeTokenMethod())
              .addMethod(getGetServerInfoMethod())
              .build();
        }
      }
    }
    return result;
  }
}
