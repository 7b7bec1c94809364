/**
 * Node implementations of the Network, Timers and Clock ports (host only, not XS).
 *
 * Network: node:net / node:tls. Each connection reports onConnect once, onData per chunk
 * (a private copy, so the receiver may keep it), and onClose exactly once — also after a
 * local close() (reason "closed"). All callbacks run from Node's event loop, never from
 * inside a port call. write() returns false once the connection is closed or closing.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import type { Clock, Network, StreamConnection, StreamHandlers, TimerId, Timers } from "../firmware/core/ports";

export interface NodeNetworkOptions {
  /** Extra node:tls options for TLS connections (ca, cert, key, rejectUnauthorized, servername …). */
  tls?: tls.ConnectionOptions;
  /** Idle socket timeout is not used; connection timeouts belong to the caller (the MQTT client). */
  noDelay?: boolean;
}

/** Map a Node socket error to the short reason codes of StreamHandlers.onClose. */
export function closeReason(err: NodeJS.ErrnoException | undefined): string {
  if (!err) return "closed";
  const code = err.code ?? "";
  if (code === "ECONNREFUSED") return "refused";
  if (code === "ECONNRESET" || code === "EPIPE") return "reset";
  if (code === "ETIMEDOUT") return "timeout";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "dns";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "unreachable";
  if (code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || code.includes("CERT") || /SSL|TLS|certificate/i.test(err.message))
    return "tls";
  return "error";
}

export function createNodeNetwork(options: NodeNetworkOptions = {}): Network {
  return {
    connect(host: string, port: number, useTls: boolean, handlers: StreamHandlers): StreamConnection {
      let closed = false;
      let reported = false;
      let lastError: NodeJS.ErrnoException | undefined;
      let localClose = false;
      const socket: net.Socket = useTls
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ...options.tls })
        : net.connect({ host, port });
      if (options.noDelay !== false) socket.setNoDelay(true);
      const finish = (): void => {
        closed = true;
        if (reported) return;
        reported = true;
        handlers.onClose(localClose ? "closed" : lastError ? closeReason(lastError) : "eof");
      };
      socket.once(useTls ? "secureConnect" : "connect", () => {
        if (!closed) handlers.onConnect();
      });
      socket.on("data", (chunk: Buffer) => {
        if (!closed) handlers.onData(new Uint8Array(chunk));
      });
      socket.on("error", (err: NodeJS.ErrnoException) => {
        lastError = err;
      });
      socket.on("end", () => {
        // peer half-closed: MQTT has no use for half-open sockets
        closed = true;
        socket.destroy();
      });
      socket.on("close", finish);
      return {
        write(bytes: Uint8Array): boolean {
          if (closed || socket.destroyed) return false;
          socket.write(bytes);
          return true;
        },
        close(): void {
          if (closed) return;
          closed = true;
          localClose = true;
          socket.destroy();
        },
      };
    },
  };
}

/** Timers port on Node's event loop. cancelAll() is for test teardown. */
export function createNodeTimers(): Timers & { cancelAll(): void; readonly pending: number } {
  let next = 1;
  const live = new Map<number, { t: NodeJS.Timeout; repeat: boolean }>();
  return {
    once(ms: number, cb: () => void): TimerId {
      const id = next++;
      const t = setTimeout(
        () => {
          live.delete(id);
          cb();
        },
        Math.max(0, ms),
      );
      live.set(id, { t, repeat: false });
      return id;
    },
    repeat(ms: number, cb: () => void): TimerId {
      const id = next++;
      const t = setInterval(cb, Math.max(1, ms));
      live.set(id, { t, repeat: true });
      return id;
    },
    cancel(id: TimerId): void {
      const e = live.get(id);
      if (!e) return;
      live.delete(id);
      if (e.repeat) clearInterval(e.t);
      else clearTimeout(e.t);
    },
    cancelAll(): void {
      for (const [id] of live) this.cancel(id);
    },
    get pending(): number {
      return live.size;
    },
  };
}

/** Clock port: monotonic ms since creation, wall clock from the host. */
export function createNodeClock(): Clock {
  const t0 = performance.now();
  return {
    monoMs: () => Math.floor(performance.now() - t0),
    wallMs: () => Date.now(),
  };
}
