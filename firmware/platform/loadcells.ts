/**
 * LoadCells port over load-cell ADC drivers, one per bay: channel i is adcs[i]. Any ECMA-419
 * style driver with sample() and a conversion rate fits (the HX711 driver today; an I2C ADC
 * such as the NAU7802 tomorrow): nothing here knows the chip.
 * read(i) returns the newest signed raw count, or NaN when the driver has no fresh reading
 * (settling, disconnected, powered down, closed). Saturated readings are returned as-is; the
 * detector flags them.
 */

import type { LoadCells } from "../core/ports";

/** What the port needs of a load-cell ADC driver. */
export interface RawAdc {
  /** Conversions per second. */
  readonly rate: number;
  /** The newest raw count, or undefined when there is no fresh reading. */
  sample(): number | undefined;
}

export interface LoadCellsOptions {
  chips: readonly RawAdc[];
  /** Conversions per second of every chip (they are sampled together). */
  sps: number;
}

export function createLoadCells(options: LoadCellsOptions): LoadCells {
  const chips = options.chips.slice();
  const sps = options.sps;
  if (!(sps > 0 && sps <= 1000)) throw new RangeError("loadcells: sps must be in (0, 1000]");
  if (chips.length === 0) throw new RangeError("loadcells: at least one chip");
  for (let i = 0; i < chips.length; i++)
    if (chips[i].rate !== sps) throw new RangeError("loadcells: chip " + i + " converts at " + chips[i].rate + " SPS, not " + sps);
  return {
    channels: chips.length,
    sps,
    read(channel: number): number {
      if (!(channel >= 0 && channel < chips.length) || channel !== Math.floor(channel))
        throw new RangeError("loadcells: no channel " + channel);
      const v = chips[channel].sample();
      return v === undefined ? NaN : v;
    },
  };
}
