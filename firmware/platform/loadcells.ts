/**
 * LoadCells port over HX711 drivers: channel i is chips[i].
 * read(i) returns the newest signed raw count, or NaN when the chip has no fresh
 * reading (settling, disconnected, powered down, closed). Saturated readings are
 * returned as-is (0x7FFFFF / -0x800000); the detector flags them.
 */

import type { LoadCells } from "../core/ports";
import type { HX711 } from "../drivers/hx711/hx711";

export interface LoadCellsOptions {
  chips: HX711[];
  sps: 10 | 80;
}

export function createLoadCells(options: LoadCellsOptions): LoadCells {
  const chips = options.chips.slice();
  const sps = options.sps;
  if (sps !== 10 && sps !== 80) throw new RangeError("loadcells: sps must be 10 or 80");
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
