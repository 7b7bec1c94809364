/**
 * `dosekeeper refill`: tell a dispenser how many doses a compartment holds once refilled; the
 * device verifies by weight (core/dose/stock.ts) at once if the tray already holds them, else at
 * the next refill it sees (within 4 h). The tool listens to the device's events for the verdict.
 */
import { connectBroker, sendCommand } from "./lib";
import { EXIT, Usage, device, duration, str, type Io, type Parsed, type Settings } from "./args";

export async function cmdRefill(p: Parsed, io: Io, s: Settings): Promise<number> {
  const dev = device(p);
  const comp = str(p, "comp", true);
  if (!/^[a-z0-9_-]{1,12}$/.test(comp)) throw new Usage("--comp: a compartment id of the config");
  const dosesText = str(p, "doses", true);
  const doses = Number(dosesText);
  if (!Number.isInteger(doses) || doses < 0 || doses > 1000) throw new Usage("--doses: whole doses, 0..1000");
  const waitMs = p.flags.has("wait") ? duration(p, "wait", 0) : 0;
  const broker = s.broker();
  // Listen before sending: a tray that already holds the doses is verified at once.
  const c = await connectBroker(broker);
  let verdict: Record<string, unknown> | undefined;
  let expected: Record<string, unknown> | undefined;
  let wake: () => void = () => undefined;
  c.on("message", (_t, payload) => {
    try {
      const e = JSON.parse(payload.toString("utf8")) as { type?: unknown; data?: Record<string, unknown> };
      if (e.data?.comp !== comp) return;
      if (e.type === "refill.verified" || e.type === "refill.mismatch") verdict = { type: e.type, ...e.data };
      else if (e.type === "refill.expected") expected = e.data;
      else return;
      wake();
    } catch {
      // not an event
    }
  });
  try {
    await c.subscribeAsync(`dk/${dev}/evt`, { qos: 1 });
    const k = s.key();
    const t = await s.now();
    const res = await sendCommand({
      device: dev,
      name: "refill",
      args: { comp, doses },
      key: k,
      broker,
      timeoutMs: duration(p, "timeout", 30_000),
      expiresMs: s.simulated ? 3_600_000 : 600_000,
      audit: s.audit(),
      now: () => t,
    });
    if (res.outcome === "refused") {
      io.err(`refill refused by ${dev}: ${res.code}\n`);
      return EXIT.REFUSED;
    }
    if (res.outcome === "timeout") {
      io.err(`no answer from ${dev} within the timeout (command id ${res.id}; it expires on its own)\n`);
      return EXIT.TIMEOUT;
    }
    const until = Date.now() + Math.max(waitMs, 1500);
    while (verdict === undefined && (expected === undefined || waitMs > 0) && Date.now() < until) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.min(500, Math.max(0, until - Date.now())));
      });
    }
    const v = verdict as Record<string, unknown> | undefined;
    if (v !== undefined) {
      const ok = v.type === "refill.verified";
      (ok ? io.out : io.err)(
        ok
          ? `refill verified on ${dev}: ${comp} holds ${String(v.doses)} doses, as expected\n`
          : `refill MISMATCH on ${dev}: ${comp} holds ${String(v.doses)} doses, ${String(v.expected)} expected — check the tray\n`,
      );
      return ok ? EXIT.OK : EXIT.REFUSED;
    }
    const ex = expected as Record<string, unknown> | undefined;
    if (ex !== undefined && waitMs === 0) {
      io.out(
        `refill expected on ${dev}: ${comp} holds ${String(ex.doses)} doses now; the device checks for ${doses} at the next refill (until ${String(ex.until)})\n`,
      );
      return EXIT.OK;
    }
    io.err(`no refill verdict from ${dev} within --wait\n`);
    return EXIT.TIMEOUT;
  } finally {
    await c.endAsync();
  }
}
