/**
 * End to end: the `npm start` stack in-process — simulated dispensers (real firmware core and
 * real MQTT link) ⇄ embedded aedes (per-device credentials, ACLs) ⇄ relay (console provider,
 * dead-man on the virtual clock, HTTP API), and the pharmacist console pushing signed configs
 * through cloud/pharmacist — driven through the dashboard in a real headless Chromium (Debian
 * /usr/bin/chromium via playwright-core). Skips when Chromium is missing.
 * Screenshots: test-artifacts/e2e/.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Fleet } from "../../host-sim/live/fleet";
import { startStack, type Stack } from "../../host-sim/live/stack";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = path.resolve(__dirname, "../..");
const SHOTS = path.join(ROOT, "test-artifacts/e2e");
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[e2e] SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium)`);

type Page = import("playwright-core").Page;
type Context = import("playwright-core").BrowserContext;

describe.skipIf(!hasChromium)("dashboard in headless Chromium", () => {
  let stack: Stack;
  let fleet: Fleet;
  let server: Stack["server"];
  let dataDir: string;
  let ctx: Context;
  let page: Page;
  let profile: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const base = JSON.parse(readFileSync(path.join(ROOT, "test/scenarios/configs/home.json"), "utf8")) as Record<string, unknown>;
    // 07:55 local (CET) on a fixed day, time paused: the test moves it.
    dataDir = mkdtempSync(path.join(tmpdir(), "dk-e2e-data-"));
    stack = await startStack({ baseConfig: base, devices: 2, warp: 0, start: Date.parse("2026-03-10T06:55:00Z"), port: 0, dataDir });
    fleet = stack.fleet;
    server = stack.server;
    const { chromium } = await import("playwright-core");
    profile = mkdtempSync(path.join(tmpdir(), "dk-e2e-"));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await ctx?.close();
    await stack?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const card = (id: string): string => `#dev-${id}`;
  const morning = `${card("dk-sim-1")} [data-comp="morning"]`;

  it("shows a due dose, takes it, and the escalation stops", async () => {
    expect(stack.transport.kind).toBe("mqtt");
    await page.goto(server.url);
    await page.waitForSelector(`${morning} [data-role=led][data-state=off]`);
    await page.waitForSelector("#conn.ok");
    // Both dispensers are connected to the broker, and the relay has heard from them.
    await expect.poll(() => page.textContent(`${card("dk-sim-1")} [data-role=conn]`)).toBe("online");
    await page.waitForSelector(`${card("dk-sim-2")} [data-role=cloud][data-state=online]`);
    // Keyboard reachable and labelled: every button has an accessible name.
    const unlabeled = await page.$$eval(
      "button",
      (bs) => bs.filter((b) => !(b.getAttribute("aria-label") || b.textContent || "").trim()).length,
    );
    expect(unlabeled).toBe(0);

    await page.click("#jump-next");
    await page.waitForSelector(`${morning} [data-role=led][data-state=on]`);
    await page.waitForSelector(`${card("dk-sim-1")} [data-role=buzzer][data-state=on]`);
    await expect.poll(() => page.textContent(`${morning} [data-role=state]`)).toBe("due");
    await expect.poll(() => page.textContent(`${morning} [data-role=esc]`)).toContain("escalation step 1: sound chime");
    await page.screenshot({ path: path.join(SHOTS, "01-dose-due.png") });
    // "Next dose" never runs past a dose that is calling: it says so and time stays put.
    const before = fleet.sched.now;
    await page.click("#jump-next");
    await page.waitForSelector(`${card("dk-sim-1")} .dev-msg:has-text("A dose is due here")`);
    expect(fleet.sched.now - before).toBeLessThan(60_000);

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
    const after = fleet
      .get("dk-sim-1")!
      .linesAfter(0)
      .filter((l) => l.t > t0 && l.k === "ev" && (l.d.data as { slot?: string })?.slot === "am@2026-03-10");
    expect(after.map((l) => l.d.type)).toEqual([]);
    const taken = fleet
      .get("dk-sim-1")!
      .linesAfter(0)
      .find((l) => l.d.type === "dose.taken");
    expect((taken!.d.data as { slot: string }).slot).toBe("am@2026-03-10");
    // Adherence chart, from the relay's API: one day, one dose on time.
    await expect.poll(() => page.getAttribute("#adh-chart", "data-days"), { timeout: 5000 }).toContain('"onTime":1');
    expect(await page.textContent("#adh-src")).toContain("relay");
  });

  it("a dose not taken 30 min after it is due becomes a push in the Notifications panel", async () => {
    // dk-sim-2's morning dose (08:05) was left alone during those two hours: push at +30 min,
    // SMS at +60 min, to the people the relay maps "patient" and "caregiver-1" to.
    const push = `#notifications li[data-device="dk-sim-2"][data-kind="escalation"][data-ch="push"]`;
    await page.waitForSelector(push);
    expect(await page.$$eval(push, (ls) => ls.map((l) => l.textContent ?? "")).then((t) => t.join("\n"))).toContain("patient-2");
    await page.waitForSelector(`#notifications li[data-device="dk-sim-2"][data-ch="sms"]`);
    expect(await page.$$(`#notifications li[data-device="dk-sim-1"]`)).toEqual([]);
    // The console provider also wrote them to notifications.log.
    const log = readFileSync(path.join(dataDir, "notifications.log"), "utf8");
    expect(log).toContain('"device":"dk-sim-2"');
    expect(log).not.toContain('"device":"dk-sim-1"');
    await page.screenshot({ path: path.join(SHOTS, "02b-notifications.png") });
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
    // The audit log lists the three pushes, from the pharmacist library's log.
    await expect
      .poll(
        async () =>
          (await page.$$eval('#audit tbody tr[data-action="config.push"]', (rs) => rs.map((r) => r.textContent ?? ""))).filter((t) =>
            t.includes("pharmacist"),
          ).length,
      )
      .toBe(3);
    const rows = await page.$$eval('#audit tbody tr[data-action="config.push"]', (rs) => rs.map((r) => r.textContent ?? ""));
    expect(rows.join("\n")).toContain("refused CFG_STALE at version");
    expect(rows.join("\n")).toContain("refused CFG_INVALID at doses[0].at");
    const audit = readFileSync(stack.auditFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { outcome: string; who: { kid: string } });
    expect(audit.map((a) => a.outcome)).toEqual(["ack", "refused", "refused"]);
    expect(audit.every((a) => a.who.kid === stack.key!.kid)).toBe(true);
    // The relay stored v2 as the schedule (PUT after the accepted push) and audits it.
    await page.waitForSelector('#relay-audit tbody tr[data-action="config.pushed"]');
    const fhir = await page.getAttribute("#fhir", "href");
    expect(fhir).toBe("/api/devices/dk-sim-1/fhir");
    // From the relay's FHIR export: the morning slot, completed, with both medications, two tablets.
    const bundle = (await (await fetch(new URL(fhir!, server.url))).json()) as {
      resourceType: string;
      entry: {
        resource: {
          status: string;
          subject: { reference: string };
          medicationCodeableConcept: { text: string };
          dosage?: { dose: { value: number } };
        };
      }[];
    };
    expect(bundle.resourceType).toBe("Bundle");
    expect(bundle.entry.length).toBe(1);
    const ma = bundle.entry[0].resource;
    expect(ma.status).toBe("completed");
    expect(ma.subject.reference).toBe("Patient/sim-1");
    expect(ma.medicationCodeableConcept.text).toContain("Metformine");
    expect(ma.medicationCodeableConcept.text).toContain("Ramipril");
    expect(ma.dosage?.dose.value).toBe(2);
    await page.screenshot({ path: path.join(SHOTS, "06-console.png"), fullPage: true });
  });

  it("a dispenser whose power is cut is offline for the relay (last will)", async () => {
    await page.click('button[aria-label="Cut the power of dk-sim-2 for 10 minutes"]');
    await page.waitForSelector(`${card("dk-sim-2")} [data-role=cloud][data-state=offline]`);
    expect(await page.textContent(`${card("dk-sim-2")} [data-role=conn]`)).toBe("off");
    expect(await page.textContent(`${card("dk-sim-1")} [data-role=cloud]`)).toBe("relay: online");
    await page.screenshot({ path: path.join(SHOTS, "07-power-cut.png") });
    // It boots ten virtual minutes later and is back online for the relay.
    await fleet.jumpTo(fleet.sched.now + 11 * 60_000);
    await page.waitForSelector(`${card("dk-sim-2")} [data-role=cloud][data-state=online]`);
    expect(pageErrors).toEqual([]);
  });
  it("help, low stock, a CLI push, a box cut off while the others keep firing, and a caregiver's OK with its re-fire", async () => {
    // Long press: the caregiver is asked for help at once.
    await page.click('button[aria-label="Long press on the button of dk-sim-1"]');
    await page.waitForSelector('#notifications li[data-device="dk-sim-1"][data-kind="help"]');
    await page.screenshot({ path: path.join(SHOTS, "08-help.png") });
    // A load-cell fault injected from the card: flagged on the card, cleared when it comes back.
    await page.click('button[aria-label="Disconnect the load cell of Si douleur (dk-sim-2) for 2 minutes"]');
    await fleet.jumpTo(fleet.sched.now + 20_000);
    await expect.poll(() => page.textContent(`${card("dk-sim-2")} [data-role=faults]`)).toContain("DISCONNECT");
    await fleet.jumpTo(fleet.sched.now + 3 * 60_000);
    await expect.poll(() => page.textContent(`${card("dk-sim-2")} [data-role=faults]`)).toBe("");

    // Five evening doses taken out of seven: two days left, below the 3-day threshold.
    expect(fleet.get("dk-sim-2")!.act({ do: "remove", compartment: "evening", doses: 5 }).ok).toBe(true);
    await fleet.jumpTo(fleet.sched.now + 3 * 60_000); // time is paused: let the hand finish, the tray settle, the planner look
    const evening2 = `${card("dk-sim-2")} [data-comp="evening"]`;
    await page.waitForSelector(`${evening2} [data-role=stock][data-low="true"]`);
    expect(await page.textContent(`${evening2} [data-role=stock]`)).toContain("2 days left (2 doses)");
    await page.waitForSelector('#notifications li[data-device="dk-sim-2"][data-kind="low-stock"]');
    expect(await page.textContent('#notifications li[data-device="dk-sim-2"][data-kind="low-stock"]')).toContain("2 doses restantes");
    await page.screenshot({ path: path.join(SHOTS, "09-low-stock.png") });
    // The refill workflow from the console: 2 doses expected → verified at once by weight; 9 → expected,
    // then a refill of 7 is verified when it settles.
    await page.selectOption("#pc-device", "dk-sim-2");
    await page.waitForSelector('#rf-comp option[value="evening"]', { state: "attached" });
    await page.selectOption("#rf-comp", "evening");
    await page.fill("#rf-doses", "2");
    await page.click("#rf-send");
    await page.waitForSelector('#rf-result[data-outcome="refill.verified"]');
    await page.fill("#rf-doses", "9");
    await page.click("#rf-send");
    await page.waitForSelector('#rf-result[data-outcome="refill.expected"]');
    await page.click('button[aria-label="Refill Soir (dk-sim-2) with 7 doses"]');
    await fleet.jumpTo(fleet.sched.now + 60_000);
    await page.waitForSelector(`${card("dk-sim-2")} .timeline [data-type="refill.verified"]`);
    await page.selectOption("#pc-device", "dk-sim-1");

    // The pharmacist CLI against the running stack, no flag but its profile: a new version applies.
    const { main } = await import("../../cloud/pharmacist/cli");
    const d2 = fleet.get("dk-sim-2")!;
    const v = (d2.sim.lastConfig.version as number) + 1;
    const file = path.join(dataDir, "cli-push.json");
    writeFileSync(file, JSON.stringify({ ...d2.sim.lastConfig, version: v }));
    let out = "";
    const code = await main(["config", "push", "--device", "dk-sim-2", "--file", file], {
      out: (t) => (out += t),
      err: (t) => (out += t),
      env: { DOSEKEEPER_PROFILE: stack.profileFile },
    });
    expect(out).toContain(`applied on dk-sim-2: version ${v}`);
    expect(code).toBe(0);
    await expect.poll(() => page.textContent(`${card("dk-sim-2")} [data-role=cfg]`)).toBe(`config v${v}`);

    // dk-sim-1 loses its power for the day; dk-sim-2 goes on: its evening dose falls due and escalates.
    expect(fleet.get("dk-sim-1")!.act({ do: "power-cut", offMs: 86_400_000 }).ok).toBe(true);
    const due = (fleet.get("dk-sim-2")!.snapshot() as { compartments: { id: string; next: { due: number } | null }[] }).compartments.find(
      (c) => c.id === "evening",
    )!.next!.due;
    await fleet.jumpTo(due + 31 * 60_000);
    const pushPm = '#notifications li[data-device="dk-sim-2"][data-kind="escalation"][data-ch="push"]';
    await expect.poll(async () => (await page.$$eval(pushPm, (ls) => ls.map((l) => l.textContent ?? ""))).join("\n")).toContain("pm@");
    await expect.poll(() => page.textContent(`${card("dk-sim-2")} [data-comp="evening"] [data-role=state]`)).not.toBe("scheduled");
    // The box that is off is not forgotten: the relay's dead-man alert tells its people at dose time.
    await page.waitForSelector('#notifications li[data-device="dk-sim-1"][data-kind="deadman"]');

    // The caregiver replies OK: the chain stops (the SMS rung at +60 min is not sent) and re-fires at +30 min.
    const li = page.locator(pushPm, { hasText: "pm@" }).first();
    await li.locator("button.ack").click();
    await page.waitForSelector('#notifications li[data-kind="ack"][data-device="dk-sim-2"]');
    await page.screenshot({ path: path.join(SHOTS, "10-ack.png") });
    const smsBefore = (await page.$$('#notifications li[data-device="dk-sim-2"][data-kind="escalation"][data-ch="sms"]')).length;
    await fleet.jumpTo(fleet.sched.now + 31 * 60_000);
    await page.waitForSelector('#notifications li[data-device="dk-sim-2"][data-kind="refire"]');
    expect(await page.textContent('#notifications li[data-device="dk-sim-2"][data-kind="refire"]')).toContain("toujours pas prise");
    expect((await page.$$('#notifications li[data-device="dk-sim-2"][data-kind="escalation"][data-ch="sms"]')).length).toBe(smsBefore);
    const acks = await stack.relay!.db.auditList({ action: "escalation.acked", limit: 5 });
    expect(acks.map((a) => a.device)).toEqual(["dk-sim-2"]);
    await page.screenshot({ path: path.join(SHOTS, "11-refire.png") });
    // The favicon is served (no 404 in the console).
    expect((await fetch(new URL("/favicon.svg", server.url))).status).toBe(200);
    expect(pageErrors).toEqual([]);
  });
  it("in French: every word of the fleet view from the catalogue, the choice remembered", async () => {
    await page.selectOption("#lang", "fr");
    await page.waitForSelector('html[data-lang-choice="fr"]');
    await page.waitForSelector('#jump-next:has-text("Prise suivante")');
    expect(await page.getAttribute("html", "lang")).toBe("fr");
    await page.waitForSelector('button[aria-label="Prendre une dose dans Matin (dk-sim-1)"]');
    // Just after the push its config events may still be in flight ("synchronisation (1)"): French either way.
    await expect.poll(() => page.textContent(`${card("dk-sim-2")} [data-role=conn]`), { timeout: 10_000 }).toBe("en ligne");
    expect(await page.textContent(`${card("dk-sim-2")} [data-role=cloud]`)).toBe("relais : en ligne");
    expect(await page.textContent(`${card("dk-sim-2")} [data-comp="evening"] [data-role=stock]`)).toContain("jours restants");
    await expect.poll(() => page.textContent("#conn")).toBe("en direct");
    // No raw protocol line in a timeline: every line is a word, a time and details.
    const lines = await page.$$eval(".timeline div", (ds) => ds.map((d) => d.textContent ?? ""));
    expect(lines.some((l) => l.includes("{"))).toBe(false);
    // The pharmacist console too: form, actions, audit tables, refusal codes in words.
    await page.selectOption("#pc-device", "dk-sim-2");
    expect(await page.textContent("#pc-push")).toBe("Signer et envoyer");
    expect(await page.textContent("#audit thead")).toContain("heure simulée");
    expect(await page.textContent("#pc-running")).toContain("en service");
    expect(await page.textContent("#pc-fields")).toContain("fuseau horaire");
    await page.screenshot({ path: path.join(SHOTS, "12-french.png") });
    await page.reload();
    await page.waitForSelector('#jump-next:has-text("Prise suivante")');
    await page.selectOption("#lang", "en");
    await page.waitForSelector('html[data-lang-choice="en"]');
    await page.waitForSelector('#jump-next:has-text("Next dose")');
    expect(pageErrors).toEqual([]);
  });
  it("per dispenser: the card speaks the household language its config names, the page the viewer's", async () => {
    await page.selectOption("#lang", "auto");
    // The choice reloads the page: wait for the reloaded one (the old one was already English).
    await page.waitForSelector('html[data-lang-choice="auto"]');
    await page.waitForSelector('#jump-next:has-text("Next dose")');
    await page.waitForSelector(`${card("dk-sim-2")}[lang="en"]`);
    await page.selectOption("#pc-device", "dk-sim-2");
    await page.waitForSelector('#pc-fields select[data-path="lang"]');
    await page.selectOption('#pc-fields select[data-path="lang"]', "fr");
    await expect.poll(() => page.getAttribute("#pc-valid", "data-valid")).toBe("true");
    expect(await page.inputValue("#pc-json")).toContain('"lang": "fr"');
    await page.click("#pc-push");
    await page.waitForSelector('#pc-result [data-outcome="ack"]', { timeout: 20_000 });
    // The device runs the new config: its card is rebuilt in French; dk-sim-1 (off) stays in English.
    await page.waitForSelector(`${card("dk-sim-2")}[lang="fr"]`);
    await page.waitForSelector('button[aria-label="Prendre une dose dans Soir (dk-sim-2)"]');
    await page.waitForSelector(`${card("dk-sim-1")}[lang="en"]`);
    // Just after the push its config events may still be in flight ("synchronisation (1)"): French either way.
    await expect.poll(() => page.textContent(`${card("dk-sim-2")} [data-role=conn]`), { timeout: 10_000 }).toBe("en ligne");
    expect(await page.textContent(`${card("dk-sim-1")} [data-role=conn]`)).toBe("off");
    expect(await page.textContent("#jump-next")).toContain("Next dose");
    expect(await page.textContent("#pc-push")).toBe("Sign & push");
    await page.screenshot({ path: path.join(SHOTS, "13-per-dispenser-language.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
