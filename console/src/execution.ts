// The page of one execution (/executions/ID): its timeline, history, inputs
// and outputs, metrics and the lifecycle buttons, kept live by a subscription
// to the execution's events: each batch of events refetches the execution.
// The buttons are the requests the server accepts in the execution's state
// (rules.gen.ts, generated from the server's rules); an id that names no
// execution gets a page that says so.
import type { Attempt, Execution, StateChange } from "../../client/ts/gen/statehouse/v1/execution_pb.js";
import { ExecutionView } from "../../client/ts/gen/statehouse/v1/execution_pb.js";
import type { Metric } from "../../client/ts/gen/statehouse/v1/metric_pb.js";
import { admin, describeError, executions, isNotFound, isPermissionDenied, metrics } from "./api.js";
import { metricCards } from "./charts.js";
import { batched, h, stateBadge } from "./dom.js";
import { duration, isTerminal, isoTime, labelsText, ms, stateName } from "./format.js";
import { LiveSubscription, type StreamStatus } from "./live.js";
import type { Page } from "./main.js";
import { EXECUTION_MOVES, MOVES, type Move } from "./rules.gen.js";
import { Timeline, type TimelineRow } from "./timeline.js";
import { VirtualRows } from "./virtual.js";

const REASON = "from the web console";

interface HistoryLine {
  subject: string;
  change: StateChange;
}

export class ExecutionPage implements Page {
  readonly element: HTMLElement;
  private execution: Execution | undefined;
  private subscription: LiveSubscription | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** False once the server said the caller's role may not move executions. */
  private mayMove = true;
  private readonly header = h("header", { class: "execution-header" });
  private readonly actions = h("div", { class: "actions", role: "group", "aria-label": "lifecycle" });
  private readonly actionError = h("p", { class: "error", role: "alert", id: "action-error" });
  private readonly timeline = new Timeline((row) => this.showDetail(row));
  private readonly detail = h("section", { class: "detail", id: "detail", "aria-live": "polite" });
  private history: HistoryLine[] = [];
  private readonly historyRows = new VirtualRows(
    24,
    (index) => this.drawHistory(index),
    () => undefined,
    "history-rows",
  );
  private readonly payloads = h("div", { class: "payloads" });
  private readonly metricsBox = h("div", { id: "metrics" });
  private readonly refetch = batched<string>(120, async () => {
    await this.load();
  });
  private readonly refetchMetrics = batched<string>(1000, () => this.loadMetrics());

  constructor(
    private readonly id: string,
    private readonly setStatus: (status: StreamStatus, detail: string) => void,
  ) {
    for (const move of MOVES) {
      // Hidden until the execution's state says which moves it accepts.
      const label = move[0].toUpperCase() + move.slice(1);
      const button = h("button", { type: "button", "data-move": move, hidden: true }, label);
      button.addEventListener("click", () => void this.move(move));
      this.actions.append(button);
    }
    this.historyRows.scroller.setAttribute("aria-label", "history");
    this.element = h(
      "main",
      { class: "execution-page" },
      h("nav", {}, h("a", { href: "/", "data-link": "" }, "← executions")),
      this.header,
      h("div", { class: "toolbar" }, this.actions, this.actionError),
      h("section", {}, h("h2", {}, "Timeline"), this.timeline.element),
      this.detail,
      h("section", {}, h("h2", {}, "Metrics"), this.metricsBox),
      this.payloads,
      h("section", {}, h("h2", {}, "History"), this.historyRows.scroller),
    );
    void this.start();
  }

  close(): void {
    this.closed = true;
    this.subscription?.close();
    clearInterval(this.ticker);
  }

  private async start(): Promise<void> {
    try {
      // The head first, then the state: every event after the head is seen.
      const info = await admin.getServerInfo({});
      if (!(await this.load())) return;
      this.subscription = new LiveSubscription({
        executionIds: [this.id],
        afterSequence: info.headSequence,
        onEvent: () => {
          this.refetch(this.id);
          this.refetchMetrics(this.id);
        },
        onStatus: (status, detail) => {
          this.setStatus(status, detail);
          // Back after a disconnect: what happened meanwhile comes as events,
          // but a refetch also covers a server that lost nothing but time.
          if (status === "live") this.refetch(this.id);
        },
        onCompacted: () => {
          this.subscription?.close();
          void this.start();
        },
      });
      this.ticker = setInterval(() => this.tick(), 250);
      void this.loadMetrics();
    } catch (error) {
      this.header.replaceChildren(h("h1", {}, "Execution"), h("p", { class: "error", role: "alert" }, describeError(error)));
    }
  }

  /** Fetch and draw the execution; false when the page is closed or the execution missing. */
  private async load(): Promise<boolean> {
    let response;
    try {
      response = await executions.getExecution({ executionId: this.id, view: ExecutionView.FULL });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      if (!this.closed) this.showMissing(error);
      return false;
    }
    if (this.closed || !response.execution) return false;
    const started = performance.now();
    this.render(response.execution);
    // For the tests' measures: the drawing alone, and since the navigation began
    // (the script, the server's head, the execution's download and decoding).
    document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
    document.body.dataset.shownAtMs ??= performance.now().toFixed(0);
    return true;
  }

  /** No execution has this id (never, or no longer: deleted, or past retention). */
  private showMissing(error: unknown): void {
    this.subscription?.close();
    clearInterval(this.ticker);
    document.title = "Execution not found · Statehouse";
    this.element.dataset.missing = "";
    delete this.element.dataset.state;
    this.element.replaceChildren(
      h("nav", {}, h("a", { href: "/", "data-link": "" }, "← executions")),
      h("h1", {}, "Execution not found"),
      h(
        "p",
        { class: "missing" },
        "No execution has the id ",
        h("code", {}, this.id),
        ": it was never created, or it was deleted.",
      ),
      h("p", { class: "error", role: "alert" }, describeError(error)),
    );
  }

  private async loadMetrics(): Promise<void> {
    const list: Metric[] = [];
    let pageToken = "";
    do {
      const page = await metrics.listMetrics({ executionId: this.id, pageSize: 1000, pageToken });
      list.push(...page.metrics);
      pageToken = page.nextPageToken;
    } while (pageToken && list.length < 20000);
    if (!this.closed) this.metricsBox.replaceChildren(metricCards(list));
  }

  /** The clock moved: running bars grow (only the visible rows are drawn). */
  private tick(): void {
    const execution = this.execution;
    const active = execution && (!isTerminal(execution.state) || execution.taskRuns.some((t) => !isTerminal(t.state)));
    if (!execution || !active) return;
    const now = Date.now();
    this.timeline.update(execution, now);
    const took = this.header.querySelector("dd.duration");
    if (took && !isTerminal(execution.state)) took.textContent = duration(now - ms(execution.createTime));
    document.body.dataset.frameMs = this.timeline.drawMs.toFixed(1);
  }

  private render(execution: Execution): void {
    this.execution = execution;
    const now = Date.now();
    const created = ms(execution.createTime);
    const end = isTerminal(execution.state) ? ms(execution.updateTime) : now;
    document.title = `${execution.flowId} ${stateName(execution.state)} · Statehouse`;
    this.header.replaceChildren(
      h("h1", {}, `${execution.namespace} / ${execution.flowId} `, stateBadge(execution.state)),
      h(
        "dl",
        { class: "meta" },
        ...pair("id", execution.id),
        ...pair("labels", labelsText(execution.labels) || "—"),
        ...pair("created", isoTime(created)),
        ...pair("duration", duration(end - created), "duration"),
        ...pair("task runs", String(execution.taskRuns.length)),
        ...pair("revision", String(execution.revision)),
        ...pair("restarts", String(execution.restartCount)),
        ...(execution.parentExecutionId ? pair("parent", execution.parentExecutionId) : []),
      ),
    );
    this.element.dataset.state = stateName(execution.state);
    this.showMoves(execution);
    this.timeline.update(execution, now);
    this.renderHistory(execution);
    this.payloads.replaceChildren(
      payload("Inputs", execution.inputs),
      payload("Outputs", execution.outputs),
    );
    const selected = this.detail.dataset.taskRun;
    if (selected) {
      const row = execution.taskRuns.find((t) => t.id === selected);
      if (row) this.showDetail({ kind: "task-run", label: row.taskId, state: row.state, segments: [], taskRun: row });
    }
  }

  /** Only the buttons of the requests the server accepts in the execution's state. */
  private showMoves(execution: Execution): void {
    const allowed = EXECUTION_MOVES[execution.state] ?? [];
    for (const button of this.actions.querySelectorAll("button")) {
      button.hidden = !this.mayMove || !allowed.includes(button.dataset.move as Move);
    }
  }

  private renderHistory(execution: Execution): void {
    const lines: HistoryLine[] = execution.history.map((change) => ({ subject: "execution", change }));
    for (const taskRun of execution.taskRuns) {
      const subject = taskRun.value ? `${taskRun.taskId} [${taskRun.value}]` : taskRun.taskId;
      for (const change of taskRun.history) lines.push({ subject, change });
    }
    lines.sort((a, b) => ms(a.change.time) - ms(b.change.time));
    this.history = lines;
    this.historyRows.setCount(lines.length);
  }

  private drawHistory(index: number): HTMLElement {
    const { subject, change } = this.history[index];
    return h(
      "div",
      { class: "hrow", role: "listitem" },
      h("time", {}, isoTime(ms(change.time))),
      h("span", { class: "subject", title: subject }, subject),
      stateBadge(change.state),
      h("span", { class: "actor", title: "actor" }, change.actor || "—"),
      h("span", { class: "reason", title: change.reason }, change.reason),
    );
  }

  private showDetail(row: TimelineRow): void {
    const taskRun = row.taskRun;
    if (!taskRun) {
      this.detail.replaceChildren();
      delete this.detail.dataset.taskRun;
      return;
    }
    this.detail.dataset.taskRun = taskRun.id;
    const attempts = taskRun.attempts.map((attempt) =>
      h(
        "li",
        {},
        `attempt ${attempt.number} `,
        stateBadge(attempt.state),
        attempt.workerId ? ` on ${attempt.workerId}` : "",
        ` (${attempt.history.map((c) => stateName(c.state)).join(" → ")})`,
      ),
    );
    // The attempt under way: its worker, its lease and until when the lease
    // runs (as of the last read: a heartbeat moves it without a new snapshot).
    const last = taskRun.attempts.at(-1);
    const running = last && !isTerminal(last.state) ? last : undefined;
    this.detail.replaceChildren(
      h("h2", {}, `Task run ${taskRun.taskId} `, stateBadge(taskRun.state)),
      h(
        "dl",
        { class: "meta" },
        ...pair("id", taskRun.id),
        ...(taskRun.value ? pair("value", taskRun.value) : []),
        ...(running ? pair("worker", running.workerId || "—", "worker") : []),
        ...(running ? pair("lease", leaseText(running), "lease") : []),
        ...(running?.leaseExpireTime
          ? pair("lease until", isoTime(ms(running.leaseExpireTime)), "lease-until")
          : []),
        ...(taskRun.nextAttemptTime ? pair("next attempt", isoTime(ms(taskRun.nextAttemptTime))) : []),
        ...(taskRun.retryPolicy ? pair("retry", `up to ${taskRun.retryPolicy.maxAttempts} attempts`) : []),
      ),
      h("ol", { class: "attempts" }, ...attempts),
      payload("Outputs", taskRun.outputs),
    );
  }

  private async move(move: Move): Promise<void> {
    this.actionError.textContent = "";
    const request = { executionId: this.id, reason: REASON };
    try {
      const response =
        move === "kill"
          ? await executions.killExecution(request)
          : move === "restart"
            ? await executions.restartExecution(request)
            : move === "pause"
              ? await executions.pauseExecution(request)
              : await executions.resumeExecution(request);
      if (response.execution) this.render(response.execution);
    } catch (error) {
      this.actionError.textContent = describeError(error);
      if (isPermissionDenied(error)) {
        // The caller's role cannot move executions: no buttons that only fail.
        this.mayMove = false;
        for (const button of this.actions.querySelectorAll("button")) button.hidden = true;
      }
    }
  }
}

/** An open attempt's lease: "30.0s, extended by each heartbeat", or "none". */
function leaseText(attempt: Attempt): string {
  const lease = attempt.leaseDuration;
  if (!lease) return "none";
  return `${duration(Number(lease.seconds) * 1000 + lease.nanos / 1e6)}, extended by each heartbeat`;
}

function pair(term: string, value: string, className?: string): HTMLElement[] {
  return [h("dt", {}, term), h("dd", { class: className }, value)];
}

function payload(title: string, value: unknown): HTMLElement {
  const text = value && Object.keys(value).length ? JSON.stringify(value, null, 2) : "—";
  return h("section", { class: "payload" }, h("h2", {}, title), h("pre", { tabindex: 0 }, text));
}
