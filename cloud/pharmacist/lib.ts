/**
 * Pharmacist library (Node): sign and push configurations and commands to dispensers over MQTT,
 * read their status and events, and keep an audit log. The CLI (cli.ts) is a thin layer on top.
 * Protocol: docs/protocol.md; signing: docs/signing.md; usage: docs/pharmacist.md.
 */
export * from "./broker";
export * from "./push";
export * from "./command";
export * from "./read";
