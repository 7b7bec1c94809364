/**
 * npm run nats:accounts -- credentials.json > accounts.conf
 * credentials.json: { "relay": {"user","password"}, "tools": [{"user","password"}…],
 * "devices": {"<device id>": "<password or bcrypt hash>"}, "system"?: {"user","password"} }.
 * docs/deploy.md, "Scale-out tier: NATS JetStream".
 */
import { readFileSync } from "node:fs";
import { type NatsAccountsInput, natsAccounts } from "./accounts";

const file = process.argv[2];
if (file === undefined || file === "--help") {
  process.stderr.write("usage: npm run nats:accounts -- credentials.json > accounts.conf\n");
  process.exit(file === undefined ? 2 : 0);
}
try {
  process.stdout.write(natsAccounts(JSON.parse(readFileSync(file, "utf8")) as NatsAccountsInput));
} catch (e) {
  process.stderr.write(`nats:accounts: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
