// The Gantt timeline of one execution: a row for the execution, one per task
// run and, under a task run retried or restarted, one per attempt. Each row's bar is its history: one segment per state it was
// in, coloured by the state the segment ended in (a run that succeeded is
// green), CREATED drawn pale (waiting), PAUSED left as a gap, and the current
// state of anything still active growing up to now.
import type {
  Attempt,
  Execution,
  StateChange,
  TaskRun,
} from "../../client/ts/gen/statehouse/v1/execution_pb.js";
import { State } from "../../client/ts/gen/statehouse/v1/state_pb.js";
import { h, stateBadge } from "./dom.js";
import { duration, isTerminal, ms, stateName } from "./format.js";
import { VirtualRows } from "./virtual.js";

export interface Segment {
  state: State;
  /** The colour: the state this segment ended in, or its own while open. */
  shown: State;
  start: number;
  end: number;
  open: boolean;
}

export interface TimelineRow {
  kind: "execution" | "task-run" | "attempt";
  label: string;
  state: State;
  segments: Segment[];
  taskRun?: TaskRun;
  attempt?: Attempt;
}

const ENDS_RUN = new Set([State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.KILLING]);

export function segments(history: StateChange[], now: number): Segment[] {
  return history.map((change, index) => {
    const next = history[index + 1];
    const start = ms(change.time);
    const open = next === undefined && !isTerminal(change.state);
    const end = next ? ms(next.time) : open ? Math.max(start, now) : start;
    const shown =
      next && change.state === State.RUNNING && ENDS_RUN.has(next.state) ? next.state : change.state;
    return { state: change.state, shown, start, end, open };
  });
}

export function timelineRows(execution: Execution, now: number): TimelineRow[] {
  const rows: TimelineRow[] = [
    {
      kind: "execution",
      label: `${execution.flowId} (execution)`,
      state: execution.state,
      segments: segments(execution.history, now),
    },
  ];
  for (const taskRun of execution.taskRuns) {
    const label = taskRun.value ? `${taskRun.taskId} [${taskRun.value}]` : taskRun.taskId;
    rows.push({
      kind: "task-run",
      label,
      state: taskRun.state,
      segments: segments(taskRun.history, now),
      taskRun,
    });
    // Attempts get rows of their own once there is more than one, or one
    // failed and the task run waits for its retry (RESTARTED).
    if (taskRun.attempts.length > 1 || (taskRun.state === State.RESTARTED && taskRun.attempts.length > 0)) {
      for (const attempt of taskRun.attempts) {
        rows.push({
          kind: "attempt",
          label: `attempt ${attempt.number}`,
          state: attempt.state,
          segments: segments(attempt.history, now),
          taskRun,
          attempt,
        });
      }
    }
  }
  return rows;
}

/** The span the axis covers: from the first change to the last, or to now. */
export function span(rows: TimelineRow[], now: number): [number, number] {
  let start = Infinity;
  let end = -Infinity;
  for (const row of rows) {
    for (const segment of row.segments) {
      start = Math.min(start, segment.start);
      end = Math.max(end, segment.end);
    }
  }
  if (start === Infinity) return [now - 1000, now];
  return [start, Math.max(end, start + 1000)];
}

function rowDuration(row: TimelineRow): number {
  const first = row.segments[0];
  const last = row.segments[row.segments.length - 1];
  return first && last ? last.end - first.start : 0;
}

const ROW_HEIGHT = 26;

export class Timeline {
  readonly element: HTMLElement;
  private readonly axis: HTMLDivElement;
  private readonly rows: VirtualRows;
  private data: TimelineRow[] = [];
  private range: [number, number] = [0, 1];

  constructor(private readonly onOpen: (row: TimelineRow) => void) {
    this.axis = h("div", { class: "axis", "aria-hidden": "true" });
    this.rows = new VirtualRows(
      ROW_HEIGHT,
      (index) => this.drawRow(index),
      (index) => this.onOpen(this.data[index]),
      "timeline-rows",
    );
    this.rows.scroller.setAttribute("role", "list");
    this.rows.scroller.setAttribute("aria-label", "timeline: the execution, its task runs and attempts");
    this.element = h("div", { class: "timeline" }, this.axis, this.rows.scroller);
  }

  get drawMs(): number {
    return this.rows.lastDrawMs;
  }

  get rowCount(): number {
    return this.data.length;
  }

  /** New data (a change), or the clock moving (running bars grow). */
  update(execution: Execution, now: number): void {
    this.data = timelineRows(execution, now);
    this.range = span(this.data, now);
    this.drawAxis();
    this.rows.setCount(this.data.length);
  }

  private drawAxis(): void {
    const [start, end] = this.range;
    const ticks: HTMLElement[] = [];
    for (let i = 0; i <= 4; i++) {
      const at = (end - start) * (i / 4);
      ticks.push(h("span", { class: "tick", style: `left: ${i * 25}%` }, `+${duration(at)}`));
    }
    this.axis.replaceChildren(h("div", { class: "axis-label" }, "task run"), h("div", { class: "axis-track" }, ...ticks));
  }

  private drawRow(index: number): HTMLElement {
    const row = this.data[index];
    const [start, end] = this.range;
    const width = end - start;
    const track = h("div", { class: "track" });
    for (const segment of row.segments) {
      const left = ((segment.start - start) / width) * 100;
      const size = ((segment.end - segment.start) / width) * 100;
      const kind =
        segment.state === State.PAUSED ? "gap" : segment.state === State.CREATED ? "waiting" : "run";
      const bar = h("span", {
        class: `bar ${kind} fill-${stateName(segment.shown).toLowerCase()}${segment.open ? " open" : ""}`,
        style: `left: ${left}%; width: max(${size}%, 2px)`,
        title: `${stateName(segment.state)} ${duration(segment.end - segment.start)}`,
        "data-state": stateName(segment.state),
      });
      track.append(bar);
    }
    const label = h(
      "div",
      { class: "label" },
      h("span", { class: "name", title: row.label }, row.label),
      stateBadge(row.state),
      h("span", { class: "took" }, duration(rowDuration(row))),
    );
    const element = h(
      "div",
      {
        class: `trow ${row.kind}`,
        role: "listitem",
        "data-kind": row.kind,
        "data-task-run": row.taskRun?.id,
        "data-attempt": row.attempt?.number,
        "aria-label": `${row.label}: ${stateName(row.state)}`,
      },
      label,
      track,
    );
    return element;
  }
}
