// Bundled by xs.test.ts and run inside the XS engine (xsnap, via host-sim/xs): exercises the
// firmware crypto exactly as the device would load it. No Node APIs here.
import { base64Decode, base64Encode } from "../../../../firmware/core/crypto/base64";
import { verify } from "../../../../firmware/core/crypto/ed25519";
import { bytesToHex, hexToBytes } from "../../../../firmware/core/crypto/hex";
import { sha256 } from "../../../../firmware/core/crypto/sha256";
import { sha512 } from "../../../../firmware/core/crypto/sha512";
import { utf8Decode, utf8Encode } from "../../../../firmware/core/crypto/utf8";
import { openEnvelope } from "../../../../firmware/core/crypto/signed";

export interface XsInput {
  vectors: { pub: string; msg: string; sig: string }[];
  hashInputs: string[];
  envelope: { env: unknown; kid: string; pub: string };
  timing: { pub: string; msg: string; sig: string; runs: number };
}

export interface XsOutput {
  verdicts: boolean[];
  sha256: string[];
  sha512: string[];
  base64RoundTrip: boolean;
  utf8: string | undefined;
  envelope: unknown;
  verifyMs: number[];
}

const h = (s: string): Uint8Array => hexToBytes(s) as Uint8Array;

export function run(input: XsInput): XsOutput {
  const verdicts = input.vectors.map((v) => verify(h(v.pub), h(v.msg), h(v.sig)));
  const sha256s = input.hashInputs.map((x) => bytesToHex(sha256(h(x))));
  const sha512s = input.hashInputs.map((x) => bytesToHex(sha512(h(x))));
  let b64ok = true;
  for (const x of input.hashInputs) {
    const d = base64Decode(base64Encode(h(x)));
    if (d === undefined || bytesToHex(d) !== x) b64ok = false;
  }
  const text = "ça coûte 5 € 💊";
  const utf8 = utf8Decode(utf8Encode(text));
  const envelope = openEnvelope(input.envelope.env, [{ kid: input.envelope.kid, publicKey: h(input.envelope.pub) }]);
  const t = input.timing;
  const pub = h(t.pub),
    msg = h(t.msg),
    sig = h(t.sig);
  const verifyMs: number[] = [];
  for (let i = 0; i < t.runs; i++) {
    const t0 = performance.now();
    if (!verify(pub, msg, sig)) verifyMs.push(-1);
    else verifyMs.push(performance.now() - t0);
  }
  return { verdicts, sha256: sha256s, sha512: sha512s, base64RoundTrip: b64ok, utf8, envelope, verifyMs };
}

/** The entry called inside XS: JSON XsInput in, JSON XsOutput out. */
export function runJson(input: string): string {
  return JSON.stringify(run(JSON.parse(input) as XsInput));
}
