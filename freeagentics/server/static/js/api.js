// REST client and typed-array decoding shared by the other modules.
//
// Credentials: a JWT kept in sessionStorage (not localStorage, so it dies with the tab).
// An API key typed into the login prompt is exchanged for a JWT at once, because the
// WebSocket can only carry a token in its first message, and a key should not linger.

const TOKEN_KEY = "freeagentics.token";
export const API = "/api/v1";

export const auth = { token: sessionStorage.getItem(TOKEN_KEY) };

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

/** JSON request to the API; throws ApiError (status 401 means "log in"). */
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const h = { ...headers };
  if (auth.token) h.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(path.startsWith("/") ? path : `${API}/${path}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const detail = data && data.detail ? data.detail : res.statusText;
    throw new ApiError(res.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return data;
}

/** Log in with a JWT (three dot-separated parts) or an API key; returns /auth/me. */
export async function login(secret) {
  secret = secret.trim();
  if (secret.split(".").length === 3) {
    auth.token = secret;
  } else {
    auth.token = null;
    const issued = await api("auth/token", { method: "POST", headers: { "X-API-Key": secret } });
    auth.token = issued.access_token;
  }
  try {
    const me = await api("auth/me");
    sessionStorage.setItem(TOKEN_KEY, auth.token);
    return me;
  } catch (err) {
    auth.token = null;
    throw err;
  }
}

export function logout() {
  auth.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

const ARRAYS = { uint8: Uint8Array, int16: Int16Array, int32: Int32Array, float32: Float32Array };

function base64Bytes(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text); // newer engines: native
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * A typed array from the server's `{dtype, shape, data}` map (data base64 in JSON).
 * The bytes are little-endian, as is every browser's typed-array order in practice.
 */
export function decodeTyped(arr) {
  const Ctor = ARRAYS[arr.dtype];
  if (!Ctor) throw new Error(`unsupported dtype ${arr.dtype}`);
  const bytes = base64Bytes(arr.data);
  // a fresh Uint8Array starts at offset 0, so any element size is aligned
  return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / Ctor.BYTES_PER_ELEMENT);
}
