/**
 * Our own declarations of the ECMA-419 (embedded:io) classes the firmware uses, as the
 * Moddable SDK implements them on ESP32 (modules/io/digital, modules/io/pwm,
 * modules/io/socket/lwip, modules/io/wifi/esp32). Only what we use is declared.
 * Used by `tsc -p tsconfig.firmware.json`; mcconfig uses the SDK's own typings instead.
 */

declare module "embedded:io/digital" {
  export interface DigitalOptions {
    /** ECMA-419 pin specifiers are host-defined; the ESP32 host takes GPIO numbers (a string throws). */
    pin: number | string;
    mode: number;
    /** Rising | Falling; required (non-zero) when onReadable is given, else RangeError. */
    edge?: number;
    activeLow?: boolean;
    initialValue?: 0 | 1;
    onReadable?: (this: Digital) => void;
  }
  export default class Digital {
    static readonly Input: number;
    static readonly InputPullUp: number;
    static readonly InputPullDown: number;
    static readonly InputPullUpDown: number;
    static readonly Output: number;
    static readonly OutputOpenDrain: number;
    static readonly Rising: number;
    static readonly Falling: number;
    constructor(options: DigitalOptions);
    /** Throws on an output ("can't read output" on ESP32). */
    read(): 0 | 1;
    /** Throws on an input ("can't write input"). */
    write(value: 0 | 1): void;
    close(): void;
  }
}

declare module "embedded:io/pwm" {
  export interface PWMOptions {
    pin: number;
    /** Fixed for the life of the instance (default 1024 on ESP32). Close and re-create to change. */
    hz?: number;
    /** Bits (default 10 on ESP32). */
    resolution?: number;
  }
  export default class PWM {
    constructor(options: PWMOptions);
    readonly hz: number;
    readonly resolution: number;
    /** Integer 0 .. 2^resolution - 1, else RangeError("invalid value"). */
    write(value: number): void;
    close(): void;
  }
}

declare module "embedded:io/socket/tcp" {
  export interface TCPOptions {
    /** Dotted IPv4 address (the lwip socket does not resolve host names). */
    address: string;
    port: number;
    nodelay?: boolean;
    format?: "buffer" | "number";
    onReadable?: (this: TCP, bytes: number) => void;
    /** First call means "connected"; `bytes` is how much may be written now. */
    onWritable?: (this: TCP, bytes: number) => void;
    /** Error or remote close (any reason); the socket is unusable afterwards. */
    onError?: (this: TCP) => void;
  }
  export default class TCP {
    constructor(options: TCPOptions);
    read(byteLength?: number): ArrayBuffer | undefined;
    /** Throws "would block" when larger than the free send buffer. */
    write(data: ArrayBuffer | ArrayBufferView): void;
    close(): void;
  }
}

declare module "embedded:io/socket/tcp/tls" {
  import type TCP from "embedded:io/socket/tcp";
  import type { TCPOptions } from "embedded:io/socket/tcp";
  export interface TLSOptions extends Omit<TCPOptions, "onReadable" | "onWritable" | "onError"> {
    /** Server name (SNI and certificate check). */
    host: string;
    /** The TCP socket class the TLS layer runs on. */
    TCP: { io: typeof TCP };
    /** Session options (ca certificates, protocolVersion, ...). */
    secure?: Record<string, unknown>;
    onReadable?: (this: TLSSocket, bytes: number) => void;
    onWritable?: (this: TLSSocket, bytes: number) => void;
    onError?: (this: TLSSocket) => void;
  }
  export default class TLSSocket {
    constructor(options: TLSOptions);
    read(byteLength?: number): ArrayBuffer | undefined;
    write(data: ArrayBuffer | ArrayBufferView): void;
    close(): void;
  }
}

declare module "embedded:network/interface/wifi" {
  export interface WiFiOptions {
    onChanged?: (this: WiFi, property: "connection" | "address") => void;
  }
  export default class WiFi {
    constructor(options: WiFiOptions);
    /** 200 disconnected, 300 connecting, 400 associated, 500 has an IP address. */
    readonly connection: number;
    readonly address: string | undefined;
    readonly MAC: string | undefined;
    readonly RSSI: number | undefined;
    /** Throws "already connecting" while a connect is in progress. */
    connect(options: { SSID: string; password?: string }): void;
    disconnect(): void;
    close(): void;
  }
}
