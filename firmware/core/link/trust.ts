/**
 * The pharmacist keys a device trusts (docs/security.md, "Key rotation"). Provisioning sets the
 * first list (NVS "trustKeys"); after that, only a `keys` command signed by a key trusted now
 * changes it: `{ add: "<base64 raw Ed25519 public key>" }`, `{ revoke: "<kid>" }`, or both in one
 * command (the revoke applies first, so a full list rotates in one step). The list is persisted
 * as one store record ("lktrust") and wins over the provisioned one from then on.
 *
 * Rules (each refusal is a coded result, the list unchanged):
 *   CMD_ARGS       neither add nor revoke, or a malformed key / kid
 *   CMD_KEY_UNKNOWN revoke of a kid that is not trusted
 *   CMD_LAST_KEY   the result would trust no key at all (a device never ends with none)
 *   CMD_KEYS_FULL  more than MAX_TRUSTED_KEYS keys
 * Adding a key already trusted is OK and changes nothing. XS-clean.
 */
import type { Store } from "../log/store";
import { keyIdOf, MAX_TRUSTED_KEYS, type TrustedKey } from "../crypto/signed";
import { base64Decode, base64Encode } from "../crypto/base64";

const RECORD = "lktrust";
const KID_MAX = 64;

export interface TrustChange {
  /** "OK" or the refusal code. */
  readonly result: string;
  readonly added?: string;
  readonly revoked?: string;
  /** Key ids trusted after the change. */
  readonly keys: readonly string[];
}

export class TrustStore {
  private list: TrustedKey[];

  constructor(
    private readonly store: Store,
    provisioned: readonly TrustedKey[],
  ) {
    this.list = provisioned.slice();
    const saved = store.load<unknown>(RECORD);
    if (saved !== null && typeof saved === "object" && Array.isArray((saved as { keys?: unknown }).keys)) {
      const keys: TrustedKey[] = [];
      for (const k of (saved as { keys: unknown[] }).keys) {
        const raw = typeof k === "string" ? base64Decode(k) : undefined;
        if (raw !== undefined && raw.length === 32 && keys.length < MAX_TRUSTED_KEYS) keys.push({ kid: keyIdOf(raw), publicKey: raw });
      }
      if (keys.length > 0) this.list = keys;
    }
  }

  get keys(): readonly TrustedKey[] {
    return this.list;
  }

  kids(): string[] {
    const out: string[] = [];
    for (const k of this.list) out.push(k.kid);
    return out;
  }

  /** Apply a `keys` command's arguments; persisted before it returns "OK". */
  apply(args: Record<string, unknown>): TrustChange {
    const refuse = (result: string): TrustChange => ({ result, keys: this.kids() });
    const add = args.add;
    const revoke = args.revoke;
    if (add === undefined && revoke === undefined) return refuse("CMD_ARGS");
    let raw: Uint8Array | undefined;
    if (add !== undefined) {
      raw = typeof add === "string" && add.length <= 64 ? base64Decode(add) : undefined;
      if (raw === undefined || raw.length !== 32) return refuse("CMD_ARGS");
    }
    if (revoke !== undefined && (typeof revoke !== "string" || revoke.length === 0 || revoke.length > KID_MAX)) return refuse("CMD_ARGS");
    const next: TrustedKey[] = [];
    let found = false;
    for (const k of this.list) {
      if (k.kid === revoke) found = true;
      else next.push(k);
    }
    if (revoke !== undefined && !found) return refuse("CMD_KEY_UNKNOWN");
    let addedKid: string | undefined;
    if (raw !== undefined) {
      addedKid = keyIdOf(raw);
      let present = false;
      for (const k of next) if (k.kid === addedKid) present = true;
      if (!present) next.push({ kid: addedKid, publicKey: raw });
    }
    if (next.length === 0) return refuse("CMD_LAST_KEY");
    if (next.length > MAX_TRUSTED_KEYS) return refuse("CMD_KEYS_FULL");
    const saved: string[] = [];
    for (const k of next) saved.push(base64Encode(k.publicKey));
    this.store.save(RECORD, { v: 1, keys: saved });
    this.list = next;
    return {
      result: "OK",
      ...(addedKid !== undefined ? { added: addedKid } : {}),
      ...(typeof revoke === "string" ? { revoked: revoke } : {}),
      keys: this.kids(),
    };
  }
}
