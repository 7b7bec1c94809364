/**
 * The device's MQTT session ("link"): events out, signed configs and commands in.
 * Contract: docs/protocol.md. XS-clean: ports, an injected PRNG and core modules only.
 *
 *   const link = createLink({ ports, identity, random, broker, trustedKeys, onErase });
 *   const dispenser = createDispenser(ports, identity, { uplink: link.uplink });
 *   link.attach(dispenser); dispenser.start(); link.start();
 *
 * Delivery: the dispenser's event log is the outbox. `uplink.send` publishes an event at QoS 1
 * and remembers packet id → seq (at most `maxInflight` entries); a PUBACK calls
 * `dispenser.acked(seq)`. Unacked publishes stay in the client's inflight table and are
 * retransmitted (DUP) after a reconnect; after a reboot the outbox offers them again.
 */
import type { TimerId } from "../ports";
import type { Dispenser, Uplink } from "../dispenser";
import type { LoggedEvent } from "../log/eventlog";
import { MqttClient, type MqttMessageInfo, type DiscardedPublish } from "../mqtt/client";
import { openEnvelope } from "../crypto/signed";
import { validateConfig } from "../config/validate";
import { canonicalJson } from "../config/canonical";
import { configHash } from "../config/hash";
import { isoUtc } from "../schedule/civil";
import { sha256 } from "../crypto/sha256";
import { bytesToHex } from "../crypto/hex";
import { Store } from "../log/store";
import { CommandWatermark, ReplayRing } from "./replay";
import { checkConfigBody, timeWindow, type BodyError } from "./body";
import { EV, type EventType } from "../protocol/events";
import { createCommands } from "./commands";
import { TrustStore } from "./trust";
import { checkReceipt, errs, eventPayload, JunkLimiter, telePayload, versionOf } from "./messages";
import { parseJsonBytes } from "../protocol/json";
import { commandTopic, configTopic, deviceTopic, VERB } from "../protocol/topics";
import { TELE_PERIOD_MS, LINK_MAX_INFLIGHT, STAT_RESERVE, LINK_MAX_PACKET, HELD_RETRY_MS, type LinkDeps, type Link } from "./link-types";
import { OtaReceiver } from "../update/ota";
export * from "./link-types";

export function createLink(deps: LinkDeps): Link {
  const { ports, identity, trustedKeys } = deps;
  const { clock, timers } = ports;
  const id = identity.deviceId;
  const T_EVT = deviceTopic(id, VERB.evt);
  const T_TELE = deviceTopic(id, VERB.tele);
  const T_STAT = deviceTopic(id, VERB.stat);
  const T_STATUS = deviceTopic(id, VERB.status);
  const T_CMND = commandTopic(id, "");
  const T_CONFIG = configTopic(id);
  const T_RCPT = deviceTopic(id, VERB.rcpt);
  const maxInflight = deps.mqtt?.maxInflight ?? LINK_MAX_INFLIGHT;
  const eventSlots = Math.max(1, maxInflight - STAT_RESERVE);

  const store = deps.store ?? new Store(ports.kv);
  const ring = new ReplayRing(store);
  const watermark = new CommandWatermark(store);
  const trust = new TrustStore(store, trustedKeys);

  let dispenser: Dispenser | undefined;
  let erased = false;
  let subscribed = false;
  /** packet id → event seq, for events the client still holds (≤ maxInflight entries). */
  const pidSeq = new Map<number, number>();
  let starved = false;
  let teleTimer: TimerId | undefined;
  let heldTimer: TimerId | undefined;
  let held: Uint8Array | undefined;
  /** Envelope (sha-256 prefix) last answered on this connection: a retained or duplicate config is answered once. */
  let answeredEnv: string | undefined;
  let lastClientFault: string | undefined;
  const junkLimit = new JunkLimiter(clock);
  const ota = new OtaReceiver({
    slots: ports.firmware,
    target: identity.target ?? "esp32",
    store,
    timers,
    configVersion: () => dispenser?.status().config?.version ?? null,
    log,
    stat,
  });
  const commands = createCommands({
    ota,
    deviceId: id,
    trust,
    ring,
    watermark,
    junkLimit,
    wallMs: () => clock.wallMs(),
    dispenser: () => dispenser,
    log,
    stat,
    envRef,
    decommission,
    changed: publishTele,
  });

  const client = new MqttClient(
    { network: ports.network, timers, clock, random: deps.random },
    {
      ...deps.mqtt,
      host: deps.broker.host,
      port: deps.broker.port,
      tls: deps.broker.tls,
      clientId: id,
      username: deps.broker.username,
      password: deps.broker.password,
      cleanSession: false,
      maxInflight,
      maxPacketBytes: deps.mqtt?.maxPacketBytes ?? LINK_MAX_PACKET,
      will: { topic: T_STATUS, payload: '{"v":1,"online":false}', qos: 1, retain: true },
    },
    {
      onConnect: onConnect,
      onMessage: onMessage,
      onDiscarded: onDiscarded,
      onAck: onAck,
      onFault: (code, detail) => {
        // A broker that keeps refusing us would otherwise log the same fault at every retry.
        if (code === lastClientFault) return;
        lastClientFault = code;
        fault(code, detail);
      },
    },
  );

  // ------------------------------------------------------------------ helpers

  function now(): string | null {
    const w = clock.wallMs();
    return w === undefined ? null : isoUtc(w);
  }

  function log(type: EventType, cls: "dose" | "alert" | "info", data: Record<string, unknown>): void {
    if (dispenser !== undefined && !erased) dispenser.log(type, cls, data);
  }

  function fault(code: string, detail: string, extra?: Record<string, unknown>): void {
    log(EV.FAULT, "alert", { ...extra, code, detail });
  }

  function stat(body: Record<string, unknown>): void {
    if (client.state !== "connected") return;
    try {
      client.publish(T_STAT, JSON.stringify({ v: 1, ...body, t: now() }), { qos: 1 });
    } catch {
      // oversized (cannot happen with ≤ 8 errors); nothing else to do
    }
  }

  function publishTele(): void {
    if (dispenser === undefined || client.state !== "connected") return;
    const tele = telePayload(dispenser.status(), now(), Math.floor(clock.monoMs() / 1000));
    client.publish(T_TELE, tele, { qos: 0, retain: true });
  }

  // ------------------------------------------------------------------ session

  function onConnect(): void {
    answeredEnv = undefined;
    lastClientFault = undefined;
    client.publish(T_STATUS, '{"v":1,"online":true}', { qos: 1, retain: true });
    publishTele();
    if (dispenser !== undefined) dispenser.uplinkReady();
  }

  function onAck(pid: number): void {
    const seq = pidSeq.get(pid);
    if (seq !== undefined) {
      pidSeq.delete(pid);
      if (dispenser !== undefined) dispenser.acked(seq);
    } else if (starved && dispenser !== undefined) {
      // A stat/status entry freed room in the inflight table: offer events again.
      starved = false;
      dispenser.uplinkReady();
    }
  }

  const uplink: Uplink = {
    ready(): boolean {
      return dispenser !== undefined && !erased && client.state === "connected";
    },
    send(ev: LoggedEvent): boolean {
      if (!uplink.ready()) return false;
      for (const s of pidSeq.values()) if (s === ev.seq) return true; // held by the client: retransmitted by it
      if (pidSeq.size >= eventSlots || client.inflightCount >= maxInflight) {
        starved = true;
        return false;
      }
      let pid: number | false;
      try {
        pid = client.publish(T_EVT, eventPayload(ev), { qos: 1 });
      } catch {
        fault("PROTO_EVT_TOO_LARGE", "event " + ev.id + " does not fit a packet");
        return false;
      }
      if (pid === false) {
        starved = true;
        return false;
      }
      pidSeq.set(pid, ev.seq);
      return true;
    },
  };

  function onMessage(topic: string, payload: Uint8Array, info: MqttMessageInfo): void {
    if (dispenser === undefined || erased) return;
    if (topic === T_CONFIG) onConfig(payload, info);
    else if (topic === T_RCPT) onReceipt(payload);
    else if (topic.startsWith(T_CMND)) commands.onCommand(topic.substring(T_CMND.length), payload, info);
    else if (junkLimit.allowed())
      fault("PROTO_TOPIC", "unexpected topic", { topic: topic.substring(0, 64), ...junkLimit.takeSuppressed() });
  }

  /**
   * A message over LINK_MAX_PACKET was read through and discarded by the client (and
   * acknowledged, so the broker does not redeliver it): a coded refusal, never a dropped session.
   */
  function onDiscarded(d: DiscardedPublish): void {
    if (dispenser === undefined || erased) return;
    const detail = `${d.bytes} bytes over the ${LINK_MAX_PACKET}-byte limit, discarded`;
    if (d.topicComplete && d.topic === T_CONFIG)
      return refuseConfig("", "PROTO_OVERSIZE", [{ code: "PROTO_OVERSIZE", path: "" }], null, null, true);
    if (d.topicComplete && d.topic.startsWith(T_CMND))
      return commands.refuse(d.topic.substring(T_CMND.length).substring(0, 24), null, null, "PROTO_OVERSIZE", true, "");
    if (junkLimit.allowed()) fault("PROTO_OVERSIZE", detail, { topic: d.topic.substring(0, 64), ...junkLimit.takeSuppressed() });
  }

  // ------------------------------------------------------------------ configs

  function envRef(payload: Uint8Array): string {
    return bytesToHex(sha256(payload).subarray(0, 8));
  }

  function refuseConfig(env: string, code: string, errors: BodyError[], version: number | null, by: string | null, junk: boolean): void {
    if (junk && !junkLimit.allowed()) return;
    const running = dispenser?.status().config ?? null;
    const r = running === null ? null : running.version;
    log(EV.CONFIG_REFUSED, "alert", { code, version, errors, running: r, by, ...(junk ? junkLimit.takeSuppressed() : {}) });
    stat({ ref: "config", env, ok: false, code, errors, version, running: r });
  }

  function onConfig(payload: Uint8Array, info: MqttMessageInfo): void {
    if (payload.length === 0) return; // retained config cleared by the pharmacist
    const env = envRef(payload);
    if (env === answeredEnv) return; // same envelope again on this connection (retained / DUP)
    answeredEnv = env;
    processConfig(payload, env, info.retain);
  }

  function processConfig(payload: Uint8Array, env: string, retained: boolean): void {
    const d = dispenser;
    if (d === undefined) return;
    const parsed = parseJsonBytes(payload);
    if (!parsed.ok) return refuseConfig(env, "PROTO_JSON", [{ code: "PROTO_JSON", path: "" }], null, null, true);
    const open = openEnvelope(parsed.value, trust.keys);
    if (!open.ok) return refuseConfig(env, open.code, [{ code: open.code, path: "" }], null, null, true);
    const by = open.kid;
    const cb = checkConfigBody(open.body);
    if (!cb.ok) return refuseConfig(env, cb.code, cb.errors, versionOf(open.body), by, false);
    const body = cb.body;
    if (body.device !== id) {
      return refuseConfig(env, "CFG_WRONG_DEVICE", [{ code: "CFG_WRONG_DEVICE", path: "device" }], body.version, by, false);
    }
    const wall = clock.wallMs();
    if (wall === undefined) {
      // No time yet: expiry cannot be judged. Hold the newest config and retry (SNTP follows Wi-Fi).
      held = payload;
      answeredEnv = undefined;
      if (heldTimer === undefined) heldTimer = timers.once(HELD_RETRY_MS, retryHeld);
      return;
    }
    const tw = timeWindow(body, wall);
    if (tw !== undefined) {
      const code = "CFG_" + tw;
      return refuseConfig(env, code, [{ code, path: tw === "EXPIRED" ? "expires" : "issuedAt" }], body.version, by, false);
    }
    const running = d.status().config;
    if (running !== null && body.version === running.version) {
      // The retained config we already run (seen again after a session loss): confirm, do not refuse.
      const v = validateConfig(body.config, identity.hw);
      if (v.ok && configHash(canonicalJson(v.config)) === running.hash) {
        stat({ ref: "config", env, ok: true, version: running.version, hash: running.hash, deferred: false, current: true });
        return;
      }
    }
    const out = d.receiveConfig(body.config, by);
    if (out.ok) {
      stat({ ref: "config", env, ok: true, version: out.version, hash: out.hash, deferred: out.deferred });
      publishTele(); // `dosekeeper status` right after the push shows the new version
    } else {
      const r = d.status().config;
      stat({
        ref: "config",
        env,
        ok: false,
        code: out.code,
        errors: errs(out.errors),
        version: body.version,
        running: r === null ? null : r.version,
        retained,
      });
    }
  }

  function retryHeld(): void {
    heldTimer = undefined;
    const p = held;
    if (p === undefined || erased) return;
    if (clock.wallMs() === undefined) {
      heldTimer = timers.once(HELD_RETRY_MS, retryHeld);
      return;
    }
    held = undefined;
    const env = envRef(p);
    answeredEnv = env;
    processConfig(p, env, true);
  }

  // ------------------------------------------------------------------ commands

  function decommission(d: Dispenser, cmdId: string, by: string, env: string): void {
    log(EV.CMD, "alert", { name: "decommission", id: cmdId, by, result: "OK" });
    stat({ ref: "cmd:decommission:" + cmdId, env, ok: true, erased: true });
    ota.close();
    d.decommission();
    store.remove("lktrust");
    erased = true;
    pidSeq.clear();
    held = undefined;
    if (client.state === "connected") client.publish(T_STATUS, '{"v":1,"online":false,"erased":true}', { qos: 1, retain: true });
    cancelTimers();
    // Disconnect after this handler returned, so the command's PUBACK goes out first.
    timers.once(0, () => {
      client.stop();
      if (deps.onErase) deps.onErase();
    });
  }

  // ------------------------------------------------------------------ receipts

  function onReceipt(payload: Uint8Array): void {
    const parsed = parseJsonBytes(payload);
    if (!parsed.ok) {
      if (junkLimit.allowed()) fault("PROTO_JSON", "rcpt is not JSON", { topic: "rcpt", ...junkLimit.takeSuppressed() });
      return;
    }
    const c = checkReceipt(parsed.value);
    if (!c.ok) {
      if (junkLimit.allowed())
        fault(c.code, c.detail, { topic: "rcpt", ...(c.path !== undefined ? { path: c.path } : {}), ...junkLimit.takeSuppressed() });
      return;
    }
    const data = c.data;
    log(EV.RELAY_RECEIPT, "info", data);
  }

  // ------------------------------------------------------------------ lifecycle

  function cancelTimers(): void {
    if (teleTimer !== undefined) timers.cancel(teleTimer);
    if (heldTimer !== undefined) timers.cancel(heldTimer);
    teleTimer = undefined;
    heldTimer = undefined;
  }

  return {
    uplink,
    attach(d: Dispenser): void {
      dispenser = d;
    },
    start(): void {
      if (erased || dispenser === undefined) return;
      if (!subscribed) {
        subscribed = true;
        client.subscribe(T_CMND + "#", 1);
        client.subscribe(T_RCPT, 1);
      }
      client.start();
      if (teleTimer === undefined) teleTimer = timers.repeat(deps.teleMs ?? TELE_PERIOD_MS, publishTele);
    },
    stop(): void {
      cancelTimers();
      client.stop();
    },
    get state(): string {
      return client.state;
    },
    get erased(): boolean {
      return erased;
    },
  };
}
