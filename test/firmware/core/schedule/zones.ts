import type { ZoneCase } from "./intl-ref";

/** Zones compared with Intl; `from` = first full year under the rules given here. */
export const ZONES_A: readonly ZoneCase[] = [
  { iana: "Europe/Paris", posix: "CET-1CEST,M3.5.0,M10.5.0/3", from: 2000 },
  { iana: "America/New_York", posix: "EST5EDT,M3.2.0,M11.1.0", from: 2007 },
  { iana: "Australia/Sydney", posix: "AEST-10AEDT,M10.1.0,M4.1.0/3", from: 2008 },
  { iana: "Pacific/Auckland", posix: "NZST-12NZDT,M9.5.0,M4.1.0/3", from: 2008 },
  { iana: "Australia/Lord_Howe", posix: "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", from: 2008 },
  { iana: "Europe/Dublin", posix: "IST-1GMT0,M10.5.0,M3.5.0/1", from: 2000 },
  { iana: "Asia/Kolkata", posix: "IST-5:30", from: 2000 },
  { iana: "Asia/Kathmandu", posix: "<+0545>-5:45", from: 2000 },
  { iana: "UTC", posix: "UTC0", from: 2000 },
  { iana: "America/Nuuk", posix: "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", from: 2024 },
];

export const ZONES_B: readonly ZoneCase[] = [
  { iana: "Europe/London", posix: "GMT0BST,M3.5.0/1,M10.5.0", from: 2000 },
  { iana: "America/Sao_Paulo", posix: "<-03>3", from: 2020 },
  { iana: "America/St_Johns", posix: "NST3:30NDT,M3.2.0,M11.1.0", from: 2012 },
  { iana: "Australia/Adelaide", posix: "ACST-9:30ACDT,M10.1.0,M4.1.0/3", from: 2008 },
  { iana: "Pacific/Chatham", posix: "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", from: 2008 },
  { iana: "Asia/Jerusalem", posix: "IST-2IDT,M3.4.4/26,M10.5.0", from: 2014 },
  { iana: "Africa/Cairo", posix: "EET-2EEST,M4.5.5/0,M10.5.4/24", from: 2024 },
  { iana: "America/Santiago", posix: "<-04>4<-03>,M9.1.6/24,M4.1.6/24", from: 2023 },
  { iana: "Pacific/Kiritimati", posix: "<+14>-14", from: 2000 },
];
