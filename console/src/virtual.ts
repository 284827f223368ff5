// A list of fixed-height rows of which only the visible ones (and a few
// around them) are in the DOM, so that 1,000 task runs cost what 30 do.
// Keyboard: the rows are focusable; arrows, Home, End, PageUp and PageDown move
// the focus, scrolling the row into view (it is drawn first if it was not).
export class VirtualRows {
  readonly scroller: HTMLDivElement;
  private readonly inner: HTMLDivElement;
  private count = 0;
  private focused = -1;
  private frame = 0;
  /** How long the last drawing of the visible rows took, in ms. */
  lastDrawMs = 0;

  constructor(
    private readonly rowHeight: number,
    private readonly drawRow: (index: number) => HTMLElement,
    private readonly onActivate: (index: number) => void,
    className: string,
  ) {
    this.scroller = document.createElement("div");
    this.scroller.className = `virtual ${className}`;
    this.inner = document.createElement("div");
    this.inner.className = "virtual-inner";
    this.scroller.append(this.inner);
    this.scroller.addEventListener("scroll", () => this.schedule());
    this.scroller.addEventListener("keydown", (event) => this.onKey(event));
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
  }

  setCount(count: number): void {
    this.count = count;
    this.inner.style.height = `${count * this.rowHeight}px`;
    if (this.focused >= count) this.focused = count - 1;
    this.draw();
  }

  /** Redraw at the next frame (scrolling, resizing, a clock tick). */
  schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw(): void {
    const started = performance.now();
    const hadFocus = this.scroller.contains(document.activeElement);
    const height = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / this.rowHeight) - 5);
    const last = Math.min(this.count, Math.ceil((this.scroller.scrollTop + height) / this.rowHeight) + 5);
    const rows: HTMLElement[] = [];
    for (let index = first; index < last; index++) {
      const row = this.drawRow(index);
      row.style.top = `${index * this.rowHeight}px`;
      row.style.height = `${this.rowHeight}px`;
      row.tabIndex = index === this.focused || (this.focused < 0 && index === first) ? 0 : -1;
      row.dataset.index = String(index);
      row.addEventListener("focus", () => {
        this.focused = index;
      });
      row.addEventListener("click", () => {
        this.focused = index;
        this.onActivate(index);
      });
      rows.push(row);
    }
    this.inner.replaceChildren(...rows);
    if (hadFocus) this.focusRendered();
    this.lastDrawMs = performance.now() - started;
  }

  private focusRendered(): void {
    const row = this.inner.querySelector<HTMLElement>(`[data-index="${this.focused}"]`);
    row?.focus({ preventScroll: true });
  }

  private onKey(event: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / this.rowHeight) - 1);
    const moves: Record<string, number> = {
      ArrowDown: this.focused + 1,
      ArrowUp: this.focused - 1,
      PageDown: this.focused + page,
      PageUp: this.focused - page,
      Home: 0,
      End: this.count - 1,
    };
    if (event.key === "Enter" && this.focused >= 0) {
      event.preventDefault();
      this.onActivate(this.focused);
      return;
    }
    if (!(event.key in moves) || this.count === 0) return;
    event.preventDefault();
    this.focused = Math.min(this.count - 1, Math.max(0, moves[event.key]));
    const top = this.focused * this.rowHeight;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + this.rowHeight > this.scroller.scrollTop + this.scroller.clientHeight)
      this.scroller.scrollTop = top + this.rowHeight - this.scroller.clientHeight;
    this.draw();
    this.focusRendered();
  }
}
