// Pharmacist console, refill side (docs/pharmacist.md, refill): the dispenser weighs the tray
// and answers; and the console's words for codes (console-i18n.js).
import { refreshAudit } from "/console-history.js";
import { CODE_WORDS, CONSOLE_MESSAGES } from "/console-i18n.js";
import { $ } from "/dom.js";
import { addMessages, getLang, t } from "/i18n.js";

addMessages(CONSOLE_MESSAGES);

/** A code in words, with the code itself; the device's own detail (English) only in English. */
export function why(code, message) {
  const words = CODE_WORDS[getLang()]?.[code] ?? CODE_WORDS.en[code];
  const head = words ? `${words} (${code})` : String(code);
  return message && getLang() === "en" ? `${head} — ${message}` : head;
}

/** The refill workflow (docs/pharmacist.md, refill): the device weighs the tray and answers. */
export async function checkRefill(api, device) {
  const out = $("#rf-result");
  const comp = $("#rf-comp").value;
  const doses = Number($("#rf-doses").value);
  out.textContent = t("rf.sending");
  try {
    const r = await api("POST", `/api/devices/${device}/refill`, { comp, doses });
    const v = r.verdict;
    out.dataset.outcome = !r.ok ? "refused" : v ? v.type : "sent";
    const n = v?.doses;
    const e = v?.expected;
    out.textContent = !r.ok
      ? t("rf.refused", { why: why(r.code) })
      : v?.type === "refill.verified"
        ? t("rf.verified", { comp, n })
        : v?.type === "refill.expected"
          ? t("rf.expected", { comp, n, e, until: String(v.until).slice(11, 16) })
          : v?.type === "refill.mismatch"
            ? t("rf.mismatch", { comp, n, e })
            : t("rf.sent");
  } catch (e) {
    out.textContent = t("rf.failed", { m: e.message });
  }
  refreshAudit(api);
}

export function fillRefillCompartments(cfg) {
  const sel = $("#rf-comp");
  const ids = (cfg?.compartments ?? []).map((c) => c.id);
  if ([...sel.options].map((o) => o.value).join() !== ids.join())
    sel.replaceChildren(...(cfg?.compartments ?? []).map((c) => new Option(`${c.label} (${c.id})`, c.id)));
}
