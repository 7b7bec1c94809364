/** Secrets never logged: a URL as it may appear in logs and audit records (credentials removed). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === "" && u.password === "") return url;
    u.username = "***";
    u.password = "";
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@");
  }
}
