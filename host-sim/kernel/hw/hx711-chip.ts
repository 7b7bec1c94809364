/**
 * Datasheet-faithful emulation of the Avia HX711 24-bit load-cell ADC (XS-clean).
 *
 * The chip owns its DOUT line (`chip.dout`) and watches a PD_SCK line (a SimPin that
 * several chips may share). Time is virtual: `now()` in microseconds. Nothing happens by
 * itself: whoever drives virtual time calls `sync()` at `nextEventUs()` (and every pin
 * access syncs first), so DOUT edges fire at the right virtual instants.
 *
 * Behaviour, timing checks and violations: docs/load-cells.md, "The HX711 chip emulator".
 */
import { addListener, notifyAll, type Bit, type SimPin } from "./wire";
import {
  HX711_T1_MIN_US,
  HX711_T2_MAX_US,
  HX711_T3_MIN_US,
  HX711_T3_MAX_US,
  HX711_T4_MIN_US,
  HX711_POWER_DOWN_US,
  HX711_SETTLE_CONVERSIONS,
  KINDS,
  hx711Counts,
  type Hx711Input,
  type Hx711ViolationKind,
  type Hx711Violation,
  type Hx711TraceEntry,
  type Hx711ChipOptions,
} from "./hx711-timing";
export * from "./wire";
export * from "./hx711-timing";
export * from "./sim-digital";

export class Hx711Chip {
  readonly rate: 10 | 80;
  readonly periodUs: number;
  readonly dout: SimPin;
  #now: () => number;
  #sckPin: SimPin;
  #signal: (t: number) => number;
  #signalB: (t: number) => number;
  #float: Bit;
  #unsubscribe: () => void;
  // power / conversion state
  #on = false;
  #connected = true;
  #input: Hx711Input = "A128";
  #nextConvUs = Infinity;
  #settleLeft = 0;
  #ready = false;
  #readyAtUs = 0;
  #data = 0;
  #pulses = 0;
  #overrunSeen = false;
  // PD_SCK as seen by the chip
  #sck: Bit = 0;
  #riseUs = -Infinity;
  #fallUs = -Infinity;
  #pdAtUs = Infinity;
  #levelBeforeRise: Bit = 1;
  // DOUT notifications
  #notified: Bit = 1;
  #listeners: ((v: Bit) => void)[] = [];
  // records
  #violations: Hx711Violation[] = [];
  #maxViolations: number;
  #counts: Record<Hx711ViolationKind, number>;
  #conversions = 0;
  #delivered = 0;
  #lost = 0;
  #traceCap: number;
  #traceT: number[] = [];
  #traceLine: ("sck" | "dout")[] = [];
  #traceLevel: Bit[] = [];
  #traceHead = 0;
  #traceLen = 0;

  constructor(options: Hx711ChipOptions) {
    const rate = options.rate === undefined ? 10 : options.rate;
    if (rate !== 10 && rate !== 80) throw new RangeError("Hx711Chip: rate must be 10 or 80");
    this.rate = rate;
    const scale = options.periodScale === undefined ? 1 : options.periodScale;
    if (!(scale > 0.5 && scale < 2)) throw new RangeError("Hx711Chip: periodScale out of range");
    this.periodUs = (rate === 10 ? 100000 : 12500) * scale;
    this.#now = options.now;
    this.#sckPin = options.pdSck;
    this.#signal = options.signal;
    this.#signalB = options.signalB ? options.signalB : options.signal;
    this.#float = options.doutWhenDisconnected === 0 ? 0 : 1;
    this.#maxViolations = options.maxViolations === undefined ? 64 : options.maxViolations;
    this.#traceCap = options.traceCapacity === undefined ? 0 : options.traceCapacity;
    const counts = {} as Record<Hx711ViolationKind, number>;
    for (let i = 0; i < KINDS.length; i++) counts[KINDS[i]] = 0;
    this.#counts = counts;
    const chip = this;
    this.dout = {
      read(): Bit {
        return chip.#readDout();
      },
      write(): void {
        throw new Error("HX711 DOUT is an output of the chip");
      },
      onChange(cb: (value: Bit) => void): () => void {
        return addListener(chip.#listeners, cb);
      },
    };
    const t = this.#now();
    const start = options.startUs === undefined ? t : options.startUs;
    this.#sck = this.#sckPin.read();
    this.#powerOn(start);
    if (this.#sck === 1) {
      this.#riseUs = start;
      this.#pdAtUs = start + HX711_POWER_DOWN_US;
    }
    this.#unsubscribe = this.#sckPin.onChange((v) => this.#onSck(v));
    this.sync();
  }

  /** Detach from PD_SCK. */
  close(): void {
    this.#unsubscribe();
    this.#listeners.length = 0;
  }

  /** Process every internal event up to now(); fires DOUT listeners. */
  sync(): void {
    const t = this.#now();
    for (;;) {
      const pd = this.#pdAtUs;
      const conv = this.#nextConvUs;
      if (pd <= conv) {
        if (pd > t) break;
        this.#powerDown(pd);
      } else {
        if (conv > t) break;
        this.#boundary(conv);
      }
    }
  }

  /** Virtual time (us) of the next internal event (conversion or power-down), or Infinity. */
  nextEventUs(): number {
    return Math.min(this.#pdAtUs, this.#nextConvUs);
  }

  get connected(): boolean {
    return this.#connected;
  }
  /** Plug/unplug the cable (DOUT floats, PD_SCK unseen); plugging in is a power-on reset. */
  set connected(value: boolean) {
    this.sync();
    if (value === this.#connected) return;
    const t = this.#now();
    this.#connected = value;
    if (!value) {
      this.#on = false;
      this.#ready = false;
      this.#pulses = 0;
      this.#nextConvUs = Infinity;
      this.#pdAtUs = Infinity;
    } else {
      this.#sck = this.#sckPin.read();
      this.#powerOn(t);
      if (this.#sck === 1) {
        this.#riseUs = t;
        this.#pdAtUs = t + HX711_POWER_DOWN_US;
      }
    }
    this.#notify(t);
  }

  get poweredDown(): boolean {
    this.sync();
    return this.#connected && !this.#on;
  }
  /** Input/gain the chip is converting with now. */
  get input(): Hx711Input {
    this.sync();
    return this.#input;
  }
  /** A result is latched and not yet being shifted (DOUT low). */
  get ready(): boolean {
    this.sync();
    return this.#ready && this.#pulses === 0;
  }
  /** The latched 24-bit result as a signed number. */
  get latched(): number {
    return (this.#data << 8) >> 8;
  }
  get conversions(): number {
    return this.#conversions;
  }
  /** Results presented on DOUT. */
  get delivered(): number {
    return this.#delivered;
  }
  /** Results or reads lost (overrun, power-down during a read). */
  get lost(): number {
    return this.#lost;
  }
  /** Recorded violations (first maxViolations). */
  get violations(): readonly Hx711Violation[] {
    return this.#violations;
  }
  /** Number of violations of a kind (or all kinds), including those beyond the list capacity. */
  violationCount(kind?: Hx711ViolationKind): number {
    if (kind !== undefined) return this.#counts[kind];
    let n = 0;
    for (let i = 0; i < KINDS.length; i++) n += this.#counts[KINDS[i]];
    return n;
  }
  clearViolations(): void {
    this.#violations.length = 0;
    for (let i = 0; i < KINDS.length; i++) this.#counts[KINDS[i]] = 0;
  }
  /** Edge trace, oldest first (empty unless traceCapacity > 0). */
  trace(): Hx711TraceEntry[] {
    const out: Hx711TraceEntry[] = [];
    const cap = this.#traceCap;
    const start = (this.#traceHead - this.#traceLen + cap) % (cap || 1);
    for (let i = 0; i < this.#traceLen; i++) {
      const k = (start + i) % cap;
      out.push({ tUs: this.#traceT[k], line: this.#traceLine[k], level: this.#traceLevel[k] });
    }
    return out;
  }
  clearTrace(): void {
    this.#traceLen = 0;
    this.#traceHead = 0;
  }

  // ---- internals ----

  #violate(kind: Hx711ViolationKind, atUs: number, detail: string): void {
    this.#counts[kind]++;
    if (this.#violations.length < this.#maxViolations) this.#violations.push({ kind, atUs, detail });
  }

  #trace(t: number, line: "sck" | "dout", level: Bit): void {
    const cap = this.#traceCap;
    if (cap <= 0) return;
    const k = this.#traceHead;
    this.#traceT[k] = t;
    this.#traceLine[k] = line;
    this.#traceLevel[k] = level;
    this.#traceHead = (k + 1) % cap;
    if (this.#traceLen < cap) this.#traceLen++;
  }

  #level(): Bit {
    if (!this.#connected) return this.#float;
    if (!this.#on) return 1;
    const p = this.#pulses;
    if (p >= 1 && p <= 24) return ((this.#data >> (24 - p)) & 1) as Bit;
    if (p >= 25) return 1;
    return this.#ready ? 0 : 1;
  }

  #notify(t: number): void {
    const l = this.#level();
    if (l === this.#notified) return;
    this.#notified = l;
    this.#trace(t, "dout", l);
    notifyAll(this.#listeners, l);
  }

  #readDout(): Bit {
    this.sync();
    const t = this.#now();
    const p = this.#pulses;
    if (this.#connected && this.#on && p >= 1 && p <= 24 && this.#sck === 1 && t - this.#riseUs < HX711_T2_MAX_US) {
      this.#violate("T2", t, "DOUT read " + (t - this.#riseUs) + " us after PD_SCK rising (bit not valid yet)");
      return this.#levelBeforeRise;
    }
    return this.#level();
  }

  #powerOn(t: number): void {
    this.#on = true;
    this.#input = "A128";
    this.#ready = false;
    this.#pulses = 0;
    this.#overrunSeen = false;
    this.#settleLeft = HX711_SETTLE_CONVERSIONS - 1;
    this.#nextConvUs = t + this.periodUs;
    this.#pdAtUs = Infinity;
  }

  #powerDown(t: number): void {
    const p = this.#pulses;
    if (p >= 1 && p <= 24) {
      this.#violate("T3max", t, "PD_SCK high > " + HX711_T3_MAX_US + " us during bit " + p);
      this.#violate("powerdown-mid-read", t, "PD_SCK high " + HX711_POWER_DOWN_US + " us after bit " + p + ": reading lost");
      this.#lost++;
    }
    this.#on = false;
    this.#ready = false;
    this.#pulses = 0;
    this.#nextConvUs = Infinity;
    this.#pdAtUs = Infinity;
    this.#notify(t);
  }

  #boundary(tc: number): void {
    this.#nextConvUs = tc + this.periodUs;
    this.#conversions++;
    const used = this.#input;
    let deliver = true;
    const p = this.#pulses;
    if (p >= 1 && p <= 24) {
      if (!this.#overrunSeen) {
        this.#overrunSeen = true;
        this.#violate("overrun", tc, "conversion completed during bit " + p + ": result lost");
        this.#lost++;
        deliver = false;
      } else {
        this.#violate("pulse-count", tc, "train abandoned after " + p + " pulses");
        this.#pulses = 0;
      }
    } else if (p >= 25) {
      if (this.#sck === 1) {
        // Still inside a gain pulse: close at the next boundary.
        deliver = false;
      } else {
        this.#pulses = 0;
        let next: Hx711Input = p === 25 ? "A128" : p === 26 ? "B32" : "A64";
        if (p > 27) {
          this.#violate("pulse-count", tc, p + " pulses (25..27 allowed): input/gain unchanged");
          next = this.#input;
        }
        if (next !== this.#input) {
          this.#input = next;
          this.#settleLeft = HX711_SETTLE_CONVERSIONS - 1;
          deliver = false;
        }
      }
    }
    if (deliver && this.#settleLeft > 0) {
      this.#settleLeft--;
      deliver = false;
    }
    if (deliver) {
      const diff = used === "B32" ? this.#signalB(tc) : this.#signal(tc);
      this.#data = hx711Counts(used, diff) & 0xffffff;
      if (!this.#ready) this.#readyAtUs = tc;
      this.#ready = true;
      this.#delivered++;
    }
    this.#notify(tc);
  }

  #onSck(v: Bit): void {
    this.sync();
    const t = this.#now();
    if (!this.#connected) {
      this.#sck = v;
      return;
    }
    this.#trace(t, "sck", v);
    this.#sck = v;
    if (v === 1) {
      this.#riseUs = t;
      if (!this.#on) return;
      this.#pdAtUs = t + HX711_POWER_DOWN_US;
      this.#levelBeforeRise = this.#level();
      if (this.#pulses === 0) {
        if (this.#ready) {
          if (t - this.#readyAtUs < HX711_T1_MIN_US)
            this.#violate("T1", t, "first PD_SCK rising " + (t - this.#readyAtUs) + " us after DOUT fell");
          this.#ready = false;
          this.#overrunSeen = false;
          this.#pulses = 1;
        } else {
          this.#violate("clock-while-busy", t, "PD_SCK pulse while DOUT high (no data)");
        }
      } else {
        if (t - this.#fallUs < HX711_T4_MIN_US)
          this.#violate("T4min", t, "PD_SCK low " + (t - this.#fallUs) + " us before pulse " + (this.#pulses + 1));
        this.#pulses++;
      }
      this.#notify(t);
    } else {
      this.#pdAtUs = Infinity;
      if (!this.#on) {
        // PD_SCK low after power-down: reset, A x128, settle.
        this.#powerOn(t);
        this.#fallUs = t;
        this.#notify(t);
        return;
      }
      const high = t - this.#riseUs;
      const p = this.#pulses;
      if (p >= 1) {
        if (high < HX711_T3_MIN_US) this.#violate("T3min", t, "PD_SCK high " + high + " us on pulse " + p);
        if (p <= 24 && high > HX711_T3_MAX_US) this.#violate("T3max", t, "PD_SCK high " + high + " us on bit " + p);
      }
      this.#fallUs = t;
    }
  }
}
