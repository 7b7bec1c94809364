/**
 * What the load-cell detector (core/detector.ts) reports to the dose logic.
 * `atMs` is the monotonic time of the sample that settled the event.
 */
export type LoadFault = "SATURATED" | "DISCONNECTED" | "STUCK" | "NOISY";

/** What a step of mass out of the bay says: its size, the pills it fits best and how surely. */
export interface RemovalFields {
  readonly channel: number;
  readonly atMs: number;
  readonly grams: number;
  readonly pills: number;
  readonly confidence: number;
  /** Pills per medication (the compartment's order) of the combination the mass fits best. */
  readonly perMed: readonly number[];
}

export type LoadEvent =
  /** Mass left the bay, a hand took it, the count is sure: "taken" (the reading is stable again). */
  | ({ readonly kind: "removal" } & RemovalFields)
  /**
   * Mass left the bay, but the signal cannot show how many pills with confidence (a change near
   * the noise floor for this pill mass, or an ambiguous count) or no hand was seen: never
   * "taken". `pills` is the best estimate, `confidence` its probability.
   */
  | ({ readonly kind: "uncertain" } & RemovalFields)
  /** Mass was added (refill); `pills` is the best estimate of how many. */
  | {
      readonly kind: "addition";
      readonly channel: number;
      readonly atMs: number;
      readonly grams: number;
      readonly pills: number;
      readonly confidence: number;
    }
  /** Something pressed/lifted and came back with no net change: not a dose. */
  | { readonly kind: "lift"; readonly channel: number; readonly atMs: number }
  /** Short transient (knock, vibration): not a dose. */
  | { readonly kind: "bump"; readonly channel: number; readonly atMs: number }
  /** The channel cannot be trusted; it never yields a removal while faulty. */
  | { readonly kind: "fault"; readonly channel: number; readonly atMs: number; readonly code: LoadFault }
  /** A previously faulty channel reads plausibly again. */
  | { readonly kind: "recovered"; readonly channel: number; readonly atMs: number };

/** Per-channel calibration: grams = (raw - offset) / countsPerGram. */
export interface Calibration {
  readonly offset: number;
  readonly countsPerGram: number;
}
