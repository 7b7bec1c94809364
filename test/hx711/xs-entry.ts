// Bundled by xs.test.ts and evaluated inside xsnap: runs the scenario and reports it.
import { runScenario } from "./xs-scenario";

declare function issueCommand(message: ArrayBuffer): ArrayBuffer;

const json = JSON.stringify(runScenario());
const bytes = new Uint8Array(json.length);
for (let i = 0; i < json.length; i++) bytes[i] = json.charCodeAt(i) & 0x7f;
issueCommand(bytes.buffer);
