// The Statehouse web console: the executions list at `/` and the page of one
// execution at `/executions/ID`, routed in the browser (the server answers
// index.html for both), over the Connect protocol of the same HTTP port.
import { setToken, token } from "./api.js";
import { ExecutionPage } from "./execution.js";
import { h } from "./dom.js";
import { ListPage } from "./list.js";
import type { StreamStatus } from "./live.js";

export interface Page {
  readonly element: HTMLElement;
  close(): void;
}

const STATUS_TEXT: Record<StreamStatus, string> = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
};

const status = h("span", { class: "stream", id: "stream", role: "status", "aria-live": "polite" });
const tokenButton = h("button", { type: "button", class: "token" });
const root = h("div", { id: "page" });
let page: Page | undefined;

function setStatus(value: StreamStatus, detail: string): void {
  document.body.dataset.stream = value;
  status.textContent = STATUS_TEXT[value];
  status.title = detail;
  status.className = `stream stream-${value}`;
}

function drawTokenButton(): void {
  tokenButton.textContent = token() ? "token ✓" : "token";
  tokenButton.title = token()
    ? "A bearer token is sent with every call (click to change or clear it)"
    : "Set a bearer token (for a server started with --auth)";
}

tokenButton.addEventListener("click", () => {
  const value = prompt("Bearer token (empty to clear):", token());
  if (value === null) return;
  setToken(value.trim());
  drawTokenButton();
  route();
});

export function navigate(href: string): void {
  history.pushState(null, "", href);
  route();
}

function route(): void {
  page?.close();
  const match = /^\/executions\/([^/]+)\/?$/.exec(location.pathname);
  page = match
    ? new ExecutionPage(decodeURIComponent(match[1]), setStatus)
    : new ListPage(new URLSearchParams(location.search), setStatus);
  if (!match) document.title = "Executions · Statehouse";
  root.replaceChildren(page.element);
  window.scrollTo(0, 0);
}

document.addEventListener("click", (event) => {
  const link = (event.target as HTMLElement).closest<HTMLAnchorElement>("a[data-link]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute("href") ?? "/");
});
window.addEventListener("popstate", route);

drawTokenButton();
document.body.replaceChildren(
  h(
    "header",
    { class: "top" },
    h("a", { href: "/", "data-link": "", class: "brand" }, "Statehouse"),
    status,
    tokenButton,
  ),
  root,
);
route();
