// DOM helpers shared by the dashboard scripts.
export const $ = (sel, root = document) => root.querySelector(sel);
