/** Console/file provider (the simulator default): one JSON line per notification. */
import { appendFileSync } from "node:fs";
import type { Notice, Person, Provider, RemoteChannel, SendResult } from "../types";

export interface ConsoleProviderOptions {
  /** Append lines to this file; default: write to `log` (stdout). */
  file?: string;
  log?: (line: string) => void;
  /** Print names and phone numbers too (off by default: logs are not a contact store). */
  showContacts?: boolean;
}

export function createConsoleProvider(o: ConsoleProviderOptions = {}): Provider {
  const log = o.log ?? ((l: string) => process.stdout.write(l + "\n"));
  return {
    name: "console",
    async send(ch: RemoteChannel, to: Person, n: Notice): Promise<SendResult> {
      const line = JSON.stringify({
        t: new Date().toISOString(),
        ch,
        to: to.id,
        ...(o.showContacts ? { name: to.name, phone: to.phone ?? null } : {}),
        key: n.key,
        device: n.device,
        kind: n.kind,
        title: n.title,
        body: n.body,
      });
      if (o.file !== undefined) appendFileSync(o.file, line + "\n");
      else log(line);
      return { ok: true };
    },
  };
}
