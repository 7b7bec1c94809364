// Runs one script inside the XS engine (xsnap) and prints, as one JSON line on
// stdout, the bytes the script sent back with issueCommand() (decoded as UTF-8).
// Usage: node test/crypto/xsnap-run.mjs <script.js>
// Kept out of the vitest process because @endo/init locks down the realm.
import "@endo/init";
import os from "node:os";
import fs from "node:fs";
import { spawn } from "node:child_process";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: xsnap-run.mjs <script.js>\n");
  process.exit(2);
}
const code = fs.readFileSync(file, "utf8");
const { xsnap } = await import("@agoric/xsnap");
const tmp = (await import("tmp")).default;
const replies = [];
const worker = await xsnap({
  os: os.type(),
  spawn,
  fs: { ...fs.promises, tmpName: tmp.tmpName },
  name: "dk-crypto",
  stdout: "inherit",
  stderr: "inherit",
  handleCommand: async (msg) => {
    replies.push(new TextDecoder().decode(msg));
    return new Uint8Array();
  },
});
try {
  await worker.evaluate(code);
} finally {
  await worker.close();
}
process.stdout.write(JSON.stringify(replies) + "\n");
