// Names, times and durations as the CLI prints them.
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { State } from "../../client/ts/gen/statehouse/v1/state_pb.js";
import { TERMINAL_STATES } from "./rules.gen.js";

export const STATES: State[] = [
  State.CREATED,
  State.RUNNING,
  State.PAUSED,
  State.SUCCESS,
  State.WARNING,
  State.FAILED,
  State.KILLING,
  State.KILLED,
  State.RESTARTED,
];

export function stateName(state: State): string {
  return State[state] ?? String(state);
}

export function parseState(name: string): State | undefined {
  const value = (State as unknown as Record<string, number>)[name.toUpperCase()];
  return value === undefined || value === State.UNSPECIFIED ? undefined : (value as State);
}

export function isTerminal(state: State): boolean {
  return TERMINAL_STATES.has(state);
}

export function ms(timestamp: Timestamp | undefined): number {
  return timestamp ? timestampMs(timestamp) : 0;
}

/** ISO 8601 UTC to the second, as in the CLI's messages. */
export function isoTime(when: number): string {
  return when ? new Date(when).toISOString().replace(/\.\d+Z$/, "Z") : "";
}

/** 350ms, 1.2s, 3m04s, 2h05m, as `executions get` prints them. */
export function duration(milliseconds: number): string {
  const s = Math.max(0, milliseconds) / 1000;
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s.toFixed(1)}s`;
  const whole = Math.floor(s);
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, "0")}s`;
  const minutes = Math.floor(whole / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

export function labelsText(labels: { [key: string]: string }): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(", ");
}
