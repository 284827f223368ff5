package io.statehouse.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * ExecutionService creates executions and task runs and moves them through
 * their states. Every change is checked against the state machine, stored
 * durably with its event, and only then acknowledged.
 * </pre>
 */
@javax.annotation.Generated(
    value = "by gRPC proto compiler",
    comments = "Source: statehouse/v1/execution_service.proto")
@io.grpc.stub.annotations.GrpcGenerated
public final class ExecutionServiceGrpc {

  private ExecutionServiceGrpc() {}

  public static final String SERVICE_NAME = "statehouse.v1.ExecutionService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.CreateExecutionRequest,
      io.statehouse.v1.CreateExecutionResponse> getCreateExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateExecution",
      requestType = io.statehouse.v1.CreateExecutionRequest.class,
      responseType = io.statehouse.v1.CreateExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.CreateExecutionRequest,
      io.statehouse.v1.CreateExecutionResponse> getCreateExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.CreateExecutionRequest, io.statehouse.v1.CreateExecutionResponse> getCreateExecutionMethod;
    if ((getCreateExecutionMethod = ExecutionServiceGrpc.getCreateExecutionMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getCreateExecutionMethod = ExecutionServiceGrpc.getCreateExecutionMethod) == null) {
          ExecutionServiceGrpc.getCreateExecutionMethod = getCreateExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.CreateExecutionRequest, io.statehouse.v1.CreateExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CreateExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CreateExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("CreateExecution"))
              .build();
        }
      }
    }
    return getCreateExecutionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.GetExecutionRequest,
      io.statehouse.v1.GetExecutionResponse> getGetExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetExecution",
      requestType = io.statehouse.v1.GetExecutionRequest.class,
      responseType = io.statehouse.v1.GetExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.GetExecutionRequest,
      io.statehouse.v1.GetExecutionResponse> getGetExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.GetExecutionRequest, io.statehouse.v1.GetExecutionResponse> getGetExecutionMethod;
    if ((getGetExecutionMethod = ExecutionServiceGrpc.getGetExecutionMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getGetExecutionMethod = ExecutionServiceGrpc.getGetExecutionMethod) == null) {
          ExecutionServiceGrpc.getGetExecutionMethod = getGetExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.GetExecutionRequest, io.statehouse.v1.GetExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.GetExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.GetExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("GetExecution"))
              .build();
        }
      }
    }
    return getGetExecutionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.ListExecutionsRequest,
      io.statehouse.v1.ListExecutionsResponse> getListExecutionsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListExecutions",
      requestType = io.statehouse.v1.ListExecutionsRequest.class,
      responseType = io.statehouse.v1.ListExecutionsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.ListExecutionsRequest,
      io.statehouse.v1.ListExecutionsResponse> getListExecutionsMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.ListExecutionsRequest, io.statehouse.v1.ListExecutionsResponse> getListExecutionsMethod;
    if ((getListExecutionsMethod = ExecutionServiceGrpc.getListExecutionsMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getListExecutionsMethod = ExecutionServiceGrpc.getListExecutionsMethod) == null) {
          ExecutionServiceGrpc.getListExecutionsMethod = getListExecutionsMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.ListExecutionsRequest, io.statehouse.v1.ListExecutionsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListExecutions"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ListExecutionsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ListExecutionsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("ListExecutions"))
              .build();
        }
      }
    }
    return getListExecutionsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.CountExecutionsRequest,
      io.statehouse.v1.CountExecutionsResponse> getCountExecutionsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CountExecutions",
      requestType = io.statehouse.v1.CountExecutionsRequest.class,
      responseType = io.statehouse.v1.CountExecutionsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.CountExecutionsRequest,
      io.statehouse.v1.CountExecutionsResponse> getCountExecutionsMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.CountExecutionsRequest, io.statehouse.v1.CountExecutionsResponse> getCountExecutionsMethod;
    if ((getCountExecutionsMethod = ExecutionServiceGrpc.getCountExecutionsMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getCountExecutionsMethod = ExecutionServiceGrpc.getCountExecutionsMethod) == null) {
          ExecutionServiceGrpc.getCountExecutionsMethod = getCountExecutionsMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.CountExecutionsRequest, io.statehouse.v1.CountExecutionsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CountExecutions"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CountExecutionsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CountExecutionsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("CountExecutions"))
              .build();
        }
      }
    }
    return getCountExecutionsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.DeleteExecutionRequest,
      io.statehouse.v1.DeleteExecutionResponse> getDeleteExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeleteExecution",
      requestType = io.statehouse.v1.DeleteExecutionRequest.class,
      responseType = io.statehouse.v1.DeleteExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.DeleteExecutionRequest,
      io.statehouse.v1.DeleteExecutionResponse> getDeleteExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.DeleteExecutionRequest, io.statehouse.v1.DeleteExecutionResponse> getDeleteExecutionMethod;
    if ((getDeleteExecutionMethod = ExecutionServiceGrpc.getDeleteExecutionMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getDeleteExecutionMethod = ExecutionServiceGrpc.getDeleteExecutionMethod) == null) {
          ExecutionServiceGrpc.getDeleteExecutionMethod = getDeleteExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.DeleteExecutionRequest, io.statehouse.v1.DeleteExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeleteExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.DeleteExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.DeleteExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("DeleteExecution"))
              .build();
        }
      }
    }
    return getDeleteExecutionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.CreateTaskRunRequest,
      io.statehouse.v1.CreateTaskRunResponse> getCreateTaskRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateTaskRun",
      requestType = io.statehouse.v1.CreateTaskRunRequest.class,
      responseType = io.statehouse.v1.CreateTaskRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.CreateTaskRunRequest,
      io.statehouse.v1.CreateTaskRunResponse> getCreateTaskRunMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.CreateTaskRunRequest, io.statehouse.v1.CreateTaskRunResponse> getCreateTaskRunMethod;
    if ((getCreateTaskRunMethod = ExecutionServiceGrpc.getCreateTaskRunMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getCreateTaskRunMethod = ExecutionServiceGrpc.getCreateTaskRunMethod) == null) {
          ExecutionServiceGrpc.getCreateTaskRunMethod = getCreateTaskRunMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.CreateTaskRunRequest, io.statehouse.v1.CreateTaskRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateTaskRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CreateTaskRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CreateTaskRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("CreateTaskRun"))
              .build();
        }
      }
    }
    return getCreateTaskRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.GetTaskRunRequest,
      io.statehouse.v1.GetTaskRunResponse> getGetTaskRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetTaskRun",
      requestType = io.statehouse.v1.GetTaskRunRequest.class,
      responseType = io.statehouse.v1.GetTaskRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.GetTaskRunRequest,
      io.statehouse.v1.GetTaskRunResponse> getGetTaskRunMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.GetTaskRunRequest, io.statehouse.v1.GetTaskRunResponse> getGetTaskRunMethod;
    if ((getGetTaskRunMethod = ExecutionServiceGrpc.getGetTaskRunMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getGetTaskRunMethod = ExecutionServiceGrpc.getGetTaskRunMethod) == null) {
          ExecutionServiceGrpc.getGetTaskRunMethod = getGetTaskRunMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.GetTaskRunRequest, io.statehouse.v1.GetTaskRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetTaskRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.GetTaskRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.GetTaskRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("GetTaskRun"))
              .build();
        }
      }
    }
    return getGetTaskRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.TransitionExecutionRequest,
      io.statehouse.v1.TransitionExecutionResponse> getTransitionExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "TransitionExecution",
      requestType = io.statehouse.v1.TransitionExecutionRequest.class,
      responseType = io.statehouse.v1.TransitionExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.TransitionExecutionRequest,
      io.statehouse.v1.TransitionExecutionResponse> getTransitionExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.TransitionExecutionRequest, io.statehouse.v1.TransitionExecutionResponse> getTransitionExecutionMethod;
    if ((getTransitionExecutionMethod = ExecutionServiceGrpc.getTransitionExecutionMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getTransitionExecutionMethod = ExecutionServiceGrpc.getTransitionExecutionMethod) == null) {
          ExecutionServiceGrpc.getTransitionExecutionMethod = getTransitionExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.TransitionExecutionRequest, io.statehouse.v1.TransitionExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "TransitionExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.TransitionExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.TransitionExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("TransitionExecution"))
              .build();
        }
      }
    }
    return getTransitionExecutionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.TransitionTaskRunRequest,
      io.statehouse.v1.TransitionTaskRunResponse> getTransitionTaskRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "TransitionTaskRun",
      requestType = io.statehouse.v1.TransitionTaskRunRequest.class,
      responseType = io.statehouse.v1.TransitionTaskRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.TransitionTaskRunRequest,
      io.statehouse.v1.TransitionTaskRunResponse> getTransitionTaskRunMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.TransitionTaskRunRequest, io.statehouse.v1.TransitionTaskRunResponse> getTransitionTaskRunMethod;
    if ((getTransitionTaskRunMethod = ExecutionServiceGrpc.getTransitionTaskRunMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getTransitionTaskRunMethod = ExecutionServiceGrpc.getTransitionTaskRunMethod) == null) {
          ExecutionServiceGrpc.getTransitionTaskRunMethod = getTransitionTaskRunMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.TransitionTaskRunRequest, io.statehouse.v1.TransitionTaskRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "TransitionTaskRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.TransitionTaskRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.TransitionTaskRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("TransitionTaskRun"))
              .build();
        }
      }
    }
    return getTransitionTaskRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.TransitionTaskRunsRequest,
      io.statehouse.v1.TransitionTaskRunsResponse> getTransitionTaskRunsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "TransitionTaskRuns",
      requestType = io.statehouse.v1.TransitionTaskRunsRequest.class,
      responseType = io.statehouse.v1.TransitionTaskRunsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.TransitionTaskRunsRequest,
      io.statehouse.v1.TransitionTaskRunsResponse> getTransitionTaskRunsMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.TransitionTaskRunsRequest, io.statehouse.v1.TransitionTaskRunsResponse> getTransitionTaskRunsMethod;
    if ((getTransitionTaskRunsMethod = ExecutionServiceGrpc.getTransitionTaskRunsMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getTransitionTaskRunsMethod = ExecutionServiceGrpc.getTransitionTaskRunsMethod) == null) {
          ExecutionServiceGrpc.getTransitionTaskRunsMethod = getTransitionTaskRunsMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.TransitionTaskRunsRequest, io.statehouse.v1.TransitionTaskRunsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "TransitionTaskRuns"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.TransitionTaskRunsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.TransitionTaskRunsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("TransitionTaskRuns"))
              .build();
        }
      }
    }
    return getTransitionTaskRunsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.PauseExecutionRequest,
      io.statehouse.v1.PauseExecutionResponse> getPauseExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "PauseExecution",
      requestType = io.statehouse.v1.PauseExecutionRequest.class,
      responseType = io.statehouse.v1.PauseExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.PauseExecutionRequest,
      io.statehouse.v1.PauseExecutionResponse> getPauseExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.PauseExecutionRequest, io.statehouse.v1.PauseExecutionResponse> getPauseExecutionMethod;
    if ((getPauseExecutionMethod = ExecutionServiceGrpc.getPauseExecutionMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getPauseExecutionMethod = ExecutionServiceGrpc.getPauseExecutionMethod) == null) {
          ExecutionServiceGrpc.getPauseExecutionMethod = getPauseExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.PauseExecutionRequest, io.statehouse.v1.PauseExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "PauseExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.PauseExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.PauseExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("PauseExecution"))
              .build();
        }
      }
    }
    return getPauseExecutionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.ResumeExecutionRequest,
      io.statehouse.v1.ResumeExecutionResponse> getResumeExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ResumeExecution",
      requestType = io.statehouse.v1.ResumeExecutionRequest.class,
      responseType = io.statehouse.v1.ResumeExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.ResumeExecutionRequest,
      io.statehouse.v1.ResumeExecutionResponse> getResumeExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.ResumeExecutionRequest, io.statehouse.v1.ResumeExecutionResponse> getResumeExecutionMethod;
    if ((getResumeExecutionMethod = ExecutionServiceGrpc.getResumeExecutionMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getResumeExecutionMethod = ExecutionServiceGrpc.getResumeExecutionMethod) == null) {
          ExecutionServiceGrpc.getResumeExecutionMethod = getResumeExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.ResumeExecutionRequest, io.statehouse.v1.ResumeExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ResumeExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ResumeExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ResumeExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("ResumeExecution"))
              .build();
        }
      }
    }
    return getResumeExecutionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.KillExecutionRequest,
      io.statehouse.v1.KillExecutionResponse> getKillExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "KillExecution",
      requestType = io.statehouse.v1.KillExecutionRequest.class,
      responseType = io.statehouse.v1.KillExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.KillExecutionRequest,
      io.statehouse.v1.KillExecutionResponse> getKillExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.KillExecutionRequest, io.statehouse.v1.KillExecutionResponse> getKillExecutionMethod;
    if ((getKillExecutionMethod = ExecutionServiceGrpc.getKillExecutionMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getKillExecutionMethod = ExecutionServiceGrpc.getKillExecutionMethod) == null) {
          ExecutionServiceGrpc.getKillExecutionMethod = getKillExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.KillExecutionRequest, io.statehouse.v1.KillExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "KillExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.KillExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.KillExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("KillExecution"))
              .build();
        }
      }
    }
    return getKillExecutionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.RestartExecutionRequest,
      io.statehouse.v1.RestartExecutionResponse> getRestartExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RestartExecution",
      requestType = io.statehouse.v1.RestartExecutionRequest.class,
      responseType = io.statehouse.v1.RestartExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.RestartExecutionRequest,
      io.statehouse.v1.RestartExecutionResponse> getRestartExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.RestartExecutionRequest, io.statehouse.v1.RestartExecutionResponse> getRestartExecutionMethod;
    if ((getRestartExecutionMethod = ExecutionServiceGrpc.getRestartExecutionMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getRestartExecutionMethod = ExecutionServiceGrpc.getRestartExecutionMethod) == null) {
          ExecutionServiceGrpc.getRestartExecutionMethod = getRestartExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.RestartExecutionRequest, io.statehouse.v1.RestartExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RestartExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.RestartExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.RestartExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("RestartExecution"))
              .build();
        }
      }
    }
    return getRestartExecutionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.CompleteExecutionRequest,
      io.statehouse.v1.CompleteExecutionResponse> getCompleteExecutionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CompleteExecution",
      requestType = io.statehouse.v1.CompleteExecutionRequest.class,
      responseType = io.statehouse.v1.CompleteExecutionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.CompleteExecutionRequest,
      io.statehouse.v1.CompleteExecutionResponse> getCompleteExecutionMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.CompleteExecutionRequest, io.statehouse.v1.CompleteExecutionResponse> getCompleteExecutionMethod;
    if ((getCompleteExecutionMethod = ExecutionServiceGrpc.getCompleteExecutionMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getCompleteExecutionMethod = ExecutionServiceGrpc.getCompleteExecutionMethod) == null) {
          ExecutionServiceGrpc.getCompleteExecutionMethod = getCompleteExecutionMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.CompleteExecutionRequest, io.statehouse.v1.CompleteExecutionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CompleteExecution"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CompleteExecutionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.CompleteExecutionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("CompleteExecution"))
              .build();
        }
      }
    }
    return getCompleteExecutionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.ClaimTaskRunsRequest,
      io.statehouse.v1.ClaimTaskRunsResponse> getClaimTaskRunsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ClaimTaskRuns",
      requestType = io.statehouse.v1.ClaimTaskRunsRequest.class,
      responseType = io.statehouse.v1.ClaimTaskRunsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.ClaimTaskRunsRequest,
      io.statehouse.v1.ClaimTaskRunsResponse> getClaimTaskRunsMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.ClaimTaskRunsRequest, io.statehouse.v1.ClaimTaskRunsResponse> getClaimTaskRunsMethod;
    if ((getClaimTaskRunsMethod = ExecutionServiceGrpc.getClaimTaskRunsMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getClaimTaskRunsMethod = ExecutionServiceGrpc.getClaimTaskRunsMethod) == null) {
          ExecutionServiceGrpc.getClaimTaskRunsMethod = getClaimTaskRunsMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.ClaimTaskRunsRequest, io.statehouse.v1.ClaimTaskRunsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ClaimTaskRuns"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ClaimTaskRunsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.ClaimTaskRunsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("ClaimTaskRuns"))
              .build();
        }
      }
    }
    return getClaimTaskRunsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.statehouse.v1.HeartbeatRequest,
      io.statehouse.v1.HeartbeatResponse> getHeartbeatMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Heartbeat",
      requestType = io.statehouse.v1.HeartbeatRequest.class,
      responseType = io.statehouse.v1.HeartbeatResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.statehouse.v1.HeartbeatRequest,
      io.statehouse.v1.HeartbeatResponse> getHeartbeatMethod() {
    io.grpc.MethodDescriptor<io.statehouse.v1.HeartbeatRequest, io.statehouse.v1.HeartbeatResponse> getHeartbeatMethod;
    if ((getHeartbeatMethod = ExecutionServiceGrpc.getHeartbeatMethod) == null) {
      synchronized (ExecutionServiceGrpc.class) {
        if ((getHeartbeatMethod = ExecutionServiceGrpc.getHeartbeatMethod) == null) {
          ExecutionServiceGrpc.getHeartbeatMethod = getHeartbeatMethod =
              io.grpc.MethodDescriptor.<io.statehouse.v1.HeartbeatRequest, io.statehouse.v1.HeartbeatResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Heartbeat"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.HeartbeatRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.statehouse.v1.HeartbeatResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ExecutionServiceMethodDescriptorSupplier("Heartbeat"))
              .build();
        }
      }
    }
    return getHeartbeatMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static ExecutionServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ExecutionServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ExecutionServiceStub>() {
        @java.lang.Override
        public ExecutionServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ExecutionServiceStub(channel, callOptions);
        }
      };
    return ExecutionServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static ExecutionServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ExecutionServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ExecutionServiceBlockingStub>() {
        @java.lang.Override
        public ExecutionServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ExecutionServiceBlockingStub(channel, callOptions);
        }
      };
    return ExecutionServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static ExecutionServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ExecutionServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ExecutionServiceFutureStub>() {
        @java.lang.Override
        public ExecutionServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ExecutionServiceFutureStub(channel, callOptions);
        }
      };
    return ExecutionServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * ExecutionService creates executions and task runs and moves them through
   * their states. Every change is checked against the state machine, stored
   * durably with its event, and only then acknowledged.
   * </pre>
   */
  public static abstract class ExecutionServiceImplBase implements io.grpc.BindableService {

    /**
     * <pre>
     * Creates an execution in CREATED. Idempotent by request_id.
     * </pre>
     */
    public void createExecution(io.statehouse.v1.CreateExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CreateExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateExecutionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one execution, by default with its task runs.
     * </pre>
     */
    public void getExecution(io.statehouse.v1.GetExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.GetExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetExecutionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists executions, newest first, with filters and page tokens.
     * </pre>
     */
    public void listExecutions(io.statehouse.v1.ListExecutionsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ListExecutionsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListExecutionsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Counts executions by state, with ListExecutions' filters (namespace, flow,
     * labels), in one query: every state is listed, with 0 where none is.
     * </pre>
     */
    public void countExecutions(io.statehouse.v1.CountExecutionsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CountExecutionsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCountExecutionsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes a terminal execution with its task runs and metrics.
     * </pre>
     */
    public void deleteExecution(io.statehouse.v1.DeleteExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.DeleteExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteExecutionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Creates a task run in CREATED within a non-terminal execution.
     * </pre>
     */
    public void createTaskRun(io.statehouse.v1.CreateTaskRunRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CreateTaskRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateTaskRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one task run, with its attempts and its history, and its
     * execution's revision and state, in one read. A task run in a namespace the
     * caller may not read is NOT_FOUND, as one that does not exist.
     * </pre>
     */
    public void getTaskRun(io.statehouse.v1.GetTaskRunRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.GetTaskRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetTaskRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Moves an execution to a new state.
     * </pre>
     */
    public void transitionExecution(io.statehouse.v1.TransitionExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.TransitionExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getTransitionExecutionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Moves a task run (and its current attempt) to a new state. A task run
     * entering RUNNING opens an attempt and starts its execution if needed.
     * </pre>
     */
    public void transitionTaskRun(io.statehouse.v1.TransitionTaskRunRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.TransitionTaskRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getTransitionTaskRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Moves up to 1,000 task runs in one call, for workers that report many at
     * once. Each item is checked, authorized and applied as TransitionTaskRun
     * would, on its own: items succeed or fail independently, in request order
     * (a later item sees the effects of earlier ones), and each has its own
     * result or error. The call as a whole fails only when it is malformed or
     * holds more than 1,000 items (INVALID_ARGUMENT), when the caller may not
     * write at all, or when the server cannot serve it.
     * </pre>
     */
    public void transitionTaskRuns(io.statehouse.v1.TransitionTaskRunsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.TransitionTaskRunsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getTransitionTaskRunsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Pauses a running execution (or one task run), optionally with a timer.
     * </pre>
     */
    public void pauseExecution(io.statehouse.v1.PauseExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.PauseExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getPauseExecutionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Resumes a paused execution (or task run), cancelling its timer.
     * </pre>
     */
    public void resumeExecution(io.statehouse.v1.ResumeExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ResumeExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getResumeExecutionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Kills an execution: two-phase, cascading to its task runs.
     * </pre>
     */
    public void killExecution(io.statehouse.v1.KillExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.KillExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getKillExecutionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Restarts a FAILED or KILLED execution and its failed or killed task runs.
     * </pre>
     */
    public void restartExecution(io.statehouse.v1.RestartExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.RestartExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRestartExecutionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Completes an execution with an explicit or derived terminal state.
     * </pre>
     */
    public void completeExecution(io.statehouse.v1.CompleteExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CompleteExecutionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCompleteExecutionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Claims up to max_task_runs task runs that are ready to start, for one
     * worker, atomically: each is moved to RUNNING with a new attempt that
     * records the worker, in one transaction, and no task run is ever given to
     * two claims. Ready means CREATED, or RESTARTED with its next attempt due,
     * in an execution that lets a task run start (not PAUSED, not being killed,
     * not ended): exactly what TransitionTaskRun to RUNNING would accept.
     * Oldest ready first: by the time each became ready (its creation, its
     * restart, or its next_attempt_time for a retry), then by id. With wait set
     * and nothing ready, the call waits for work (woken by the commits that make
     * work ready, on any replica) and answers with nothing at the end of wait.
     * </pre>
     */
    public void claimTaskRuns(io.statehouse.v1.ClaimTaskRunsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ClaimTaskRunsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getClaimTaskRunsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Extends the leases of many attempts in one call (a worker sends one for
     * every attempt it holds). Each item succeeds or fails on its own: an
     * attempt that is no longer its task run's open attempt, that has no lease,
     * or whose lease has already expired is refused (FAILED_PRECONDITION,
     * reason ATTEMPT_NOT_OPEN, NO_LEASE or LEASE_EXPIRED).
     * </pre>
     */
    public void heartbeat(io.statehouse.v1.HeartbeatRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.HeartbeatResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getHeartbeatMethod(), responseObserver);
    }

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
          .addMethod(
            getCreateExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.CreateExecutionRequest,
                io.statehouse.v1.CreateExecutionResponse>(
                  this, METHODID_CREATE_EXECUTION)))
          .addMethod(
            getGetExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.GetExecutionRequest,
                io.statehouse.v1.GetExecutionResponse>(
                  this, METHODID_GET_EXECUTION)))
          .addMethod(
            getListExecutionsMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.ListExecutionsRequest,
                io.statehouse.v1.ListExecutionsResponse>(
                  this, METHODID_LIST_EXECUTIONS)))
          .addMethod(
            getCountExecutionsMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.CountExecutionsRequest,
                io.statehouse.v1.CountExecutionsResponse>(
                  this, METHODID_COUNT_EXECUTIONS)))
          .addMethod(
            getDeleteExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.DeleteExecutionRequest,
                io.statehouse.v1.DeleteExecutionResponse>(
                  this, METHODID_DELETE_EXECUTION)))
          .addMethod(
            getCreateTaskRunMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.CreateTaskRunRequest,
                io.statehouse.v1.CreateTaskRunResponse>(
                  this, METHODID_CREATE_TASK_RUN)))
          .addMethod(
            getGetTaskRunMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.GetTaskRunRequest,
                io.statehouse.v1.GetTaskRunResponse>(
                  this, METHODID_GET_TASK_RUN)))
          .addMethod(
            getTransitionExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.TransitionExecutionRequest,
                io.statehouse.v1.TransitionExecutionResponse>(
                  this, METHODID_TRANSITION_EXECUTION)))
          .addMethod(
            getTransitionTaskRunMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.TransitionTaskRunRequest,
                io.statehouse.v1.TransitionTaskRunResponse>(
                  this, METHODID_TRANSITION_TASK_RUN)))
          .addMethod(
            getTransitionTaskRunsMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.TransitionTaskRunsRequest,
                io.statehouse.v1.TransitionTaskRunsResponse>(
                  this, METHODID_TRANSITION_TASK_RUNS)))
          .addMethod(
            getPauseExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.PauseExecutionRequest,
                io.statehouse.v1.PauseExecutionResponse>(
                  this, METHODID_PAUSE_EXECUTION)))
          .addMethod(
            getResumeExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.ResumeExecutionRequest,
                io.statehouse.v1.ResumeExecutionResponse>(
                  this, METHODID_RESUME_EXECUTION)))
          .addMethod(
            getKillExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.KillExecutionRequest,
                io.statehouse.v1.KillExecutionResponse>(
                  this, METHODID_KILL_EXECUTION)))
          .addMethod(
            getRestartExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.RestartExecutionRequest,
                io.statehouse.v1.RestartExecutionResponse>(
                  this, METHODID_RESTART_EXECUTION)))
          .addMethod(
            getCompleteExecutionMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.CompleteExecutionRequest,
                io.statehouse.v1.CompleteExecutionResponse>(
                  this, METHODID_COMPLETE_EXECUTION)))
          .addMethod(
            getClaimTaskRunsMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.ClaimTaskRunsRequest,
                io.statehouse.v1.ClaimTaskRunsResponse>(
                  this, METHODID_CLAIM_TASK_RUNS)))
          .addMethod(
            getHeartbeatMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.statehouse.v1.HeartbeatRequest,
                io.statehouse.v1.HeartbeatResponse>(
                  this, METHODID_HEARTBEAT)))
          .build();
    }
  }

  /**
   * <pre>
   * ExecutionService creates executions and task runs and moves them through
   * their states. Every change is checked against the state machine, stored
   * durably with its event, and only then acknowledged.
   * </pre>
   */
  public static final class ExecutionServiceStub extends io.grpc.stub.AbstractAsyncStub<ExecutionServiceStub> {
    private ExecutionServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ExecutionServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ExecutionServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates an execution in CREATED. Idempotent by request_id.
     * </pre>
     */
    public void createExecution(io.statehouse.v1.CreateExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CreateExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateExecutionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one execution, by default with its task runs.
     * </pre>
     */
    public void getExecution(io.statehouse.v1.GetExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.GetExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetExecutionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists executions, newest first, with filters and page tokens.
     * </pre>
     */
    public void listExecutions(io.statehouse.v1.ListExecutionsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ListExecutionsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListExecutionsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Counts executions by state, with ListExecutions' filters (namespace, flow,
     * labels), in one query: every state is listed, with 0 where none is.
     * </pre>
     */
    public void countExecutions(io.statehouse.v1.CountExecutionsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CountExecutionsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCountExecutionsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes a terminal execution with its task runs and metrics.
     * </pre>
     */
    public void deleteExecution(io.statehouse.v1.DeleteExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.DeleteExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeleteExecutionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Creates a task run in CREATED within a non-terminal execution.
     * </pre>
     */
    public void createTaskRun(io.statehouse.v1.CreateTaskRunRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CreateTaskRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateTaskRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one task run, with its attempts and its history, and its
     * execution's revision and state, in one read. A task run in a namespace the
     * caller may not read is NOT_FOUND, as one that does not exist.
     * </pre>
     */
    public void getTaskRun(io.statehouse.v1.GetTaskRunRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.GetTaskRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetTaskRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Moves an execution to a new state.
     * </pre>
     */
    public void transitionExecution(io.statehouse.v1.TransitionExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.TransitionExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getTransitionExecutionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Moves a task run (and its current attempt) to a new state. A task run
     * entering RUNNING opens an attempt and starts its execution if needed.
     * </pre>
     */
    public void transitionTaskRun(io.statehouse.v1.TransitionTaskRunRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.TransitionTaskRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getTransitionTaskRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Moves up to 1,000 task runs in one call, for workers that report many at
     * once. Each item is checked, authorized and applied as TransitionTaskRun
     * would, on its own: items succeed or fail independently, in request order
     * (a later item sees the effects of earlier ones), and each has its own
     * result or error. The call as a whole fails only when it is malformed or
     * holds more than 1,000 items (INVALID_ARGUMENT), when the caller may not
     * write at all, or when the server cannot serve it.
     * </pre>
     */
    public void transitionTaskRuns(io.statehouse.v1.TransitionTaskRunsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.TransitionTaskRunsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getTransitionTaskRunsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Pauses a running execution (or one task run), optionally with a timer.
     * </pre>
     */
    public void pauseExecution(io.statehouse.v1.PauseExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.PauseExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getPauseExecutionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Resumes a paused execution (or task run), cancelling its timer.
     * </pre>
     */
    public void resumeExecution(io.statehouse.v1.ResumeExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ResumeExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getResumeExecutionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Kills an execution: two-phase, cascading to its task runs.
     * </pre>
     */
    public void killExecution(io.statehouse.v1.KillExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.KillExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getKillExecutionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Restarts a FAILED or KILLED execution and its failed or killed task runs.
     * </pre>
     */
    public void restartExecution(io.statehouse.v1.RestartExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.RestartExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRestartExecutionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Completes an execution with an explicit or derived terminal state.
     * </pre>
     */
    public void completeExecution(io.statehouse.v1.CompleteExecutionRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.CompleteExecutionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCompleteExecutionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Claims up to max_task_runs task runs that are ready to start, for one
     * worker, atomically: each is moved to RUNNING with a new attempt that
     * records the worker, in one transaction, and no task run is ever given to
     * two claims. Ready means CREATED, or RESTARTED with its next attempt due,
     * in an execution that lets a task run start (not PAUSED, not being killed,
     * not ended): exactly what TransitionTaskRun to RUNNING would accept.
     * Oldest ready first: by the time each became ready (its creation, its
     * restart, or its next_attempt_time for a retry), then by id. With wait set
     * and nothing ready, the call waits for work (woken by the commits that make
     * work ready, on any replica) and answers with nothing at the end of wait.
     * </pre>
     */
    public void claimTaskRuns(io.statehouse.v1.ClaimTaskRunsRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.ClaimTaskRunsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getClaimTaskRunsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Extends the leases of many attempts in one call (a worker sends one for
     * every attempt it holds). Each item succeeds or fails on its own: an
     * attempt that is no longer its task run's open attempt, that has no lease,
     * or whose lease has already expired is refused (FAILED_PRECONDITION,
     * reason ATTEMPT_NOT_OPEN, NO_LEASE or LEASE_EXPIRED).
     * </pre>
     */
    public void heartbeat(io.statehouse.v1.HeartbeatRequest request,
        io.grpc.stub.StreamObserver<io.statehouse.v1.HeartbeatResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getHeartbeatMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * <pre>
   * ExecutionService creates executions and task runs and moves them through
   * their states. Every change is checked against the state machine, stored
   * durably with its event, and only then acknowledged.
   * </pre>
   */
  public static final class ExecutionServiceBlockingStub extends io.grpc.stub.AbstractBlockingStub<ExecutionServiceBlockingStub> {
    private ExecutionServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ExecutionServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ExecutionServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates an execution in CREATED. Idempotent by request_id.
     * </pre>
     */
    public io.statehouse.v1.CreateExecutionResponse createExecution(io.statehouse.v1.CreateExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateExecutionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one execution, by default with its task runs.
     * </pre>
     */
    public io.statehouse.v1.GetExecutionResponse getExecution(io.statehouse.v1.GetExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetExecutionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists executions, newest first, with filters and page tokens.
     * </pre>
     */
    public io.statehouse.v1.ListExecutionsResponse listExecutions(io.statehouse.v1.ListExecutionsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListExecutionsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Counts executions by state, with ListExecutions' filters (namespace, flow,
     * labels), in one query: every state is listed, with 0 where none is.
     * </pre>
     */
    public io.statehouse.v1.CountExecutionsResponse countExecutions(io.statehouse.v1.CountExecutionsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCountExecutionsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes a terminal execution with its task runs and metrics.
     * </pre>
     */
    public io.statehouse.v1.DeleteExecutionResponse deleteExecution(io.statehouse.v1.DeleteExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteExecutionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Creates a task run in CREATED within a non-terminal execution.
     * </pre>
     */
    public io.statehouse.v1.CreateTaskRunResponse createTaskRun(io.statehouse.v1.CreateTaskRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateTaskRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one task run, with its attempts and its history, and its
     * execution's revision and state, in one read. A task run in a namespace the
     * caller may not read is NOT_FOUND, as one that does not exist.
     * </pre>
     */
    public io.statehouse.v1.GetTaskRunResponse getTaskRun(io.statehouse.v1.GetTaskRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetTaskRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Moves an execution to a new state.
     * </pre>
     */
    public io.statehouse.v1.TransitionExecutionResponse transitionExecution(io.statehouse.v1.TransitionExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getTransitionExecutionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Moves a task run (and its current attempt) to a new state. A task run
     * entering RUNNING opens an attempt and starts its execution if needed.
     * </pre>
     */
    public io.statehouse.v1.TransitionTaskRunResponse transitionTaskRun(io.statehouse.v1.TransitionTaskRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getTransitionTaskRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Moves up to 1,000 task runs in one call, for workers that report many at
     * once. Each item is checked, authorized and applied as TransitionTaskRun
     * would, on its own: items succeed or fail independently, in request order
     * (a later item sees the effects of earlier ones), and each has its own
     * result or error. The call as a whole fails only when it is malformed or
     * holds more than 1,000 items (INVALID_ARGUMENT), when the caller may not
     * write at all, or when the server cannot serve it.
     * </pre>
     */
    public io.statehouse.v1.TransitionTaskRunsResponse transitionTaskRuns(io.statehouse.v1.TransitionTaskRunsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getTransitionTaskRunsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Pauses a running execution (or one task run), optionally with a timer.
     * </pre>
     */
    public io.statehouse.v1.PauseExecutionResponse pauseExecution(io.statehouse.v1.PauseExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getPauseExecutionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Resumes a paused execution (or task run), cancelling its timer.
     * </pre>
     */
    public io.statehouse.v1.ResumeExecutionResponse resumeExecution(io.statehouse.v1.ResumeExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getResumeExecutionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Kills an execution: two-phase, cascading to its task runs.
     * </pre>
     */
    public io.statehouse.v1.KillExecutionResponse killExecution(io.statehouse.v1.KillExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getKillExecutionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Restarts a FAILED or KILLED execution and its failed or killed task runs.
     * </pre>
     */
    public io.statehouse.v1.RestartExecutionResponse restartExecution(io.statehouse.v1.RestartExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRestartExecutionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Completes an execution with an explicit or derived terminal state.
     * </pre>
     */
    public io.statehouse.v1.CompleteExecutionResponse completeExecution(io.statehouse.v1.CompleteExecutionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCompleteExecutionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Claims up to max_task_runs task runs that are ready to start, for one
     * worker, atomically: each is moved to RUNNING with a new attempt that
     * records the worker, in one transaction, and no task run is ever given to
     * two claims. Ready means CREATED, or RESTARTED with its next attempt due,
     * in an execution that lets a task run start (not PAUSED, not being killed,
     * not ended): exactly what TransitionTaskRun to RUNNING would accept.
     * Oldest ready first: by the time each became ready (its creation, its
     * restart, or its next_attempt_time for a retry), then by id. With wait set
     * and nothing ready, the call waits for work (woken by the commits that make
     * work ready, on any replica) and answers with nothing at the end of wait.
     * </pre>
     */
    public io.statehouse.v1.ClaimTaskRunsResponse claimTaskRuns(io.statehouse.v1.ClaimTaskRunsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getClaimTaskRunsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Extends the leases of many attempts in one call (a worker sends one for
     * every attempt it holds). Each item succeeds or fails on its own: an
     * attempt that is no longer its task run's open attempt, that has no lease,
     * or whose lease has already expired is refused (FAILED_PRECONDITION,
     * reason ATTEMPT_NOT_OPEN, NO_LEASE or LEASE_EXPIRED).
     * </pre>
     */
    public io.statehouse.v1.HeartbeatResponse heartbeat(io.statehouse.v1.HeartbeatRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getHeartbeatMethod(), getCallOptions(), request);
    }
  }

  /**
   * <pre>
   * ExecutionService creates executions and task runs and moves them through
   * their states. Every change is checked against the state machine, stored
   * durably with its event, and only then acknowledged.
   * </pre>
   */
  public static final class ExecutionServiceFutureStub extends io.grpc.stub.AbstractFutureStub<ExecutionServiceFutureStub> {
    private ExecutionServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ExecutionServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ExecutionServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates an execution in CREATED. Idempotent by request_id.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.CreateExecutionResponse> createExecution(
        io.statehouse.v1.CreateExecutionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateExecutionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one execution, by default with its task runs.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.GetExecutionResponse> getExecution(
        io.statehouse.v1.GetExecutionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetExecutionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists executions, newest first, with filters and page tokens.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.ListExecutionsResponse> listExecutions(
        io.statehouse.v1.ListExecutionsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListExecutionsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Counts executions by state, with ListExecutions' filters (namespace, flow,
     * labels), in one query: every state is listed, with 0 where none is.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.CountExecutionsResponse> countExecutions(
        io.statehouse.v1.CountExecutionsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCountExecutionsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes a terminal execution with its task runs and metrics.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.DeleteExecutionResponse> deleteExecution(
        io.statehouse.v1.DeleteExecutionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeleteExecutionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Creates a task run in CREATED within a non-terminal execution.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.CreateTaskRunResponse> createTaskRun(
        io.statehouse.v1.CreateTaskRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateTaskRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one task run, with its attempts and its history, and its
     * execution's revision and state, in one read. A task run in a namespace the
     * caller may not read is NOT_FOUND, as one that does not exist.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.GetTaskRunResponse> getTaskRun(
        io.statehouse.v1.GetTaskRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetTaskRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Moves an execution to a new state.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.TransitionExecutionResponse> transitionExecution(
        io.statehouse.v1.TransitionExecutionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getTransitionExecutionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Moves a task run (and its current attempt) to a new state. A task run
     * entering RUNNING opens an attempt and starts its execution if needed.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.TransitionTaskRunResponse> transitionTaskRun(
        io.statehouse.v1.TransitionTaskRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getTransitionTaskRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Moves up to 1,000 task runs in one call, for workers that report many at
     * once. Each item is checked, authorized and applied as TransitionTaskRun
     * would, on its own: items succeed or fail independently, in request order
     * (a later item sees the effects of earlier ones), and each has its own
     * result or error. The call as a whole fails only when it is malformed or
     * holds more than 1,000 items (INVALID_ARGUMENT), when the caller may not
     * write at all, or when the server cannot serve it.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.TransitionTaskRunsResponse> transitionTaskRuns(
        io.statehouse.v1.TransitionTaskRunsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getTransitionTaskRunsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Pauses a running execution (or one task run), optionally with a timer.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.PauseExecutionResponse> pauseExecution(
        io.statehouse.v1.PauseExecutionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getPauseExecutionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Resumes a paused execution (or task run), cancelling its timer.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.ResumeExecutionResponse> resumeExecution(
        io.statehouse.v1.ResumeExecutionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getResumeExecutionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Kills an execution: two-phase, cascading to its task runs.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.KillExecutionResponse> killExecution(
        io.statehouse.v1.KillExecutionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getKillExecutionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Restarts a FAILED or KILLED execution and its failed or killed task runs.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.RestartExecutionResponse> restartExecution(
        io.statehouse.v1.RestartExecutionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRestartExecutionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Completes an execution with an explicit or derived terminal state.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.CompleteExecutionResponse> completeExecution(
        io.statehouse.v1.CompleteExecutionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCompleteExecutionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Claims up to max_task_runs task runs that are ready to start, for one
     * worker, atomically: each is moved to RUNNING with a new attempt that
     * records the worker, in one transaction, and no task run is ever given to
     * two claims. Ready means CREATED, or RESTARTED with its next attempt due,
     * in an execution that lets a task run start (not PAUSED, not being killed,
     * not ended): exactly what TransitionTaskRun to RUNNING would accept.
     * Oldest ready first: by the time each became ready (its creation, its
     * restart, or its next_attempt_time for a retry), then by id. With wait set
     * and nothing ready, the call waits for work (woken by the commits that make
     * work ready, on any replica) and answers with nothing at the end of wait.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.ClaimTaskRunsResponse> claimTaskRuns(
        io.statehouse.v1.ClaimTaskRunsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getClaimTaskRunsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Extends the leases of many attempts in one call (a worker sends one for
     * every attempt it holds). Each item succeeds or fails on its own: an
     * attempt that is no longer its task run's open attempt, that has no lease,
     * or whose lease has already expired is refused (FAILED_PRECONDITION,
     * reason ATTEMPT_NOT_OPEN, NO_LEASE or LEASE_EXPIRED).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.statehouse.v1.HeartbeatResponse> heartbeat(
        io.statehouse.v1.HeartbeatRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getHeartbeatMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_EXECUTION = 0;
  private static final int METHODID_GET_EXECUTION = 1;
  private static final int METHODID_LIST_EXECUTIONS = 2;
  private static final int METHODID_COUNT_EXECUTIONS = 3;
  private static final int METHODID_DELETE_EXECUTION = 4;
  private static final int METHODID_CREATE_TASK_RUN = 5;
  private static final int METHODID_GET_TASK_RUN = 6;
  private static final int METHODID_TRANSITION_EXECUTION = 7;
  private static final int METHODID_TRANSITION_TASK_RUN = 8;
  private static final int METHODID_TRANSITION_TASK_RUNS = 9;
  private static final int METHODID_PAUSE_EXECUTION = 10;
  private static final int METHODID_RESUME_EXECUTION = 11;
  private static final int METHODID_KILL_EXECUTION = 12;
  private static final int METHODID_RESTART_EXECUTION = 13;
  private static final int METHODID_COMPLETE_EXECUTION = 14;
  private static final int METHODID_CLAIM_TASK_RUNS = 15;
  private static final int METHODID_HEARTBEAT = 16;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final ExecutionServiceImplBase serviceImpl;
    private final int methodId;

    MethodHandlers(ExecutionServiceImplBase serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_CREATE_EXECUTION:
          serviceImpl.createExecution((io.statehouse.v1.CreateExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.CreateExecutionResponse>) responseObserver);
          break;
        case METHODID_GET_EXECUTION:
          serviceImpl.getExecution((io.statehouse.v1.GetExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.GetExecutionResponse>) responseObserver);
          break;
        case METHODID_LIST_EXECUTIONS:
          serviceImpl.listExecutions((io.statehouse.v1.ListExecutionsRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.ListExecutionsResponse>) responseObserver);
          break;
        case METHODID_COUNT_EXECUTIONS:
          serviceImpl.countExecutions((io.statehouse.v1.CountExecutionsRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.CountExecutionsResponse>) responseObserver);
          break;
        case METHODID_DELETE_EXECUTION:
          serviceImpl.deleteExecution((io.statehouse.v1.DeleteExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.DeleteExecutionResponse>) responseObserver);
          break;
        case METHODID_CREATE_TASK_RUN:
          serviceImpl.createTaskRun((io.statehouse.v1.CreateTaskRunRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.CreateTaskRunResponse>) responseObserver);
          break;
        case METHODID_GET_TASK_RUN:
          serviceImpl.getTaskRun((io.statehouse.v1.GetTaskRunRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.GetTaskRunResponse>) responseObserver);
          break;
        case METHODID_TRANSITION_EXECUTION:
          serviceImpl.transitionExecution((io.statehouse.v1.TransitionExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.TransitionExecutionResponse>) responseObserver);
          break;
        case METHODID_TRANSITION_TASK_RUN:
          serviceImpl.transitionTaskRun((io.statehouse.v1.TransitionTaskRunRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.TransitionTaskRunResponse>) responseObserver);
          break;
        case METHODID_TRANSITION_TASK_RUNS:
          serviceImpl.transitionTaskRuns((io.statehouse.v1.TransitionTaskRunsRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.TransitionTaskRunsResponse>) responseObserver);
          break;
        case METHODID_PAUSE_EXECUTION:
          serviceImpl.pauseExecution((io.statehouse.v1.PauseExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.PauseExecutionResponse>) responseObserver);
          break;
        case METHODID_RESUME_EXECUTION:
          serviceImpl.resumeExecution((io.statehouse.v1.ResumeExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.ResumeExecutionResponse>) responseObserver);
          break;
        case METHODID_KILL_EXECUTION:
          serviceImpl.killExecution((io.statehouse.v1.KillExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.KillExecutionResponse>) responseObserver);
          break;
        case METHODID_RESTART_EXECUTION:
          serviceImpl.restartExecution((io.statehouse.v1.RestartExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.RestartExecutionResponse>) responseObserver);
          break;
        case METHODID_COMPLETE_EXECUTION:
          serviceImpl.completeExecution((io.statehouse.v1.CompleteExecutionRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.CompleteExecutionResponse>) responseObserver);
          break;
        case METHODID_CLAIM_TASK_RUNS:
          serviceImpl.claimTaskRuns((io.statehouse.v1.ClaimTaskRunsRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.ClaimTaskRunsResponse>) responseObserver);
          break;
        case METHODID_HEARTBEAT:
          serviceImpl.heartbeat((io.statehouse.v1.HeartbeatRequest) request,
              (io.grpc.stub.StreamObserver<io.statehouse.v1.HeartbeatResponse>) responseObserver);
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

  private static abstract class ExecutionServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    ExecutionServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.statehouse.v1.ExecutionServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("ExecutionService");
    }
  }

  private static final class ExecutionServiceFileDescriptorSupplier
      extends ExecutionServiceBaseDescriptorSupplier {
    ExecutionServiceFileDescriptorSupplier() {}
  }

  private static final class ExecutionServiceMethodDescriptorSupplier
      extends ExecutionServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final String methodName;

    ExecutionServiceMethodDescriptorSupplier(String methodName) {
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
      synchronized (ExecutionServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new ExecutionServiceFileDescriptorSupplier())
              .addMethod(getCreateExecutionMethod())
              .addMethod(getGetExecutionMethod())
              .addMethod(getListExecutionsMethod())
              .addMethod(getCountExecutionsMethod())
              .addMethod(getDeleteExecutionMethod())
              .addMethod(getCreateTaskRunMethod())
              .addMethod(getGetTaskRunMethod())
              .addMethod(getTransitionExecutionMethod())
              .addMethod(getTransitionTaskRunMethod())
              .addMethod(getTransitionTaskRunsMethod())
              .addMethod(getPauseExecutionMethod())
              .addMethod(getResumeExecutionMethod())
              .addMethod(getKillExecutionMethod())
              .addMethod(getRestartExecutionMethod())
              .addMethod(getCompleteExecutionMethod())
              .addMethod(getClaimTaskRunsMethod())
              .addMethod(getHeartbeatMethod())
              .build();
        }
      }
    }
    return result;
  }
}
