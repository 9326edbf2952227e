// Passkey ceremonies for Mandate's sign-in, second-factor and account pages. Each button
// carries its action, the page's CSRF token and the journey id; the server answers the
// finish request with where to go next.
const b64urlToBytes = (text) => {
  const pad = "=".repeat((4 - (text.length % 4)) % 4);
  const bin = atob((text + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
};
const bytesToB64url = (buffer) => {
  const bytes = new Uint8Array(buffer);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const creationOptions = (json) => {
  const o = json.publicKey;
  return {
    ...o,
    challenge: b64urlToBytes(o.challenge),
    user: { ...o.user, id: b64urlToBytes(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: b64urlToBytes(c.id) })),
  };
};
const requestOptions = (json) => {
  const o = json.publicKey;
  return {
    ...o,
    challenge: b64urlToBytes(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: b64urlToBytes(c.id) })),
  };
};

const registrationJson = (cred) => ({
  id: cred.id,
  rawId: bytesToB64url(cred.rawId),
  type: cred.type,
  extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  response: {
    attestationObject: bytesToB64url(cred.response.attestationObject),
    clientDataJSON: bytesToB64url(cred.response.clientDataJSON),
    transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
  },
});
const assertionJson = (cred) => ({
  id: cred.id,
  rawId: bytesToB64url(cred.rawId),
  type: cred.type,
  extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  response: {
    authenticatorData: bytesToB64url(cred.response.authenticatorData),
    clientDataJSON: bytesToB64url(cred.response.clientDataJSON),
    signature: bytesToB64url(cred.response.signature),
    userHandle: cred.response.userHandle ? bytesToB64url(cred.response.userHandle) : null,
  },
});

const post = async (path, body) => {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || "The passkey request failed.");
  return data;
};

async function run(button) {
  const action = button.dataset.passkey;
  const error = button.parentElement.querySelector("[data-passkey-error]");
  const nameInput = document.querySelector("[data-passkey-name]");
  const base = {
    csrf: button.dataset.csrf,
    journey: button.dataset.journey || null,
    name: nameInput ? nameInput.value : null,
  };
  error.textContent = "";
  button.disabled = true;
  try {
    const options = await post(`/passkeys/${action}/start`, base);
    let credential;
    if (action === "register") {
      const created = await navigator.credentials.create({ publicKey: creationOptions(options) });
      credential = registrationJson(created);
    } else {
      const got = await navigator.credentials.get({ publicKey: requestOptions(options) });
      credential = assertionJson(got);
    }
    const done = await post(`/passkeys/${action}/finish`, { ...base, credential });
    if (done.redirect) window.location.assign(done.redirect);
  } catch (e) {
    error.textContent =
      e && e.name === "NotAllowedError" ? "The passkey request was cancelled or timed out." : e.message;
  } finally {
    button.disabled = false;
  }
}

if (window.PublicKeyCredential) {
  for (const button of document.querySelectorAll("[data-passkey]")) {
    button.closest("[data-passkey-hidden]")?.removeAttribute("hidden");
    button.addEventListener("click", () => run(button));
  }
}
