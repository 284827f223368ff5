// The executions list (/): filters in the URL query (namespace, flow, state,
// label=key=value, repeatable), counts by state, and the rows kept live by a
// subscription: each execution an event names is fetched again and put in,
// moved or taken out of the list by the filters. Rows are keyed by id, so an
// execution is never listed twice.
import type { Execution } from "../../client/ts/gen/statehouse/v1/execution_pb.js";
import { ExecutionView } from "../../client/ts/gen/statehouse/v1/execution_pb.js";
import type { State } from "../../client/ts/gen/statehouse/v1/state_pb.js";
import { admin, describeError, executions, isNotFound } from "./api.js";
import { batched, h, stateBadge } from "./dom.js";
import { duration, isTerminal, isoTime, labelsText, ms, parseState, STATES, stateName } from "./format.js";
import { LiveSubscription, type StreamStatus } from "./live.js";
import { navigate, type Page } from "./main.js";

interface Filters {
  namespace: string;
  flowId: string;
  state: State | undefined;
  labels: { [key: string]: string };
}

export function readFilters(query: URLSearchParams): Filters {
  const labels: { [key: string]: string } = {};
  for (const label of query.getAll("label")) {
    for (const pair of label.split(",")) {
      const at = pair.indexOf("=");
      if (at > 0) labels[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    }
  }
  return {
    namespace: query.get("namespace") ?? "",
    flowId: query.get("flow") ?? "",
    state: parseState(query.get("state") ?? ""),
    labels,
  };
}

function matches(execution: Execution, filters: Filters): boolean {
  if (filters.namespace && execution.namespace !== filters.namespace) return false;
  if (filters.flowId && execution.flowId !== filters.flowId) return false;
  if (filters.state !== undefined && execution.state !== filters.state) return false;
  return Object.entries(filters.labels).every(([key, value]) => execution.labels[key] === value);
}

function newestFirst(a: Execution, b: Execution): number {
  return ms(b.createTime) - ms(a.createTime) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

export class ListPage implements Page {
  readonly element: HTMLElement;
  private readonly filters: Filters;
  private readonly rows = new Map<string, Execution>();
  private readonly body = h("tbody", {});
  private readonly counts = h("div", { class: "counts", id: "counts", "aria-label": "executions by state" });
  private readonly message = h("p", { class: "error", role: "alert" });
  private readonly more = h("button", { type: "button", hidden: true }, "More");
  private nextPageToken = "";
  private subscription: LiveSubscription | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private readonly refresh = batched<string>(100, (ids) => this.refreshRows(ids));

  constructor(
    private readonly query: URLSearchParams,
    private readonly setStatus: (status: StreamStatus, detail: string) => void,
  ) {
    this.filters = readFilters(query);
    this.more.addEventListener("click", () => void this.loadPage());
    this.element = h(
      "main",
      { class: "list-page" },
      this.filterForm(),
      this.counts,
      this.message,
      h(
        "table",
        { class: "executions", id: "executions" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["id", "namespace", "flow", "state", "labels", "created", "duration"].map((name) =>
              h("th", { scope: "col" }, name),
            ),
          ),
        ),
        this.body,
      ),
      this.more,
    );
    this.body.addEventListener("keydown", (event) => this.onKey(event));
    void this.start();
  }

  close(): void {
    this.closed = true;
    this.subscription?.close();
    clearInterval(this.ticker);
  }

  private filterForm(): HTMLFormElement {
    const f = this.filters;
    const field = (name: string, label: string, value: string, placeholder: string) =>
      h("label", {}, label, h("input", { name, value, placeholder, autocomplete: "off" }));
    const state = h(
      "select",
      { name: "state" },
      h("option", { value: "" }, "any"),
      ...STATES.map((s) => h("option", { value: stateName(s), selected: f.state === s }, stateName(s))),
    );
    const form = h(
      "form",
      { class: "filters", role: "search" },
      field("namespace", "namespace", f.namespace, "any"),
      field("flow", "flow", f.flowId, "any"),
      h("label", {}, "state", state),
      field("label", "label", labelsText(f.labels), "key=value, …"),
      h("button", { type: "submit" }, "Filter"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const query = new URLSearchParams();
      for (const [name, value] of new FormData(form)) {
        if (typeof value === "string" && value.trim()) query.set(name, value.trim());
      }
      const text = query.toString();
      navigate(text ? `/?${text}` : "/");
    });
    return form;
  }

  private async start(): Promise<void> {
    try {
      // The head first, then the list: every change after the head comes as an event.
      const info = await admin.getServerInfo({});
      this.rows.clear();
      this.nextPageToken = "";
      await this.loadPage();
      await this.loadCounts();
      if (this.closed) return;
      this.subscription = new LiveSubscription({
        namespace: this.filters.namespace,
        flowId: this.filters.flowId,
        afterSequence: info.headSequence,
        onEvent: (event) => {
          if (!event.taskRunId) this.refresh(event.executionId);
        },
        onStatus: (status, detail) => this.setStatus(status, detail),
        onCompacted: () => {
          this.subscription?.close();
          void this.start();
        },
      });
      this.ticker = setInterval(() => this.tickDurations(), 1000);
    } catch (error) {
      this.message.textContent = describeError(error);
    }
  }

  private async loadPage(): Promise<void> {
    const f = this.filters;
    const page = await executions.listExecutions({
      namespace: f.namespace,
      flowId: f.flowId,
      states: f.state === undefined ? [] : [f.state],
      labels: f.labels,
      pageSize: 100,
      pageToken: this.nextPageToken,
      view: ExecutionView.BASIC,
    });
    for (const execution of page.executions) this.rows.set(execution.id, execution);
    this.nextPageToken = page.nextPageToken;
    this.more.hidden = !page.nextPageToken;
    this.draw();
  }

  private async loadCounts(): Promise<void> {
    const f = this.filters;
    const response = await executions.countExecutions({ namespace: f.namespace, flowId: f.flowId, labels: f.labels });
    const chips = response.counts.map((count) => {
      const query = new URLSearchParams(this.query);
      query.set("state", stateName(count.state));
      const chip = h(
        "a",
        {
          href: `/?${query}`,
          "data-link": "",
          class: `count${f.state === count.state ? " selected" : ""}`,
          "data-state": stateName(count.state),
        },
        stateBadge(count.state),
        h("span", { class: "number" }, String(count.count)),
      );
      return chip;
    });
    const all = new URLSearchParams(this.query);
    all.delete("state");
    this.counts.replaceChildren(
      h("a", { href: `/?${all}`, "data-link": "", class: "count total" }, "total ", h("span", { class: "number" }, String(response.total))),
      ...chips,
    );
  }

  private async refreshRows(ids: Set<string>): Promise<void> {
    await Promise.all(
      [...ids].map(async (id) => {
        try {
          const { execution } = await executions.getExecution({ executionId: id, view: ExecutionView.BASIC });
          if (execution && matches(execution, this.filters)) this.rows.set(id, execution);
          else this.rows.delete(id);
        } catch (error) {
          if (isNotFound(error)) this.rows.delete(id);
          else throw error;
        }
      }),
    );
    if (this.closed) return;
    this.draw();
    await this.loadCounts();
  }

  private draw(): void {
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.id;
    const now = Date.now();
    const sorted = [...this.rows.values()].sort(newestFirst);
    this.body.replaceChildren(...sorted.map((execution) => this.drawRow(execution, now)));
    if (focused) this.body.querySelector<HTMLElement>(`tr[data-id="${focused}"]`)?.focus();
    document.body.dataset.rows = String(sorted.length);
    if (sorted.length === 0) {
      this.body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No executions match.")));
    }
  }

  private drawRow(execution: Execution, now: number): HTMLTableRowElement {
    const created = ms(execution.createTime);
    const end = isTerminal(execution.state) ? ms(execution.updateTime) : now;
    const href = `/executions/${encodeURIComponent(execution.id)}`;
    const row = h(
      "tr",
      { tabindex: 0, "data-id": execution.id, "data-state": stateName(execution.state) },
      h("td", { class: "id" }, h("a", { href, "data-link": "", tabindex: -1, title: execution.id }, execution.id.slice(0, 8))),
      h("td", {}, execution.namespace),
      h("td", {}, execution.flowId),
      h("td", {}, stateBadge(execution.state)),
      h("td", { class: "labels" }, labelsText(execution.labels)),
      h("td", {}, h("time", { datetime: isoTime(created) }, isoTime(created))),
      h("td", { class: "duration", "data-start": created, "data-end": isTerminal(execution.state) ? end : "" }, duration(end - created)),
    );
    row.addEventListener("click", (event) => {
      if (!(event.target as HTMLElement).closest("a")) navigate(href);
    });
    return row;
  }

  private onKey(event: KeyboardEvent): void {
    const row = (event.target as HTMLElement).closest("tr");
    if (!row?.dataset.id) return;
    if (event.key === "Enter") {
      event.preventDefault();
      navigate(`/executions/${encodeURIComponent(row.dataset.id)}`);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = event.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
      (next as HTMLElement | null)?.focus();
    }
  }

  /** Durations of active executions grow each second. */
  private tickDurations(): void {
    const now = Date.now();
    for (const cell of this.body.querySelectorAll<HTMLElement>("td.duration")) {
      if (!cell.dataset.end) cell.textContent = duration(now - Number(cell.dataset.start));
    }
  }
}
