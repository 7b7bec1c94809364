/**
 * Reading through an oversized PUBLISH without holding it: the topic length, the topic's first
 * TOPIC_KEEP bytes, the packet id, then the rest is only counted. Bounded memory whatever the size.
 */
import { MQTT_BAD_PACKET_ID, MQTT_MALFORMED, type MqttError } from "./packets";
import { utf8Decode } from "./strings";

/** An oversized PUBLISH that was read through and discarded. */
export interface DiscardedPublish {
  /** The topic, or its first TOPIC_KEEP bytes (topicComplete false), as text (invalid UTF-8 becomes ""). */
  readonly topic: string;
  readonly topicComplete: boolean;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly dup: boolean;
  /** Packet id (0 for QoS 0). */
  readonly packetId: number;
  /** Remaining length of the packet. */
  readonly bytes: number;
}

/** Bytes of an oversized PUBLISH's topic kept for the report. */
export const TOPIC_KEEP = 128;

export class OversizeSkip {
  private first = 0;
  private len = 0;
  /** Bytes of the packet still to read. */
  private left = 0;
  /** 0-1 topic length, 2 topic, 3-4 packet id, 5 the rest. */
  private phase = 0;
  private tlen = 0;
  private tgot = 0;
  private pid = 0;
  private readonly topicKeep = new Uint8Array(TOPIC_KEEP);

  start(first: number, len: number): void {
    this.first = first;
    this.len = len;
    this.left = len;
    this.phase = 0;
    this.tlen = 0;
    this.tgot = 0;
    this.pid = 0;
  }

  get done(): boolean {
    return this.left === 0;
  }

  /** Consumes bytes from chunk[i]: the next index, or the error of a malformed packet. */
  feed(chunk: Uint8Array, i: number): number | MqttError {
    const n = chunk.length;
    const qos = (this.first >> 1) & 3;
    while (i < n && this.left > 0) {
      if (this.phase === 5) {
        const take = Math.min(n - i, this.left);
        i += take;
        this.left -= take;
        break;
      }
      const b = chunk[i++];
      this.left--;
      if (this.phase === 0) {
        this.tlen = b << 8;
        this.phase = 1;
      } else if (this.phase === 1) {
        this.tlen |= b;
        if (this.tlen === 0 || this.tlen + 2 + (qos > 0 ? 2 : 0) > this.len)
          return { code: MQTT_MALFORMED, detail: "oversized publish: topic length " + this.tlen };
        this.phase = 2;
      } else if (this.phase === 2) {
        if (this.tgot < TOPIC_KEEP) this.topicKeep[this.tgot] = b;
        this.tgot++;
        if (this.tgot === this.tlen) this.phase = qos > 0 ? 3 : 5;
      } else if (this.phase === 3) {
        this.pid = b << 8;
        this.phase = 4;
      } else {
        this.pid |= b;
        if (this.pid === 0) return { code: MQTT_BAD_PACKET_ID, detail: "oversized publish with packet id 0" };
        this.phase = 5;
      }
    }
    return i;
  }

  report(): DiscardedPublish {
    const kept = this.tgot < TOPIC_KEEP ? this.tgot : TOPIC_KEEP;
    const text = utf8Decode(this.topicKeep, 0, kept);
    const b = this.first;
    return {
      topic: text === null ? "" : text,
      topicComplete: this.tgot <= TOPIC_KEEP && text !== null,
      qos: ((b >> 1) & 3) as 0 | 1 | 2,
      retain: (b & 1) === 1,
      dup: (b & 8) === 8,
      packetId: this.pid,
      bytes: this.len,
    };
  }
}
