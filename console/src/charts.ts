// A small chart per metric of an execution: its recorded values in time order.
import { durationMs } from "@bufbuild/protobuf/wkt";
import { type Metric, MetricType } from "../../client/ts/gen/statehouse/v1/metric_pb.js";
import { h } from "./dom.js";
import { duration, ms } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 180;
const HEIGHT = 40;

function value(metric: Metric): number {
  return metric.type === MetricType.TIMER ? (metric.timer ? durationMs(metric.timer) : 0) : metric.counter;
}

function show(metric: Metric, amount: number): string {
  return metric.type === MetricType.TIMER ? duration(amount) : String(Math.round(amount * 1000) / 1000);
}

export function metricCards(list: Metric[]): HTMLElement {
  const groups = new Map<string, Metric[]>();
  for (const metric of list) {
    const key = `${metric.name}\u0000${metric.type}`;
    groups.set(key, [...(groups.get(key) ?? []), metric]);
  }
  if (groups.size === 0) return h("p", { class: "empty" }, "No metrics recorded.");
  const cards = [...groups.values()]
    .sort((a, b) => a[0].name.localeCompare(b[0].name))
    .map((group) => card(group.sort((a, b) => ms(a.time) - ms(b.time))));
  return h("div", { class: "metrics" }, ...cards);
}

function card(group: Metric[]): HTMLElement {
  const first = group[0];
  const values = group.map(value);
  const total = values.reduce((a, b) => a + b, 0);
  const max = Math.max(...values, 0);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${first.name}: ${values.length} values`);
  const step = Math.min(WIDTH / Math.max(values.length, 1), 18);
  values.forEach((amount, index) => {
    const bar = document.createElementNS(SVG, "rect");
    const height = max > 0 ? Math.max(1, (amount / max) * (HEIGHT - 2)) : 1;
    bar.setAttribute("x", String(index * step + step * 0.1));
    bar.setAttribute("y", String(HEIGHT - height));
    bar.setAttribute("width", String(Math.max(1, step * 0.8)));
    bar.setAttribute("height", String(height));
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${group[index].taskId} #${group[index].attempt}: ${show(group[index], amount)}`;
    bar.append(title);
    svg.append(bar);
  });
  const kind = first.type === MetricType.TIMER ? "timer" : "counter";
  const summary =
    first.type === MetricType.TIMER
      ? `${values.length} × avg ${show(first, total / values.length)}, max ${show(first, max)}`
      : `${values.length} × sum ${show(first, total)}, max ${show(first, max)}`;
  return h(
    "figure",
    { class: "metric", "data-metric": first.name },
    svg,
    h("figcaption", {}, h("strong", {}, first.name), ` ${kind}: ${summary}`),
  );
}
