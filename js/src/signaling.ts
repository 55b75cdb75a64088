// SDP offer/answer exchange with the Realtime API, in the two ways the widget supports:
//   client_secret: the kernel mints a short-lived secret; the browser posts its offer to /calls.
//   relay:         the kernel posts the browser's offer itself; no secret reaches the browser.
import { runCommand, type Invoke } from "./commands";
import { UserFacingError, networkError, serviceErrorMessage } from "./errors";
import { COMMAND_HANGUP, COMMAND_MINT_SECRET, COMMAND_RELAY_OFFER } from "./protocol";

export interface Answer {
  sdp: string;
  /** `rtc_...`, or null when the host did not expose it (OpenAI's Location header may be hidden by CORS). */
  callId: string | null;
}

/**
 * A client secret. Keep it in a local variable of the code that posts the offer: never in the
 * model, a record, the DOM or the console.
 */
export interface ClientSecret {
  value: string;
  /** Unix seconds. */
  expiresAt: number;
  callUrl: string;
}

const FETCH_TIMEOUT_MS = 30_000;

export async function mintClientSecret(invoke: Invoke, signal: AbortSignal, prefetch = false): Promise<ClientSecret> {
  const reply = await runCommand<{ value: string; expires_at: number; call_url: string }>(
    invoke,
    COMMAND_MINT_SECRET,
    prefetch ? { prefetch: true } : {},
    { signal, failureCode: "secret_failed" },
  );
  if (typeof reply.value !== "string" || typeof reply.call_url !== "string") {
    throw new UserFacingError("secret_failed", "The kernel's client secret reply is missing value or call_url.");
  }
  return { value: reply.value, expiresAt: Number(reply.expires_at), callUrl: reply.call_url };
}

/**
 * One client secret minted ahead for the next call, so that Connect waits neither for the kernel
 * (a comm round trip) nor for the service (a REST call, a few hundred ms to OpenAI). Minted when the
 * widget is shown and after each call; dropped when the session config or the signaling changes.
 * It lives in this object only, like any secret (see ClientSecret), and is used at most once.
 */
export class SecretPrefetch {
  private pending: Promise<ClientSecret> | null = null;

  constructor(private readonly mint: () => Promise<ClientSecret>) {}

  /** Whether a secret is minted or on its way. */
  get ready(): boolean {
    return this.pending !== null;
  }

  /** Starts minting one unless one is minted or on its way. */
  warm(): void {
    if (this.pending) return;
    const minting = this.mint();
    this.pending = minting;
    // A failed prefetch is forgotten: Connect mints again and reports what went wrong.
    minting.catch(() => {
      if (this.pending === minting) this.pending = null;
    });
  }

  /** The secret minted ahead (maybe still on its way), handed over once; null when there is none. */
  take(): Promise<ClientSecret> | null {
    const minting = this.pending;
    this.pending = null;
    return minting;
  }

  drop(): void {
    this.pending = null;
  }
}

/** True when the secret is too close to expiry to start a call with (e.g. after a long mic prompt). */
export function secretIsStale(secret: ClientSecret, nowMs: number, marginMs = 5_000): boolean {
  return Number.isFinite(secret.expiresAt) && secret.expiresAt > 0 && secret.expiresAt * 1000 - nowMs < marginMs;
}

/** Posts the offer to `/v1/realtime/calls` with the client secret. */
export async function postOfferWithSecret(
  secret: ClientSecret,
  offerSdp: string,
  signal: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): Promise<Answer> {
  let response: Response;
  try {
    response = await fetchImpl(secret.callUrl, {
      method: "POST",
      body: offerSdp,
      headers: { Authorization: `Bearer ${secret.value}`, "Content-Type": "application/sdp" },
      signal: anySignal([signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]),
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw networkError(secret.callUrl, error);
  }
  const body = await response.text();
  if (!response.ok) {
    // Never hand an error body to setRemoteDescription: the user would only see "Failed to parse
    // SessionDescription" instead of the service's reason.
    throw new UserFacingError(
      response.status === 401 || response.status === 403 ? "unauthorized" : "service_error",
      `The service refused the call: ${serviceErrorMessage(response.status, response.statusText, body)}`,
    );
  }
  return { sdp: checkAnswerSdp(body), callId: callIdFromLocation(response.headers.get("Location")) };
}

/** Lets the kernel post the offer (multipart sdp + session, with the API key). */
export async function relayOffer(invoke: Invoke, offerSdp: string, signal: AbortSignal): Promise<Answer> {
  const reply = await runCommand<{ sdp: string; call_id: string }>(
    invoke,
    COMMAND_RELAY_OFFER,
    { sdp: offerSdp },
    { signal, failureCode: "service_error" },
  );
  const callId = typeof reply.call_id === "string" && reply.call_id !== "" ? reply.call_id : null;
  return { sdp: checkAnswerSdp(String(reply.sdp ?? "")), callId };
}

/** Asks the kernel to hang the call up at the service. Best effort: failures are returned, not thrown. */
export async function hangup(invoke: Invoke, callId: string): Promise<string | null> {
  try {
    await runCommand(invoke, COMMAND_HANGUP, { call_id: callId }, { timeoutMs: 10_000 });
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** `rtc_...` from a Location header such as `/v1/realtime/calls/rtc_123` (absolute or relative). */
export function callIdFromLocation(location: string | null): string | null {
  if (!location) return null;
  const match = /\/calls\/([^/?#]+)\/?(?:[?#].*)?$/.exec(location.trim());
  return match ? decodeURIComponent(match[1]!) : null;
}

/** The answer text, if it is an SDP description; a clear error otherwise. */
export function checkAnswerSdp(text: string): string {
  const sdp = text.trimStart();
  if (!/^v=0\r?\n/.test(sdp)) {
    const preview = text.trim().slice(0, 120);
    throw new UserFacingError(
      "bad_answer",
      `The service's answer is not an SDP description${preview ? `: ${JSON.stringify(preview)}` : " (empty body)"}.`,
    );
  }
  return sdp;
}

/** AbortSignal.any, which older browsers lack. */
export function anySignal(signals: AbortSignal[]): AbortSignal {
  const controller = new AbortController();
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true, signal: controller.signal });
  }
  return controller.signal;
}
