/**
 * Binary min-heap of timer entries ordered by (at, order): equal instants run in insertion
 * order, so schedules are deterministic on every engine. Shared by the virtual-time scheduler
 * (scenarios, XS lane) and the warpable real-time one (live simulator). XS-clean.
 */
export interface HeapEntry {
  readonly at: number;
  readonly order: number;
}

export class TimerHeap<E extends HeapEntry> {
  private readonly h: E[] = [];

  get size(): number {
    return this.h.length;
  }

  peek(): E | undefined {
    return this.h[0];
  }

  push(e: E): void {
    const h = this.h;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  pop(): E | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (last === undefined || h.length === 0) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l], h[m])) m = l;
      if (r < h.length && less(h[r], h[m])) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
    return top;
  }
}

function less(a: HeapEntry, b: HeapEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
