// Runs a bundled script exposing TZX.digest() inside the real XS engine (xsnap) and prints its result.
// stdin: the bundle text. stdout: the digest text. A separate process because @agoric/xsnap needs SES.
import "@endo/init";
import { spawn } from "node:child_process";
import os from "node:os";
import fs from "node:fs";
import tmp from "tmp";

const { xsnap } = await import("@agoric/xsnap");
const bundle = fs.readFileSync(0, "utf8");
const worker = await xsnap({
  os: os.type(), spawn, fs: { ...fs.promises, tmpName: tmp.tmpName }, name: "dk-tz", stdout: "inherit", stderr: "inherit", meteringLimit: 0,
});
try {
  await worker.evaluate(bundle);
  await worker.evaluate(`globalThis.handleCommand = () => new TextEncoder().encode(TZX.digest()).buffer;`);
  const r = await worker.issueCommand(new Uint8Array(0));
  process.stdout.write(new TextDecoder().decode(r.reply));
} finally {
  await worker.close().catch(() => worker.terminate());
}
