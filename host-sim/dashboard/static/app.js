// Dosekeeper live simulator dashboard: fleet view, time controls, live updates over SSE.
// Plain ES module, no build step. The pharmacist console lives in console.js.
import { initConsole, onFleetState } from "/console.js";
import { $, el } from "/dom.js";
import { onNotify } from "/notifications.js";
import { applyStatic, cardLang, eventWordIn, getChoice, setLang, t, tIn } from "/i18n.js";

const CSRF = document.querySelector('meta[name="dk-csrf"]')?.getAttribute("content") ?? "";

export const api = async (method, url, body) => {
  const headers = body ? { "content-type": "application/json" } : {};
  if (method !== "GET") headers["x-csrf-token"] = CSRF;
  const r = await fetch(url, {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok && j.error) throw new Error(j.error);
  return j;
};

let state = { devices: [], now: 0, warp: 0 };
const offsets = new Map(); // device id -> local offset ms
const TIMELINE_MAX = 80;

function offsetOf(d, now) {
  if (!d.localTime) return 0;
  return Math.round((Date.parse(d.localTime.replace(" ", "T") + ":00Z") - now) / 900000) * 900000;
}
function hhmm(t, off) {
  return new Date(t + off).toISOString().slice(11, 16);
}
function hhmmss(t, off) {
  return new Date(t + off).toISOString().slice(11, 19);
}

/** A translator bound to one language (each card speaks its dispenser's, i18n.js cardLang). */
const tr = (lang) => (key, vars) => tIn(lang, key, vars);
/** A vocabulary value (channel, sound pattern) in words, else as it is. */
const word = (t, family, v) => {
  if (typeof v !== "string") return v;
  const w = t(`${family}.${v}`);
  return w === `${family}.${v}` ? v : w;
};

function fmtLine(l, off, lang) {
  const t = tr(lang);
  const d = l.d;
  let s;
  switch (l.k) {
    case "ev": {
      const x = d.data || {};
      const bits = [
        x.slot,
        x.comp,
        word(t, "ch", x.ch),
        word(t, "pattern", x.pattern),
        x.code,
        x.version !== undefined ? "v" + x.version : undefined,
        x.pills !== undefined ? t("pills", { n: x.pills }) : undefined,
        x.lateMin !== undefined ? t("late.min", { n: x.lateMin }) : undefined,
        x.reason,
      ].filter((b) => b !== undefined && b !== null);
      if (x.errors && x.errors.length) bits.push(x.errors.map((e) => `${e.code}@${e.path}`).join(" "));
      s = `#${d.seq} ${eventWordIn(lang, d.type)} ${bits.join(" · ")}`;
      break;
    }
    case "led":
      s = t("led.line", { i: d.i, s: d.on ? "●" : "○" });
      break;
    case "buzzer":
      s = d.on ? t("buzzer.line", { p: word(t, "pattern", d.pattern), v: d.volume }) : t("buzzer.off");
      break;
    case "power":
      s = d.on ? t("power.on", { r: d.reason }) : t("power.off", { r: d.how });
      break;
    case "sim":
      // Only what a person can read: the simulator's own protocol lines stay out of the timeline.
      if (typeof d.sntp !== "string") return null;
      s = t("sim.sntp", { t: d.sntp.slice(11, 19) });
      break;
    default:
      return null;
  }
  return `${hhmmss(l.t, off)} ${s}`;
}

function act(id, body) {
  return api("POST", `/api/devices/${id}/act`, body).catch((e) => flash(id, e.message));
}

function flash(id, msg) {
  const card = document.getElementById("dev-" + id);
  const m = card && $(".dev-msg", card);
  if (m) {
    m.textContent = msg;
    setTimeout(() => {
      if (m.textContent === msg) m.textContent = "";
    }, 4000);
  }
}

function buildDevice(d) {
  const lang = cardLang(d);
  const t = tr(lang);
  const card = el("article", { class: "dev", id: "dev-" + d.id, lang, "aria-label": t("dev.aria", { id: d.id }), "data-sig": sig(d) });
  const head = el(
    "div",
    { class: "dev-head" },
    el("h2", { text: d.id }),
    el("span", { class: "badge conn", "data-role": "conn", "aria-label": t("conn.aria") }),
    el("span", { class: "badge cloud", "data-role": "cloud", "aria-label": t("cloud.aria") }),
    el("span", { class: "buzz", "data-role": "buzzer", "aria-label": t("buzzer.off.aria") }),
    el("span", { class: "muted", "data-role": "cfg" }),
    el("span", { class: "muted", "data-role": "local" }),
    el("span", { class: "err", "data-role": "faults" }),
    el("span", { class: "err dev-msg", role: "status" }),
  );
  const comps = el("div", { class: "comps" });
  for (const c of d.compartments) {
    const lbl = `${c.label} (${d.id})`;
    comps.append(
      el(
        "section",
        { class: "comp", "data-comp": c.id, "aria-label": t("comp.aria", { lbl }) },
        el(
          "div",
          { class: "comp-head" },
          el("span", { class: "led", "data-role": "led", role: "img", "aria-label": t("led.off") }),
          el("span", { text: `${c.label}` }),
          el("span", { class: "muted", text: c.id }),
        ),
        el("div", { class: "line", "data-role": "mass" }),
        el("div", { class: "line stock", "data-role": "stock" }),
        el("div", { class: "line weigh", "data-role": "weigh" }),
        el("div", { class: "line", "data-role": "next" }),
        el("div", { class: "line", "data-role": "esc" }),
        el(
          "div",
          { class: "btns" },
          el(
            "button",
            {
              type: "button",
              "aria-label": t("take.dose.aria", { lbl }),
              onclick: () => act(d.id, { do: "remove", compartment: c.id, doses: 1 }),
            },
            t("take.dose"),
          ),
          el(
            "button",
            {
              type: "button",
              "aria-label": t("take.pill.aria", { lbl }),
              onclick: () => act(d.id, { do: "remove", compartment: c.id, pills: 1 }),
            },
            t("take.pill"),
          ),
          el(
            "button",
            {
              type: "button",
              "aria-label": t("lift.aria", { lbl }),
              onclick: () => act(d.id, { do: "lift", compartment: c.id }),
            },
            t("lift"),
          ),
          el(
            "button",
            { type: "button", "aria-label": t("bump.aria", { lbl }), onclick: () => act(d.id, { do: "bump", compartment: c.id }) },
            t("bump"),
          ),
          el(
            "button",
            {
              type: "button",
              "aria-label": t("refill.aria", { lbl }),
              onclick: () => act(d.id, { do: "add", compartment: c.id, doses: 7 }),
            },
            t("refill"),
          ),
          el(
            "button",
            {
              type: "button",
              "aria-label": t("fault.aria", { lbl }),
              onclick: () => act(d.id, { do: "fault", compartment: c.id, kind: "disconnect", durationMs: 120000 }),
            },
            t("fault"),
          ),
        ),
      ),
    );
  }
  const ctl = el(
    "div",
    { class: "dev-ctl", role: "group", "aria-label": t("controls.aria", { id: d.id }) },
    el(
      "button",
      { type: "button", "aria-label": t("btn.short.aria", { id: d.id }), onclick: () => act(d.id, { do: "button", kind: "short" }) },
      t("btn.short"),
    ),
    el(
      "button",
      { type: "button", "aria-label": t("btn.long.aria", { id: d.id }), onclick: () => act(d.id, { do: "button", kind: "long" }) },
      t("btn.long"),
    ),
    el(
      "button",
      { type: "button", "data-role": "net", onclick: (ev) => act(d.id, { do: "network", up: ev.currentTarget.dataset.up !== "true" }) },
      t("net.drop"),
    ),
    el(
      "button",
      {
        type: "button",
        "aria-label": t("cut.aria", { id: d.id }),
        onclick: () => act(d.id, { do: "power-cut", offMs: 600000 }),
      },
      t("cut"),
    ),
    el("button", { type: "button", "aria-label": t("reboot.aria", { id: d.id }), onclick: () => act(d.id, { do: "reboot" }) }, t("reboot")),
  );
  const tl = el("div", {
    class: "timeline",
    "data-role": "timeline",
    tabindex: "0",
    role: "log",
    "aria-label": t("timeline.aria", { id: d.id }),
  });
  card.append(head, comps, ctl, tl);
  return card;
}

const sig = (d) => cardLang(d) + "|" + d.compartments.map((c) => c.id + ":" + c.label).join(",");

function renderDevice(d, now) {
  const t = tr(cardLang(d));
  let card = document.getElementById("dev-" + d.id);
  if (card && card.dataset.sig !== sig(d)) {
    const old = card;
    card = buildDevice(d);
    const tl = $("[data-role=timeline]", old);
    $("[data-role=timeline]", card).replaceWith(tl);
    old.replaceWith(card);
  }
  if (!card) {
    card = buildDevice(d);
    $("#fleet").append(card);
  }
  const off = offsetOf(d, now);
  offsets.set(d.id, off);
  card.classList.toggle("off", !d.alive);
  const conn = $("[data-role=conn]", card);
  conn.textContent = t("conn." + d.connection) + (d.connection === "syncing" ? ` (${d.outbox})` : "");
  conn.dataset.state = d.connection;
  conn.className = "badge conn " + ({ online: "ok", offline: "bad", off: "bad", syncing: "warn" }[d.connection] || "");
  const cloud = $("[data-role=cloud]", card);
  const rs = state.relay && state.relay.devices ? state.relay.devices[d.id] : undefined;
  cloud.hidden = !state.relay;
  cloud.dataset.state = rs ? (rs.online === true ? "online" : rs.online === false ? "offline" : "unknown") : "unknown";
  cloud.textContent = !rs
    ? t("relay.none")
    : rs.online === false
      ? t("relay.offline", { t: hhmm(rs.offlineSince, off) })
      : t("relay.online");
  cloud.className = "badge cloud " + (rs && rs.online === true ? "ok" : rs && rs.online === false ? "bad" : "");
  const bz = $("[data-role=buzzer]", card);
  bz.textContent = d.buzzer
    ? `♪ ${word(t, "pattern", d.buzzer)}`
    : d.silencedUntil
      ? t("silenced.until", { t: hhmm(d.silencedUntil, off) })
      : t("quiet");
  bz.classList.toggle("on", !!d.buzzer);
  bz.dataset.state = d.buzzer ? "on" : "off";
  bz.setAttribute("aria-label", d.buzzer ? t("buzzer.on.aria", { p: d.buzzer }) : t("buzzer.off.aria"));
  $("[data-role=cfg]", card).textContent = d.config ? t("cfg.v", { v: d.config.version }) : d.alive ? t("cfg.none") : "";
  $("[data-role=local]", card).textContent = d.localTime ? `${t("local")} ${d.localTime.slice(11)}` : "";
  $("[data-role=faults]", card).textContent = d.faults.map((f) => `${f.code} ch${f.channel}`).join(", ");
  const net = $("[data-role=net]", card);
  net.dataset.up = String(d.network);
  net.textContent = d.network ? t("net.drop") : t("net.restore");
  net.setAttribute("aria-label", t(d.network ? "net.drop.aria" : "net.restore.aria", { id: d.id }));
  for (const c of d.compartments) {
    const box = $(`[data-comp="${c.id}"]`, card);
    if (!box) continue;
    box.classList.toggle("lit", c.ledOn);
    const led = $("[data-role=led]", box);
    led.classList.toggle("on", c.ledOn);
    led.dataset.state = c.ledOn ? "on" : "off";
    led.setAttribute("aria-label", c.ledOn ? t("led.on") : t("led.off"));
    $("[data-role=mass]", box).textContent =
      c.measuredNetGrams === null
        ? t("scale.none")
        : t("scale", { g: c.measuredNetGrams.toFixed(2), doses: Math.round(c.estDoses), pills: c.estPills });
    const stock = $("[data-role=stock]", box);
    const sk = c.stock;
    stock.textContent = !sk || sk.doses === null ? "" : t(sk.days === null ? "stock.doses" : "stock.days", sk);
    stock.classList.toggle("low", !!sk && sk.days !== null && sk.days < c.lowDays);
    stock.dataset.low = String(!!sk && sk.days !== null && sk.days < c.lowDays);
    const wg = $("[data-role=weigh]", box);
    wg.textContent = c.weigh && c.weigh.sure === false ? t("weigh.unsure", { z: c.weigh.z }) : "";
    wg.dataset.sure = String(c.weigh ? c.weigh.sure : null);
    const nx = $("[data-role=next]", box);
    nx.replaceChildren();
    if (c.next) {
      nx.append(
        `${c.next.slot.split("@")[0]} ${hhmm(c.next.due, off)} `,
        el("span", { class: "state " + c.next.state, "data-role": "state", "data-state": c.next.state, text: t("state." + c.next.state) }),
      );
    } else nx.textContent = c.prn ? t("prn.info", { n: c.prn.maxPer24h }) : t("nothing.scheduled");
    const e = c.escalation;
    $("[data-role=esc]", box).textContent = e
      ? t("esc.step", {
          step: e.step,
          what: `${word(t, "ch", e.ch)}${e.pattern ? " " + word(t, "pattern", e.pattern) : ""}${e.volume ? " " + e.volume + "%" : ""}${e.to ? " → " + e.to.join(", ") : ""}`,
        })
      : "";
  }
}

function appendLines(linesByDevice) {
  for (const [id, lines] of Object.entries(linesByDevice)) {
    const card = document.getElementById("dev-" + id);
    if (!card) continue;
    const tl = $("[data-role=timeline]", card);
    const off = offsets.get(id) || 0;
    for (const l of lines) {
      const text = fmtLine(l, off, card.lang || "en");
      if (text !== null) tl.prepend(el("div", { class: "k-" + l.k, "data-type": l.d.type || l.k, text }));
    }
    while (tl.children.length > TIMELINE_MAX) tl.lastChild.remove();
  }
}

function render(s) {
  state = s;
  const d0 = s.devices[0];
  const off = d0 ? offsetOf(d0, s.now) : 0;
  $("#sim-time").textContent =
    `${new Date(s.now + off).toISOString().slice(0, 19).replace("T", " ")} ${t("local")} · ${new Date(s.now).toISOString().slice(11, 19)} UTC`;
  $("#sim-time").dataset.now = String(s.now);
  $("#notif-src").textContent = s.relay ? t("notif.src") : t("notif.off");
  const lag = $("#lag");
  lag.hidden = !(s.lagMs > 1000);
  lag.textContent = s.lagMs > 1000 ? t("lag") : "";
  for (const b of document.querySelectorAll("[data-warp]")) b.setAttribute("aria-pressed", String(Number(b.dataset.warp) === s.warp));
  for (const d of s.devices) renderDevice(d, s.now);
  onFleetState(s);
}

function connect() {
  const es = new EventSource("/api/stream");
  const conn = $("#conn");
  es.onopen = () => {
    conn.textContent = t("live");
    conn.className = "badge ok";
  };
  es.onerror = () => {
    conn.textContent = t("reconnecting");
    conn.className = "badge bad";
  };
  es.addEventListener("state", (ev) => render(JSON.parse(ev.data)));
  es.addEventListener("lines", (ev) => appendLines(JSON.parse(ev.data)));
  es.addEventListener("notify", (ev) => onNotify(JSON.parse(ev.data), state, (d) => offsetOf(d, state.now), api));
}

for (const b of document.querySelectorAll("[data-warp]")) {
  b.addEventListener("click", () => api("POST", "/api/warp", { warp: Number(b.dataset.warp) }));
}
$("#jump-next").addEventListener("click", async (ev) => {
  const b = ev.currentTarget;
  b.disabled = true;
  try {
    const r = await api("POST", "/api/jump", { to: "next-dose", byMs: 1000 });
    // A dose that is calling is never skipped: say where it is instead of jumping over it.
    for (const id of r.calling ?? []) flash(id, t("calling"));
  } finally {
    b.disabled = false;
  }
});
$("#add-device").addEventListener("click", () => api("POST", "/api/devices").catch((e) => alert(e.message)));

applyStatic();
$("#lang").value = getChoice();
$("#lang").addEventListener("change", (ev) => setLang(ev.currentTarget.value));
initConsole(api);
connect();
