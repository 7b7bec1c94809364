/**
 * A simulated wire: a level with bounded listeners, shared by pin emulators and chip emulators.
 */
export type Bit = 0 | 1;

/** The minimal pin the chip needs; the pins emulator can be adapted to this. */
export interface SimPin {
  read(): Bit;
  write(value: Bit): void;
  /** Register a change listener; returns a function that removes it. */
  onChange(cb: (value: Bit) => void): () => void;
}

export const MAX_LISTENERS = 16;

export function addListener(list: ((v: Bit) => void)[], cb: (v: Bit) => void): () => void {
  if (list.length >= MAX_LISTENERS) throw new RangeError("SimPin: too many listeners");
  list.push(cb);
  return () => {
    const i = list.indexOf(cb);
    if (i >= 0) list.splice(i, 1);
  };
}

export function notifyAll(list: ((v: Bit) => void)[], v: Bit): void {
  const copy = list.slice();
  for (let i = 0; i < copy.length; i++) copy[i](v);
}

/** A plain wire (e.g. a shared PD_SCK net): last write wins, listeners on change. */
export class SimWire implements SimPin {
  #value: Bit;
  #listeners: ((v: Bit) => void)[] = [];
  constructor(initial: Bit = 0) {
    this.#value = initial;
  }
  read(): Bit {
    return this.#value;
  }
  write(value: Bit): void {
    const v: Bit = value ? 1 : 0;
    if (v === this.#value) return;
    this.#value = v;
    notifyAll(this.#listeners, v);
  }
  onChange(cb: (value: Bit) => void): () => void {
    return addListener(this.#listeners, cb);
  }
}
