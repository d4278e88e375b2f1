// Run in a signed-in gateway page: mint a short-lived `ek_` key (an app backend's job) with the session and its CSRF
// token. Shared by tests/browser/test_agents_sdk.py (Chromium) and firefox_pages.mjs (Firefox).
async () => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch("/v1/realtime/client_secrets", { method: "POST", credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: "{}" });
  return (await response.json()).value;
}
