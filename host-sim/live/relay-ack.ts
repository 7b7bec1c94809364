/**
 * The dashboard's "replies OK" on a notification: the relay's caregiver acknowledgement (as an
 * SMS reply would, via "console"), and a line in the notifications panel saying what it does.
 */
import type { RelayHandle } from "../../cloud/relay/service";

/** The part of the stack's notification feed this needs. */
interface Feed {
  readonly items: readonly { n: number; to: string; device: string; key: string }[];
  add(e: { t: number; ch: string; to: string; device: string; kind: string; title: string; body: string; key: string }): unknown;
}

export function relayAck(
  r: { readonly handle: RelayHandle; readonly notifications: Feed },
  clock: () => number,
): (n: number) => Promise<{ ok: boolean; code?: string; until?: number }> {
  return async (n) => {
    const e = r.notifications.items.find((x) => x.n === n);
    if (e === undefined) return { ok: false, code: "ACK_NO_NOTIFICATION" };
    const a = await r.handle.hooks.acknowledge({ person: e.to, via: "console", key: e.key });
    if (!a.ok) return { ok: false, code: a.code };
    const fr = r.handle.hooks.person(e.to)?.lang === "fr";
    r.notifications.add({
      t: clock(),
      ch: "reply",
      to: e.to,
      device: e.device,
      kind: "ack",
      // In the language of the person who replied, like every notice to them.
      title: fr ? "Accusé de réception" : "Acknowledged",
      body: fr
        ? `${e.to} a répondu OK pour ${a.slot} : plus de relance pendant ${a.refireMin} min, puis un rappel si la dose n'est toujours pas prise.`
        : `${e.to} replied OK for ${a.slot}: no more paging for ${a.refireMin} min; told again then if the dose is still not taken.`,
      key: e.key,
    });
    return { ok: true, until: a.until };
  };
}
