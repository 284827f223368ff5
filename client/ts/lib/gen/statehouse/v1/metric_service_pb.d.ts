import type { GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Metric, MetricBucketWidth, MetricEntry, MetricSeries, MetricType } from "./metric_pb.js";
import type { Message } from "@bufbuild/protobuf";
/**
 * Describes the file statehouse/v1/metric_service.proto.
 */
export declare const file_statehouse_v1_metric_service: GenFile;
/**
 * RecordMetricsRequest carries metrics of one task run attempt.
 *
 * @generated from message statehouse.v1.RecordMetricsRequest
 */
export type RecordMetricsRequest = Message<"statehouse.v1.RecordMetricsRequest"> & {
    /**
     * The task run. Required.
     *
     * @generated from field: string task_run_id = 1;
     */
    taskRunId: string;
    /**
     * The attempt; 0 means the task run's latest attempt.
     *
     * @generated from field: int32 attempt = 2;
     */
    attempt: number;
    /**
     * The metrics, at most 1000 per call.
     *
     * @generated from field: repeated statehouse.v1.MetricEntry metrics = 3;
     */
    metrics: MetricEntry[];
    /**
     * A client-chosen key that makes the call idempotent.
     *
     * @generated from field: string request_id = 4;
     */
    requestId: string;
};
/**
 * Describes the message statehouse.v1.RecordMetricsRequest.
 * Use `create(RecordMetricsRequestSchema)` to create a new message.
 */
export declare const RecordMetricsRequestSchema: GenMessage<RecordMetricsRequest>;
/**
 * RecordMetricsResponse confirms what was stored.
 *
 * @generated from message statehouse.v1.RecordMetricsResponse
 */
export type RecordMetricsResponse = Message<"statehouse.v1.RecordMetricsResponse"> & {
    /**
     * How many entries were recorded.
     *
     * @generated from field: int32 recorded = 1;
     */
    recorded: number;
};
/**
 * Describes the message statehouse.v1.RecordMetricsResponse.
 * Use `create(RecordMetricsResponseSchema)` to create a new message.
 */
export declare const RecordMetricsResponseSchema: GenMessage<RecordMetricsResponse>;
/**
 * ListMetricsRequest selects stored metrics.
 *
 * @generated from message statehouse.v1.ListMetricsRequest
 */
export type ListMetricsRequest = Message<"statehouse.v1.ListMetricsRequest"> & {
    /**
     * The execution whose metrics to list. Required unless task_run_id is set.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * Only the metrics of this task run.
     *
     * @generated from field: string task_run_id = 2;
     */
    taskRunId: string;
    /**
     * Only the metrics of this task (with execution_id).
     *
     * @generated from field: string task_id = 3;
     */
    taskId: string;
    /**
     * The largest number of metrics to return (default 100, at most 1000).
     *
     * @generated from field: int32 page_size = 4;
     */
    pageSize: number;
    /**
     * The next_page_token of a previous response with the same filters.
     *
     * @generated from field: string page_token = 5;
     */
    pageToken: string;
};
/**
 * Describes the message statehouse.v1.ListMetricsRequest.
 * Use `create(ListMetricsRequestSchema)` to create a new message.
 */
export declare const ListMetricsRequestSchema: GenMessage<ListMetricsRequest>;
/**
 * ListMetricsResponse carries one page of metrics.
 *
 * @generated from message statehouse.v1.ListMetricsResponse
 */
export type ListMetricsResponse = Message<"statehouse.v1.ListMetricsResponse"> & {
    /**
     * The metrics.
     *
     * @generated from field: repeated statehouse.v1.Metric metrics = 1;
     */
    metrics: Metric[];
    /**
     * A token for the next page; empty when this is the last page.
     *
     * @generated from field: string next_page_token = 2;
     */
    nextPageToken: string;
};
/**
 * Describes the message statehouse.v1.ListMetricsResponse.
 * Use `create(ListMetricsResponseSchema)` to create a new message.
 */
export declare const ListMetricsResponseSchema: GenMessage<ListMetricsResponse>;
/**
 * AggregateMetricsRequest asks for the aggregates of one metric.
 *
 * @generated from message statehouse.v1.AggregateMetricsRequest
 */
export type AggregateMetricsRequest = Message<"statehouse.v1.AggregateMetricsRequest"> & {
    /**
     * The namespace of the flows. Required.
     *
     * @generated from field: string namespace = 1;
     */
    namespace: string;
    /**
     * Only this flow.
     *
     * @generated from field: string flow_id = 2;
     */
    flowId: string;
    /**
     * Only this task.
     *
     * @generated from field: string task_id = 3;
     */
    taskId: string;
    /**
     * The metric's name. Required.
     *
     * @generated from field: string name = 4;
     */
    name: string;
    /**
     * Counter or timer. Required.
     *
     * @generated from field: statehouse.v1.MetricType type = 5;
     */
    type: MetricType;
    /**
     * The start of the range (inclusive). Required.
     *
     * @generated from field: google.protobuf.Timestamp start_time = 6;
     */
    startTime?: Timestamp | undefined;
    /**
     * The end of the range (exclusive). Required.
     *
     * @generated from field: google.protobuf.Timestamp end_time = 7;
     */
    endTime?: Timestamp | undefined;
    /**
     * The bucket width; unset lets the server choose from the span.
     *
     * @generated from field: statehouse.v1.MetricBucketWidth bucket_width = 8;
     */
    bucketWidth: MetricBucketWidth;
    /**
     * Group the series by the value of this tag, if set.
     *
     * @generated from field: string group_by_tag = 9;
     */
    groupByTag: string;
};
/**
 * Describes the message statehouse.v1.AggregateMetricsRequest.
 * Use `create(AggregateMetricsRequestSchema)` to create a new message.
 */
export declare const AggregateMetricsRequestSchema: GenMessage<AggregateMetricsRequest>;
/**
 * AggregateMetricsResponse carries the aggregated series.
 *
 * @generated from message statehouse.v1.AggregateMetricsResponse
 */
export type AggregateMetricsResponse = Message<"statehouse.v1.AggregateMetricsResponse"> & {
    /**
     * The bucket width used.
     *
     * @generated from field: statehouse.v1.MetricBucketWidth bucket_width = 1;
     */
    bucketWidth: MetricBucketWidth;
    /**
     * One series per group (one in all when not grouped).
     *
     * @generated from field: repeated statehouse.v1.MetricSeries series = 2;
     */
    series: MetricSeries[];
};
/**
 * Describes the message statehouse.v1.AggregateMetricsResponse.
 * Use `create(AggregateMetricsResponseSchema)` to create a new message.
 */
export declare const AggregateMetricsResponseSchema: GenMessage<AggregateMetricsResponse>;
/**
 * MetricService records the counters and timers of task run attempts, lists
 * them and aggregates them over time.
 *
 * @generated from service statehouse.v1.MetricService
 */
export declare const MetricService: GenService<{
    /**
     * Records metrics for one attempt of a task run.
     *
     * @generated from rpc statehouse.v1.MetricService.RecordMetrics
     */
    recordMetrics: {
        methodKind: "unary";
        input: typeof RecordMetricsRequestSchema;
        output: typeof RecordMetricsResponseSchema;
    };
    /**
     * Lists stored metrics of an execution or a task run.
     *
     * @generated from rpc statehouse.v1.MetricService.ListMetrics
     */
    listMetrics: {
        methodKind: "unary";
        input: typeof ListMetricsRequestSchema;
        output: typeof ListMetricsResponseSchema;
    };
    /**
     * Aggregates one metric over a time range in time buckets.
     *
     * @generated from rpc statehouse.v1.MetricService.AggregateMetrics
     */
    aggregateMetrics: {
        methodKind: "unary";
        input: typeof AggregateMetricsRequestSchema;
        output: typeof AggregateMetricsResponseSchema;
    };
}>;
