/**
 * The escalation channels: one static table, the single source for the device (config
 * validation, ladder, outputs), the relay (providers, contacts), the dashboard and the JSON
 * schema of the config (docs/config.schema.json is checked against it by a test).
 *
 * Adding a channel: add a row here; a remote channel then needs a relay provider
 * (cloud/relay/providers/) and its test. docs/architecture.md, "where to change X".
 */

export interface ChannelInfo {
  readonly id: string;
  /** Remote channels are sent by the relay to a person; local ones act on the box. */
  readonly remote: boolean;
  /** Words for people (dashboard, docs). */
  readonly label: string;
  /** What a recipient needs to be reached on it ("box": nothing, it acts on the dispenser). */
  readonly reach: "box" | "push-subscription" | "phone";
}

export const CHANNEL_TABLE = Object.freeze([
  Object.freeze({ id: "led", remote: false, label: "compartment light", reach: "box" }),
  Object.freeze({ id: "sound", remote: false, label: "sound", reach: "box" }),
  Object.freeze({ id: "push", remote: true, label: "push notification", reach: "push-subscription" }),
  Object.freeze({ id: "sms", remote: true, label: "text message", reach: "phone" }),
  Object.freeze({ id: "call", remote: true, label: "voice call", reach: "phone" }),
] as const satisfies readonly ChannelInfo[]);

export type Channel = (typeof CHANNEL_TABLE)[number]["id"];
export type RemoteChannel = Extract<(typeof CHANNEL_TABLE)[number], { readonly remote: true }>["id"];
export type LocalChannel = Exclude<Channel, RemoteChannel>;

export const CHANNELS: readonly Channel[] = Object.freeze(CHANNEL_TABLE.map((c) => c.id));
export const REMOTE_CHANNELS: readonly RemoteChannel[] = Object.freeze(
  CHANNEL_TABLE.filter((c): c is Extract<(typeof CHANNEL_TABLE)[number], { readonly remote: true }> => c.remote).map((c) => c.id),
);

/** The table row of a channel. */
export function channelInfo(ch: Channel): ChannelInfo {
  for (const c of CHANNEL_TABLE) if (c.id === ch) return c;
  throw new RangeError("unknown channel " + ch);
}

export function isChannel(x: unknown): x is Channel {
  return typeof x === "string" && (CHANNELS as readonly string[]).indexOf(x) >= 0;
}

export function isRemote(ch: string): ch is RemoteChannel {
  return (REMOTE_CHANNELS as readonly string[]).indexOf(ch) >= 0;
}

/** Sound patterns a ladder's sound step (and a cue) may name. */
export const SOUND_PATTERNS = Object.freeze(["chime", "beep", "alarm"] as const);
export type SoundPattern = (typeof SOUND_PATTERNS)[number];

/**
 * The languages a person or a household can be addressed in: the contact book (each person),
 * the config's `lang` (the household: the dashboard's card of that dispenser) and the message
 * catalogues of the relay and the dashboard. Adding one: a row here and a catalogue in each.
 */
export const LANGUAGES = Object.freeze(["en", "fr"] as const);
export type Language = (typeof LANGUAGES)[number];

export function isLanguage(x: unknown): x is Language {
  return typeof x === "string" && (LANGUAGES as readonly string[]).indexOf(x) >= 0;
}
