// Runs the firmware crypto inside the real XS engine (@agoric/xsnap) and checks
// it gives the same verdicts as under Node. Skipped if the xsnap binary is absent.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { callEntryInXs } from "../../../../host-sim/xs/run-in-xs";
import { generateKeyPair, signEnvelope } from "../../../../cloud/signing";
import { verify } from "../../../../firmware/core/crypto/ed25519";
import { L, P, RFC8032, SMALL_ORDER_POINTS, bigToLe, fromHex, leToBig, newKey, nodeSign, nodeVerdict, toHex } from "./helpers";
import { xsnapAvailable } from "../../../support/xs";
import type { XsInput, XsOutput } from "./xs-entry";

const haveXs = xsnapAvailable("test/firmware/core/crypto/xs.test.ts");

type Vec = { pub: string; msg: string; sig: string; expect: boolean; what: string };

function vectors(): Vec[] {
  const out: Vec[] = RFC8032.map((v) => ({ pub: v.pub, msg: v.msg, sig: v.sig, expect: true, what: v.name }));
  for (let i = 0; i < 5; i++) {
    const { priv, pub } = newKey();
    const msg = new Uint8Array(randomBytes(i * 200));
    const sig = nodeSign(priv, msg);
    out.push({ pub: toHex(pub), msg: toHex(msg), sig: toHex(sig), expect: true, what: `node-signed ${msg.length} B` });
    const m2 = msg.length > 0 ? msg.slice() : new Uint8Array([0]);
    m2[0] ^= 1;
    out.push({ pub: toHex(pub), msg: toHex(m2), sig: toHex(sig), expect: false, what: "message bit flip" });
    const s2 = sig.slice();
    s2[40 + i] ^= 0x20;
    out.push({ pub: toHex(pub), msg: toHex(msg), sig: toHex(s2), expect: false, what: "signature bit flip" });
  }
  const v = RFC8032[1];
  const sPlusL = fromHex(v.sig);
  sPlusL.set(bigToLe(leToBig(sPlusL.subarray(32)) + L, 32), 32);
  out.push({ pub: v.pub, msg: v.msg, sig: toHex(sPlusL), expect: false, what: "S + L" });
  const flippedKey = fromHex(v.pub);
  flippedKey[3] ^= 8;
  out.push({ pub: toHex(flippedKey), msg: v.msg, sig: v.sig, expect: false, what: "key bit flip" });
  // small-order forgery OpenSSL accepts: A = identity, R = identity, S = 0
  const forged = new Uint8Array(64);
  forged.set(fromHex(SMALL_ORDER_POINTS[0]));
  expect(nodeVerdict(fromHex(SMALL_ORDER_POINTS[0]), new Uint8Array([9]), forged)).toBe(true);
  out.push({ pub: SMALL_ORDER_POINTS[0], msg: "09", sig: toHex(forged), expect: false, what: "small-order forgery" });
  // non-canonical identity key (y = p + 1)
  out.push({ pub: toHex(bigToLe(P + 1n, 32)), msg: "09", sig: toHex(forged), expect: false, what: "non-canonical key" });
  out.push({ pub: v.pub, msg: v.msg, sig: v.sig.slice(0, 126), expect: false, what: "63-byte signature" });
  return out;
}

describe("firmware crypto inside XS (xsnap)", () => {
  it.skipIf(!haveXs)(
    "same verdicts, digests and envelope result as under Node; verify timing",
    async () => {
      const vecs = vectors();
      expect(vecs.length).toBeGreaterThanOrEqual(20);
      for (const x of vecs) expect(verify(fromHex(x.pub), fromHex(x.msg), fromHex(x.sig)), x.what).toBe(x.expect);

      const hashInputs = [0, 1, 55, 56, 63, 64, 111, 112, 127, 128, 1000].map((n) => toHex(new Uint8Array(randomBytes(n))));
      const kp = generateKeyPair();
      const body = { deviceId: "dk-xs", version: 7, note: "déjà 💊" };
      const env = signEnvelope(body, kp.privateKeyPem, kp.kid);
      const tk = newKey();
      const tmsg = new Uint8Array(randomBytes(2048));
      const input: XsInput = {
        vectors: vecs.map(({ pub, msg, sig }) => ({ pub, msg, sig })),
        hashInputs,
        envelope: { env, kid: kp.kid, pub: Buffer.from(kp.publicKeyB64, "base64").toString("hex") },
        timing: { pub: toHex(tk.pub), msg: toHex(tmsg), sig: toHex(nodeSign(tk.priv, tmsg)), runs: 5 },
      };

      const out = JSON.parse(
        await callEntryInXs({ file: "test/firmware/core/crypto/xs-entry.ts" }, "DKX", "runJson", JSON.stringify(input), 60_000),
      ) as XsOutput;

      expect(out.verdicts).toEqual(vecs.map((x) => x.expect));
      expect(out.sha256).toEqual(hashInputs.map((x) => createHash("sha256").update(Buffer.from(x, "hex")).digest("hex")));
      expect(out.sha512).toEqual(hashInputs.map((x) => createHash("sha512").update(Buffer.from(x, "hex")).digest("hex")));
      expect(out.base64RoundTrip).toBe(true);
      expect(out.utf8).toBe("ça coûte 5 € 💊");
      expect(out.envelope).toEqual({ ok: true, kid: kp.kid, body, bodyText: Buffer.from(env.payload, "base64").toString("utf8") });

      expect(out.verifyMs.every((t) => t >= 0)).toBe(true); // every timed verify returned true
      const avg = out.verifyMs.reduce((a, b) => a + b, 0) / out.verifyMs.length;
      // eslint-disable-next-line no-console
      console.log(
        `XS (xsnap) Ed25519 verify, 2 KB message: ${out.verifyMs.map((t) => t.toFixed(1)).join(", ")} ms (avg ${avg.toFixed(1)} ms)`,
      );
      expect(avg).toBeLessThan(2000);
    },
    120_000,
  );
});
