/** Regenerates the expected timelines: npm run scenarios:update (review the diff before committing). */
import fs from "node:fs";
import { runNode, suite } from "./suite";

for (const e of suite()) {
  fs.writeFileSync(e.expectedFile, runNode(e.text));
  process.stdout.write(`updated ${e.expectedFile}\n`);
}
