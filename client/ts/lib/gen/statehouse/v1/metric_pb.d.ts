import type { GenEnum, GenFile, GenMessage } from "@bufbuild/protobuf/codegenv2";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { Message } from "@bufbuild/protobuf";
/**
 * Describes the file statehouse/v1/metric.proto.
 */
export declare const file_statehouse_v1_metric: GenFile;
/**
 * MetricEntry is one metric reported by a task for one attempt.
 *
 * @generated from message statehouse.v1.MetricEntry
 */
export type MetricEntry = Message<"statehouse.v1.MetricEntry"> & {
    /**
     * The metric's name: letters, digits, '.', '_' and '-', starting with a
     * letter, at most 128 characters.
     *
     * @generated from field: string name = 1;
     */
    name: string;
    /**
     * A human description of the metric.
     *
     * @generated from field: string description = 2;
     */
    description: string;
    /**
     * Tags that qualify the metric. Entries of one attempt with the same name
     * and tags combine: counters and timers add up.
     *
     * @generated from field: map<string, string> tags = 3;
     */
    tags: {
        [key: string]: string;
    };
    /**
     * The value.
     *
     * @generated from oneof statehouse.v1.MetricEntry.value
     */
    value: {
        /**
         * A counter's value: a finite number.
         *
         * @generated from field: double counter = 4;
         */
        value: number;
        case: "counter";
    } | {
        /**
         * A timer's value: a non-negative duration.
         *
         * @generated from field: google.protobuf.Duration timer = 5;
         */
        value: Duration;
        case: "timer";
    } | {
        case: undefined;
        value?: undefined;
    };
};
/**
 * Describes the message statehouse.v1.MetricEntry.
 * Use `create(MetricEntrySchema)` to create a new message.
 */
export declare const MetricEntrySchema: GenMessage<MetricEntry>;
/**
 * Metric is a stored metric of one task run attempt.
 *
 * @generated from message statehouse.v1.Metric
 */
export type Metric = Message<"statehouse.v1.Metric"> & {
    /**
     * The execution of the task run.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * The task run the metric was recorded for.
     *
     * @generated from field: string task_run_id = 2;
     */
    taskRunId: string;
    /**
     * The task of the task run.
     *
     * @generated from field: string task_id = 3;
     */
    taskId: string;
    /**
     * The attempt the metric was recorded for.
     *
     * @generated from field: int32 attempt = 4;
     */
    attempt: number;
    /**
     * The namespace of the execution's flow.
     *
     * @generated from field: string namespace = 5;
     */
    namespace: string;
    /**
     * The flow of the execution.
     *
     * @generated from field: string flow_id = 6;
     */
    flowId: string;
    /**
     * The metric's name.
     *
     * @generated from field: string name = 7;
     */
    name: string;
    /**
     * A human description of the metric.
     *
     * @generated from field: string description = 8;
     */
    description: string;
    /**
     * Counter or timer.
     *
     * @generated from field: statehouse.v1.MetricType type = 9;
     */
    type: MetricType;
    /**
     * Tags that qualify the metric.
     *
     * @generated from field: map<string, string> tags = 10;
     */
    tags: {
        [key: string]: string;
    };
    /**
     * A counter's value (the sum of what was recorded).
     *
     * @generated from field: double counter = 11;
     */
    counter: number;
    /**
     * A timer's value (the sum of what was recorded).
     *
     * @generated from field: google.protobuf.Duration timer = 12;
     */
    timer?: Duration | undefined;
    /**
     * When the metric was first recorded.
     *
     * @generated from field: google.protobuf.Timestamp time = 13;
     */
    time?: Timestamp | undefined;
};
/**
 * Describes the message statehouse.v1.Metric.
 * Use `create(MetricSchema)` to create a new message.
 */
export declare const MetricSchema: GenMessage<Metric>;
/**
 * MetricBucket holds the aggregates of one time bucket. An empty bucket is
 * present with a count of 0 and all values 0.
 *
 * @generated from message statehouse.v1.MetricBucket
 */
export type MetricBucket = Message<"statehouse.v1.MetricBucket"> & {
    /**
     * The start of the bucket (inclusive).
     *
     * @generated from field: google.protobuf.Timestamp start_time = 1;
     */
    startTime?: Timestamp | undefined;
    /**
     * The sum of the values (for timers, in seconds).
     *
     * @generated from field: double sum = 2;
     */
    sum: number;
    /**
     * The average of the values.
     *
     * @generated from field: double avg = 3;
     */
    avg: number;
    /**
     * The smallest value.
     *
     * @generated from field: double min = 4;
     */
    min: number;
    /**
     * The largest value.
     *
     * @generated from field: double max = 5;
     */
    max: number;
    /**
     * How many values fell into the bucket.
     *
     * @generated from field: int64 count = 6;
     */
    count: bigint;
};
/**
 * Describes the message statehouse.v1.MetricBucket.
 * Use `create(MetricBucketSchema)` to create a new message.
 */
export declare const MetricBucketSchema: GenMessage<MetricBucket>;
/**
 * MetricSeries is the buckets of one group of an aggregation.
 *
 * @generated from message statehouse.v1.MetricSeries
 */
export type MetricSeries = Message<"statehouse.v1.MetricSeries"> & {
    /**
     * The value of the grouping tag, empty when not grouped.
     *
     * @generated from field: string tag_value = 1;
     */
    tagValue: string;
    /**
     * The buckets, in time order, covering the whole range.
     *
     * @generated from field: repeated statehouse.v1.MetricBucket buckets = 2;
     */
    buckets: MetricBucket[];
};
/**
 * Describes the message statehouse.v1.MetricSeries.
 * Use `create(MetricSeriesSchema)` to create a new message.
 */
export declare const MetricSeriesSchema: GenMessage<MetricSeries>;
/**
 * MetricType tells a counter from a timer.
 *
 * @generated from enum statehouse.v1.MetricType
 */
export declare enum MetricType {
    /**
     * The zero value: rejected in requests.
     *
     * @generated from enum value: METRIC_TYPE_UNSPECIFIED = 0;
     */
    UNSPECIFIED = 0,
    /**
     * A number that adds up.
     *
     * @generated from enum value: METRIC_TYPE_COUNTER = 1;
     */
    COUNTER = 1,
    /**
     * A duration that adds up.
     *
     * @generated from enum value: METRIC_TYPE_TIMER = 2;
     */
    TIMER = 2
}
/**
 * Describes the enum statehouse.v1.MetricType.
 */
export declare const MetricTypeSchema: GenEnum<MetricType>;
/**
 * MetricBucketWidth is the width of the time buckets of an aggregation.
 *
 * @generated from enum statehouse.v1.MetricBucketWidth
 */
export declare enum MetricBucketWidth {
    /**
     * Chosen by the server from the span of the time range.
     *
     * @generated from enum value: METRIC_BUCKET_WIDTH_UNSPECIFIED = 0;
     */
    UNSPECIFIED = 0,
    /**
     * One-minute buckets.
     *
     * @generated from enum value: METRIC_BUCKET_WIDTH_MINUTE = 1;
     */
    MINUTE = 1,
    /**
     * One-hour buckets.
     *
     * @generated from enum value: METRIC_BUCKET_WIDTH_HOUR = 2;
     */
    HOUR = 2,
    /**
     * One-day buckets (UTC).
     *
     * @generated from enum value: METRIC_BUCKET_WIDTH_DAY = 3;
     */
    DAY = 3,
    /**
     * One-week buckets (UTC, starting on Monday).
     *
     * @generated from enum value: METRIC_BUCKET_WIDTH_WEEK = 4;
     */
    WEEK = 4,
    /**
     * Calendar-month buckets (UTC).
     *
     * @generated from enum value: METRIC_BUCKET_WIDTH_MONTH = 5;
     */
    MONTH = 5
}
/**
 * Describes the enum statehouse.v1.MetricBucketWidth.
 */
export declare const MetricBucketWidthSchema: GenEnum<MetricBucketWidth>;
