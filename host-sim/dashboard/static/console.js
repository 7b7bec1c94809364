// Pharmacist console: edit a device's schedule, validated in the browser by the device's own
// validator (firmware/core/config.ts bundled by the server as /validator.js), sign & push,
// acknowledgement or coded refusal, adherence chart, FHIR export, audit log.
import { validateConfig } from "/validator.js";
import { refreshAdherence, refreshAudit } from "/console-history.js";
import { $ } from "/dom.js";
import { t } from "/i18n.js";
import { checkRefill, fillRefillCompartments, why } from "/console-refill.js";

let api;
let hw = { channels: 4, leds: 4 };
let device = "";
let draft = null;
let lastErrors = [];
let openContents = false;
const lastEvSeq = new Map();

// ------------------------------------------------------------------ paths
function parsePath(p) {
  const out = [];
  for (const m of p.matchAll(/([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/g)) out.push(m[1] !== undefined ? m[1] : Number(m[2]));
  return out;
}
function getAt(obj, p) {
  return parsePath(p).reduce((o, k) => (o == null ? undefined : o[k]), obj);
}
function setAt(obj, p, v) {
  const ks = parsePath(p);
  let o = obj;
  for (let i = 0; i < ks.length - 1; i++) {
    if (o[ks[i]] == null) o[ks[i]] = typeof ks[i + 1] === "number" ? [] : {};
    o = o[ks[i]];
  }
  if (v === undefined) delete o[ks[ks.length - 1]];
  else o[ks[ks.length - 1]] = v;
}

// ------------------------------------------------------------------ form
function field(label, path, kind, opts = {}) {
  const id = "f-" + path.replace(/[^A-Za-z0-9]/g, "_");
  const wrap = document.createElement("span");
  wrap.className = "f";
  const lab = document.createElement("label");
  lab.htmlFor = id;
  lab.textContent = label;
  let input;
  if (opts.options) {
    input = document.createElement("select");
    for (const o of opts.options) input.append(Array.isArray(o) ? new Option(o[1], o[0]) : new Option(o, o));
  } else {
    input = document.createElement("input");
    input.type = "text";
    if (kind === "number") input.inputMode = "decimal";
  }
  input.id = id;
  input.className = opts.cls || "w-m";
  input.dataset.path = path;
  input.dataset.kind = kind;
  input.setAttribute("aria-label", opts.aria || `${label} (${path})`);
  const cur = getAt(draft, path);
  if (kind === "days") input.value = Array.isArray(cur) ? cur.join(",") : "";
  else input.value = cur === undefined || cur === null ? "" : String(cur);
  input.addEventListener("input", () => {
    setAt(draft, path, readInput(input));
    syncJson();
    validate();
  });
  const err = document.createElement("span");
  err.className = "err";
  err.id = id + "-err";
  err.dataset.errFor = path;
  input.setAttribute("aria-describedby", err.id);
  wrap.append(lab, input, err);
  return wrap;
}

function readInput(input) {
  const v = input.value.trim();
  switch (input.dataset.kind) {
    case "number":
      return v === "" ? undefined : Number.isFinite(Number(v)) ? Number(v) : v;
    case "days":
      return v === "" ? undefined : v.split(/[\s,]+/).filter(Boolean);
    case "optional":
      return v === "" ? undefined : v;
    default:
      return input.value;
  }
}

function button(text, aria, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", aria);
  b.addEventListener("click", onclick);
  return b;
}

function fieldset(legend, ...kids) {
  const fs = document.createElement("fieldset");
  const lg = document.createElement("legend");
  lg.textContent = legend;
  fs.append(lg, ...kids);
  return fs;
}

function renderForm() {
  const root = $("#pc-fields");
  root.replaceChildren();
  if (!draft) return;
  root.append(
    fieldset(
      t("fs.config"),
      field(t("f.version"), "version", "number", { cls: "w-s" }),
      field(t("f.tz"), "tz", "text", { cls: "w-l" }),
      field(t("f.lang"), "lang", "optional", {
        cls: "w-s",
        options: [
          ["", t("f.lang.none")],
          ["en", "English"],
          ["fr", "Français"],
        ],
      }),
    ),
  );
  const comps = Array.isArray(draft.compartments) ? draft.compartments : [];
  const contents = document.createElement("details");
  contents.id = "pc-contents";
  contents.open = openContents;
  contents.addEventListener("toggle", () => {
    openContents = contents.open;
  });
  const sum = document.createElement("summary");
  sum.textContent = t("fs.contents");
  contents.append(sum);
  root.append(contents);
  comps.forEach((c, i) => {
    const fs = fieldset(t("fs.comp", { id: c.id ?? i }), field(t("f.label"), `compartments[${i}].label`, "text"));
    (Array.isArray(c.meds) ? c.meds : []).forEach((_m, j) => {
      const p = `compartments[${i}].meds[${j}]`;
      fs.append(
        field(t("f.med"), `${p}.name`, "text", { cls: "w-l" }),
        field(t("f.pills"), `${p}.count`, "number", { cls: "w-s" }),
        field(t("f.mg"), `${p}.unitMg`, "number", { cls: "w-s" }),
      );
    });
    contents.append(fs);
  });
  const compIds = comps.map((c) => c.id).filter((x) => typeof x === "string");
  const doses = Array.isArray(draft.doses) ? draft.doses : [];
  const dfs = fieldset(t("fs.doses"));
  doses.forEach((d, i) => {
    const row = document.createElement("div");
    row.dataset.path = `doses[${i}]`;
    row.append(
      field(t("f.id"), `doses[${i}].id`, "text", { cls: "w-s" }),
      field(t("f.comp"), `doses[${i}].compartment`, "select", {
        options: compIds.includes(d.compartment) ? compIds : [...compIds, String(d.compartment)],
      }),
      field(t("f.time"), `doses[${i}].at`, "text", { cls: "w-s", aria: t("f.time.aria", { n: i + 1, path: `doses[${i}].at` }) }),
      field(t("f.days"), `doses[${i}].days`, "days", { cls: "w-m" }),
      button("✕", t("dose.remove.aria", { id: d.id ?? i }), () => {
        draft.doses.splice(i, 1);
        afterStructureChange();
      }),
    );
    dfs.append(row);
  });
  dfs.append(
    button(t("dose.add"), t("dose.add.aria"), () => {
      draft.doses = Array.isArray(draft.doses) ? draft.doses : [];
      draft.doses.push({ id: "d" + (draft.doses.length + 1), compartment: compIds[0] ?? "", at: "12:00" });
      afterStructureChange();
    }),
  );
  root.append(dfs);
  root.append(
    fieldset(
      t("fs.window"),
      field(t("f.early"), "defaults.window.earlyMin", "number", { cls: "w-s" }),
      field(t("f.late"), "defaults.window.lateMin", "number", { cls: "w-s" }),
      field(t("f.missed"), "defaults.window.missedMin", "number", { cls: "w-s" }),
      field(t("f.silence"), "defaults.silenceS", "number", { cls: "w-s" }),
    ),
  );
}

function afterStructureChange() {
  renderForm();
  syncJson();
  validate();
}

function syncJson() {
  $("#pc-json").value = JSON.stringify(draft, null, 2);
  $("#pc-json-err").textContent = "";
}

// ------------------------------------------------------------------ validation
function showErrors(errors, container) {
  for (const e of document.querySelectorAll("#pc-fields [aria-invalid]")) e.removeAttribute("aria-invalid");
  for (const e of document.querySelectorAll("#pc-fields [data-err-for]")) e.textContent = "";
  const other = [];
  for (const e of errors) {
    // Errors on a sub-field without its own input (doses[0].days[1]) go to the nearest field that shows it.
    let p = e.path;
    let input = null;
    while (p !== "" && !input) {
      input = document.querySelector(`#pc-fields input[data-path="${CSS.escape(p)}"], #pc-fields select[data-path="${CSS.escape(p)}"]`);
      if (!input)
        p = p.replace(/(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])$/, "") === p ? "" : p.replace(/(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])$/, "");
    }
    if (input && input.matches("input, select")) {
      input.setAttribute("aria-invalid", "true");
      const det = input.closest("details");
      if (det && !det.open) det.open = true;
      const slot = document.querySelector(`[data-err-for="${CSS.escape(input.dataset.path)}"]`);
      if (slot) slot.textContent += `${slot.textContent ? "; " : ""}${why(e.code, e.message)} [${e.path}]`;
    } else other.push(e);
  }
  container.replaceChildren();
  if (other.length) {
    const ul = document.createElement("ul");
    for (const e of other) {
      const li = document.createElement("li");
      li.textContent = `${e.path || "(config)"}: ${why(e.code, e.message)}`;
      ul.append(li);
    }
    container.append(ul);
  }
}

function validate() {
  if (!draft) return false;
  const v = validateConfig(draft, hw);
  lastErrors = v.ok ? [] : v.errors;
  showErrors(lastErrors, $("#pc-other-errors"));
  const valid = $("#pc-valid");
  valid.textContent = v.ok ? t("pc.valid") : t("pc.errors", { n: lastErrors.length });
  valid.dataset.valid = String(v.ok);
  $("#pc-push").disabled = !v.ok && !$("#pc-skip").checked;
  return v.ok;
}

// ------------------------------------------------------------------ device, push
async function loadConfig() {
  if (!device) return;
  const r = await api("GET", `/api/devices/${device}/config`);
  hw = r.hw;
  draft = JSON.parse(JSON.stringify(r.config));
  fillRefillCompartments(r.config);
  const running = r.running && r.running.version;
  $("#pc-running").textContent = running ? t("pc.running", { v: running }) : t("pc.off");
  if (typeof running === "number") draft.version = running + 1;
  renderForm();
  syncJson();
  validate();
}

async function push(ev) {
  ev.preventDefault();
  if (!draft) return;
  if (!validate() && !$("#pc-skip").checked) return;
  const res = $("#pc-result");
  res.textContent = t("pc.pushing");
  let out;
  try {
    out = await api("POST", `/api/devices/${device}/push`, { config: draft, noValidate: $("#pc-skip").checked });
  } catch (e) {
    res.textContent = t("pc.push.failed", { m: e.message });
    return;
  }
  res.replaceChildren();
  const head = document.createElement("div");
  head.dataset.outcome = out.ok ? "ack" : out.code === "TIMEOUT" ? "timeout" : out.local ? "invalid" : "refused";
  if (out.ok) {
    head.className = "ack";
    head.textContent = t("pc.acked", {
      device: out.device,
      v: out.version,
      hash: out.hash,
      when: t(out.deferred ? "pc.deferred" : "pc.applied"),
      kid: out.kid,
      via: out.via,
    });
    res.append(head);
    await loadConfig();
  } else {
    head.className = "nak";
    const v = out.version ?? "?";
    head.textContent =
      out.code === "TIMEOUT"
        ? t("pc.timeout", { device: out.device, v })
        : out.local
          ? t("pc.local", { v, why: why(out.code) })
          : t("pc.refused", { device: out.device, v, why: why(out.code) }) +
            (out.running !== undefined && out.running !== null ? t("pc.keeps", { v: out.running }) : "");
    res.append(head);
    const ul = document.createElement("ul");
    for (const e of out.errors || []) {
      const li = document.createElement("li");
      li.dataset.path = e.path;
      li.textContent = `${e.path || "(config)"}: ${why(e.code, e.message)}`;
      ul.append(li);
    }
    res.append(ul);
  }
  refreshAudit(api);
}

// ------------------------------------------------------------------ wiring
export function onFleetState(s) {
  const sel = $("#pc-device");
  const ids = s.devices.map((d) => d.id);
  if ([...sel.options].map((o) => o.value).join() !== ids.join()) {
    const keep = sel.value;
    sel.replaceChildren(...ids.map((id) => new Option(id, id)));
    sel.value = ids.includes(keep) ? keep : ids[0] || "";
    if (sel.value !== device) selectDevice(sel.value);
  }
  const d = s.devices.find((x) => x.id === device);
  if (d) {
    $("#pc-running").textContent = d.config ? t("pc.running", { v: d.config.version }) : t("pc.off");
    // Only a new dose outcome changes the chart: no history read (an audited one) for anything else.
    if (lastEvSeq.get(device) !== d.lastOutcomeSeq) {
      lastEvSeq.set(device, d.lastOutcomeSeq);
      clearTimeout(onFleetState.t);
      onFleetState.t = setTimeout(() => refreshAdherence(api, device), 600);
    }
  }
}

function selectDevice(id) {
  device = id;
  $("#fhir").href = `/api/devices/${id}/fhir`;
  $("#fhir").setAttribute("download", `${id}-fhir.json`);
  $("#pc-result").replaceChildren();
  loadConfig()
    .then(() => refreshAdherence(api, device))
    .then(() => refreshAudit(api));
}

export function initConsole(apiFn) {
  api = apiFn;
  $("#pc-device").addEventListener("change", (e) => selectDevice(e.target.value));
  $("#pc-form").addEventListener("submit", push);
  $("#pc-reload").addEventListener("click", () => loadConfig());
  $("#pc-skip").addEventListener("change", validate);
  $("#fhir").addEventListener("click", () => setTimeout(() => refreshAudit(api), 500));
  $("#audit-older").addEventListener("click", () => refreshAudit(api, true));
  $("#rf-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    checkRefill(api, device);
  });
  $("#pc-json").addEventListener("input", (e) => {
    try {
      draft = JSON.parse(e.target.value);
      $("#pc-json-err").textContent = "";
      renderForm();
      validate();
    } catch (err) {
      $("#pc-json-err").textContent = t("pc.json.err", { m: err.message });
    }
  });
}
