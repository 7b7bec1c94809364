/**
 * The device's provisioning settings (docs/security.md, "Provisioning"): the "dk-net" NVS
 * namespace that `dosekeeper provision` writes and the firmware reads at boot. `get` reads one
 * preference string. Every value is a string of at most KV_MAX_VALUE_BYTES (4000) bytes.
 *
 * | key | meaning | default |
 * |---|---|---|
 * | ssid, password | Wi-Fi network and passphrase (read by firmware/main.ts) | — (offline) |
 * | mqttHost | broker host name or IP | — (link disabled) |
 * | mqttPort | decimal port | 8883 with TLS, else 1883 |
 * | mqttTls | "1" TLS, "0" plain TCP | "1" |
 * | mqttUser | broker user name | the device id |
 * | mqttPass | broker password | "" |
 * | mqttCa | standard base64 of the broker CA certificate (DER, ≤ 2,900 bytes) the TLS session trusts | — (the SDK's built-in CA list) |
 * | trustKeys | comma-separated standard base64 raw 32-byte Ed25519 public keys (≤ 4) | — (link disabled) |
 *
 * Key ids are computed from the keys (keyIdOf), never read from a label. XS-clean.
 */
import type { BrokerSettings } from "./link";
import { keyIdOf, MAX_TRUSTED_KEYS, type TrustedKey } from "../crypto/signed";
import { base64Decode } from "../crypto/base64";

export const LINK_PREF_KEYS = Object.freeze(["mqttHost", "mqttPort", "mqttTls", "mqttUser", "mqttPass", "mqttCa", "trustKeys"] as const);

/** Every provisioning preference decommissioning erases (Wi-Fi and the link's). */
export const NET_PREF_KEYS: readonly string[] = Object.freeze(["ssid", "password", ...LINK_PREF_KEYS]);

/** Largest CA certificate (DER) that fits one NVS value once base64-encoded. */
export const CA_MAX_DER_BYTES = 2900;

export type LinkSettingsResult =
  | { ok: true; broker: BrokerSettings; trustedKeys: TrustedKey[] }
  | { ok: false; code: string; detail: string };

export function parseTrustedKeys(text: string): TrustedKey[] | undefined {
  const out: TrustedKey[] = [];
  const parts = text.split(",");
  if (parts.length > MAX_TRUSTED_KEYS) return undefined;
  for (const p of parts) {
    const raw = base64Decode(p.trim());
    if (raw === undefined || raw.length !== 32) return undefined;
    out.push({ kid: keyIdOf(raw), publicKey: raw });
  }
  return out;
}

/** A DER certificate: one SEQUENCE (0x30) whose length covers exactly the bytes given. */
export function parseCaCertificate(text: string): Uint8Array | undefined {
  const der = base64Decode(text.trim());
  if (der === undefined || der.length < 64 || der.length > CA_MAX_DER_BYTES || der[0] !== 0x30) return undefined;
  let len = der[1];
  let head = 2;
  if (len === 0x82) {
    len = (der[2] << 8) | der[3];
    head = 4;
  } else if (len === 0x81) {
    len = der[2];
    head = 3;
  } else if (len > 0x7f) return undefined;
  return head + len === der.length ? der : undefined;
}

export function linkSettingsFrom(get: (key: string) => string | undefined, deviceId: string): LinkSettingsResult {
  const host = get("mqttHost");
  if (host === undefined || host.length === 0) return { ok: false, code: "LINK_UNPROVISIONED", detail: "mqttHost not set" };
  const tls = get("mqttTls") !== "0";
  const portText = get("mqttPort");
  const port = portText === undefined || portText === "" ? (tls ? 8883 : 1883) : Number(portText);
  if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) return { ok: false, code: "LINK_BAD_SETTING", detail: "mqttPort" };
  const keysText = get("trustKeys");
  if (keysText === undefined || keysText.length === 0) return { ok: false, code: "LINK_UNPROVISIONED", detail: "trustKeys not set" };
  const trustedKeys = parseTrustedKeys(keysText);
  if (trustedKeys === undefined) return { ok: false, code: "LINK_BAD_SETTING", detail: "trustKeys" };
  const caText = get("mqttCa");
  let ca: Uint8Array | undefined;
  if (caText !== undefined && caText.length > 0) {
    ca = parseCaCertificate(caText);
    if (ca === undefined) return { ok: false, code: "LINK_BAD_SETTING", detail: "mqttCa" };
  }
  return {
    ok: true,
    broker: {
      host,
      port,
      tls,
      username: get("mqttUser") ?? deviceId,
      password: get("mqttPass") ?? "",
      ...(ca !== undefined ? { ca } : {}),
    },
    trustedKeys,
  };
}
