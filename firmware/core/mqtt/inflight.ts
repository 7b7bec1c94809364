/**
 * The client's QoS 1 inflight table: publishes not yet acknowledged, oldest first, bounded; after
 * a reconnect each is sent again in order, with DUP set when it had been sent before (MQTT 4.4).
 */
interface InflightEntry {
  id: number;
  bytes: Uint8Array;
  sent: boolean;
}

export class Inflight {
  private readonly entries: InflightEntry[] = [];

  constructor(private readonly max: number) {}

  get count(): number {
    return this.entries.length;
  }

  get full(): boolean {
    return this.entries.length >= this.max;
  }

  ids(): number[] {
    return this.entries.map((e) => e.id);
  }

  has(id: number): boolean {
    for (const e of this.entries) if (e.id === id) return true;
    return false;
  }

  /** Adds a PUBLISH (encoded with its packet id); `send` now when connected (false: not yet sent). */
  add(id: number, bytes: Uint8Array, send: ((b: Uint8Array) => boolean) | undefined): void {
    const e: InflightEntry = { id, bytes, sent: false };
    this.entries.push(e);
    if (send !== undefined) e.sent = send(bytes);
  }

  /** PUBACK: true when `id` was in flight (now removed). */
  ack(id: number): boolean {
    for (let i = 0; i < this.entries.length; i++) {
      if (this.entries[i].id === id) {
        this.entries.splice(i, 1);
        return true;
      }
    }
    return false;
  }

  /** Sends everything again, oldest first, DUP on what was sent before; stops when `go()` turns false. */
  resend(send: (b: Uint8Array) => boolean, go: () => boolean): boolean {
    for (const e of this.entries) {
      if (!go()) return false;
      if (e.sent) e.bytes[0] |= 0x08;
      e.sent = send(e.bytes);
    }
    return go();
  }
}

/** Packet ids 1..65535, handed out round robin, skipping the ones in use; 0 when none is free. */
export class PacketIds {
  private next = 1;

  constructor(private readonly inUse: (id: number) => boolean) {}

  alloc(): number {
    for (let k = 0; k < 65535; k++) {
      const id = this.next;
      this.next = id === 65535 ? 1 : id + 1;
      if (!this.inUse(id)) return id;
    }
    return 0;
  }
}
