import { describe, expect, it } from "vitest";
import { createNetwork, type SocketCallbacks } from "../../../firmware/platform/network";
import { utf8Decode, utf8Encode } from "../../../firmware/platform/utf8";
import { createSntp } from "../../../firmware/platform/sntp";
import { startWifi } from "../../../firmware/platform/wifi";
import { ManualTime } from "../../../host-sim/kernel/hw/pins";

describe("utf8", () => {
  it("round-trips and matches Node's encoder", () => {
    for (const s of ["", "abc", "é€𝄞 dose 💊", "\u0000x", "a".repeat(4000)]) {
      const b = utf8Encode(s);
      expect(Buffer.from(b).equals(Buffer.from(s, "utf8"))).toBe(true);
      expect(utf8Decode(b)).toBe(s);
    }
    expect(utf8Decode(new Uint8Array([0xff, 0x41, 0xe2, 0x82]))).toBe("\ufffdA\ufffd\ufffd");
  });
});

class FakeSocket {
  sent: number[] = [];
  closed = false;
  inbox: number[] = [];
  constructor(
    readonly cb: SocketCallbacks,
    readonly sndbuf = 8,
  ) {}
  read(n?: number) {
    const out = this.inbox.splice(0, n ?? this.inbox.length);
    return new Uint8Array(out).buffer;
  }
  write(d: ArrayBuffer | ArrayBufferView) {
    const u = d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    if (u.length > this.sndbuf) throw new Error("would block");
    this.sent.push(...u);
  }
  close() {
    this.closed = true;
  }
}

function net(resolveTo: string | null = "10.0.0.2", cap?: number) {
  const time = new ManualTime();
  const sockets: FakeSocket[] = [];
  const opened: Array<{ address: string; host: string; tls: boolean }> = [];
  const network = createNetwork({
    timers: time,
    maxQueueBytes: cap,
    resolve: (h, cb) => time.once(5, () => cb(h, resolveTo ?? undefined)),
    open: (o) => {
      opened.push({ address: o.address, host: o.host, tls: o.tls });
      const s = new FakeSocket(o);
      sockets.push(s);
      return s;
    },
  });
  const ev: string[] = [];
  const handlers = {
    onConnect: () => ev.push("connect"),
    onData: (b: Uint8Array) => ev.push("data:" + Array.from(b).join(",")),
    onClose: (r: string) => ev.push("close:" + r),
  };
  return { time, sockets, opened, network, ev, handlers };
}

describe("network adapter", () => {
  it("resolves, connects on first onWritable, queues and flushes within the send window", () => {
    const n = net();
    const c = n.network.connect("broker.example", 8883, true, n.handlers);
    expect(c.write(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toBe(true); // queued before connect
    n.time.advance(10);
    expect(n.opened).toEqual([{ address: "10.0.0.2", host: "broker.example", tls: true }]);
    const s = n.sockets[0];
    s.cb.onWritable(4);
    expect(n.ev).toEqual(["connect"]);
    expect(s.sent).toEqual([1, 2, 3, 4]);
    s.cb.onWritable(8);
    expect(s.sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    s.inbox.push(42, 43);
    s.cb.onReadable(2);
    expect(n.ev).toEqual(["connect", "data:42,43"]);
    s.cb.onError();
    expect(n.ev.at(-1)).toBe("close:reset");
    expect(c.write(new Uint8Array([1]))).toBe(false);
  });

  it("reports dns, refused and overflow; local close is silent", () => {
    const a = net(null);
    a.network.connect("nowhere.example", 1883, false, a.handlers);
    a.time.advance(10);
    expect(a.ev).toEqual(["close:dns"]);

    const b = net();
    b.network.connect("192.168.1.5", 1883, false, b.handlers);
    b.time.advance(0);
    expect(b.opened[0].address).toBe("192.168.1.5"); // no DNS for an address
    b.sockets[0].cb.onError();
    expect(b.ev).toEqual(["close:refused"]);

    const c = net("10.0.0.3", 16);
    const conn = c.network.connect("h", 1, false, c.handlers);
    expect(conn.write(new Uint8Array(10))).toBe(true);
    expect(conn.write(new Uint8Array(10))).toBe(false);
    expect(c.ev).toEqual([]); // never re-entrant
    c.time.advance(10);
    expect(c.ev).toEqual(["close:overflow"]);

    const d = net();
    const dc = d.network.connect("h", 1, false, d.handlers);
    d.time.advance(10);
    d.sockets[0].cb.onWritable(100);
    dc.close();
    expect(d.sockets[0].closed).toBe(true);
    d.sockets[0].cb.onError();
    expect(d.ev).toEqual(["connect"]);
  });
});

describe("wifi and sntp bring-up", () => {
  it("retries with back-off, reports up/down, then syncs time with fail-over", () => {
    const time = new ManualTime();
    let connects = 0;
    type Changed = (p: "connection" | "address") => void;
    let fake: { connection: number; onChanged?: Changed } | undefined;
    class FakeWiFi {
      connection = 200;
      onChanged?: Changed;
      constructor(o: { onChanged?: Changed }) {
        this.onChanged = o.onChanged;
        fake = this;
      }
      connect() {
        connects++;
        this.connection = 300;
      }
      disconnect() {
        this.connection = 200;
      }
      close() {}
    }
    const log: string[] = [];
    const sets: number[] = [];
    const hostsTried: string[] = [];
    class FakeSNTP {
      constructor(o: { host: string }, cb: (m: number, v?: number | string) => string | void) {
        hostsTried.push(o.host);
        time.once(100, () => {
          const next = cb(-1, "timeout");
          if (next) {
            hostsTried.push(next);
            time.once(100, () => cb(1, 1_750_000_000));
          }
        });
      }
    }
    const sntp = createSntp({
      SNTP: FakeSNTP,
      hosts: ["a", "b"],
      timers: time,
      setTime: (s) => sets.push(s),
      onSynced: () => log.push("synced"),
    });
    const link = startWifi({
      WiFi: FakeWiFi,
      ssid: "x",
      timers: time,
      attemptMs: 1000,
      minBackoffMs: 100,
      onUp: () => {
        log.push("up");
        sntp.start();
      },
      onDown: () => log.push("down"),
    });
    expect(connects).toBe(1);
    time.advance(1000 + 100); // attempt times out, back-off 100 ms, second attempt
    expect(connects).toBe(2);
    fake!.connection = 500;
    fake!.onChanged!("connection");
    expect(link.up).toBe(true);
    time.advance(500);
    expect(hostsTried).toEqual(["a", "b"]);
    expect(sets).toEqual([1_750_000_000]);
    expect(log).toEqual(["up", "synced"]);
    fake!.connection = 200;
    fake!.onChanged!("connection");
    expect(log.at(-1)).toBe("down");
    time.advance(100);
    expect(connects).toBe(3);
    link.close();
    sntp.stop();
  });
});
