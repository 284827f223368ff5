import type { GenEnum, GenFile } from "@bufbuild/protobuf/codegenv2";
/**
 * Describes the file statehouse/v1/state.proto.
 */
export declare const file_statehouse_v1_state: GenFile;
/**
 * State is the lifecycle state shared by executions, task runs and attempts.
 * The legal moves between states are listed in docs/concepts.md (generated
 * from the server's transition table); every other move is rejected with
 * FAILED_PRECONDITION and the ErrorInfo reason INVALID_TRANSITION.
 *
 * @generated from enum statehouse.v1.State
 */
export declare enum State {
    /**
     * The zero value: never returned by the server, rejected in requests.
     *
     * @generated from enum value: STATE_UNSPECIFIED = 0;
     */
    UNSPECIFIED = 0,
    /**
     * Waiting to be processed: queued, not started.
     *
     * @generated from enum value: STATE_CREATED = 1;
     */
    CREATED = 1,
    /**
     * Running.
     *
     * @generated from enum value: STATE_RUNNING = 2;
     */
    RUNNING = 2,
    /**
     * Paused, for a manual validation or for a delay before continuing.
     *
     * @generated from enum value: STATE_PAUSED = 3;
     */
    PAUSED = 3,
    /**
     * Finished successfully. Terminal.
     *
     * @generated from enum value: STATE_SUCCESS = 4;
     */
    SUCCESS = 4,
    /**
     * Finished, but flagged with a warning. Terminal.
     *
     * @generated from enum value: STATE_WARNING = 5;
     */
    WARNING = 5,
    /**
     * Finished in failure. Terminal, restartable.
     *
     * @generated from enum value: STATE_FAILED = 6;
     */
    FAILED = 6,
    /**
     * A kill was asked; the running task runs are being killed.
     *
     * @generated from enum value: STATE_KILLING = 7;
     */
    KILLING = 7,
    /**
     * Killed on request; nothing more runs. Terminal, restartable.
     *
     * @generated from enum value: STATE_KILLED = 8;
     */
    KILLED = 8,
    /**
     * Transitive: like CREATED, for something that already ran, failed (or was
     * killed) and was restarted.
     *
     * @generated from enum value: STATE_RESTARTED = 9;
     */
    RESTARTED = 9
}
/**
 * Describes the enum statehouse.v1.State.
 */
export declare const StateSchema: GenEnum<State>;
