// Evaluate the JavaScript given on stdin in an XS (xsnap) worker; print what it reports
// with issueCommand(). Run as a child process: @endo/init locks down the process.
import "@endo/init";
import { xsnap } from "@agoric/xsnap";
import { spawn } from "node:child_process";
import os from "node:os";
import fs from "node:fs";
import fsp from "node:fs/promises";
import tmp from "tmp";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const code = Buffer.concat(chunks).toString("utf8");
let report = "";
const worker = await xsnap({
  os: os.type(),
  spawn,
  fs: { ...fsp, ...fs, tmpName: tmp.tmpName },
  meteringLimit: 0,
  stderr: "inherit",
  handleCommand: async (m) => {
    report = new TextDecoder().decode(m);
    return new Uint8Array(0);
  },
});
try {
  await worker.evaluate(code);
} finally {
  await worker.close();
}
process.stdout.write(report);
