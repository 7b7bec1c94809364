/**
 * MQTT topics (docs/protocol.md). Every device topic is dk/<device id>/<verb>[/<name>].
 *   evt     device → cloud  events (QoS 1)            status  device → cloud  online flag (retained, will)
 *   tele    device → cloud  telemetry (QoS 0)         stat    device → cloud  answers to configs/commands
 *   cmnd/config  cloud → device  signed config (retained)   cmnd/<name>  cloud → device  signed command
 *   rcpt    relay → device  delivery receipts of escalation requests
 */
export const TOPIC_ROOT = "dk";

export const VERB = Object.freeze({
  evt: "evt",
  tele: "tele",
  stat: "stat",
  status: "status",
  cmnd: "cmnd",
  rcpt: "rcpt",
} as const);
export type Verb = (typeof VERB)[keyof typeof VERB];

/** The command name under cmnd/ that carries a signed config. */
export const CONFIG_COMMAND = "config";

/** The command name under cmnd/ that carries firmware image chunks (core/update/ota; not signed one by one). */
export const OTA_DATA_COMMAND = "otadata";

export function deviceTopic(device: string, verb: Verb): string {
  return `${TOPIC_ROOT}/${device}/${verb}`;
}

export function commandTopic(device: string, name: string): string {
  return `${TOPIC_ROOT}/${device}/${VERB.cmnd}/${name}`;
}

export function configTopic(device: string): string {
  return commandTopic(device, CONFIG_COMMAND);
}

/** Filter over every device for one verb: dk/+/evt (the relay, the broker ACL). */
export function allDevices(verb: Verb): string {
  return `${TOPIC_ROOT}/+/${verb}`;
}

export interface ParsedTopic {
  readonly device: string;
  readonly verb: string;
  /** The command name for cmnd/<name>, else "". */
  readonly name: string;
}

/** Splits dk/<device>/<verb>[/<name>]; undefined for anything else (the device id is not checked here). */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split("/");
  if (parts[0] !== TOPIC_ROOT || parts.length < 3 || parts.length > 4 || parts[1] === "") return undefined;
  if (parts.length === 4 && parts[2] !== VERB.cmnd) return undefined;
  return { device: parts[1], verb: parts[2], name: parts.length === 4 ? parts[3] : "" };
}
