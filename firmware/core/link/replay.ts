/**
 * Replay guard of remote commands: the ids of the last REPLAY_RING_SIZE accepted (or refused
 * after authentication) commands, persisted as one store record ("lkcmd") so a reboot does not
 * reopen the window. Together with the command lifetime cap (CMD_MAX_LIFETIME_MS, 1 h) a
 * signed command can run at most once unless more than REPLAY_RING_SIZE other commands reach
 * the device within its lifetime. XS-clean.
 */
import type { Store } from "../log/store";

export const REPLAY_RING_SIZE = 32;
const RECORD = "lkcmd";

export class ReplayRing {
  private readonly ids: string[];

  constructor(private readonly store: Store) {
    const saved = store.load<unknown>(RECORD);
    this.ids = [];
    if (Array.isArray(saved)) {
      for (const x of saved) if (typeof x === "string" && this.ids.length < REPLAY_RING_SIZE) this.ids.push(x);
    }
  }

  has(id: string): boolean {
    return this.ids.indexOf(id) >= 0;
  }

  /** Remember `id` (oldest forgotten beyond the bound) and persist the ring. */
  add(id: string): void {
    if (this.has(id)) return;
    this.ids.push(id);
    while (this.ids.length > REPLAY_RING_SIZE) this.ids.shift();
    this.store.save(RECORD, this.ids);
  }

  get size(): number {
    return this.ids.length;
  }
}

/** Commands signed at the same instant (issuedAt) by one key that are told apart by id. */
export const WATERMARK_IDS = 32;
/** Signing keys whose watermark is kept (the oldest mark goes beyond). */
export const WATERMARK_KEYS = 8;
const WM_RECORD = "lkwm";

interface Mark {
  t: number;
  ids: string[];
}

/**
 * Replay protection that does not forget (docs/protocol.md, "Commands"): per signing key, the
 * issuedAt of the newest command that ran, persisted. A command runs only if it was issued after
 * that watermark (or at the same instant with an id not seen then): any earlier command — a
 * retained ghost, a replay after any number of others, across reboots — is refused CMD_STALE.
 * Bounded: WATERMARK_KEYS keys × WATERMARK_IDS ids. Consequence: one key's commands run in the
 * order they were issued; an older one arriving after a newer one is refused (the tool re-issues).
 * XS-clean.
 */
export class CommandWatermark {
  private readonly marks = new Map<string, Mark>();

  constructor(private readonly store: Store) {
    const saved = store.load<unknown>(WM_RECORD);
    if (!Array.isArray(saved)) return;
    for (const e of saved) {
      if (!Array.isArray(e) || typeof e[0] !== "string" || typeof e[1] !== "number" || !Array.isArray(e[2])) continue;
      const ids: string[] = [];
      for (const x of e[2]) if (typeof x === "string" && ids.length < WATERMARK_IDS) ids.push(x);
      if (this.marks.size < WATERMARK_KEYS) this.marks.set(e[0], { t: e[1], ids });
    }
  }

  /** Why a command of `kid` issued at `issuedAt` with `id` must not run, or undefined. */
  refusal(kid: string, issuedAt: number, id: string): string | undefined {
    const m = this.marks.get(kid);
    if (m === undefined || issuedAt > m.t) return undefined;
    if (issuedAt < m.t) return "CMD_STALE";
    if (m.ids.indexOf(id) >= 0) return "CMD_REPLAY";
    return m.ids.length >= WATERMARK_IDS ? "CMD_STALE" : undefined;
  }

  /** The command ran: raise the watermark of its key and persist it (as [kid, issuedAt, ids] entries). */
  accept(kid: string, issuedAt: number, id: string): void {
    const m = this.marks.get(kid);
    if (m !== undefined && issuedAt === m.t) {
      if (m.ids.indexOf(id) < 0 && m.ids.length < WATERMARK_IDS) m.ids.push(id);
    } else if (m === undefined || issuedAt > m.t) {
      this.marks.set(kid, { t: issuedAt, ids: [id] });
    }
    if (this.marks.size > WATERMARK_KEYS) {
      let oldest: string | undefined;
      let t = Infinity;
      this.marks.forEach((v, k) => {
        if (v.t < t) {
          t = v.t;
          oldest = k;
        }
      });
      if (oldest !== undefined) this.marks.delete(oldest);
    }
    const out: [string, number, string[]][] = [];
    this.marks.forEach((v, k) => {
      out.push([k, v.t, v.ids.slice()]);
    });
    this.store.save(WM_RECORD, out);
  }
}
