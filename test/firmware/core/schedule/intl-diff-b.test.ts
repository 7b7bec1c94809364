/**
 * Differential test of firmware/core/tz.ts against Node's Intl (ICU tzdata), part B.
 * Every UTC hour: offset. Every local hour, and every local minute within 2 h of each change:
 * localToUtc against the gap/fold policy. Exact transition instants (to the second).
 */
import { describeZones } from "./intl-ref";
import { ZONES_B } from "./zones";

describeZones("tz vs Intl (ZONES_B)", ZONES_B);
