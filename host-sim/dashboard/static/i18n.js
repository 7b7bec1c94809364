// Message catalogues of the dashboard (English, French) and the languages in use. The header's
// selector (remembered by the browser) picks one language for the whole page, or "per dispenser"
// (the default): the page in the browser's language, each dispenser's card in the household
// language of its config (`lang`), docs/simulator.md "Language". Every visible word of the
// fleet view, the header and the notifications panel comes from here; compartment labels come
// from the config, notification texts from the relay (in each recipient's language).

const CATALOG = Object.freeze({
  en: {
    "title.sub": "live simulator",
    speed: "Speed",
    pause: "Pause",
    "pause.aria": "Pause time",
    "warp1.aria": "Real time (1×)",
    "warp60.aria": "One minute per second (60×)",
    "warp3600.aria": "One hour per second (3600×)",
    next: "Next dose ▸",
    "next.aria": "Jump to the next due dose",
    add: "+ Dispenser",
    "add.aria": "Add a dispenser",
    language: "Language",
    "lang.auto": "Per dispenser",
    connecting: "connecting…",
    live: "live",
    reconnecting: "reconnecting…",
    lag: "CPU-bound: time slips",
    local: "local",
    notifications: "Notifications",
    "notif.src": "(relay, console provider)",
    "notif.off": "(relay off)",
    "notif.empty": "None yet: a dose not taken 30 min after it is due sends a push.",
    "notif.aria": "Notifications sent by the relay",
    "replies.ok": "{who} replies OK",
    "replies.aria": "Reply OK as {who} to acknowledge",
    acknowledged: "acknowledged",
    "not.acknowledged": "not acknowledged ({code})",
    "dev.aria": "Dispenser {id}",
    "comp.aria": "Compartment {lbl}",
    "take.dose": "Take dose",
    "take.dose.aria": "Take one dose from {lbl}",
    "take.pill": "1 pill",
    "take.pill.aria": "Take one pill from {lbl}",
    lift: "Lift",
    "lift.aria": "Lift and return the tray of {lbl}",
    bump: "Bump",
    "bump.aria": "Bump {lbl}",
    refill: "Refill 7",
    "refill.aria": "Refill {lbl} with 7 doses",
    fault: "Sensor fault",
    "fault.aria": "Disconnect the load cell of {lbl} for 2 minutes",
    "btn.short": "Button (short)",
    "btn.short.aria": "Short press on the button of {id}",
    "btn.long": "Button (long)",
    "btn.long.aria": "Long press on the button of {id}",
    "net.drop": "Drop network",
    "net.restore": "Restore network",
    "net.drop.aria": "Drop the network of {id}",
    "net.restore.aria": "Restore the network of {id}",
    cut: "Cut power 10 min",
    "cut.aria": "Cut the power of {id} for 10 minutes",
    reboot: "Reboot",
    "reboot.aria": "Reboot {id}",
    "controls.aria": "Controls of {id}",
    "timeline.aria": "Event timeline of {id}",
    "conn.aria": "Connection",
    "cloud.aria": "As the relay sees it",
    "conn.online": "online",
    "conn.offline": "offline",
    "conn.off": "off",
    "conn.syncing": "syncing",
    "conn.connecting": "connecting",
    "relay.none": "relay: not seen",
    "relay.online": "relay: online",
    "relay.offline": "relay: offline since {t}",
    quiet: "quiet",
    "silenced.until": "silenced until {t}",
    "buzzer.on.aria": "Buzzer on: {p}",
    "buzzer.off.aria": "Buzzer off",
    "led.on": "LED on",
    "led.off": "LED off",
    "cfg.v": "config v{v}",
    "cfg.none": "no config",
    "scale.none": "scale: —",
    scale: "{g} g ≈ {doses} doses ({pills} pills)",
    "stock.doses": "stock: {doses} doses",
    "weigh.unsure": "too light to confirm by weight (z {z}): removals are uncertain",
    "stock.days": "stock: {days} days left ({doses} doses)",
    "prn.info": "as needed (≤{n}/24 h)",
    "nothing.scheduled": "nothing scheduled",
    "esc.step": "escalation step {step}: {what}",
    "state.scheduled": "scheduled",
    "state.pending": "pending",
    "state.due": "due",
    "state.late": "late",
    "state.taken": "taken",
    "state.missed": "missed",
    "state.partial": "partial",
    "state.wrong_compartment": "wrong compartment",
    "power.on": "power on ({r})",
    "power.off": "power off ({r})",
    "buzzer.line": "buzzer {p} {v}%",
    "pattern.chime": "chime",
    "pattern.beep": "beep",
    "pattern.alarm": "alarm",
    "pattern.fault": "fault tone",
    "ch.led": "light",
    "ch.sound": "sound",
    "ch.push": "push",
    "ch.sms": "text",
    "ch.call": "call",
    "buzzer.off": "buzzer off",
    "led.line": "LED {i} {s}",
    "sim.sntp": "clock set by SNTP ({t})",
    pills: "{n} pills",
    "late.min": "late {n} min",
    calling: "A dose is due here: take it or let time run (Next dose does not skip it).",
  },
  fr: {
    "title.sub": "simulateur",
    speed: "Vitesse",
    pause: "Pause",
    "pause.aria": "Mettre le temps en pause",
    "warp1.aria": "Temps réel (1×)",
    "warp60.aria": "Une minute par seconde (60×)",
    "warp3600.aria": "Une heure par seconde (3600×)",
    next: "Prise suivante ▸",
    "next.aria": "Aller à la prochaine prise",
    add: "+ Pilulier",
    "add.aria": "Ajouter un pilulier",
    language: "Langue",
    "lang.auto": "Par pilulier",
    connecting: "connexion…",
    live: "en direct",
    reconnecting: "reconnexion…",
    lag: "processeur saturé : le temps glisse",
    local: "heure locale",
    notifications: "Notifications",
    "notif.src": "(relais, fournisseur console)",
    "notif.off": "(relais arrêté)",
    "notif.empty": "Aucune pour l'instant : une dose non prise 30 min après l'heure envoie une notification.",
    "notif.aria": "Notifications envoyées par le relais",
    "replies.ok": "{who} répond OK",
    "replies.aria": "Répondre OK en tant que {who} pour accuser réception",
    acknowledged: "reçu",
    "not.acknowledged": "non pris en compte ({code})",
    "dev.aria": "Pilulier {id}",
    "comp.aria": "Compartiment {lbl}",
    "take.dose": "Prendre la dose",
    "take.dose.aria": "Prendre une dose dans {lbl}",
    "take.pill": "1 comprimé",
    "take.pill.aria": "Prendre un comprimé dans {lbl}",
    lift: "Soulever",
    "lift.aria": "Soulever et reposer le plateau de {lbl}",
    bump: "Choc",
    "bump.aria": "Cogner {lbl}",
    refill: "Remplir 7",
    "refill.aria": "Remplir {lbl} de 7 doses",
    fault: "Panne capteur",
    "fault.aria": "Débrancher le capteur de {lbl} pendant 2 minutes",
    "btn.short": "Bouton (court)",
    "btn.short.aria": "Appui court sur le bouton de {id}",
    "btn.long": "Bouton (long)",
    "btn.long.aria": "Appui long sur le bouton de {id}",
    "net.drop": "Couper le réseau",
    "net.restore": "Rétablir le réseau",
    "net.drop.aria": "Couper le réseau de {id}",
    "net.restore.aria": "Rétablir le réseau de {id}",
    cut: "Couper le courant 10 min",
    "cut.aria": "Couper le courant de {id} pendant 10 minutes",
    reboot: "Redémarrer",
    "reboot.aria": "Redémarrer {id}",
    "controls.aria": "Commandes de {id}",
    "timeline.aria": "Journal des événements de {id}",
    "conn.aria": "Connexion",
    "cloud.aria": "Vu par le relais",
    "conn.online": "en ligne",
    "conn.offline": "hors ligne",
    "conn.off": "éteint",
    "conn.syncing": "synchronisation",
    "conn.connecting": "connexion",
    "relay.none": "relais : jamais vu",
    "relay.online": "relais : en ligne",
    "relay.offline": "relais : hors ligne depuis {t}",
    quiet: "silencieux",
    "silenced.until": "son coupé jusqu'à {t}",
    "buzzer.on.aria": "Sonnerie : {p}",
    "buzzer.off.aria": "Sonnerie arrêtée",
    "led.on": "Voyant allumé",
    "led.off": "Voyant éteint",
    "cfg.v": "configuration v{v}",
    "cfg.none": "sans configuration",
    "scale.none": "balance : —",
    scale: "{g} g ≈ {doses} doses ({pills} comprimés)",
    "stock.doses": "stock : {doses} doses",
    "weigh.unsure": "trop légers pour la pesée (z {z}) : prises non confirmées",
    "stock.days": "stock : {days} jours restants ({doses} doses)",
    "prn.info": "à la demande (≤{n}/24 h)",
    "nothing.scheduled": "rien de prévu",
    "esc.step": "relance {step} : {what}",
    "state.scheduled": "prévue",
    "state.pending": "en attente",
    "state.due": "à prendre",
    "state.late": "en retard",
    "state.taken": "prise",
    "state.missed": "manquée",
    "state.partial": "partielle",
    "state.wrong_compartment": "mauvais compartiment",
    "power.on": "allumé ({r})",
    "power.off": "éteint ({r})",
    "buzzer.line": "sonnerie {p} {v} %",
    "pattern.chime": "carillon",
    "pattern.beep": "bip",
    "pattern.alarm": "alarme",
    "pattern.fault": "signal de panne",
    "ch.led": "voyant",
    "ch.sound": "son",
    "ch.push": "notification",
    "ch.sms": "SMS",
    "ch.call": "appel",
    "buzzer.off": "sonnerie arrêtée",
    "led.line": "voyant {i} {s}",
    "sim.sntp": "horloge réglée par SNTP ({t})",
    pills: "{n} comprimés",
    "late.min": "retard {n} min",
    calling: "Une dose est à prendre ici : prenez-la ou laissez le temps passer (Prise suivante ne la saute pas).",
  },
});

/** Event types in words (the timeline); an unknown type is shown as it is. */
const EVENTS = Object.freeze({
  en: {
    "dose.due": "dose due",
    "dose.late": "dose late",
    "dose.taken": "dose taken",
    "dose.taken_early": "dose taken early",
    "dose.partial": "part of the dose taken",
    "dose.missed": "dose missed",
    "dose.wrong_compartment": "pills from the wrong compartment",
    "slot.open": "dose planned",
    "esc.step": "reminder",
    "relay.request": "alert sent to the relay",
    "relay.receipt": "relay receipt",
    "relay.resolve": "alerts stopped",
    "stock.low": "low stock",
    refill: "refill",
    "refill.verified": "refill verified",
    "refill.mismatch": "refill mismatch",
    "removal.uncertain": "removal not confirmed by weight",
    "help.request": "help requested",
    button: "button",
    "sound.silenced": "sound silenced",
    boot: "start-up",
    "config.accepted": "schedule accepted",
    "config.applied": "schedule applied",
    "config.refused": "schedule refused",
    fault: "fault",
    "time.sync": "clock set",
  },
  fr: {
    "dose.due": "dose à prendre",
    "dose.late": "dose en retard",
    "dose.taken": "dose prise",
    "dose.taken_early": "dose prise en avance",
    "dose.partial": "dose prise en partie",
    "dose.missed": "dose manquée",
    "dose.wrong_compartment": "comprimés pris dans le mauvais compartiment",
    "slot.open": "dose planifiée",
    "esc.step": "rappel",
    "relay.request": "alerte envoyée au relais",
    "relay.receipt": "accusé du relais",
    "relay.resolve": "alertes arrêtées",
    "stock.low": "stock bas",
    refill: "remplissage",
    "refill.verified": "remplissage vérifié",
    "refill.mismatch": "remplissage incorrect",
    "removal.uncertain": "prise non confirmée par la pesée",
    "help.request": "demande d'aide",
    button: "bouton",
    "sound.silenced": "son coupé",
    boot: "démarrage",
    "config.accepted": "programme accepté",
    "config.applied": "programme appliqué",
    "config.refused": "programme refusé",
    fault: "panne",
    "time.sync": "horloge réglée",
  },
});

export const LANGS = Object.freeze(["en", "fr"]);
/** For the catalogue test (every key in every language). */
export const CATALOGUES = Object.freeze({ page: CATALOG, events: EVENTS });

const browserLang = () => ((globalThis.navigator?.language ?? "en").toLowerCase().startsWith("fr") ? "fr" : "en");

/** The selector's value: "auto" (each card in its dispenser's language) or one language for all. */
function initialChoice() {
  const saved = globalThis.localStorage?.getItem("dk-lang");
  return saved && (saved === "auto" || LANGS.includes(saved)) ? saved : "auto";
}

const choice = initialChoice();
/** The page's own words (header, notifications panel, console): the choice, else the browser's. */
const lang = choice === "auto" ? browserLang() : choice;

export const getLang = () => lang;
export const getChoice = () => choice;

/**
 * The language of one dispenser's card: the viewer's explicit choice, else the household language
 * of the dispenser's running config (`lang`, docs/config.md), else the page's.
 */
export function cardLang(d) {
  if (choice !== "auto") return choice;
  const l = d?.lang;
  return LANGS.includes(l) ? l : lang;
}

/** Remember the choice and reload (every card is built in the new language). */
export function setLang(l) {
  if ((l !== "auto" && !LANGS.includes(l)) || l === choice) return;
  globalThis.localStorage?.setItem("dk-lang", l);
  globalThis.location?.reload();
}

const fill = (s, vars) => s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined ? "" : String(vars[k])));

const EXTRA = { en: {}, fr: {} };

/** Adds a catalogue of messages (another part of the page: the console), per language. */
export function addMessages(more) {
  for (const l of LANGS) Object.assign(EXTRA[l], more[l] ?? {});
}

/** The message `key` in language `l` with `{name}` placeholders filled in (English if missing). */
export function tIn(l, key, vars = {}) {
  const s = CATALOG[l]?.[key] ?? EXTRA[l]?.[key] ?? CATALOG.en[key] ?? EXTRA.en[key] ?? key;
  return fill(s, vars);
}

/** The message `key` in the page's language. */
export const t = (key, vars = {}) => tIn(lang, key, vars);

export const eventWordIn = (l, type) => EVENTS[l]?.[type] ?? type;
export const eventWord = (type) => eventWordIn(lang, type);

/** Static texts of the page: data-i18n (text), data-i18n-aria (aria-label). */
export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  document.documentElement.dataset.langChoice = choice;
  for (const e of root.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of root.querySelectorAll("[data-i18n-aria]")) e.setAttribute("aria-label", t(e.dataset.i18nAria));
}
