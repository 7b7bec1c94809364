/**
 * The ESP32 manifest names every firmware module explicitly, in "modules" and in "preload".
 * mcconfig matches preload wildcards ("core/*") only against .js files, so TypeScript modules
 * are preloaded (kept in flash) only when named one by one (docs/hardware.md).
 *
 *   npm run manifest            check manifests/esp32/manifest.json against firmware/
 *   npm run manifest -- --write rewrite its "modules" and "preload" lists
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const MANIFEST = path.join(ROOT, "manifests/esp32/manifest.json");

/** Module names (paths under firmware/ without .ts), sorted; declaration files excluded. */
export function firmwareModules(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(path.join(ROOT, "firmware", dir), { withFileTypes: true })) {
      const rel = dir === "" ? e.name : `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(rel.slice(0, -3));
    }
  };
  walk("");
  return out.sort();
}

export interface ManifestModules {
  modules: Record<string, string>;
  preload: string[];
}

/**
 * Native project modules (a .js host-function module and its .c, under manifests/esp32/native):
 * named and preloaded like the TypeScript ones. Paths go through ../esp32 so that a manifest derived
 * in a sibling folder (the Moddable check's explicit-preload copy) finds them too.
 */
export const NATIVE_MODULES: Readonly<Record<string, string>> = Object.freeze({ "dk-ota": "../esp32/native/dk-ota" });

/** What the manifest's "modules" and "preload" must say. */
export function expectedModules(): ManifestModules {
  const modules: Record<string, string> = {};
  for (const m of firmwareModules()) modules[m] = `../../firmware/${m}`;
  for (const [name, file] of Object.entries(NATIVE_MODULES)) modules[name] = file;
  return { modules, preload: [...firmwareModules(), ...Object.keys(NATIVE_MODULES)].sort() };
}

export function readManifest(): Record<string, unknown> & ManifestModules {
  return JSON.parse(fs.readFileSync(MANIFEST, "utf8")) as Record<string, unknown> & ManifestModules;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const m = readManifest();
  const want = expectedModules();
  if (process.argv.includes("--write")) {
    m.modules = want.modules;
    m.preload = want.preload;
    fs.writeFileSync(MANIFEST, `${JSON.stringify(m, null, 2)}\n`);
    // In the project's format (npm run lint checks it).
    spawnSync(process.execPath, [path.join(ROOT, "node_modules/@biomejs/biome/bin/biome"), "format", "--write", MANIFEST], {
      stdio: "ignore",
    });
    process.stdout.write(`manifest: ${want.preload.length} modules, all preloaded\n`);
  } else {
    const same = JSON.stringify(m.modules) === JSON.stringify(want.modules) && JSON.stringify(m.preload) === JSON.stringify(want.preload);
    process.stdout.write(same ? "manifest up to date\n" : "manifest out of date: npm run manifest -- --write\n");
    process.exitCode = same ? 0 : 1;
  }
}
