/**
 * The dashboard's message catalogues (host-sim/dashboard/static): every key a script uses exists
 * in every language, the languages have the same keys, and the language list is the vocabulary's.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LANGUAGES } from "../../../firmware/core/protocol/channels";
// @ts-expect-error plain browser modules without types
import { CODE_WORDS, CONSOLE_MESSAGES } from "../../../host-sim/dashboard/static/console-i18n.js";
// @ts-expect-error plain browser modules without types
import { CATALOGUES, LANGS } from "../../../host-sim/dashboard/static/i18n.js";

const DIR = path.resolve(__dirname, "../../../host-sim/dashboard/static");
type Cat = Record<string, Record<string, string>>;
const page = CATALOGUES.page as Cat;
const consoleCat = CONSOLE_MESSAGES as Cat;

function usedKeys(): { file: string; key: string }[] {
  const out: { file: string; key: string }[] = [];
  for (const f of readdirSync(DIR).filter((x) => x.endsWith(".js") && !x.includes("i18n"))) {
    const src = readFileSync(path.join(DIR, f), "utf8");
    // t("key") and tIn(lang, "key"); dynamic keys ("conn." + x) are checked by their prefix below.
    for (const m of src.matchAll(/\bt\(\s*"([^"]+)"|\btIn\([^,]+,\s*"([^"]+)"/g)) out.push({ file: f, key: m[1] ?? m[2]! });
  }
  const html = readFileSync(path.join(DIR, "index.html"), "utf8");
  for (const m of html.matchAll(/data-i18n(?:-aria)?="([^"]+)"/g)) out.push({ file: "index.html", key: m[1]! });
  return out;
}

describe("dashboard catalogues", () => {
  it("offer exactly the vocabulary's languages", () => {
    expect([...LANGS]).toEqual([...LANGUAGES]);
    for (const cat of [page, consoleCat, CODE_WORDS as Cat]) expect(Object.keys(cat).sort()).toEqual([...LANGUAGES].sort());
  });

  it("hold every key a script or the page uses, in every language", () => {
    const missing: string[] = [];
    for (const { file, key } of usedKeys().filter((u) => !u.key.endsWith(".")))
      for (const l of LANGUAGES)
        if (page[l]?.[key] === undefined && consoleCat[l]?.[key] === undefined) missing.push(`${file}: ${l} ${key}`);
    expect(missing).toEqual([]);
    expect(usedKeys().length).toBeGreaterThan(100);
  });

  it("have the same keys in each language (no English left in the French page)", () => {
    for (const cat of [consoleCat, CODE_WORDS as Cat, CATALOGUES.events as Cat]) {
      const en = Object.keys(cat.en!).sort();
      for (const l of LANGUAGES) expect(Object.keys(cat[l]!).sort(), l).toEqual(en);
    }
    const en = Object.keys(page.en!).sort();
    const fr = new Set(Object.keys(page.fr!));
    // Words that are the same in both languages may be left out of the French page catalogue.
    const same = en.filter((k) => !fr.has(k)).filter((k) => !/^[\d×{}\s/%-]*$/.test(page.en![k]!.replace(/\{\w+\}/g, "")));
    expect(same).toEqual([]);
  });

  it("name every dynamic key family (connection states, dose states, adherence kinds)", () => {
    for (const k of ["conn.online", "conn.offline", "conn.off", "conn.syncing", "conn.connecting"])
      for (const l of LANGUAGES) expect(page[l]![k], `${l} ${k}`).toBeDefined();
    for (const k of ["k.onTime", "k.late", "k.missed", "k.partial", "k.unreported"])
      for (const l of LANGUAGES) expect(consoleCat[l]![k], `${l} ${k}`).toBeDefined();
  });

  it("put a refusal code in words in each language", () => {
    const codes = readFileSync(path.resolve(DIR, "../../../docs/config.md"), "utf8").match(/\bCFG_[A-Z_]+\b/g) ?? [];
    const words = CODE_WORDS as Cat;
    const missing = [...new Set(codes)].filter((c) => LANGUAGES.some((l) => words[l]![c] === undefined));
    expect(missing).toEqual([]);
  });
});
