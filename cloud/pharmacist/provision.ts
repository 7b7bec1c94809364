/**
 * `dosekeeper provision` (docs/security.md, "Provisioning"): a device identity as the "dk-net"
 * NVS settings the firmware reads (firmware/core/link/settings), checked against the same parser
 * and the NVS limits, written as a JSON artefact (mode 0600; the simulator boots from it too) and
 * as the CSV of ESP-IDF's nvs_partition_gen.py for the factory flash; the broker account is added
 * to a Mosquitto password file with mosquitto_passwd; the device is registered with the relay
 * (its first schedule stored) when an API is given.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import { KV_MAX_KEY, KV_MAX_VALUE_BYTES } from "../../firmware/core/ports";
import { CA_MAX_DER_BYTES, linkSettingsFrom, parseCaCertificate } from "../../firmware/core/link/settings";
import { DEVICE_ID_RE } from "../../firmware/core/protocol/ids";

export const NVS_NAMESPACE = "dk-net";

export interface ProvisionInput {
  device: string;
  /** mqtt://host[:port] or mqtts://host[:port] */
  broker: string;
  /** PEM of the broker's CA (mqtts only). */
  caPem?: string;
  /** Raw Ed25519 public keys (base64), 1..4. */
  trustKeys: string[];
  wifiSsid?: string;
  wifiPassword?: string;
  /** Broker password; default 24 random bytes, base64url. */
  password?: string;
}

export interface ProvisionArtefact {
  v: 1;
  device: string;
  namespace: typeof NVS_NAMESPACE;
  /** key → string value, exactly as stored in NVS. */
  prefs: Record<string, string>;
}

export class ProvisionError extends Error {
  override get name(): string {
    return "ProvisionError";
  }
}

/** Builds and checks the settings; throws ProvisionError naming the faulty input. */
export function provisionArtefact(p: ProvisionInput): ProvisionArtefact {
  if (!DEVICE_ID_RE.test(p.device)) throw new ProvisionError("device: [a-z0-9][a-z0-9_-]{0,31}");
  let url: URL;
  try {
    url = new URL(p.broker);
  } catch {
    throw new ProvisionError("broker: mqtt://host[:port] or mqtts://host[:port]");
  }
  if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:") throw new ProvisionError("broker: mqtt:// or mqtts://");
  const tls = url.protocol === "mqtts:";
  const prefs: Record<string, string> = {};
  if (p.wifiSsid !== undefined) prefs.ssid = p.wifiSsid;
  if (p.wifiPassword !== undefined) prefs.password = p.wifiPassword;
  prefs.mqttHost = url.hostname.replace(/^\[|\]$/g, "");
  prefs.mqttPort = url.port !== "" ? url.port : tls ? "8883" : "1883";
  prefs.mqttTls = tls ? "1" : "0";
  prefs.mqttUser = p.device;
  prefs.mqttPass = p.password ?? randomBytes(24).toString("base64url");
  if (p.caPem !== undefined) {
    if (!tls) throw new ProvisionError("ca: only with an mqtts:// broker");
    let der: Buffer;
    try {
      der = new X509Certificate(p.caPem).raw;
    } catch {
      throw new ProvisionError("ca: not a PEM certificate");
    }
    if (der.length > CA_MAX_DER_BYTES) throw new ProvisionError(`ca: ${der.length} bytes (DER), at most ${CA_MAX_DER_BYTES}`);
    prefs.mqttCa = der.toString("base64");
    if (parseCaCertificate(prefs.mqttCa) === undefined) throw new ProvisionError("ca: the device cannot read this certificate");
  }
  if (p.trustKeys.length < 1 || p.trustKeys.length > 4) throw new ProvisionError("trust: 1 to 4 public keys");
  prefs.trustKeys = p.trustKeys.map((k) => k.trim()).join(",");
  for (const [k, v] of Object.entries(prefs)) {
    if (k.length > KV_MAX_KEY) throw new ProvisionError(`${k}: NVS keys are at most ${KV_MAX_KEY} characters`);
    if (Buffer.byteLength(v, "utf8") > KV_MAX_VALUE_BYTES) throw new ProvisionError(`${k}: at most ${KV_MAX_VALUE_BYTES} bytes`);
    if (v.includes("\u0000")) throw new ProvisionError(`${k}: no NUL character`);
  }
  // What the firmware will make of it: the same parser the device runs at boot.
  const back = linkSettingsFrom((k) => prefs[k], p.device);
  if (!back.ok) throw new ProvisionError(`${back.detail}: ${back.code}`);
  return { v: 1, device: p.device, namespace: NVS_NAMESPACE, prefs };
}

export function readArtefact(file: string): ProvisionArtefact {
  const a = JSON.parse(fs.readFileSync(file, "utf8")) as ProvisionArtefact;
  if (a?.v !== 1 || a.namespace !== NVS_NAMESPACE || typeof a.prefs !== "object" || typeof a.device !== "string")
    throw new ProvisionError(`${file}: not a provisioning artefact`);
  return a;
}

/** The CSV ESP-IDF's nvs_partition_gen.py turns into the NVS partition flashed at the factory. */
export function nvsCsv(a: ProvisionArtefact): string {
  const esc = (v: string): string => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = ["key,type,encoding,value", `${a.namespace},namespace,,`];
  for (const [k, v] of Object.entries(a.prefs)) lines.push(`${k},data,string,${esc(v)}`);
  return lines.join("\n") + "\n";
}

/** Adds (or replaces) the device's broker account in a Mosquitto password file (mosquitto_passwd -b). */
export function addBrokerAccount(passwdFile: string, a: ProvisionArtefact, bin = "mosquitto_passwd"): void {
  const args = fs.existsSync(passwdFile)
    ? ["-b", passwdFile, a.prefs.mqttUser, a.prefs.mqttPass]
    : ["-b", "-c", passwdFile, a.prefs.mqttUser, a.prefs.mqttPass];
  execFileSync(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
}
