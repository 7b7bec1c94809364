#!/usr/bin/env node
// Shim for `npx dosekeeper …`: runs the TypeScript CLI (cloud/pharmacist/cli.ts) through tsx.
import { tsImport } from "tsx/esm/api";

const cli = await tsImport("../cloud/pharmacist/cli.ts", import.meta.url);
process.exitCode = await cli.main(process.argv.slice(2));
