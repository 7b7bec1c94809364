/**
 * Trusted pharmacist keys (firmware/core/link/trust.ts): add, revoke, rotate in one command,
 * never none, bounded, persisted across boots, provisioned list until the first change.
 */
import { describe, expect, it } from "vitest";
import { KvEmulator } from "../../../../host-sim/kernel/hw/kv-emulator";
import { Store } from "../../../../firmware/core/log/store";
import { TrustStore } from "../../../../firmware/core/link/trust";
import { keyIdOf, MAX_TRUSTED_KEYS, type TrustedKey } from "../../../../firmware/core/crypto/signed";
import { generateKeyPair } from "../../../../cloud/signing";

function key(): TrustedKey & { b64: string } {
  const k = generateKeyPair();
  const raw = new Uint8Array(Buffer.from(k.publicKeyB64, "base64"));
  return { kid: keyIdOf(raw), publicKey: raw, b64: k.publicKeyB64 };
}

describe("TrustStore", () => {
  const a = key();
  const b = key();

  it("starts from the provisioned keys and keeps them until a change", () => {
    const kv = new KvEmulator();
    const t = new TrustStore(new Store(kv), [a]);
    expect(t.kids()).toEqual([a.kid]);
    expect(new TrustStore(new Store(kv), [b]).kids()).toEqual([b.kid]); // nothing saved yet: the provisioned list wins
  });

  it("adds, then revokes the first, and the list survives a reboot (over a different provisioned list)", () => {
    const kv = new KvEmulator();
    const t = new TrustStore(new Store(kv), [a]);
    expect(t.apply({ add: b.b64 })).toMatchObject({ result: "OK", added: b.kid, keys: [a.kid, b.kid] });
    expect(t.apply({ revoke: a.kid })).toMatchObject({ result: "OK", revoked: a.kid, keys: [b.kid] });
    const again = new TrustStore(new Store(kv), [a]);
    expect(again.kids()).toEqual([b.kid]);
    expect(again.keys[0].publicKey).toEqual(b.publicKey);
  });

  it("never ends with no key; refusals change nothing", () => {
    const t = new TrustStore(new Store(new KvEmulator()), [a]);
    expect(t.apply({ revoke: a.kid }).result).toBe("CMD_LAST_KEY");
    expect(t.apply({ revoke: "0000000000000000" }).result).toBe("CMD_KEY_UNKNOWN");
    expect(t.apply({}).result).toBe("CMD_ARGS");
    expect(t.apply({ add: "not base64!" }).result).toBe("CMD_ARGS");
    expect(t.apply({ add: Buffer.alloc(31).toString("base64") }).result).toBe("CMD_ARGS");
    expect(t.apply({ revoke: 7 }).result).toBe("CMD_ARGS");
    expect(t.kids()).toEqual([a.kid]);
  });

  it("rotates a key in one command (revoke first), and a full list in one step", () => {
    const t = new TrustStore(new Store(new KvEmulator()), [a]);
    expect(t.apply({ add: b.b64, revoke: a.kid })).toMatchObject({ result: "OK", keys: [b.kid] });
    const more = [key(), key(), key()];
    for (const k of more) expect(t.apply({ add: k.b64 }).result).toBe("OK");
    expect(t.kids().length).toBe(MAX_TRUSTED_KEYS);
    expect(t.apply({ add: key().b64 }).result).toBe("CMD_KEYS_FULL");
    const c = key();
    expect(t.apply({ add: c.b64, revoke: more[0].kid })).toMatchObject({ result: "OK" });
    expect(t.kids()).toEqual([b.kid, more[1].kid, more[2].kid, c.kid]);
    expect(t.apply({ add: c.b64 })).toMatchObject({ result: "OK", keys: t.kids() }); // already trusted: no change
  });
});
