/** Help texts of the `dosekeeper` command line (docs/pharmacist.md says the same at length). */
import { COMMANDS } from "./broker";

const COMMON = `Connection (all network commands; flags win over variables, variables over the profile):
  --broker URL        mqtt://host:port or mqtts://host:port   [env DOSEKEEPER_BROKER, default mqtt://localhost:1883]
  --username NAME     broker user                             [env DOSEKEEPER_USERNAME]
  --password PASS     broker password                         [env DOSEKEEPER_PASSWORD]
  --ca FILE           CA certificate (PEM) for mqtts://        [env DOSEKEEPER_CA]
Profile: .dosekeeper/cli.json in this folder or a parent (written by npm start while it runs),
or $DOSEKEEPER_PROFILE (a file, or "none"): broker, account, relay API and token, signing key,
audit log, and for a simulator its clock (signatures then use simulated time).`;

const SIGNED = `  --key FILE          PKCS#8 PEM Ed25519 private key (from keygen) [profile: key]
  --timeout DUR       how long to wait for the answer (default 30s)
  --audit FILE        audit log (default ~/.dosekeeper/audit.jsonl) [env DOSEKEEPER_AUDIT, profile: audit]`;

export const HELP: Record<string, string> = {
  main: `Usage: dosekeeper <command> [options]

Commands:
  keygen                 create an Ed25519 signing key pair
  config push            sign a schedule and push it to a dispenser, wait for its answer
  status                 show a dispenser's retained status and telemetry
  history                show a dispenser's events (from the relay, or live from the broker)
  command NAME           sign and send a command (${COMMANDS.join(", ")})
  refill                 tell a dispenser how many doses a refilled compartment holds; it verifies by weight
  key trust | key revoke make a dispenser trust a new pharmacist key, or stop trusting one
  ota                    send a signed firmware image; follow it until kept or rolled back
  provision              create a device identity: its NVS settings, broker account, relay registration
  audit verify           check that the audit log's hash chain is intact

Run "dosekeeper <command> --help" for its options.
Exit codes: 0 ok, 1 error, 2 usage/invalid file, 3 refused by the device, 4 timeout.`,
  "audit verify": `Usage: dosekeeper audit verify [--audit FILE]

Checks the hash chain of the audit log (default ~/.dosekeeper/audit.jsonl, env DOSEKEEPER_AUDIT):
every line carries the SHA-256 of the line before it, so an edited, inserted, deleted or
reordered line is found. Torn lines (a write cut by a crash) are reported and tolerated.
Prints the records, torn lines, breaks and the head hash (keep it elsewhere to detect a cut tail).
Exit 0 intact, 3 broken.`,
  provision: `Usage: dosekeeper provision --device ID --broker mqtts://HOST[:PORT] [options]

Creates the device's identity as the "dk-net" NVS settings its firmware reads at boot (Wi-Fi,
broker host, port, TLS, user = ID, a random password, the broker CA, the trusted pharmacist keys),
checked by the device's own parser and the NVS limits (docs/security.md, "Provisioning").
  --ca FILE           the broker's CA certificate (PEM); the device's TLS trusts it (≤ 2,900 bytes DER)
  --trust KEYS        .pub files or base64 public keys, comma-separated, 1..4 (default: the signing key's)
  --wifi-ssid S, --wifi-password P
  --out FILE          the settings as JSON, mode 0600 (default ID.provision.json; never overwritten)
  --nvs-csv FILE      the same as the CSV of ESP-IDF's nvs_partition_gen.py, for the factory flash
  --passwd FILE       add the broker account to this Mosquitto password file (mosquitto_passwd)
  --config FILE       register the device with the relay: store its first schedule (needs --api, --token)
  --key FILE          signing key whose public key is trusted when --trust is absent

${COMMON}
Exit 0 done, 1 the broker account or the relay failed, 2 usage or invalid settings.`,
  ota: `Usage: dosekeeper ota --device ID --file IMAGE --version X.Y.Z [options]

Signs the image's header (Ed25519 over its SHA-256, version and target) with the signing key,
sends it as an "ota" command, then streams the image on dk/<ID>/cmnd/otadata, one chunk per
answer (resending from the device's offset after a loss; run again to resume), and follows the
dispenser's events: it restarts into the image on trial and keeps it only when its self-test
passes (broker, schedule, load cells), else goes back to the previous image. Reminders run
throughout. docs/ota.md.
  --target NAME       board the image is built for (default esp32; "sim" for the simulator)
  --chunk BYTES       chunk size, 256..8192 (default 4096)
  --trial-timeout DUR wait for the outcome of the trial (default 6m)
${SIGNED}

${COMMON}
Exit 0 kept, 3 refused / failed / rolled back, 4 no answer.`,
  keygen: `Usage: dosekeeper keygen [--out DIR]

Creates DIR/<kid>.key.pem (private, mode 0600) and DIR/<kid>.pub (raw public key, base64),
and prints the key id and public key. A dispenser trusts it once provisioned with it
(NVS "trustKeys") or after "dosekeeper key trust --pub DIR/<kid>.pub", signed by a key it
already trusts. Keep the private key secret. DIR defaults to the current directory.`,
  "config push": `Usage: dosekeeper config push --device ID --file schedule.json [options]

Validates the schedule locally, signs it, publishes it retained (QoS 1) on dk/<ID>/cmnd/config
and waits for the dispenser's answer on dk/<ID>/stat. Once acknowledged, stores the schedule on
the relay (PUT <URL>/api/devices/<ID>/config), whose dead-man alerts and reports follow it.

  --device ID         target dispenser (must equal "device" in the file)
  --file FILE         schedule (docs/config.md)
${SIGNED}
  --expires DUR       validity of the signed config (default 24h)
  --no-validate       skip local validation (the device still validates)
  --api URL           relay API (env DOSEKEEPER_API, or the profile)
  --token T           its bearer token (env DOSEKEEPER_TOKEN, or the profile)
${COMMON}

Exit: 0 applied (acknowledged) and stored on the relay (or no relay API set), 1 applied but the
relay did not store it (run the push again), 2 invalid file (field paths printed), 3 refused by
the device (code and field paths printed), 4 no answer before --timeout.`,
  status: `Usage: dosekeeper status --device ID [--wait DUR] [--json]

Prints the retained online status and the last telemetry (config version, outbox, faults) with
the device time it was sent at.
  --wait DUR          how long to wait for retained messages (default 2s)
${COMMON}

Exit: 0 found, 4 nothing retained for this device.`,
  history: `Usage: dosekeeper history --device ID [--since TIME|DUR] [--limit N] [--json] [--api URL] [--for DUR]

With a relay API (--api URL, env DOSEKEEPER_API, or the profile): GET <URL>/api/devices/<ID>/events
with the bearer token (--token, env DOSEKEEPER_TOKEN, or the profile): the stored events, oldest
first. Without one: listens to dk/<ID>/evt for --for (default 10s) and prints each event once.
  --since TIME|DUR    ISO time, or a duration back from now (e.g. 24h; simulated now with a
                      simulator's profile); default 24h with the API
  --limit N           at most N events, the newest (default 200, at most 5000)
  --json              one JSON object per line instead of a table
${COMMON}

Exit: 0 (even when there is no event), 1 relay unreachable or refused (code printed).`,
  command: `Usage: dosekeeper command NAME --device ID [--args JSON] [options]

NAME: ${COMMANDS.join(", ")}. Examples of --args: tare {"channel":0};
calibrate {"channel":0,"grams":100}; identify {"seconds":10}; keys {"add":"<base64>"}.
${SIGNED}
  --expires DUR       validity of the signed command (default 10m, 1h with a simulator's
                      profile; at most 1h)
${COMMON}

decommission wipes the dispenser (schedule, history, credentials) and clears its retained
config. Exit: 0 done, 3 refused (code printed), 4 no answer.`,
  refill: `Usage: dosekeeper refill --device ID --comp COMPARTMENT --doses N [--wait DUR] [options]

Signs a "refill" command: COMPARTMENT should hold N doses once refilled. The dispenser weighs
the tray: if it already holds N doses it answers verified at once; otherwise it checks the next
refill it sees (within 4 h) and reports refill.verified or refill.mismatch (with what it found).
  --wait DUR          wait that long for the verdict of a refill still to come (default: do not
                      wait; the verdict reaches the relay and the dashboard anyway)
${SIGNED}
${COMMON}

Exit: 0 verified (or expected, without --wait), 3 mismatch or refused (code printed), 4 no verdict
within --wait, or no answer.`,
  "key trust": `Usage: dosekeeper key trust --device ID --pub FILE|BASE64 [--replace KID] [options]

Signs (with --key, a key the dispenser trusts now) a "keys" command that adds the public key
(a .pub file from keygen, or its base64). --replace KID revokes that key in the same command
(key rotation; the new key is added first in effect, so the device is never without one).
The dispenser answers with the key ids it trusts from then on.
${SIGNED}
${COMMON}

Exit: 0 trusted, 3 refused (CMD_KEYS_FULL: 4 keys already; revoke one first), 4 no answer.`,
  "key revoke": `Usage: dosekeeper key revoke --device ID --kid KID [options]

Signs a "keys" command that revokes key KID. The dispenser refuses CMD_LAST_KEY rather than
trust no key, and CMD_KEY_UNKNOWN for a key it does not trust.
${SIGNED}
${COMMON}

Exit: 0 revoked, 3 refused, 4 no answer.`,
};
