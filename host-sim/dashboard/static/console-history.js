// Pharmacist console, history side: the adherence chart (per day, from the relay or the simulator)
// and the audit views (console and pharmacist library; the relay's own audit).
import { $ } from "/dom.js";
import { t } from "/i18n.js";

export async function refreshAdherence(api, device) {
  if (!device) return;
  const r = await api("GET", `/api/devices/${device}/adherence`);
  $("#adh-src").textContent = t("adh.source", { s: r.source });
  const days = r.days.slice(-14);
  const box = $("#adh-chart");
  if (!days.length) {
    box.textContent = t("adh.none");
    box.setAttribute("aria-label", t("adh.none.aria"));
    return;
  }
  const max = Math.max(1, ...days.map((d) => d.onTime + d.late + d.missed + d.partial + (d.unreported || 0)));
  const W = 360,
    H = 110,
    bw = Math.min(36, (W - 10) / days.length - 4);
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H + 12}`);
  const desc = [];
  days.forEach((d, i) => {
    let y = H;
    const x = 5 + i * (bw + 4);
    for (const [k, cls] of [
      ["onTime", "#2e9d5b"],
      ["late", "#e0a21b"],
      ["missed", "#d14343"],
      ["partial", "#8b5cf6"],
      ["unreported", "#9aa2ad"],
    ]) {
      const h = ((d[k] || 0) / max) * (H - 10);
      if (h <= 0) continue;
      y -= h;
      const r = document.createElementNS(NS, "rect");
      Object.entries({ x, y, width: bw, height: h, fill: cls }).forEach(([a, v]) => r.setAttribute(a, v));
      const tt = document.createElementNS(NS, "title");
      tt.textContent = `${d.date}: ${d[k]} ${t("k." + k)}`;
      r.append(tt);
      svg.append(r);
    }
    const tx = document.createElementNS(NS, "text");
    Object.entries({ x: x + bw / 2, y: H + 10, "font-size": 8, "text-anchor": "middle" }).forEach(([a, v]) => tx.setAttribute(a, v));
    tx.textContent = d.date.slice(5);
    svg.append(tx);
    desc.push(
      t("adh.day", { date: d.date, on: d.onTime, late: d.late, missed: d.missed, partial: d.partial }) +
        (d.unreported ? t("adh.unrep", { n: d.unreported }) : ""),
    );
  });
  box.replaceChildren(svg);
  box.setAttribute("aria-label", `${t("adh.aria")}. ${desc.join(". ")}`);
  box.dataset.days = JSON.stringify(days);
}

function row(tb, cells) {
  const tr = document.createElement("tr");
  for (const v of cells) {
    const td = document.createElement("td");
    td.textContent = v == null ? "" : String(v);
    tr.append(td);
  }
  tb.append(tr);
  return tr;
}

let auditShown = 14;

/** Newest first, 14 at a time ("older" shows 14 more); simulated and real times in their own columns. */
export async function refreshAudit(api, more = false) {
  if (more) auditShown += 14;
  const list = await api("GET", "/api/audit");
  const tb = $("#audit tbody");
  tb.replaceChildren();
  const older = $("#audit-older");
  if (older) {
    older.hidden = list.length <= auditShown;
    older.textContent = t("au.older", { n: list.length - Math.min(list.length, auditShown) });
  }
  for (const a of list.slice(0, auditShown)) {
    const d = a.detail || {};
    let detail = "";
    if (a.action === "config.push") {
      const what = d.ok
        ? t("au.acked")
        : d.outcome && d.outcome !== "refused"
          ? d.outcome + (d.code ? " " + d.code : "")
          : t("au.refused", { code: d.code });
      const paths = (d.errors || [])
        .map((e) => e.path)
        .filter(Boolean)
        .join(" ");
      detail = `v${d.version ?? "?"} ${what}${paths ? t("au.at", { paths }) : ""} ${t("au.key", { kid: d.kid })}`;
    } else if (d.source) detail = t("au.src", { s: d.source });
    const sim = a.simAt ? a.simAt.slice(5, 16).replace("T", " ") : "—";
    const real = (a.at || "").slice(5, 19).replace("T", " ");
    row(tb, [sim, real, a.source || "console", a.action, a.device, detail]).dataset.action = a.action;
  }
  const r = await api("GET", "/api/relay-audit");
  $("#relay-audit-src").textContent = r.available ? t("ra.src") : t("ra.off");
  const rb = $("#relay-audit tbody");
  rb.replaceChildren();
  for (const e of r.entries.filter((x) => x.action !== "audit.read").slice(0, 12)) {
    row(rb, [new Date(e.t).toISOString().slice(5, 16).replace("T", " "), e.actor, e.action, e.device, e.code]).dataset.action = e.action;
  }
}
