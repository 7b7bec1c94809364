/** `dosekeeper status` and `dosekeeper history`: reading a dispenser, never changing it. */
import { parseDuration } from "./broker";
import { fetchHistory, listenHistory, readStatus } from "./read";
import { EXIT, Usage, device, duration, str, type Io, type Parsed, type Settings } from "./args";

export async function cmdStatus(p: Parsed, io: Io, s: Settings): Promise<number> {
  const dev = device(p);
  const st = await readStatus(dev, s.broker(), duration(p, "wait", 2000));
  if (!st.status && !st.tele) {
    io.err(`nothing retained for ${dev}\n`);
    return EXIT.TIMEOUT;
  }
  if (p.flags.get("json") === true) {
    io.out(JSON.stringify(st) + "\n");
    return EXIT.OK;
  }
  const t = st.tele ?? {};
  const cfg = t.cfg as { version?: number; hash?: string } | null | undefined;
  io.out(
    [
      `device   ${dev}`,
      `online   ${st.status ? String(st.status.online) + (st.status.erased ? " (erased)" : "") : "unknown"}`,
      `as of    ${t.t ?? "-"} (device time of the last telemetry)`,
      `firmware ${t.fw ?? "-"}${t.safe === true ? " — SAFE MODE after a crash loop: reminders run, doses cannot be confirmed by weight (docs/ota.md)" : ""}`,
      `config   ${cfg ? `version ${cfg.version} hash ${cfg.hash}` : "none"}`,
      `outbox   ${t.outbox ?? "-"} not yet acknowledged, ${t.dropped ?? "-"} dropped`,
      `faults   ${Array.isArray(t.faults) && t.faults.length ? t.faults.join(", ") : "none"}`,
      `stock    ${
        Array.isArray(t.stock) && t.stock.length
          ? (t.stock as { comp: string; doses: number | null; days: number | null }[])
              .map((x) =>
                x.doses === null
                  ? `${x.comp} (tray being read)`
                  : `${x.comp} ${x.doses} doses${x.days !== null ? ` (${x.days} days)` : ""}`,
              )
              .join(", ")
          : "-"
      }`,
      `weighing ${weighLine(t.weigh)}`,
    ].join("\n") + "\n",
  );
  return EXIT.OK;
}

/** One event as a table row: time, type, slot, then the other fields. */
/** Can the weight confirm each compartment's pills (tele `weigh`, docs/load-cells.md)? */
function weighLine(w: unknown): string {
  if (!Array.isArray(w) || w.length === 0) return "-";
  return (w as { comp: string; z: number | null; sure: boolean | null }[])
    .map((x) =>
      x.sure === null
        ? `${x.comp} (noise not measured yet)`
        : x.sure
          ? `${x.comp} confirms by weight (z ${x.z})`
          : `${x.comp} pills too light to confirm by weight at this rate (z ${x.z}): removals are reported uncertain`,
    )
    .join(", ");
}

export function eventLine(e: Record<string, unknown>): string {
  const data = (typeof e.data === "object" && e.data !== null ? e.data : {}) as Record<string, unknown>;
  const { slot, ...rest } = data;
  const extra = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const t = typeof e.t === "string" ? e.t : "(clock unset)";
  return `${t.padEnd(24)}  ${String(e.type).padEnd(22)}  ${typeof slot === "string" ? slot.padEnd(16) : "".padEnd(16)}  ${extra}`.trimEnd();
}

export async function cmdHistory(p: Parsed, io: Io, s: Settings): Promise<number> {
  const dev = device(p);
  const api = s.api();
  const sinceText = str(p, "since") ?? (api !== undefined ? "24h" : undefined);
  let since: number | undefined;
  if (sinceText !== undefined) {
    const d = parseDuration(sinceText);
    since = d !== undefined ? (await s.now()) - d : Date.parse(sinceText);
    if (!Number.isFinite(since)) throw new Usage("--since: ISO time or duration");
  }
  const limitText = str(p, "limit");
  const limit = limitText === undefined ? 200 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 5000) throw new Usage("--limit: 1..5000");
  const json = p.flags.get("json") === true;
  const print = (e: Record<string, unknown>): void => io.out((json ? JSON.stringify(e) : eventLine(e)) + "\n");
  if (api !== undefined) {
    const events = await fetchHistory(api.url, dev, { sinceMs: since, limit, token: api.token });
    for (const e of events) print(e);
    if (!json)
      io.err(
        `${events.length} event(s) of ${dev} since ${since !== undefined ? new Date(since).toISOString() : "the start"} (relay ${api.url})\n`,
      );
  } else {
    await listenHistory(dev, s.broker(), duration(p, "for", 10_000), since, print);
  }
  return EXIT.OK;
}
