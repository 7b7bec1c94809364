/**
 * Integration: MqttClient over host-sim/net-node.ts against an embedded aedes broker on an
 * ephemeral loopback port. The broker is "killed" (listener closed, every socket destroyed) and
 * restarted on the same port with the same in-memory session store.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { MqttClient } from "../../../../firmware/core/mqtt/client";
import type { Network, StreamConnection } from "../../../../firmware/core/ports";
import { createNodeClock, createNodeNetwork, createNodeTimers } from "../../../../host-sim/net-node";
import { AedesBroker } from "../../../support/aedes";
import { waitFor } from "../../../support/net";
import { lcg as seeded } from "../../../support/prng";

class Broker extends AedesBroker {
  hold = false;
  /** Publishes seen by the broker from our device: [payload, dup, qos]. */
  seen: [string, boolean, number][] = [];

  override async start(port = 0): Promise<void> {
    await super.start(port);
    this.aedes.authorizePublish = (client, packet, cb) => {
      if (client && client.id === "dk-it-1") {
        const payload = Buffer.from(packet.payload as Buffer).toString();
        this.seen.push([payload, packet.dup === true, packet.qos]);
        // "hold" mode: never answer, so the broker never sends PUBACK
        if (this.hold && payload.startsWith("hold")) return;
      }
      cb(null);
    };
  }
}

/** Network wrapper that lets the test cut the device's socket without a DISCONNECT. */
function cuttable(inner: Network): { network: Network; cut(): void } {
  let current: StreamConnection | null = null;
  return {
    network: {
      connect(host, port, tls, handlers) {
        current = inner.connect(host, port, tls, handlers);
        return current;
      },
    },
    cut() {
      if (current) current.close();
    },
  };
}

describe("MqttClient x aedes (loopback)", () => {
  const broker = new Broker();
  const timers = createNodeTimers();
  let observer: mqtt.MqttClient;
  const observed: [string, string, boolean][] = [];

  beforeAll(async () => {
    await broker.start();
    observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "observer", clean: true, reconnectPeriod: 100 });
    observer.on("message", (topic, payload, packet) => observed.push([topic, payload.toString(), packet.retain]));
    await observer.subscribeAsync("dk/it-1/#", { qos: 1 });
  });

  afterAll(async () => {
    timers.cancelAll();
    await observer.endAsync(true);
    await broker.close();
  });

  it("connects, publishes with PUBACK, subscribes and receives, survives a broker restart, and has its will delivered", async () => {
    const events: string[] = [];
    const acks: number[] = [];
    const received: [string, string, number][] = [];
    const faults: string[] = [];
    const net2 = cuttable(createNodeNetwork());
    const client = new MqttClient(
      { network: net2.network, timers, clock: createNodeClock(), random: seeded(42) },
      {
        host: "127.0.0.1",
        port: broker.port,
        clientId: "dk-it-1",
        username: "dev",
        password: "pw",
        keepAliveSec: 5,
        will: { topic: "dk/it-1/status", payload: "offline", qos: 1, retain: true },
        backoffInitialMs: 100,
        backoffMaxMs: 400,
      },
      {
        onConnect: (sp) => {
          events.push("connect:" + sp);
          client.publish("dk/it-1/status", "online", { qos: 1, retain: true });
        },
        onOffline: (r) => events.push("offline:" + r),
        onAck: (id) => acks.push(id),
        onMessage: (t, p, i) => received.push([t, Buffer.from(p).toString(), i.qos]),
        onSubscribed: (t, g) => events.push("sub:" + t + ":" + g),
        onFault: (c, d) => faults.push(c + " " + d),
      },
    );

    // 1. connect (first time: no session), subscribe, publish QoS 1 and get PUBACK
    client.subscribe("dk/it-1/cmd", 1);
    client.start();
    await waitFor("connect", () => events.includes("connect:false"));
    await waitFor("suback", () => events.includes("sub:dk/it-1/cmd:1"));
    const id = client.publish("dk/it-1/evt", "e1", { qos: 1 });
    expect(typeof id).toBe("number");
    await waitFor("puback", () => acks.includes(id as number));
    await waitFor("observer sees e1", () => observed.some(([t, p]) => t === "dk/it-1/evt" && p === "e1"));

    // 2. receive QoS 1 and QoS 0 from another client
    await observer.publishAsync("dk/it-1/cmd", "do-it", { qos: 1 });
    await observer.publishAsync("dk/it-1/cmd", "fyi", { qos: 0 });
    await waitFor("messages", () => received.length === 2);
    expect(received).toEqual([
      ["dk/it-1/cmd", "do-it", 1],
      ["dk/it-1/cmd", "fyi", 0],
    ]);

    // 3. broker stops acking, then is killed mid-stream and restarted on the same port
    broker.hold = true;
    const h1 = client.publish("dk/it-1/evt", "hold-1", { qos: 1 }) as number;
    const h2 = client.publish("dk/it-1/evt", "hold-2", { qos: 1 }) as number;
    await waitFor("broker got hold-1", () => broker.seen.some(([p]) => p === "hold-1"));
    expect(client.inflightIds()).toEqual([h1, h2]);
    const seenBefore = broker.seen.length;
    const port = broker.port;
    await broker.kill();
    await waitFor("offline", () => events.some((e) => e.startsWith("offline:")));
    expect(client.state).not.toBe("connected");
    await new Promise((r) => setTimeout(r, 300)); // some refused reconnect attempts
    broker.hold = false;
    await broker.listen(port);
    await waitFor("reconnect", () => events.includes("connect:true"), 8000);
    await waitFor("retransmitted acks", () => acks.includes(h1) && acks.includes(h2));
    const after = broker.seen.slice(seenBefore).filter(([p]) => p.startsWith("hold"));
    expect(after).toEqual([
      ["hold-1", true, 1],
      ["hold-2", true, 1],
    ]);
    expect(client.inflightCount).toBe(0);

    // session present: the subscription survived without a new SUBSCRIBE
    await observer.publishAsync("dk/it-1/cmd", "after-restart", { qos: 1 });
    await waitFor("message after restart", () => received.some(([, p]) => p === "after-restart"));

    // 4. the device's socket dies (no DISCONNECT): the broker publishes the retained will
    observed.length = 0;
    net2.cut();
    await waitFor("will", () => observed.some(([t, p]) => t === "dk/it-1/status" && p === "offline"));
    // and the client comes back and says so
    await waitFor("online again", () => observed.some(([t, p]) => t === "dk/it-1/status" && p === "online"));

    // 5. a clean stop() sends DISCONNECT: no will
    observed.length = 0;
    client.stop();
    await new Promise((r) => setTimeout(r, 300));
    expect(observed.filter(([, p]) => p === "offline")).toEqual([]);
    expect(faults).toEqual([]);
    expect(client.state).toBe("stopped");
  });
});
