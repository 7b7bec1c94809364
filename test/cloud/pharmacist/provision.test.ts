/**
 * Provisioning (cloud/pharmacist/provision.ts, `dosekeeper provision`) against a real Mosquitto
 * over TLS: the artefact's settings, read back by the firmware's own parser, get a device into its
 * broker account through the provisioned CA only; a device provisioned with another CA never
 * connects; the CLI writes the artefact (0600), the NVS CSV and the Mosquitto password line, and
 * refuses what a device could not read. Skipped when mosquitto is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main, type Io } from "../../../cloud/pharmacist/cli";
import { provisionArtefact, ProvisionError, readArtefact } from "../../../cloud/pharmacist/provision";
import { linkSettingsFrom } from "../../../firmware/core/link/settings";
import { createNodeClock, createNodeNetwork, createNodeTimers } from "../../../host-sim/net-node";
import { findMosquitto, Mosquitto } from "../../support/mosquitto";
import { waitFor } from "../../support/net";
import { makeDevice, signer, trusted, type TestDevice } from "../../firmware/core/link/harness";

const BINS = findMosquitto();
const ID = "dk-prov-1";
const PASS = "provisioned-" + "p".repeat(12);

const pemOf = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${(
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  ).join("\n")}\n-----END CERTIFICATE-----\n`;

async function run(argv: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: Io = { out: (s) => (out += s), err: (s) => (err += s), env: { DOSEKEEPER_PROFILE: "none" }, cwd };
  return { code: await main(argv, io), out, err };
}

describe.skipIf(!BINS)("provisioning x Mosquitto (TLS)", () => {
  let mq: Mosquitto;
  const timers = createNodeTimers();
  const s = signer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dk-prov-"));
  const devices: TestDevice[] = [];

  beforeAll(async () => {
    mq = await Mosquitto.start(BINS!, { users: { [ID]: PASS, admin: "admin-pw-123456" }, admins: ["admin"], tls: true });
  });

  afterAll(async () => {
    for (const d of devices) {
      d.link.stop();
      d.dispenser.stop();
    }
    timers.cancelAll();
    await mq?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function deviceFrom(prefs: Record<string, string>): TestDevice {
    const set = linkSettingsFrom((k) => prefs[k], ID);
    if (!set.ok) throw new Error(set.code);
    // As firmware/main.ts does: the TLS session trusts the provisioned CA and nothing else.
    const d = makeDevice({
      id: ID,
      network: createNodeNetwork({ tls: { ca: set.broker.ca ? pemOf(set.broker.ca) : [] } }),
      clock: createNodeClock(),
      timers,
      trustedKeys: set.trustedKeys,
      broker: set.broker,
      mqtt: { backoffInitialMs: 100, backoffMaxMs: 300 },
    });
    devices.push(d);
    return d;
  }

  it("a device booted from the artefact reaches its broker account through the provisioned CA", async () => {
    const art = provisionArtefact({
      device: ID,
      broker: `mqtts://127.0.0.1:${mq.tlsPort}`,
      caPem: mq.caPem,
      trustKeys: [Buffer.from(trusted(s.key).publicKey).toString("base64")],
      password: PASS,
      wifiSsid: "home",
      wifiPassword: "secret, with a comma",
    });
    expect(art.prefs).toMatchObject({ mqttHost: "127.0.0.1", mqttPort: String(mq.tlsPort), mqttTls: "1", mqttUser: ID, ssid: "home" });
    const d = deviceFrom(art.prefs);
    await waitFor("connected over TLS", () => d.link.state === "connected");
    expect(d.link.state).toBe("connected");
  });

  it("a device provisioned with another CA never connects (TLS refuses the broker)", async () => {
    const key = path.join(dir, "other.key");
    const crt = path.join(dir, "other.crt");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=other-ca",
        "-days",
        "2",
        "-keyout",
        key,
        "-out",
        crt,
      ],
      { stdio: "ignore" },
    );
    const art = provisionArtefact({
      device: ID,
      broker: `mqtts://127.0.0.1:${mq.tlsPort}`,
      caPem: fs.readFileSync(crt, "utf8"),
      trustKeys: [Buffer.from(trusted(s.key).publicKey).toString("base64")],
      password: PASS,
    });
    const d = deviceFrom(art.prefs);
    await new Promise((r) => setTimeout(r, 1500));
    expect(d.link.state).not.toBe("connected");
    d.link.stop();
  });

  it("refuses settings a device could not read", () => {
    const base = { device: ID, broker: "mqtts://h", trustKeys: [Buffer.alloc(32, 1).toString("base64")] };
    expect(() => provisionArtefact({ ...base, device: "Bad Id" })).toThrow(ProvisionError);
    expect(() => provisionArtefact({ ...base, broker: "http://h" })).toThrow(/mqtt/);
    expect(() => provisionArtefact({ ...base, trustKeys: [] })).toThrow(/1 to 4/);
    expect(() => provisionArtefact({ ...base, trustKeys: ["abc"] })).toThrow(/trustKeys/);
    expect(() => provisionArtefact({ ...base, caPem: "not a cert" })).toThrow(/PEM/);
    expect(() => provisionArtefact({ ...base, broker: "mqtt://h", caPem: mq.caPem })).toThrow(/mqtts/);
    expect(() => provisionArtefact({ ...base, wifiSsid: "x".repeat(4001) })).toThrow(/4000 bytes/);
  });

  it("the CLI writes the artefact (0600, never overwritten), the NVS CSV and the Mosquitto password line", async () => {
    const ca = path.join(dir, "ca.pem");
    fs.writeFileSync(ca, mq.caPem);
    const pub = path.join(dir, "k.pub");
    fs.writeFileSync(pub, `${Buffer.from(trusted(s.key).publicKey).toString("base64")}\n`);
    const out = path.join(dir, "dk-prov-2.json");
    const csv = path.join(dir, "dk-prov-2.csv");
    const passwd = path.join(dir, "passwd");
    const argv = ["provision", "--device", "dk-prov-2", "--broker", `mqtts://127.0.0.1:${mq.tlsPort}`, "--ca", ca, "--trust", pub];
    const r = await run([...argv, "--out", out, "--nvs-csv", csv, "--passwd", passwd, "--wifi-ssid", "home"], dir);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("(trusts the given CA)");
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const art = readArtefact(out);
    expect(linkSettingsFrom((k) => art.prefs[k], "dk-prov-2").ok).toBe(true);
    const lines = fs.readFileSync(csv, "utf8").trim().split("\n");
    expect(lines.slice(0, 2)).toEqual(["key,type,encoding,value", "dk-net,namespace,,"]);
    expect(lines).toContain(`mqttPass,data,string,${art.prefs.mqttPass}`);
    expect(lines.find((l) => l.startsWith("trustKeys,"))).toMatch(/^trustKeys,data,string,"?[A-Za-z0-9+/=]+"?$/);
    expect(fs.readFileSync(passwd, "utf8")).toMatch(/^dk-prov-2:\$7\$/m);
    const again = await run([...argv, "--out", out], dir);
    expect(again.code).toBe(1); // the artefact exists: never overwritten
    const bad = await run(
      ["provision", "--device", "dk-prov-3", "--broker", "mqtt://h", "--trust", "nope", "--out", path.join(dir, "x.json")],
      dir,
    );
    expect(bad.code).toBe(2);
    expect(fs.existsSync(path.join(dir, "x.json"))).toBe(false);
  });
});
