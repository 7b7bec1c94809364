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
