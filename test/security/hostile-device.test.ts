/**
 * No message from the network can stop a device's session or its reminders, on a real Mosquitto
 * configured as shipped (deploy/mosquitto): oversized commands and configs (30 KB, 40 KB, 1 MB), a retained signed command, an empty retained
 * payload and garbage are refused with codes; the device stays on its first connection and every
 * event it logs meanwhile — dose events included — reaches the cloud.
 */
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EV } from "../../firmware/core/protocol/events";
import { createNodeNetwork } from "../../host-sim/net-node";
import { makeDevice, signer, trusted, World } from "../firmware/core/link/harness";
import { findMosquitto, Mosquitto } from "../support/mosquitto";
import { sleep, waitFor } from "../support/net";

const BINS = findMosquitto();
if (!BINS) process.stdout.write("security/hostile-device.test.ts: SKIPPED — mosquitto not found\n");

describe.skipIf(!BINS)("hostile messages on a real Mosquitto", () => {
  let mq: Mosquitto;
  let cloud: mqtt.MqttClient;
  const seen: Record<string, unknown>[] = [];

  beforeAll(async () => {
    mq = await Mosquitto.start(BINS!, { users: { "dk-hostile-1": "pw1", relay: "pw-relay" }, admins: ["relay"] });
    cloud = await mqtt.connectAsync({
      host: "127.0.0.1",
      port: mq.port,
      username: "relay",
      password: "pw-relay",
      clientId: "relay",
      reconnectPeriod: 0,
    });
    cloud.on("message", (_t, p) => seen.push(JSON.parse(p.toString()) as Record<string, unknown>));
    await cloud.subscribeAsync("dk/+/evt", { qos: 1 });
  });
  afterAll(async () => {
    await cloud?.endAsync(true);
    await mq?.stop();
  });

  it("oversized, retained and malformed messages never drop the session; every event is delivered", async () => {
    const id = "dk-hostile-1";
    const world = new World(Date.now());
    const s = signer();
    // A retained signed command left on the broker: replayed (retain flag set) at every subscription,
    // it would run again at each reconnect and reboot.
    await cloud.publishAsync(`dk/${id}/cmnd/silence`, s.cmd(id, "silence", "ghost-1"), { qos: 1, retain: true });
    let connects = 0;
    const net = createNodeNetwork();
    const dev = makeDevice({
      id,
      network: { connect: (h, p, t, handlers) => (connects++, net.connect(h, p, t, handlers)) },
      clock: world.clock,
      timers: world.timers(),
      trustedKeys: [trusted(s.key)],
      broker: { host: "127.0.0.1", port: mq.port, tls: false, username: id, password: "pw1" },
      mqtt: { backoffInitialMs: 200, keepAliveSec: 30 },
    });
    let last = Date.now();
    const pump = setInterval(() => {
      const n = Date.now();
      world.run(Math.max(1, n - last));
      last = n;
    }, 5);
    try {
      await waitFor("connected", () => dev.link.state === "connected", 10_000);
      // Hostile payloads while the device is online.
      await cloud.publishAsync(`dk/${id}/cmnd/tare`, Buffer.alloc(30_000, 0x7b), { qos: 1 });
      await cloud.publishAsync(`dk/${id}/cmnd/identify`, Buffer.alloc(1_000_000, 0x20), { qos: 1 });
      await cloud.publishAsync(`dk/${id}/cmnd/config`, Buffer.alloc(40_000, 0x22), { qos: 1, retain: true });
      await cloud.publishAsync(`dk/${id}/cmnd/tare`, "", { qos: 1, retain: true });
      await cloud.publishAsync(`dk/${id}/cmnd/tare`, "not json", { qos: 1 });
      // Meanwhile the box goes on: dose events are logged and must all arrive.
      for (let i = 0; i < 20; i++) dev.dispenser.log(EV.DOSE_DUE, "dose", { slot: `s${i}`, comp: "morning" });
      await waitFor(
        "every logged event delivered",
        () => dev.events.filter((e) => e.seq > 0).every((e) => seen.some((x) => x.id === e.id)),
        20_000,
      );
      await sleep(500);
      const cmd = dev.events.filter((e) => e.type === EV.CMD);
      // 30 KB reaches the device (over its 24 KiB limit): read through and refused. 1 MB is over the
      // broker's message_size_limit (deploy/mosquitto/policy.conf): the broker never forwards it.
      expect(cmd.filter((e) => e.data.result === "PROTO_OVERSIZE").map((e) => e.data.name)).toEqual(["tare"]);
      expect(cmd.some((e) => e.data.name === "silence" && e.data.result === "CMD_RETAINED")).toBe(true);
      expect(cmd.some((e) => e.data.result === "PROTO_JSON")).toBe(true);
      expect(dev.events.some((e) => e.type === EV.CONFIG_REFUSED && e.data.code === "PROTO_OVERSIZE")).toBe(true);
      // The ghost command never ran: the sound was not silenced.
      expect(dev.events.some((e) => e.type === EV.SOUND_SILENCED)).toBe(false);
      // One connection for the whole run: nothing made the device reconnect.
      expect(dev.link.state).toBe("connected");
      expect(connects).toBe(1);
      expect(dev.events.filter((e) => e.type === EV.DOSE_DUE && e.seq > 0).length).toBe(20);
    } finally {
      clearInterval(pump);
      dev.link.stop();
      dev.dispenser.stop();
      await cloud.publishAsync(`dk/${id}/cmnd/silence`, "", { qos: 1, retain: true });
      await cloud.publishAsync(`dk/${id}/cmnd/config`, "", { qos: 1, retain: true });
    }
  }, 60_000);
});
