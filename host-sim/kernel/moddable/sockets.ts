/**
 * Emulated embedded:io/socket/tcp and its TLS wrapper, bridged to the simulator's network (a
 * byte-stream Network such as the simulated broker's): the ECMA-419 callbacks as the SDK's
 * lwIP sockets give them — onWritable(bytes free) once connected and after each write drains,
 * onReadable(bytes waiting) as data arrives, read(n) returning an ArrayBuffer, onError when the
 * peer goes away or the connection fails. The TLS class checks its options like the SDK's
 * (`secure.certificate` must be an ArrayBuffer when given) and then carries bytes as they are:
 * the simulated broker speaks plain MQTT. XS-clean.
 */
import type { Network, StreamConnection } from "../../../firmware/core/ports";
import type { SocketCallbacks, SocketLike } from "../../../firmware/platform/network";
import type { SocketClass } from "../../../firmware/platform/sockets";
import type { Timers } from "../../../firmware/core/ports";

/** lwIP's send buffer on the ESP32 (CONFIG_LWIP_TCP_SND_BUF_DEFAULT). */
export const SEND_BUFFER = 5_744;

type Options = ConstructorParameters<SocketClass>[0];

function bridge(network: Network, timers: Timers, tls: boolean): SocketClass {
  return class Socket implements SocketLike {
    readonly #cb: SocketCallbacks;
    #conn: StreamConnection | undefined;
    #rx: Uint8Array[] = [];
    #waiting = 0;
    #closed = false;
    #drain = false;

    constructor(o: Options) {
      if (typeof o.address !== "string" || !(o.port > 0 && o.port < 65536)) throw new RangeError("invalid address");
      if (tls) {
        const secure = o.secure;
        if (secure !== undefined && secure.certificate !== undefined && !(secure.certificate instanceof ArrayBuffer))
          throw new TypeError("invalid certificate");
      }
      this.#cb = { onReadable: o.onReadable, onWritable: o.onWritable, onError: o.onError };
      this.#conn = network.connect(tls && o.host !== undefined ? o.host : o.address, o.port, tls, {
        onConnect: () => {
          if (!this.#closed) this.#cb.onWritable(SEND_BUFFER);
        },
        onData: (bytes: Uint8Array) => {
          if (this.#closed) return;
          this.#rx.push(bytes.slice());
          this.#waiting += bytes.length;
          this.#cb.onReadable(this.#waiting);
        },
        onClose: () => {
          if (this.#closed) return;
          this.#closed = true;
          this.#conn = undefined;
          this.#cb.onError();
        },
      });
    }

    read(byteLength?: number): ArrayBuffer {
      if (this.#closed && this.#waiting === 0) throw new Error("closed");
      const n = Math.min(byteLength === undefined ? this.#waiting : byteLength, this.#waiting);
      const out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const head = this.#rx[0];
        const take = Math.min(head.length, n - at);
        out.set(head.subarray(0, take), at);
        at += take;
        if (take === head.length) this.#rx.shift();
        else this.#rx[0] = head.subarray(take);
      }
      this.#waiting -= n;
      return out.buffer;
    }

    write(data: Uint8Array): void {
      const conn = this.#conn;
      if (conn === undefined || this.#closed) throw new Error("closed");
      if (data.length > SEND_BUFFER) throw new Error("no space");
      if (!conn.write(data)) throw new Error("write failed");
      if (this.#drain) return;
      this.#drain = true; // the bytes are on the wire: the buffer is free again on the next turn
      timers.once(0, () => {
        this.#drain = false;
        if (!this.#closed) this.#cb.onWritable(SEND_BUFFER);
      });
    }

    close(): void {
      if (this.#closed) return;
      this.#closed = true;
      const c = this.#conn;
      this.#conn = undefined;
      c?.close();
    }
  };
}

/** The TCP and TLSSocket classes of one boot over `network`. */
export function socketModules(network: Network, timers: Timers): { TCP: SocketClass; TLSSocket: SocketClass } {
  return { TCP: bridge(network, timers, false), TLSSocket: bridge(network, timers, true) };
}
