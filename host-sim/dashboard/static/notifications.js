// Notifications panel: what the relay sent (console provider), newest first. An escalation can be
// acknowledged as its caregiver would by SMS reply ("OK"): the relay quiets the slot's chain and
// re-fires later if the dose is still not taken (docs/relay.md, "Acknowledgement").
import { $, el } from "/dom.js";
import { t } from "/i18n.js";

const ACKABLE = new Set(["escalation", "refire"]);
const hhmm = (t, off) => new Date(t + off).toISOString().slice(11, 16);

async function acknowledge(api, n, button) {
  button.disabled = true;
  try {
    const r = await api("POST", "/api/notifications/ack", { n });
    button.textContent = r.ok ? t("acknowledged") : t("not.acknowledged", { code: r.code });
  } catch (e) {
    button.textContent = e.message;
    button.disabled = false;
  }
}

export function onNotify(list, state, offsetOf, api) {
  const ol = $("#notifications");
  const empty = $("[data-empty]", ol);
  if (empty && list.length) empty.remove();
  for (const n of list) {
    const dev = state.devices.find((d) => d.id === n.device);
    const off = dev ? offsetOf(dev) : 0;
    const li = el(
      "li",
      { "data-kind": n.kind, "data-device": n.device, "data-ch": n.ch, "data-n": String(n.n) },
      el("span", { class: "ch " + n.ch, text: n.ch }),
      `${hhmm(n.t, off)} ${n.device} → ${n.to}: `,
      el("strong", { text: n.title }),
      ` ${n.body}`,
    );
    if (ACKABLE.has(n.kind) && n.ch !== "reply") {
      const b = el("button", {
        type: "button",
        class: "ack",
        "aria-label": t("replies.aria", { who: n.to }),
        text: t("replies.ok", { who: n.to }),
      });
      b.addEventListener("click", () => acknowledge(api, n.n, b));
      li.append(b);
    }
    ol.prepend(li);
  }
  while (ol.children.length > 60) ol.lastChild.remove();
}
