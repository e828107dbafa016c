// The REST API as the pages use it: JSON in, JSON out, the RealWorld error envelope
// turned into an ApiError that names the fields, and the token attached when signed in.
import { session } from "./session.js";

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the request never got an answer
   * @param {Record<string, string[]>} errors the envelope's errors, by field ("body" for the whole)
   */
  constructor(status, errors, retryAfter = null) {
    super(ApiError.summary(status, errors));
    this.status = status;
    this.errors = errors;
    /** Seconds to wait, from a 429's or 503's Retry-After header (null when absent). */
    this.retryAfter = retryAfter;
  }

  static summary(status, errors) {
    const messages = Object.entries(errors).flatMap(([field, list]) =>
      list.map((message) => fieldMessage(field, message)),
    );
    if (messages.length) return messages.join("; ");
    if (status === 0) return "The server could not be reached. Check your connection.";
    if (status === 429) return "Too many requests: wait a moment and try again.";
    if (status >= 500) return "The server had a problem answering. Try again in a moment.";
    return `The request failed (HTTP ${status}).`;
  }
}

// Fields that name the whole request rather than an input: their messages are sentences
// on their own ("your account is suspended until …", "email or password is invalid").
const WHOLE = new Set(["body", "user", "credentials"]);

/** An envelope message as people read it: "email has already been taken". */
export function fieldMessage(field, message) {
  return WHOLE.has(field) ? message : `${field} ${message}`;
}

function retryAfter(response) {
  const value = response.headers.get("Retry-After");
  if (!value) return null;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : Math.ceil((Date.parse(value) - Date.now()) / 1000);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

function envelope(body) {
  const errors = body && typeof body === "object" ? body.errors : null;
  if (!errors || typeof errors !== "object") return {};
  const clean = {};
  for (const [field, list] of Object.entries(errors)) {
    clean[field] = (Array.isArray(list) ? list : [list]).map(String);
  }
  return clean;
}

/**
 * One API call. `path` is below /api; `body` is sent as JSON. Resolves to the parsed
 * body (null for 204), rejects with ApiError — never with a raw response or a TypeError.
 */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const token = session.token;
  if (token) headers.Authorization = `Token ${token}`;
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, {});
  }
  if (response.status === 204) return null;
  const parsed = await response.json().catch(() => null);
  if (!response.ok) {
    // A token the server no longer accepts (expired, password changed, account deleted)
    // signs the reader out rather than failing every request after it.
    if (response.status === 401 && token) session.clear();
    throw new ApiError(response.status, envelope(parsed), retryAfter(response));
  }
  return parsed;
}

/** A query string from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const enc = encodeURIComponent;
