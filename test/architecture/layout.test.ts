/**
 * The layout rules of docs/architecture.md, checked on the source tree:
 * no module over 400 lines, no import cycle (type imports included), firmware/core imports only
 * firmware/core, firmware/ imports no Node module, and the ESP32 manifest names and preloads
 * every firmware module.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { expectedModules, readManifest } from "../../host-sim/cli/manifest";

const ROOT = path.resolve(__dirname, "../..");
const MAX_LINES = 400;

function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(path.join(ROOT, d), { withFileTypes: true })) {
      const rel = `${d}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (/\.(ts|mjs|js)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

const SOURCE_DIRS = ["firmware", "host-sim", "cloud"];
const ALL = SOURCE_DIRS.flatMap(sources);

/** Relative import specifiers of a module (static, dynamic and type-only). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), "utf8");
  const out: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(m[1] ?? m[2]);
  return out;
}

function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  for (const ext of ["", ".ts", ".js", ".mjs", "/index.ts"]) {
    const f = base + ext;
    if (fs.existsSync(path.join(ROOT, f)) && fs.statSync(path.join(ROOT, f)).isFile()) return f;
  }
  return undefined;
}

describe("source layout", () => {
  it(`no module over ${MAX_LINES} lines`, () => {
    const big = ALL.map((f) => ({ f, n: fs.readFileSync(path.join(ROOT, f), "utf8").split("\n").length - 1 })).filter(
      (x) => x.n > MAX_LINES,
    );
    expect(big).toEqual([]);
  });

  it("every relative import resolves", () => {
    const broken: string[] = [];
    for (const f of ALL) for (const s of importsOf(f)) if (s.startsWith(".") && resolve(f, s) === undefined) broken.push(`${f}: ${s}`);
    expect(broken).toEqual([]);
  });

  it("no import cycles (type-only imports included)", () => {
    const graph = new Map<string, string[]>();
    for (const f of ALL)
      graph.set(
        f,
        importsOf(f).flatMap((s) => resolve(f, s) ?? []),
      );
    const cycles: string[] = [];
    const state = new Map<string, 1 | 2>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 1);
      stack.push(f);
      for (const g of graph.get(f) ?? []) {
        if (state.get(g) === 1) cycles.push([...stack.slice(stack.indexOf(g)), g].join(" -> "));
        else if (state.get(g) === undefined && graph.has(g)) visit(g);
      }
      stack.pop();
      state.set(f, 2);
    };
    for (const f of graph.keys()) if (state.get(f) === undefined) visit(f);
    expect(cycles).toEqual([]);
  });

  it("firmware/core imports only firmware/core; firmware/ imports no Node or DOM module", () => {
    const bad: string[] = [];
    for (const f of ALL.filter((x) => x.startsWith("firmware/"))) {
      for (const s of importsOf(f)) {
        if (s.startsWith("node:")) bad.push(`${f}: ${s}`);
        const r = resolve(f, s);
        if (f.startsWith("firmware/core/") && s.startsWith(".") && (r === undefined || !r.startsWith("firmware/core/")))
          bad.push(`${f}: ${s}`);
        if (f.startsWith("firmware/core/") && !s.startsWith(".")) bad.push(`${f}: ${s}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("the ESP32 manifest names and preloads every firmware module (npm run manifest -- --write)", () => {
    const m = readManifest();
    const want = expectedModules();
    expect(m.modules).toEqual(want.modules);
    expect([...m.preload].sort()).toEqual(want.preload);
  });
});
