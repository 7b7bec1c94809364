/**
 * The link over real sockets (host-sim/net-node.ts) against an embedded aedes broker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeClock, createNodeNetwork, createNodeTimers } from "../../../../host-sim/net-node";
import { AedesBroker } from "../../../support/aedes";
import { waitFor } from "../../../support/net";
import { homeConfig, makeDevice, signer, trusted, type TestDevice } from "./harness";

describe("link x aedes (loopback)", () => {
  const broker = new AedesBroker();
  const timers = createNodeTimers();
  const s = signer();
  let dev: TestDevice;
  let obs: Awaited<ReturnType<AedesBroker["observer"]>>;
  const ID = "dk-aedes-1";

  beforeAll(async () => {
    await broker.start();
    obs = await broker.observer(`dk/${ID}/#`);
    dev = makeDevice({
      id: ID,
      network: createNodeNetwork(),
      clock: createNodeClock(),
      timers,
      trustedKeys: [trusted(s.key)],
      broker: { host: "127.0.0.1", port: broker.port, tls: false, username: ID, password: "x" },
      mqtt: { backoffInitialMs: 100, backoffMaxMs: 300, keepAliveSec: 5 },
    });
    await waitFor("connected", () => dev.link.state === "connected");
  });

  afterAll(async () => {
    dev.link.stop();
    dev.dispenser.stop();
    timers.cancelAll();
    await obs.client.endAsync(true);
    await broker.close();
  });

  const evtIds = (): string[] => obs.seen.filter(([t]) => t.endsWith("/evt")).map(([, p]) => JSON.parse(p).id as string);

  it("delivers logged events with their ids and empties the outbox", async () => {
    dev.dispenser.log("button", "info", { kind: "short" });
    await waitFor("outbox empty", () => dev.dispenser.status().outbox === 0 && evtIds().length >= dev.events.length);
    expect(new Set(evtIds())).toEqual(new Set(dev.events.map((e) => e.id)));
  });

  it("applies a signed retained config and acknowledges it on stat", async () => {
    await obs.client.publishAsync(`dk/${ID}/cmnd/config`, s.config(homeConfig(ID, 2)), { qos: 1, retain: true });
    await waitFor("stat", () => obs.seen.some(([t, p]) => t.endsWith("/stat") && JSON.parse(p).ok === true));
    expect(dev.dispenser.status().config!.version).toBe(2);
  });

  it("at least once across a broker crash: events logged while it is down arrive after the restart", async () => {
    const port = broker.port;
    await broker.kill();
    await waitFor("offline", () => dev.link.state !== "connected");
    for (let i = 0; i < 5; i++) dev.dispenser.log("button", "info", { i });
    expect(dev.dispenser.status().outbox).toBeGreaterThanOrEqual(5);
    await broker.listen(port);
    await waitFor("redelivered", () => dev.dispenser.status().outbox === 0, 10_000);
    // the observer (persistent session) gets what was published while it was reconnecting
    await waitFor("observer has every event", () => dev.events.every((e) => evtIds().includes(e.id)), 10_000);
    expect(new Set(evtIds())).toEqual(new Set(dev.events.map((e) => e.id)));
  });
});
