/**
 * Integration against a real Mosquitto on an ephemeral loopback port (skipped when `mosquitto`
 * is not installed: `apt-get install -y mosquitto`).
 *
 * The device connects through a loopback sniffing proxy, so the test can see the DUP flag of
 * what the client actually sent. Mosquitto runs with `persistence false`: after SIGKILL and a
 * restart the session is gone (session present = 0), so the client must resubscribe.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as net from "node:net";
import mqtt from "mqtt";
import * as mp from "mqtt-packet";
import { MqttClient } from "../../../../firmware/core/mqtt/client";
import type { Network, StreamConnection } from "../../../../firmware/core/ports";
import { createNodeClock, createNodeNetwork, createNodeTimers } from "../../../../host-sim/net-node";
import { Mosquitto, mosquittoBin } from "../../../support/mosquitto";
import { waitFor } from "../../../support/net";
import { lcg } from "../../../support/prng";

const MOSQUITTO = mosquittoBin();
if (!MOSQUITTO) {
  process.stdout.write("mosquitto.test.ts: SKIPPED — `mosquitto` not found on PATH nor in /usr/sbin (apt-get install -y mosquitto)\n");
}

/** Loopback proxy that records every PUBLISH the device sends upstream. */
class SniffProxy {
  server!: net.Server;
  port = 0;
  publishes: [string, boolean][] = [];
  sockets = new Set<net.Socket>();
  constructor(readonly upstreamPort: number) {}
  async start(): Promise<void> {
    this.server = net.createServer((down) => {
      const up = net.connect({ host: "127.0.0.1", port: this.upstreamPort });
      this.sockets.add(down).add(up);
      const parser = mp.parser({ protocolVersion: 4 });
      parser.on("packet", (p) => {
        if (p.cmd === "publish") this.publishes.push([Buffer.from(p.payload as Buffer).toString(), p.dup === true]);
      });
      down.on("data", (d) => {
        parser.parse(d);
        up.write(d);
      });
      up.on("data", (d) => down.write(d));
      const end = (): void => {
        down.destroy();
        up.destroy();
        this.sockets.delete(down);
        this.sockets.delete(up);
      };
      down.on("close", end);
      up.on("close", end);
      down.on("error", end);
      up.on("error", end);
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

describe.skipIf(!MOSQUITTO)("MqttClient x Mosquitto (loopback)", () => {
  let broker: Mosquitto;
  let proxy: SniffProxy;
  let observer: mqtt.MqttClient;
  const observed: [string, string][] = [];
  const timers = createNodeTimers();

  beforeAll(async () => {
    broker = await Mosquitto.start({ mosquitto: MOSQUITTO as string });
    proxy = new SniffProxy(broker.port);
    await proxy.start();
    observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "observer", clean: true, reconnectPeriod: 100 });
    observer.on("message", (t, p) => observed.push([t, p.toString()]));
    await observer.subscribeAsync("dk/mq-1/#", { qos: 1 });
  });

  afterAll(async () => {
    timers.cancelAll();
    if (observer) await observer.endAsync(true);
    if (proxy) await proxy.close();
    if (broker) await broker.stop();
  });

  it("publishes/receives, retransmits with DUP across a broker crash, resubscribes when the session is lost, and gets its will delivered", async () => {
    const events: string[] = [];
    const acks: number[] = [];
    const received: string[] = [];
    const faults: string[] = [];
    let current: StreamConnection | null = null;
    const inner = createNodeNetwork();
    const network: Network = {
      connect(h, p, t, handlers) {
        current = inner.connect(h, p, t, handlers);
        return current;
      },
    };
    const client = new MqttClient(
      {
        network,
        timers,
        clock: createNodeClock(),
        random: lcg(7),
      },
      {
        host: "127.0.0.1",
        port: proxy.port,
        clientId: "dk-mq-1",
        keepAliveSec: 10,
        will: { topic: "dk/mq-1/status", payload: "offline", qos: 1, retain: true },
        backoffInitialMs: 100,
        backoffMaxMs: 400,
      },
      {
        onConnect: (sp) => events.push("connect:" + sp),
        onOffline: (r) => events.push("offline:" + r),
        onAck: (id) => acks.push(id),
        onMessage: (_t, p) => received.push(Buffer.from(p).toString()),
        onSubscribed: (t, g) => events.push("sub:" + t + ":" + g),
        onFault: (c, d) => faults.push(c + " " + d),
      },
    );

    client.subscribe("dk/mq-1/cmd", 1);
    client.start();
    await waitFor("connect", () => events.includes("connect:false"));
    await waitFor("suback", () => events.includes("sub:dk/mq-1/cmd:1"));
    const id = client.publish("dk/mq-1/evt", "e1", { qos: 1 }) as number;
    await waitFor("puback", () => acks.includes(id));
    await observer.publishAsync("dk/mq-1/cmd", "do-it", { qos: 1 });
    await waitFor("message", () => received.includes("do-it"));

    // freeze the broker (no PUBACK), publish, then crash it and start a fresh one (no persistence)
    broker.signal("SIGSTOP");
    const h1 = client.publish("dk/mq-1/evt", "hold-1", { qos: 1 }) as number;
    const h2 = client.publish("dk/mq-1/evt", "hold-2", { qos: 1 }) as number;
    await waitFor("proxy forwarded hold-2", () => proxy.publishes.some(([p]) => p === "hold-2"));
    expect(acks).not.toContain(h1);
    await broker.kill();
    await waitFor("offline", () => events.some((e) => e.startsWith("offline:")));
    await new Promise((r) => setTimeout(r, 300));
    await broker.restart();
    await waitFor("reconnect without session", () => events.filter((e) => e === "connect:false").length === 2, 10000);
    await waitFor("acks of retransmissions", () => acks.includes(h1) && acks.includes(h2));
    const holds = proxy.publishes.filter(([p]) => p.startsWith("hold"));
    expect(holds).toEqual([
      ["hold-1", false],
      ["hold-2", false],
      ["hold-1", true],
      ["hold-2", true],
    ]);
    // the broker lost the session: the client resubscribed by itself
    await waitFor("resubscribed", () => events.filter((e) => e === "sub:dk/mq-1/cmd:1").length === 2);
    await waitFor("observer back", () => observer.connected);
    await observer.subscribeAsync("dk/mq-1/#", { qos: 1 });
    await observer.publishAsync("dk/mq-1/cmd", "after-crash", { qos: 1 });
    await waitFor("message after crash", () => received.includes("after-crash"));

    // the device's socket dies: Mosquitto publishes the will
    observed.length = 0;
    (current as StreamConnection | null)?.close();
    await waitFor("will", () => observed.some(([t, p]) => t === "dk/mq-1/status" && p === "offline"));
    await waitFor("reconnected after cut", () => events.filter((e) => e.startsWith("connect:")).length === 3);
    client.stop();
    expect(faults).toEqual([]);
  });
});
