/**
 * The protocol vocabulary is stated once (firmware/core/protocol) and everything else agrees
 * with it: the config's JSON Schema (channels, patterns, id syntax), docs/protocol.md (every
 * event type), the firmware's code (no event type outside the table), the relay.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CHANNEL_TABLE, CHANNELS, REMOTE_CHANNELS, SOUND_PATTERNS } from "../../../../firmware/core/protocol/channels";
import { EVENT_TYPES } from "../../../../firmware/core/protocol/events";
import { DEVICE_ID_PATTERN, ITEM_ID_PATTERN, RECIPIENT_PATTERN } from "../../../../firmware/core/protocol/ids";
import { commandTopic, configTopic, deviceTopic, parseTopic } from "../../../../firmware/core/protocol/topics";
import { REMOTE_CHANNELS as RELAY_REMOTE } from "../../../../cloud/relay/types";

const ROOT = path.resolve(__dirname, "../../../..");
const schema = JSON.parse(fs.readFileSync(path.join(ROOT, "docs/config.schema.json"), "utf8"));

/** Every enum in the schema whose values are channel names (the step's channel and its conditions). */
function enumsNear(node: unknown, key: string, out: unknown[][] = []): unknown[][] {
  if (Array.isArray(node)) for (const x of node) enumsNear(x, key, out);
  else if (typeof node === "object" && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === key && typeof v === "object" && v !== null && Array.isArray((v as { enum?: unknown[] }).enum))
        out.push((v as { enum: unknown[] }).enum);
      enumsNear(v, key, out);
    }
  }
  return out;
}

describe("protocol vocabulary", () => {
  it("the config schema's channel lists are the channel table's (all, remote, local)", () => {
    const lists = enumsNear(schema, "channel").map((l) => [...l].sort().join(","));
    const local = CHANNEL_TABLE.filter((c) => !c.remote).map((c) => c.id);
    expect(lists).toContain([...CHANNELS].sort().join(","));
    expect(lists).toContain([...REMOTE_CHANNELS].sort().join(","));
    expect(lists).toContain([...local].sort().join(","));
    for (const l of lists) for (const ch of l.split(",")) expect(CHANNELS).toContain(ch);
  });

  it("the config schema's sound patterns and id syntax are the protocol's", () => {
    expect(enumsNear(schema, "pattern").map((l) => l.join(","))).toEqual([SOUND_PATTERNS.join(",")]);
    const text = JSON.stringify(schema);
    for (const p of [DEVICE_ID_PATTERN, ITEM_ID_PATTERN, RECIPIENT_PATTERN]) expect(text).toContain(JSON.stringify(p).slice(1, -1));
  });

  it("the relay's remote channels are the table's", () => {
    expect([...RELAY_REMOTE]).toEqual([...REMOTE_CHANNELS]);
  });

  it("docs/protocol.md has a row for every event type, and names no other", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs/protocol.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Events"), doc.indexOf("## Telemetry"));
    const documented = new Set<string>();
    for (const row of section.split("\n").filter((l) => l.startsWith("| `"))) {
      const first = row.split("|")[1];
      for (const m of first.matchAll(/`([a-z_.]+)`/g)) documented.add(m[1]);
    }
    expect([...documented].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it("the firmware logs no event type as a loose string", () => {
    const loose: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(path.join(ROOT, d), { withFileTypes: true })) {
        const rel = `${d}/${e.name}`;
        if (e.isDirectory()) walk(rel);
        else if (rel.endsWith(".ts")) {
          const t = fs.readFileSync(path.join(ROOT, rel), "utf8");
          for (const m of t.matchAll(/(?:logEvent|\blog)\(\s*"([a-z_.]+)"/g)) loose.push(`${rel}: ${m[1]}`);
        }
      }
    };
    walk("firmware");
    expect(loose).toEqual([]);
  });

  it("topics", () => {
    expect(deviceTopic("dk-0001", "evt")).toBe("dk/dk-0001/evt");
    expect(configTopic("dk-0001")).toBe("dk/dk-0001/cmnd/config");
    expect(commandTopic("dk-0001", "tare")).toBe("dk/dk-0001/cmnd/tare");
    expect(parseTopic("dk/dk-0001/cmnd/tare")).toEqual({ device: "dk-0001", verb: "cmnd", name: "tare" });
    expect(parseTopic("dk/dk-0001/evt")).toEqual({ device: "dk-0001", verb: "evt", name: "" });
    for (const bad of ["dk/x", "xx/a/evt", "dk//evt", "dk/a/evt/x", "dk/a/b/c/d"]) expect(parseTopic(bad)).toBeUndefined();
  });
});
