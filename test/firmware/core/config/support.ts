/** Shared helpers for the config tests (fixtures, JSON Schema validator, seeded PRNG). */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020";
import type { HardwareLimits } from "../../../../firmware/core/config/validate";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, "../../../..");
export const FIXTURE_DIR = path.join(ROOT, "test/fixtures/configs");

/** The reference dispenser: 4 bays, 4 LEDs. */
export const HW4: HardwareLimits = { channels: 4, leds: 4 };

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function fixtureNames(): string[] {
  return fs
    .readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort();
}

export function loadFixture(name: string): any {
  return JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, name), "utf8"));
}

export function readDoc(name: string): string {
  return fs.readFileSync(path.join(ROOT, "docs", name), "utf8");
}

/**
 * ajv for docs/config.schema.json. strictTuples/strictRequired are ajv lint rules
 * (prefixItems without maxItems, `required` inside `not`), not JSON Schema validity rules.
 */
export function schemaValidator(): (data: unknown) => boolean {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTuples: false, strictRequired: false });
  const validate = ajv.compile(JSON.parse(readDoc("config.schema.json")));
  return (data: unknown) => validate(data) as boolean;
}

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v));
}

/** mulberry32: small deterministic PRNG for the property tests. */
export { mulberry32 as prng } from "../../../support/prng";
