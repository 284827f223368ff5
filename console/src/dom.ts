// A few helpers to build DOM nodes without a framework.
import type { State } from "../../client/ts/gen/statehouse/v1/state_pb.js";
import { stateName } from "./format.js";

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === "class") element.className = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

export function stateBadge(state: State): HTMLSpanElement {
  const name = stateName(state);
  return h("span", { class: `state state-${name.toLowerCase()}`, "data-state": name }, name);
}

export function clear(element: Element): void {
  element.replaceChildren();
}

/** Call `fn` at most once per `delay` ms, with every argument queued since. */
export function batched<T>(delay: number, fn: (items: Set<T>) => Promise<void> | void) {
  let pending = new Set<T>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  const flush = async () => {
    timer = undefined;
    if (running) {
      timer = setTimeout(flush, delay);
      return;
    }
    const items = pending;
    pending = new Set();
    running = true;
    try {
      await fn(items);
    } finally {
      running = false;
    }
  };
  return (item: T) => {
    pending.add(item);
    if (timer === undefined) timer = setTimeout(flush, delay);
  };
}
