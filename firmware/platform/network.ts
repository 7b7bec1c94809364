/**
 * Network port on ECMA-419 sockets: `embedded:io/socket/tcp` (lwip) and, for TLS, the
 * SDK's TLSSocket (`embedded:io/socket/tcp/tls`, examples/io/tcp/tlssocket, on the SDK's
 * "ssl/session"), which runs over a TCP class passed as `TCP: { io }`.
 *
 * The lwip socket takes an IP address only, so host names are resolved first with
 * Net.resolve. Socket semantics (documentation/io/io.md): the first onWritable means
 * "connected"; write() throws when larger than the free send buffer, so bytes are queued
 * here and flushed as onWritable reports room; onError means closed for any reason.
 *
 * Queue: at most `maxQueueBytes` (default 16 KiB) waiting to be sent. A write that would
 * exceed it closes the connection with reason "overflow" and returns false (the caller,
 * e.g. the MQTT session, reconnects and resends what was not acknowledged).
 * close() by the caller does not call onClose. All callbacks come from the event loop.
 */
import type { Network, StreamConnection, StreamHandlers, Timers } from "../core/ports";

export interface SocketLike {
  /** ArrayBuffer in the default "buffer" format (typed loosely to accept the SDK typings). */
  read(byteLength?: number): unknown;
  /** Only Uint8Array views are written (accepted by the SDK's TCP typing, whose ByteBuffer has no plain ArrayBufferView). */
  write(data: Uint8Array): void;
  close(): void;
}
export interface SocketCallbacks {
  onReadable(bytes: number): void;
  onWritable(bytes: number): void;
  onError(): void;
}
/** Makes a socket to `address` (and SNI `host` for TLS). Throws on immediate failure. */
export type SocketFactory = (o: { address: string; host: string; port: number; tls: boolean } & SocketCallbacks) => SocketLike;

export interface NetworkDeps {
  open: SocketFactory;
  resolve(host: string, cb: (name: string, address?: string) => void): void;
  timers: Timers;
  maxQueueBytes?: number;
}

const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

export function createNetwork(deps: NetworkDeps): Network {
  const cap = deps.maxQueueBytes ?? 16_384;
  return {
    connect(host: string, port: number, tls: boolean, h: StreamHandlers): StreamConnection {
      let sock: SocketLike | undefined;
      let state: "resolving" | "connecting" | "open" | "closed" = "resolving";
      let room = 0;
      const queue: Uint8Array[] = [];
      let queued = 0;

      const finish = (reason: string): void => {
        if (state === "closed") return;
        state = "closed";
        queue.length = 0;
        queued = 0;
        const s = sock;
        sock = undefined;
        try {
          s?.close();
        } catch {
          /* already gone */
        }
        h.onClose(reason);
      };
      const later = (reason: string): void => void deps.timers.once(0, () => finish(reason));
      const flush = (): void => {
        while (sock && state === "open" && queue.length > 0 && room > 0) {
          const head = queue[0];
          const n = Math.min(room, head.length);
          try {
            sock.write(n === head.length ? head : head.subarray(0, n));
          } catch {
            return finish("reset");
          }
          room -= n;
          queued -= n;
          if (n === head.length) queue.shift();
          else queue[0] = head.subarray(n);
        }
      };
      const open = (address: string): void => {
        if (state !== "resolving") return;
        state = "connecting";
        try {
          sock = deps.open({
            address,
            host,
            port,
            tls,
            onWritable(bytes: number): void {
              if (state === "closed") return;
              room = bytes;
              if (state === "connecting") {
                state = "open";
                h.onConnect();
              }
              flush();
            },
            onReadable(bytes: number): void {
              if (state !== "open" || !sock) return;
              const data = sock.read(bytes);
              if (data instanceof ArrayBuffer && data.byteLength > 0) h.onData(new Uint8Array(data));
            },
            onError(): void {
              finish(state === "open" ? "reset" : tls ? "tls" : "refused");
            },
          });
        } catch {
          later("refused");
        }
      };

      if (IPV4.test(host)) deps.timers.once(0, () => open(host));
      else {
        try {
          deps.resolve(host, (_name, address) => (address ? open(address) : finish("dns")));
        } catch {
          later("dns"); // lwIP's resolver queue is full
        }
      }

      return {
        write(bytes: Uint8Array): boolean {
          if (state === "closed") return false;
          if (queued + bytes.length > cap) {
            // close now, tell the caller on the next turn (never re-entrantly)
            const s = sock;
            sock = undefined;
            state = "closed";
            queue.length = 0;
            queued = 0;
            try {
              s?.close();
            } catch {
              /* already gone */
            }
            deps.timers.once(0, () => h.onClose("overflow"));
            return false;
          }
          queue.push(bytes.slice());
          queued += bytes.length;
          flush();
          return true;
        },
        close(): void {
          if (state === "closed") return;
          state = "closed";
          queue.length = 0;
          const s = sock;
          sock = undefined;
          try {
            s?.close();
          } catch {
            /* already gone */
          }
        },
      };
    },
  };
}
