/**
 * Broker security on a real Mosquitto (test/support/mosquitto.ts): per-device passwords, the %u
 * ACL, no anonymous access, TLS with our Network port, and the device's own refusal of unsigned
 * or forged configs from anyone the broker lets publish. Skipped when mosquitto is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { createNodeClock, createNodeNetwork, createNodeTimers } from "../../host-sim/net-node";
import { findMosquitto, Mosquitto } from "../support/mosquitto";
import { waitFor } from "../support/net";
import { homeConfig, makeDevice, signer, trusted, type TestDevice } from "../firmware/core/link/harness";

const BINS = findMosquitto();
if (!BINS)
  process.stdout.write(
    "security/broker.test.ts: SKIPPED — mosquitto/mosquitto_passwd/openssl not found (apt-get install -y mosquitto openssl)\n",
  );

const A = "dk-sec-a";
const B = "dk-sec-b";
const PW = { [A]: "pw-a-" + "x".repeat(8), [B]: "pw-b-" + "y".repeat(8), pharmacist: "pw-pharm" };

function connect(port: number, o: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync({ host: "127.0.0.1", port, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000, ...o });
}

describe.skipIf(!BINS)("broker security x Mosquitto", () => {
  let mq: Mosquitto;
  const timers = createNodeTimers();
  const s = signer();
  let devA: TestDevice;
  let devB: TestDevice;
  let pharm: mqtt.MqttClient;
  const pharmSeen: [string, string][] = [];

  beforeAll(async () => {
    mq = await Mosquitto.start(BINS!, { users: PW, admins: ["pharmacist"], tls: true });
    pharm = await connect(mq.port, { username: "pharmacist", password: PW.pharmacist, clientId: "pharm" });
    pharm.on("message", (t, p) => pharmSeen.push([t, p.toString()]));
    await pharm.subscribeAsync("dk/#", { qos: 1 });
    // device A over TLS (our Network port with the test CA), device B over plain TCP
    devA = makeDevice({
      id: A,
      network: createNodeNetwork({ tls: { ca: mq.caPem } }),
      clock: createNodeClock(),
      timers,
      trustedKeys: [trusted(s.key)],
      broker: { host: "127.0.0.1", port: mq.tlsPort, tls: true, username: A, password: PW[A] },
      mqtt: { backoffInitialMs: 100, backoffMaxMs: 300 },
    });
    devB = makeDevice({
      id: B,
      network: createNodeNetwork(),
      clock: createNodeClock(),
      timers,
      trustedKeys: [trusted(s.key)],
      broker: { host: "127.0.0.1", port: mq.port, tls: false, username: B, password: PW[B] },
      mqtt: { backoffInitialMs: 100, backoffMaxMs: 300 },
    });
    await waitFor("both connected", () => devA.link.state === "connected" && devB.link.state === "connected");
  });

  afterAll(async () => {
    devA?.link.stop();
    devB?.link.stop();
    devA?.dispenser.stop();
    devB?.dispenser.stop();
    timers.cancelAll();
    await pharm?.endAsync(true);
    await mq?.stop();
  });

  it("anonymous and wrong-password clients are refused", async () => {
    await expect(connect(mq.port, { clientId: "anon" })).rejects.toThrow(/Not authorized|Bad username|authori/i);
    await expect(connect(mq.port, { clientId: "wrong", username: A, password: "nope" })).rejects.toThrow(
      /Not authorized|Bad username|authori/i,
    );
  });

  it("a device whose password is wrong never gets a session (our client, refused with a coded fault)", async () => {
    const bad = makeDevice({
      id: "dk-sec-c",
      network: createNodeNetwork(),
      clock: createNodeClock(),
      timers,
      trustedKeys: [trusted(s.key)],
      broker: { host: "127.0.0.1", port: mq.port, tls: false, username: A, password: "guess" },
      mqtt: { backoffInitialMs: 100, backoffMaxMs: 300 },
    });
    await waitFor("refusal logged", () => bad.events.some((e) => e.type === "fault" && e.data.code === "MQTT_REFUSED"));
    expect(bad.link.state).not.toBe("connected");
    bad.link.stop();
    bad.dispenser.stop();
  });

  it("TLS listener works with our Network port; events of A reach the cloud", async () => {
    devA.dispenser.log("button", "info", { kind: "tls" });
    await waitFor("A's event at the pharmacist", () => pharmSeen.some(([t, p]) => t === `dk/${A}/evt` && p.includes('"tls"')));
    await waitFor("A's outbox acknowledged", () => devA.dispenser.status().outbox === 0);
  });

  it("TLS without the CA fails verification (no session)", async () => {
    let closeReason = "";
    const conn = createNodeNetwork().connect("127.0.0.1", mq.tlsPort, true, {
      onConnect() {},
      onData() {},
      onClose: (r) => (closeReason = r),
    });
    await waitFor("closed", () => closeReason !== "");
    conn.close();
    expect(closeReason).toBe("tls");
  });

  it("with A's credentials one can neither read B's topics nor reach B's commands", async () => {
    const evil = await connect(mq.port, { username: A, password: PW[A], clientId: "evil-a" });
    const got: string[] = [];
    evil.on("message", (t) => got.push(t));
    for (const f of [`dk/${B}/#`, `dk/${B}/evt`, "dk/+/evt", "dk/#", "#"]) await evil.subscribeAsync(f, { qos: 1 }).catch(() => undefined);
    // B produces traffic on every one of its topics
    devB.dispenser.log("button", "info", { kind: "from-b" });
    await pharm.publishAsync(`dk/${B}/rcpt`, JSON.stringify({ v: 1, key: "k", status: "delivered" }), { qos: 1 });
    await waitFor("B's event reached the pharmacist", () => pharmSeen.some(([t, p]) => t === `dk/${B}/evt` && p.includes("from-b")));
    await waitFor("B got its receipt", () => devB.events.some((e) => e.type === "relay.receipt"));
    // A signed (valid!) command sent by A's credentials to B's command topic
    const cmd = s.cmd(B, "identify", "evil-1", { seconds: 2 });
    await evil.publishAsync(`dk/${B}/cmnd/identify`, cmd, { qos: 1 });
    await evil.publishAsync(`dk/${B}/evt`, JSON.stringify({ v: 1, id: "fake" }), { qos: 1 });
    // control: the same command from the pharmacist does reach B
    await pharm.publishAsync(`dk/${B}/cmnd/identify`, s.cmd(B, "identify", "ok-1", { seconds: 2 }), { qos: 1 });
    await waitFor("control command executed", () => devB.events.some((e) => e.type === "cmd" && e.data.id === "ok-1"));
    await new Promise((r) => setTimeout(r, 300));
    expect(got.filter((t) => t.startsWith(`dk/${B}/`))).toEqual([]);
    expect(devB.events.some((e) => e.type === "cmd" && e.data.id === "evil-1")).toBe(false);
    expect(pharmSeen.some(([t, p]) => t === `dk/${B}/evt` && p.includes('"fake"'))).toBe(false);
    await evil.endAsync(true);
  });

  it("A's credentials with B's client id cannot take over B's session (client id bound to the user name)", async () => {
    await waitFor("both connected", () => devA.link.state === "connected" && devB.link.state === "connected");
    // B announces every (re)connection with a status online:true; a takeover would make it reconnect.
    const sessionsOfB = () => pharmSeen.filter(([t, p]) => t === `dk/${B}/status` && JSON.parse(p).online === true).length;
    await new Promise((r) => setTimeout(r, 300));
    const before = sessionsOfB();
    const thief = await connect(mq.port, { username: A, password: PW[A], clientId: B, clean: false });
    await new Promise((r) => setTimeout(r, 1000));
    // B was never kicked off: no new connection of B, its session is the one it opened.
    expect(sessionsOfB()).toBe(before);
    expect(devB.link.state).toBe("connected");
    devB.dispenser.log("button", "info", { kind: "after-takeover-attempt" });
    await waitFor("B still delivers", () => pharmSeen.some(([t, p]) => t === `dk/${B}/evt` && p.includes("after-takeover-attempt")));
    await thief.endAsync(true);
    await waitFor("A reconnected", () => devA.link.state === "connected", 10_000);
  });

  it("unsigned or forged configs published by an allowed client are refused by the device", async () => {
    const before = devB.dispenser.status().config;
    const statOf = (code: string) => pharmSeen.some(([t, p]) => t === `dk/${B}/stat` && JSON.parse(p).code === code);
    await pharm.publishAsync(`dk/${B}/cmnd/config`, JSON.stringify(homeConfig(B, 9)), { qos: 1, retain: true });
    await waitFor("SIG_MALFORMED", () => statOf("SIG_MALFORMED"));
    const forged = JSON.parse(s.config(homeConfig(B, 9)));
    forged.payload = JSON.parse(s.config(homeConfig(B, 10))).payload;
    await pharm.publishAsync(`dk/${B}/cmnd/config`, JSON.stringify(forged), { qos: 1, retain: true });
    await waitFor("SIG_BAD", () => statOf("SIG_BAD"));
    const otherKey = signer();
    await pharm.publishAsync(`dk/${B}/cmnd/config`, otherKey.config(homeConfig(B, 11)), { qos: 1, retain: true });
    await waitFor("SIG_UNKNOWN_KEY", () => statOf("SIG_UNKNOWN_KEY"));
    expect(devB.dispenser.status().config).toEqual(before);
    expect(devB.events.filter((e) => e.type === "config.refused").map((e) => e.data.code)).toEqual([
      "SIG_MALFORMED",
      "SIG_BAD",
      "SIG_UNKNOWN_KEY",
    ]);
    await pharm.publishAsync(`dk/${B}/cmnd/config`, "", { qos: 1, retain: true });
  });
});
