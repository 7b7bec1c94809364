/**
 * The MQTT transport: every simulated dispenser runs its real device link (firmware/core/link) over
 * a real TCP connection to the broker, on real timers gated by its power; pushes go through the
 * pharmacist library, signed, as a pharmacist's would.
 */
import type { TrustedKey } from "../../firmware/core/crypto/signed";
import { createLink, type Link } from "../../firmware/core/link/link";
import type { Network, Ports, StreamConnection, StreamHandlers, Timers } from "../../firmware/core/ports";
import { seededRandom, type LinkFactory } from "../kernel/device/sim-device";
import { createNodeNetwork, createNodeTimers } from "../net-node";
import { pushConfig as pharmacistPush, sendCommand as pharmacistCommand, type PushConfigResult } from "../../cloud/pharmacist/lib";
import { readAudit, type AuditRecord } from "../../cloud/pharmacist/audit";
import type { BrokerCredentials } from "./broker";
import type { PushTarget } from "./types";
import { type DeviceHooks, type DeviceTransport, num, type PushOptions, type PushOutcome } from "./transport";

export interface PharmacistKey {
  readonly kid: string;
  readonly privateKeyPem: string;
  /** Raw 32-byte Ed25519 public key, base64 (what the devices trust). */
  readonly publicKeyB64: string;
}

export interface MqttTransportOptions {
  /** mqtt://host:port of the broker the devices, the relay and the pharmacist tools use. */
  readonly brokerUrl: string;
  /** Credentials of the embedded broker; undefined = external broker without authentication. */
  readonly credentials?: BrokerCredentials;
  /** The pharmacist key: signs pushes, trusted by every device. */
  readonly key: PharmacistKey;
  /** Pharmacist audit log (JSON lines, cloud/pharmacist/audit.ts). */
  readonly auditFile?: string;
  /** How long a push waits for the device's stat (real ms). Default 8000. */
  readonly pushTimeoutMs?: number;
  /** Link reconnect backoff cap (real ms). Default 4000: a restored network reconnects within seconds. */
  readonly backoffMaxMs?: number;
  /** Device telemetry period (real ms). Default 60 000. */
  readonly teleMs?: number;
}

/** Resources of one boot of one device: dies at the next power cut. */
export class Incarnation {
  dead = false;
  readonly t0 = performance.now();
  readonly timers = createNodeTimers();
  readonly conns = new Set<StreamConnection>();
  link: Link | undefined;

  dropConnections(): void {
    for (const c of [...this.conns]) c.close();
    this.conns.clear();
  }

  kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.timers.cancelAll();
    // No DISCONNECT: the socket just dies, as when the power goes (the broker publishes the will).
    this.dropConnections();
  }
}

export const CONNECT_REFUSED_MS = 20;
export const PUSHED_KEEP = 8;

export class MqttTransport implements DeviceTransport {
  readonly kind = "mqtt" as const;
  private readonly o: MqttTransportOptions;
  private readonly host: string;
  private readonly port: number;
  private readonly trusted: TrustedKey[];
  private readonly net: Network = createNodeNetwork();
  private readonly incs = new Map<string, Incarnation>();
  private readonly boots = new Map<string, number>();
  private readonly netUp = new Map<string, () => boolean>();
  private readonly pushed = new Map<string, Map<number, Record<string, unknown>>>();
  private closed = false;

  constructor(o: MqttTransportOptions) {
    this.o = o;
    const u = new URL(o.brokerUrl);
    if (u.protocol !== "mqtt:") throw new Error("the device link speaks plain mqtt:// here (TLS: see docs/security.md)");
    this.host = u.hostname;
    this.port = u.port === "" ? 1883 : Number(u.port);
    this.trusted = [{ kid: o.key.kid, publicKey: new Uint8Array(Buffer.from(o.key.publicKeyB64, "base64")) }];
  }

  get kid(): string {
    return this.o.key.kid;
  }

  linkFor(deviceId: string, hooks: DeviceHooks): LinkFactory {
    return (ctx) => {
      // The previous boot's link dies here at the latest (SimDevice does not stop it at a power cut).
      this.incs.get(deviceId)?.kill();
      const inc = new Incarnation();
      this.incs.set(deviceId, inc);
      this.netUp.set(deviceId, ctx.networkUp);
      const boot = (this.boots.get(deviceId) ?? 0) + 1;
      this.boots.set(deviceId, boot);
      const run = (fn: () => void): void => {
        if (inc.dead || this.closed) return;
        hooks.sync();
        if (inc.dead) return; // the catch-up cut the power
        hooks.guard(fn);
      };
      const creds = this.o.credentials?.device(deviceId) ?? { username: deviceId, password: "" };
      const ports: Ports = {
        ...ctx.ports,
        timers: this.realTimers(inc, run),
        clock: { monoMs: () => Math.floor(performance.now() - inc.t0), wallMs: ctx.ports.clock.wallMs },
        network: this.gatedNetwork(inc, ctx.networkUp, run),
      };
      const link = createLink({
        ports,
        identity: ctx.identity,
        ...(ctx.store !== undefined ? { store: ctx.store } : {}),
        random: seededRandom(hashId(deviceId) * 31 + boot),
        broker: { host: this.host, port: this.port, tls: false, username: creds.username, password: creds.password },
        trustedKeys: this.trusted,
        mqtt: { backoffInitialMs: 250, backoffMaxMs: this.o.backoffMaxMs ?? 4000 },
        teleMs: this.o.teleMs ?? 60_000,
      });
      inc.link = link;
      return {
        uplink: link.uplink,
        attach: (d) => link.attach(d),
        start: () => link.start(),
        get state() {
          return link.state;
        },
        stop: () => {
          link.stop();
          inc.kill();
        },
      };
    };
  }

  /** Real Node timers whose callbacks die with the incarnation. */
  private realTimers(inc: Incarnation, run: (fn: () => void) => void): Timers {
    const t = inc.timers;
    return {
      once: (ms, cb) => t.once(ms, () => run(cb)),
      repeat: (ms, cb) => t.repeat(ms, () => run(cb)),
      cancel: (id) => t.cancel(id),
    };
  }

  /** Node sockets, refused while the device's network is down; callbacks die with the incarnation. */
  private gatedNetwork(inc: Incarnation, up: () => boolean, run: (fn: () => void) => void): Network {
    return {
      connect: (host: string, port: number, tls: boolean, h: StreamHandlers): StreamConnection => {
        if (inc.dead || !up() || this.closed) {
          let reported = false;
          const report = (reason: string): void => {
            if (reported) return;
            reported = true;
            run(() => h.onClose(reason));
          };
          const id = inc.timers.once(CONNECT_REFUSED_MS, () => report("unreachable"));
          return {
            write: () => false,
            close: () => {
              inc.timers.cancel(id);
              inc.timers.once(0, () => report("closed"));
            },
          };
        }
        const conn = this.net.connect(host, port, tls, {
          onConnect: () => run(() => h.onConnect()),
          onData: (b) => run(() => h.onData(b)),
          onClose: (r) => {
            inc.conns.delete(conn);
            run(() => h.onClose(r));
          },
        });
        inc.conns.add(conn);
        return conn;
      },
    };
  }

  powerOff(deviceId: string): void {
    this.incs.get(deviceId)?.kill();
  }

  networkChanged(deviceId: string, up: boolean): void {
    if (!up) this.incs.get(deviceId)?.dropConnections();
  }

  linkState(deviceId: string): string | undefined {
    const inc = this.incs.get(deviceId);
    return inc === undefined || inc.dead ? undefined : inc.link?.state;
  }

  pushedConfig(deviceId: string, version: number): Record<string, unknown> | undefined {
    return this.pushed.get(deviceId)?.get(version);
  }

  auditRecords(): AuditRecord[] {
    if (this.o.auditFile === undefined) return [];
    try {
      return readAudit(this.o.auditFile);
    } catch {
      return [];
    }
  }

  /** What a signed push or command needs: key, broker account, timeout, audit log, and the device's (virtual) clock. */
  private signing(dev: PushTarget) {
    return {
      key: { kid: this.o.key.kid, privateKeyPem: this.o.key.privateKeyPem },
      broker: {
        url: this.o.brokerUrl,
        ...(this.o.credentials !== undefined ? this.o.credentials.pharmacist : {}),
        connectTimeoutMs: 5000,
      },
      timeoutMs: this.o.pushTimeoutMs ?? 8000,
      ...(this.o.auditFile !== undefined ? { audit: this.o.auditFile } : {}),
      // Signed at the device's (virtual) time: issuedAt/expires are judged against its wall clock.
      now: () => {
        dev.sync();
        return dev.now();
      },
    };
  }

  async sendCommand(dev: PushTarget, name: string, args: Record<string, unknown>): Promise<{ ok: boolean; code?: string; id: string }> {
    try {
      const r = await pharmacistCommand({
        device: dev.id,
        name,
        args,
        ...this.signing(dev),
        // The longest lifetime a device accepts: warped time runs fast.
        expiresMs: 3_600_000,
      });
      return r.outcome === "ack"
        ? { ok: true, id: r.id }
        : { ok: false, code: r.outcome === "timeout" ? "TIMEOUT" : (r.code ?? "REFUSED"), id: r.id };
    } catch (e) {
      return { ok: false, code: "BROKER", id: e instanceof Error ? e.message : String(e) };
    }
  }

  async pushConfig(dev: PushTarget, config: unknown, by: string, opts: PushOptions = {}): Promise<PushOutcome> {
    const base = { device: dev.id, kid: this.o.key.kid, via: this.kind };
    const cfg = typeof config === "object" && config !== null && !Array.isArray(config) ? (config as Record<string, unknown>) : undefined;
    const version = cfg !== undefined && typeof cfg.version === "number" ? cfg.version : null;
    if (cfg !== undefined && version !== null) {
      // Remember it before publishing: the device logs config.accepted while handling the message.
      let m = this.pushed.get(dev.id);
      if (m === undefined) this.pushed.set(dev.id, (m = new Map()));
      m.set(version, cfg);
      if (m.size > PUSHED_KEEP) m.delete(m.keys().next().value as number);
    }
    let r: PushConfigResult;
    try {
      r = await pharmacistPush({
        device: dev.id,
        config,
        ...this.signing(dev),
        noValidate: opts.noValidate === true,
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return { ...base, ok: false, version, code: "BROKER", errors: [{ code: "BROKER", path: "", message }] };
    }
    void by;
    const stat = r.stat ?? {};
    switch (r.outcome) {
      case "ack":
        return {
          ...base,
          ok: true,
          version: num(stat.version) ?? r.version ?? version,
          hash: r.hash ?? "",
          deferred: stat.deferred === true,
        };
      case "refused":
        return { ...base, ok: false, version, code: r.code ?? "REFUSED", errors: r.errors, running: num(stat.running) };
      case "invalid":
        return { ...base, ok: false, version, code: r.errors[0]?.code ?? "CFG_INVALID", errors: r.errors, local: true };
      case "timeout":
        return {
          ...base,
          ok: false,
          version,
          code: "TIMEOUT",
          errors: [
            {
              code: "TIMEOUT",
              path: "",
              message: "no answer yet: the signed config stays retained and applies when the device reconnects",
            },
          ],
        };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const inc of this.incs.values()) inc.kill();
    this.incs.clear();
  }
}

export function hashId(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}
