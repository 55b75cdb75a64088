// Errors the user sees: each says what went wrong and what to do about it.

/** An error whose message is fit for the panel and `w.error`, with a stable code for the log. */
export class UserFacingError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The kernel said so in a command reply, and has logged its own `widget.error` for it. */
    readonly loggedByKernel = false,
  ) {
    super(message);
    this.name = "UserFacingError";
  }
}

export const KERNEL_TIMEOUT_MESSAGE =
  "The kernel did not answer within 30 s — is a cell still running? Wait for it to finish (or interrupt it), then click Connect.";

export const MIC_DENIED_MESSAGE =
  "Microphone permission was denied. Allow microphone access for this page in the browser's site settings, then click Connect.";

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/**
 * The message of an HTTP error from the Realtime API or a compatible host. OpenAI answers
 * `{"error": {"message", "type", "code"}}`; other hosts may send `{"message"}`, `{"detail"}` or
 * plain text. An HTML error page is not worth showing: the status line says enough.
 */
export function serviceErrorMessage(status: number, statusText: string, body: string): string {
  const head = `HTTP ${status}${statusText ? ` ${statusText}` : ""}`;
  const detail = errorDetail(body);
  return detail ? `${detail} (${head})` : head;
}

function errorDetail(body: string): string | null {
  const text = body.trim();
  if (text === "") return null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) {
      const error = parsed.error;
      if (isRecord(error) && typeof error.message === "string" && error.message !== "") return error.message;
      if (typeof error === "string" && error !== "") return error;
      if (typeof parsed.message === "string" && parsed.message !== "") return parsed.message;
      if (typeof parsed.detail === "string" && parsed.detail !== "") return parsed.detail;
    }
    return truncate(text, 300);
  } catch {
    if (/^\s*</.test(text)) return null; // an HTML error page
    return truncate(text, 300);
  }
}

/** What to tell the user when getUserMedia fails. */
export function microphoneError(error: unknown, wantedDevice: string | null): UserFacingError {
  const name = error instanceof Error || isDomExceptionLike(error) ? (error as { name: string }).name : "";
  switch (name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
      return new UserFacingError("mic_denied", MIC_DENIED_MESSAGE);
    case "SecurityError":
      return new UserFacingError(
        "mic_blocked",
        "This page is not allowed to use the microphone (browsers allow it only on https:// or http://localhost pages, and a site policy may forbid it). Open JupyterLab over https or localhost, then click Connect.",
      );
    case "OverconstrainedError":
      if (wantedDevice) {
        return new UserFacingError(
          "mic_not_found",
          "The selected microphone is not available any more. Pick another one in the microphone list, then click Connect.",
        );
      }
      return new UserFacingError("mic_not_found", "No microphone was found. Plug one in, then click Connect.");
    case "NotFoundError":
    case "DevicesNotFoundError":
      return new UserFacingError("mic_not_found", "No microphone was found. Plug one in, then click Connect.");
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return new UserFacingError(
        "mic_unavailable",
        "The microphone could not be started; another application may be using it. Close that application, then click Connect.",
      );
    default:
      return new UserFacingError("mic_unavailable", `The microphone could not be opened: ${describe(error)}`);
  }
}

/** The page has no navigator.mediaDevices: not a secure context. */
export function noMediaDevicesError(): UserFacingError {
  return new UserFacingError(
    "mic_blocked",
    "This page cannot use the microphone: browsers allow it only on https:// or http://localhost pages. Open JupyterLab over https or localhost, then click Connect.",
  );
}

/** fetch() rejected: the host is unreachable, or the browser refused the response (CORS). */
export function networkError(url: string, error: unknown): UserFacingError {
  let where = url;
  try {
    where = new URL(url).origin;
  } catch {
    /* keep the raw url */
  }
  if (isRecord(error) && error.name === "TimeoutError") {
    return new UserFacingError("network_timeout", `${where} did not answer within 30 s. Check that the service is up, then click Connect.`);
  }
  return new UserFacingError(
    "network_error",
    `Could not reach ${where} (${describe(error)}). Check that the service is running and reachable from this browser, and that it allows requests from this page (CORS).`,
  );
}

export function describe(error: unknown): string {
  if (error instanceof Error || isDomExceptionLike(error)) {
    const { name, message } = error as { name: string; message: string };
    return message ? `${name}: ${message}` : name;
  }
  return String(error);
}

/** Turns anything thrown during a call into a user-facing error. */
export function asUserFacing(error: unknown): UserFacingError {
  if (error instanceof UserFacingError) return error;
  return new UserFacingError("internal", `Something went wrong in the widget: ${describe(error)}`);
}

function isDomExceptionLike(value: unknown): boolean {
  return isRecord(value) && typeof value.name === "string" && typeof value.message === "string";
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
