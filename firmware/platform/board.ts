/**
 * Reference dispenser pin map (ESP32-WROOM-32 / WROVER). docs/hardware.md explains the
 * choices: no strapping pins (0, 2, 5, 12, 15), no flash pins (6-11), no UART0 (1, 3),
 * no PSRAM pins of WROVER modules (16, 17); inputs-only 34-39 serve only HX711 DOUT
 * (driven push-pull by the chip, so no pull-up is needed).
 */
export const BOARD = Object.freeze({
  channels: 4,
  /** HX711 DOUT, one per compartment bay, channel order. */
  hx711Dout: [34, 35, 36, 39] as const,
  /** PD_SCK shared by all HX711. */
  hx711Sck: 32,
  /** HX711 rate select pin strapped to GND (10 SPS) on the reference board. */
  hx711Sps: 10 as const,
  /** One LED per compartment when LEDs are on GPIO (active high, 330 ohm series). */
  ledPins: [21, 22, 23, 33] as const,
  /** Data pin of the addressable strip variant (WS2812B, GRB). */
  stripPin: 4,
  /** Piezo (through a transistor) on a PWM pin. */
  buzzerPin: 25,
  /** Push button to GND, internal pull-up (+ optional external 10 kohm). */
  buttonPin: 27,
  /** Mass of an empty tray (the molded cup on every bay), grams: the stock counts the pills above it. */
  trayGrams: 18,
} as const);
// The pin lists too (constant tables are frozen: preloaded in flash, never copied to RAM).
Object.freeze(BOARD.hx711Dout);
Object.freeze(BOARD.ledPins);
