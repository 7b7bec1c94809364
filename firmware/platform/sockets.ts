/**
 * The device SocketFactory for platform/network.ts: lwip TCP, or the SDK's TLSSocket
 * over it. `secure` is passed to the TLS session (e.g. { ca: [...] } certificates from
 * the manifest's data); the server name (SNI, certificate host check) is the host name.
 */
import type { SocketCallbacks, SocketFactory, SocketLike } from "./network";

/** An ECMA-419 TCP or TLS socket class as the port constructs it (embedded:io/socket/tcp[/tls]). */
export type SocketClass = new (
  options: {
    address: string;
    port: number;
    nodelay: boolean;
    host?: string;
    TCP?: unknown;
    secure?: Record<string, unknown>;
  } & SocketCallbacks,
) => SocketLike;

export interface SocketModules {
  readonly TCP: SocketClass;
  readonly TLSSocket: SocketClass;
}

export function deviceSockets({ TCP, TLSSocket }: SocketModules, secure?: Record<string, unknown>): SocketFactory {
  return (o) => {
    const callbacks = { onReadable: o.onReadable, onWritable: o.onWritable, onError: o.onError };
    if (!o.tls) return new TCP({ address: o.address, port: o.port, nodelay: true, ...callbacks });
    // Built apart from the call: the SDK's typings of TLSSocket omit the `TCP` option.
    const options = { address: o.address, port: o.port, host: o.host, TCP: { io: TCP }, secure: secure ?? {}, nodelay: true, ...callbacks };
    // The SDK's typings/embedded_io/socket/tls.d.ts declare write(ArrayBufferLike), but the
    // implementation (examples/io/tcp/tlssocket) also takes views: the TLS session copies
    // the bytes of a Uint8Array (SSLStream.writeChunk), which is all network.ts writes.
    return new TLSSocket(options);
  };
}
