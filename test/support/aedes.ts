/**
 * Embedded aedes on an ephemeral loopback port, restartable on the same port with the same
 * in-memory persistence (sessions, retained messages): kill() is a crash (listener closed, every
 * socket destroyed, no DISCONNECT), listen(port) brings it back.
 */
import * as net from "node:net";
import { Aedes } from "aedes";
import mqtt from "mqtt";

export class AedesBroker {
  aedes!: Aedes;
  server: net.Server | null = null;
  sockets = new Set<net.Socket>();
  port = 0;

  /** Creates the broker and listens on `port` (0: ephemeral). */
  async start(port = 0): Promise<void> {
    this.aedes = await Aedes.createBroker({ heartbeatInterval: 3_600_000 });
    await this.listen(port);
  }

  async listen(port: number): Promise<void> {
    const server = net.createServer((s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      this.aedes.handle(s);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** Close the listener and destroy every socket (no DISCONNECT, like a crash). */
  async kill(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise((r) => s.close(r));
  }

  async close(): Promise<void> {
    await this.kill();
    await new Promise<void>((r) => this.aedes.close(() => r()));
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** A cloud-side observer (persistent session: it misses nothing across a broker restart) collecting [topic, text, retain]. */
  async observer(filter: string): Promise<{ client: mqtt.MqttClient; seen: [string, string, boolean][] }> {
    const client = await mqtt.connectAsync({
      host: "127.0.0.1",
      port: this.port,
      clientId: "obs-" + Math.random().toString(16).slice(2),
      clean: false,
      reconnectPeriod: 100,
    });
    const seen: [string, string, boolean][] = [];
    client.on("message", (t, p, packet) => seen.push([t, p.toString(), packet.retain]));
    await client.subscribeAsync(filter, { qos: 1 });
    return { client, seen };
  }
}

/** A started AedesBroker (url, close()). */
export async function startAedes(): Promise<AedesBroker> {
  const b = new AedesBroker();
  await b.start();
  return b;
}
