import { createHash, createPrivateKey, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateKeyPair, kidOf, publicKeyB64FromPrivatePem, signEnvelope } from "../../../../cloud/signing";
import { canonicalJson } from "../../../../firmware/core/config/canonical";
import {
  MAX_PAYLOAD_B64_CHARS,
  MAX_PAYLOAD_BYTES,
  SIGNING_PREFIX,
  keyIdOf,
  openEnvelope,
  signedMessageBytes,
  type TrustedKey,
} from "../../../../firmware/core/crypto/signed";

const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

function fixture() {
  const kp = generateKeyPair();
  const trusted: TrustedKey[] = [{ kid: kp.kid, publicKey: b64(kp.publicKeyB64) }];
  return { kp, trusted };
}

/** Sign an arbitrary payload string directly (to build envelopes signEnvelope would never produce). */
function rawSign(payload: string, pem: string): string {
  return sign(null, Buffer.from(SIGNING_PREFIX + payload, "utf8"), createPrivateKey(pem)).toString("base64");
}

describe("cloud/signing key generation", () => {
  it("kid is the first 8 bytes of sha256(raw public key), same on both sides", () => {
    const kp = generateKeyPair();
    const raw = b64(kp.publicKeyB64);
    expect(raw.length).toBe(32);
    expect(kp.kid).toMatch(/^[0-9a-f]{16}$/);
    expect(kp.kid).toBe(createHash("sha256").update(raw).digest("hex").slice(0, 16));
    expect(keyIdOf(raw)).toBe(kp.kid);
    expect(kidOf(raw)).toBe(kp.kid);
    expect(kp.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(publicKeyB64FromPrivatePem(kp.privateKeyPem)).toBe(kp.publicKeyB64);
    expect(generateKeyPair().kid).not.toBe(kp.kid);
  });
});

describe("envelope round trip", () => {
  it("signEnvelope -> openEnvelope returns the body, canonical text and kid", () => {
    const { kp, trusted } = fixture();
    const body = { z: 1, a: [true, null, "é €💊"], m: { y: 2.5, b: "x" }, deviceId: "dk-0001" };
    const env = signEnvelope(body, kp.privateKeyPem, kp.kid);
    expect(env.v).toBe(1);
    expect(env.kid).toBe(kp.kid);
    expect(Buffer.from(env.payload, "base64").toString("utf8")).toBe(canonicalJson(body));
    const r = openEnvelope(JSON.parse(JSON.stringify(env)), trusted);
    expect(r).toEqual({ ok: true, kid: kp.kid, body, bodyText: canonicalJson(body) });
  });

  it("the signature covers exactly UTF-8('dk1\\n' + payload)", () => {
    const { kp, trusted } = fixture();
    const env = signEnvelope({ cmd: "ring" }, kp.privateKeyPem, kp.kid);
    expect(Buffer.from(signedMessageBytes(env.payload)).toString("utf8")).toBe("dk1\n" + env.payload);
    // A signature over the bare payload (no domain prefix) is refused.
    const bare = sign(null, Buffer.from(env.payload), createPrivateKey(kp.privateKeyPem)).toString("base64");
    expect(openEnvelope({ ...env, sig: bare }, trusted)).toMatchObject({ ok: false, code: "SIG_BAD" });
  });

  it("picks the right key among up to 4 trusted keys (rotation)", () => {
    const pairs = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const trusted = pairs.map((p) => ({ kid: p.kid, publicKey: b64(p.publicKeyB64) }));
    for (const p of pairs) {
      const r = openEnvelope(signEnvelope({ n: p.kid }, p.privateKeyPem, p.kid), trusted);
      expect(r).toMatchObject({ ok: true, kid: p.kid, body: { n: p.kid } });
    }
  });

  it("accepts a payload of exactly 16 KB", () => {
    const { kp, trusted } = fixture();
    const text = JSON.stringify("a".repeat(MAX_PAYLOAD_BYTES - 2));
    const payload = Buffer.from(text).toString("base64");
    expect(payload.length).toBe(MAX_PAYLOAD_B64_CHARS);
    const r = openEnvelope({ v: 1, kid: kp.kid, payload, sig: rawSign(payload, kp.privateKeyPem) }, trusted);
    expect(r.ok).toBe(true);
  });
});

describe("refusal codes", () => {
  const { kp, trusted } = fixture();
  const good = signEnvelope({ version: 3, cmd: "reload" }, kp.privateKeyPem, kp.kid);
  const code = (input: unknown, keys: ReadonlyArray<TrustedKey> = trusted) => {
    const r = openEnvelope(input, keys);
    expect(typeof (r as { message?: unknown }).message === "string" || r.ok).toBe(true);
    return r.ok ? "OK" : r.code;
  };

  it("control: the untouched envelope opens", () => {
    expect(code(good)).toBe("OK");
  });

  it("SIG_MALFORMED: not an object, wrong version, bad or missing fields, bad sig encoding", () => {
    const cases: unknown[] = [
      undefined,
      null,
      42,
      "text",
      JSON.stringify(good),
      [good],
      { ...good, v: 2 },
      { ...good, v: "1" },
      { kid: good.kid, payload: good.payload, sig: good.sig },
      { ...good, kid: "" },
      { ...good, kid: 7 },
      { ...good, kid: "a b" },
      { ...good, kid: "k".repeat(65) },
      { ...good, payload: 5 },
      { v: 1, kid: good.kid, sig: good.sig },
      { ...good, sig: undefined },
      { ...good, sig: "" },
      { ...good, sig: good.sig.slice(0, -4) },
      { ...good, sig: good.sig.replace(/=+$/, "") },
      { ...good, sig: "!" + good.sig.slice(1) },
      { ...good, sig: Buffer.alloc(63).toString("base64") },
      { ...good, sig: Buffer.alloc(65).toString("base64") },
      { ...good, extra: true },
    ];
    for (const c of cases) expect(code(c), JSON.stringify(c)?.slice(0, 80)).toBe("SIG_MALFORMED");
  });

  it("SIG_UNKNOWN_KEY: kid not trusted, empty key list, trusted entry with a bad key", () => {
    const other = generateKeyPair();
    expect(code({ ...good, kid: other.kid })).toBe("SIG_UNKNOWN_KEY");
    expect(code(good, [])).toBe("SIG_UNKNOWN_KEY");
    expect(code(good, [{ kid: kp.kid, publicKey: new Uint8Array(31) }])).toBe("SIG_UNKNOWN_KEY");
  });

  it("SIG_BAD: tampered payload, tampered signature, wrong key under a trusted kid", () => {
    const tampered = signEnvelope({ version: 4, cmd: "reload" }, kp.privateKeyPem, kp.kid);
    expect(code({ ...good, payload: tampered.payload })).toBe("SIG_BAD");
    const sig = Buffer.from(good.sig, "base64");
    sig[10] ^= 4;
    expect(code({ ...good, sig: sig.toString("base64") })).toBe("SIG_BAD");
    const other = generateKeyPair();
    expect(code(good, [{ kid: kp.kid, publicKey: b64(other.publicKeyB64) }])).toBe("SIG_BAD");
    // Signed by another key but claiming this kid.
    expect(code(signEnvelope({ version: 3, cmd: "reload" }, other.privateKeyPem, kp.kid))).toBe("SIG_BAD");
  });

  it("SIG_PAYLOAD: over 16 KB (refused before verification), bad base64, bad UTF-8, bad JSON", () => {
    // 16,385 bytes: same base64 length as 16,384 (+ padding), refused after decoding
    const over1 = Buffer.from(JSON.stringify("a".repeat(MAX_PAYLOAD_BYTES - 1))).toString("base64");
    expect(code({ v: 1, kid: kp.kid, payload: over1, sig: rawSign(over1, kp.privateKeyPem) })).toBe("SIG_PAYLOAD");
    // clearly too big: refused before key lookup and signature check
    const big = Buffer.from(JSON.stringify("a".repeat(MAX_PAYLOAD_BYTES + 100))).toString("base64");
    expect(code({ v: 1, kid: kp.kid, payload: big, sig: rawSign(big, kp.privateKeyPem) })).toBe("SIG_PAYLOAD");
    expect(code({ v: 1, kid: "unknown", payload: big, sig: "x" })).toBe("SIG_PAYLOAD");
    for (const payload of [
      "not base64!", // signed, but not base64
      Buffer.from([0x7b, 0xff, 0x7d]).toString("base64"), // invalid UTF-8
      Buffer.from([0xed, 0xa0, 0x80]).toString("base64"), // encoded surrogate
      Buffer.from('{"a":1').toString("base64"), // truncated JSON
      Buffer.from("").toString("base64"), // empty
    ]) {
      expect(code({ v: 1, kid: kp.kid, payload, sig: rawSign(payload, kp.privateKeyPem) }), payload).toBe("SIG_PAYLOAD");
    }
  });

  it("unsigned garbage payloads are SIG_BAD, not decoded", () => {
    const payload = Buffer.from('{"cmd":"unlock"}').toString("base64");
    expect(code({ ...good, payload })).toBe("SIG_BAD");
  });

  it("signEnvelope refuses non-JSON bodies and non-Ed25519 keys", () => {
    expect(() => signEnvelope({ a: NaN }, kp.privateKeyPem, kp.kid)).toThrow(RangeError);
    expect(() => signEnvelope(undefined, kp.privateKeyPem, kp.kid)).toThrow(RangeError);
    expect(() => signEnvelope({}, "not a pem", kp.kid)).toThrow();
  });
});
