/**
 * End to end: the live simulator server in-process (real firmware core on emulated dispensers,
 * warp scheduler, SSE), driven through the dashboard in a real headless Chromium (Debian
 * /usr/bin/chromium via playwright-core). Skips when Chromium is missing.
 * Screenshots: test-artifacts/e2e/.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Fleet } from "../../host-sim/live/fleet";
import { StandInTransport } from "../../host-sim/live/transport";
import { startServer, type RunningServer } from "../../host-sim/server/server";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = path.resolve(__dirname, "../..");
const SHOTS = path.join(ROOT, "test-artifacts/e2e");
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[e2e] SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium)`);

type Page = import("playwright-core").Page;
type Context = import("playwright-core").BrowserContext;

describe.skipIf(!hasChromium)("dashboard in headless Chromium", () => {
  let fleet: Fleet;
  let server: RunningServer;
  let ctx: Context;
  let page: Page;
  let profile: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const base = JSON.parse(readFileSync(path.join(ROOT, "test/scenarios/configs/home.json"), "utf8")) as Record<string, unknown>;
    // 07:55 local (CET) on a fixed day, time paused: the test moves it.
    fleet = new Fleet({ baseConfig: base, transport: new StandInTransport(), devices: 2, warp: 0, start: Date.parse("2026-03-10T06:55:00Z") });
    fleet.start();
    server = await startServer({ fleet, port: 0 });
    const { chromium } = await import("playwright-core");
    profile = mkdtempSync(path.join(tmpdir(), "dk-e2e-"));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await ctx?.close();
    await server?.close();
    fleet?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  const card = (id: string): string => `#dev-${id}`;
  const morning = `${card("dk-sim-1")} [data-comp="morning"]`;

  it("shows a due dose, takes it, and the escalation stops", async () => {
    await page.goto(server.url);
    await page.waitForSelector(`${morning} [data-role=led][data-state=off]`);
    await page.waitForSelector("#conn.ok");
    // Keyboard reachable and labelled: every button has an accessible name.
    const unlabeled = await page.$$eval("button", (bs) => bs.filter((b) => !(b.getAttribute("aria-label") || b.textContent || "").trim()).length);
    expect(unlabeled).toBe(0);

    await page.click("#jump-next");
    await page.waitForSelector(`${morning} [data-role=led][data-state=on]`);
    await page.waitForSelector(`${card("dk-sim-1")} [data-role=buzzer][data-state=on]`);
    await expect.poll(() => page.textContent(`${morning} [data-role=state]`)).toBe("due");
    await expect.poll(() => page.textContent(`${morning} [data-role=esc]`)).toContain("escalation step 1: sound chime");
    await page.screenshot({ path: path.join(SHOTS, "01-dose-due.png") });

    // Let time run (60×), take the dose with the keyboard.
    await page.click('[data-warp="60"]');
    await page.focus('button[aria-label="Take one dose from Matin (dk-sim-1)"]');
    await page.keyboard.press("Enter");
    await page.waitForSelector(`${card("dk-sim-1")} .timeline [data-type="dose.taken"]`);
    await page.waitForSelector(`${morning} [data-role=led][data-state=off]`);
    await page.waitForSelector(`${card("dk-sim-1")} [data-role=buzzer][data-state=off]`);
    expect(await page.textContent(`${morning} [data-role=esc]`)).toBe("");
    await page.click('[data-warp="0"]');
    await page.screenshot({ path: path.join(SHOTS, "02-dose-taken.png") });

    // The ladder would go on at +20 min (alarm) and +30 min (push): two virtual hours later, nothing more for that slot.
    const t0 = fleet.sched.now;
    await fleet.jumpTo(t0 + 2 * 3_600_000);
    const after = fleet.get("dk-sim-1")!.linesAfter(0).filter((l) => l.t > t0 && l.k === "ev" && (l.d.data as { slot?: string })?.slot === "am@2026-03-10");
    expect(after.map((l) => l.d.type)).toEqual([]);
    const taken = fleet.get("dk-sim-1")!.linesAfter(0).find((l) => l.d.type === "dose.taken");
    expect((taken!.d.data as { slot: string }).slot).toBe("am@2026-03-10");
    // Adherence chart: one day, one dose on time.
    await expect.poll(() => page.getAttribute("#adh-chart", "data-days"), { timeout: 5000 }).toContain('"onTime":1');
  });

  it("pushes a config from the console and sees it applied", async () => {
    await page.waitForSelector('#pc-fields [data-path="doses[0].at"]');
    expect(await page.inputValue('#pc-fields [data-path="version"]')).toBe("2");
    await page.fill('#pc-fields [data-path="doses[0].at"]', "08:30");
    await expect.poll(() => page.getAttribute("#pc-valid", "data-valid")).toBe("true");
    await page.click("#pc-push");
    await page.waitForSelector('#pc-result [data-outcome="ack"]');
    expect(await page.textContent("#pc-result")).toContain("acknowledged v2");
    await expect.poll(() => page.textContent(`${card("dk-sim-1")} [data-role=cfg]`)).toBe("config v2");
    await expect.poll(() => page.textContent(`${morning} [data-role=next]`)).toContain("08:30");
    expect((fleet.get("dk-sim-1")!.sim.status() as { config: { version: number } }).config.version).toBe(2);
    await page.screenshot({ path: path.join(SHOTS, "03-config-applied.png") });
  });

  it("shows an invalid field inline, and the device's coded refusal with its field path", async () => {
    await page.fill('#pc-fields [data-path="doses[0].at"]', "25:00");
    await expect.poll(() => page.textContent('[data-err-for="doses[0].at"]')).toContain("[doses[0].at]");
    expect(await page.getAttribute('#pc-fields [data-path="doses[0].at"]', "aria-invalid")).toBe("true");
    expect(await page.isDisabled("#pc-push")).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, "04-inline-error.png") });

    // Let the device judge: it refuses with CFG_INVALID at doses[0].at and keeps v2.
    await page.check("#pc-skip");
    await page.click("#pc-push");
    await page.waitForSelector('#pc-result [data-outcome="refused"]');
    const txt = await page.textContent("#pc-result");
    expect(txt).toContain("CFG_INVALID");
    expect(txt).toContain("keeps running v2");
    await page.waitForSelector('#pc-result li[data-path="doses[0].at"]');
    await page.screenshot({ path: path.join(SHOTS, "05-device-refusal.png") });

    // A stale version passes the validator but the device refuses it (CFG_STALE at "version").
    await page.fill('#pc-fields [data-path="doses[0].at"]', "08:45");
    await page.fill('#pc-fields [data-path="version"]', "1");
    await page.click("#pc-push");
    await page.waitForSelector('#pc-result li[data-path="version"]');
    expect(await page.textContent("#pc-result")).toContain("CFG_STALE");
    // The audit log lists the three pushes.
    await expect.poll(async () => (await page.$$eval("#audit tbody tr", (rs) => rs.map((r) => r.textContent ?? ""))).filter((t) => t.includes("config.push")).length).toBe(3);
    const fhir = await page.getAttribute("#fhir", "href");
    expect(fhir).toBe("/api/devices/dk-sim-1/fhir");
    const bundle = (await (await fetch(new URL(fhir!, server.url))).json()) as { resourceType: string; entry: { resource: { status: string } }[] };
    expect(bundle.resourceType).toBe("Bundle");
    expect(bundle.entry.length).toBe(2); // two medications in the morning dose, both completed
    expect(bundle.entry.every((e) => e.resource.status === "completed")).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, "06-console.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
