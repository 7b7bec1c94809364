/**
 * PixelWriter (firmware/drivers/led.ts) over Moddable's `neopixel` module
 * ($(MODDABLE)/modules/drivers/neopixel, RMT peripheral on the ESP32).
 * Colours arrive as 0xRRGGBB and are converted with makeRGB, which applies the strip's
 * colour order.
 */
import type { PixelWriter } from "../drivers/led/led";

export interface NeoPixelLike {
  readonly length: number;
  makeRGB(r: number, g: number, b: number): number;
  setPixel(index: number, color: number): void;
  update(): void;
  close(): void;
}

export function pixelWriter(np: NeoPixelLike): PixelWriter {
  return {
    length: np.length,
    set(i: number, rgb: number): void {
      np.setPixel(i, np.makeRGB((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff));
    },
    update: () => np.update(),
    close: () => np.close(),
  };
}
