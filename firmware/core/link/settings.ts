/**
 * Link settings from the platform's provisioning preferences (docs/protocol.md, "Device
 * provisioning"). `get` reads one preference string (e.g. the "dk-net" NVS namespace).
 *
 * | key | meaning | default |
 * |---|---|---|
 * | mqttHost | broker host name or IP | — (link disabled) |
 * | mqttPort | decimal port | 8883 with TLS, else 1883 |
 * | mqttTls | "1" TLS, "0" plain TCP | "1" |
 * | mqttUser | broker user name | the device id |
 * | mqttPass | broker password | "" |
 * | trustKeys | comma-separated standard base64 raw 32-byte Ed25519 public keys (≤ 4) | — (link disabled) |
 *
 * Key ids are computed from the keys (keyIdOf), never read from a label. XS-clean.
 */
import type { BrokerSettings } from "./link";
import { keyIdOf, MAX_TRUSTED_KEYS, type TrustedKey } from "../crypto/signed";
import { base64Decode } from "../crypto/base64";

export const LINK_PREF_KEYS = Object.freeze(["mqttHost", "mqttPort", "mqttTls", "mqttUser", "mqttPass", "trustKeys"] as const);

/** Every provisioning preference decommissioning erases (Wi-Fi and the link's). */
export const NET_PREF_KEYS: readonly string[] = Object.freeze(["ssid", "password", ...LINK_PREF_KEYS]);

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
  return {
    ok: true,
    broker: { host, port, tls, username: get("mqttUser") ?? deviceId, password: get("mqttPass") ?? "" },
    trustedKeys,
  };
}
