import { describe, expect, it } from "vitest";
import { MIC_DENIED_MESSAGE, microphoneError, networkError, serviceErrorMessage, truncate } from "../src/errors";

describe("serviceErrorMessage", () => {
  it("shows OpenAI's error message with the status", () => {
    const body = JSON.stringify({
      error: { message: "Incorrect API key provided: sk-abc***.", type: "invalid_request_error", code: "invalid_api_key" },
    });
    expect(serviceErrorMessage(401, "Unauthorized", body)).toBe("Incorrect API key provided: sk-abc***. (HTTP 401 Unauthorized)");
  });

  it("understands other shapes: error string, message, detail", () => {
    expect(serviceErrorMessage(400, "", '{"error": "bad sdp"}')).toBe("bad sdp (HTTP 400)");
    expect(serviceErrorMessage(400, "", '{"message": "nope"}')).toBe("nope (HTTP 400)");
    expect(serviceErrorMessage(422, "", '{"detail": "missing field"}')).toBe("missing field (HTTP 422)");
  });

  it("shows short plain text, and only the status for HTML pages or empty bodies", () => {
    expect(serviceErrorMessage(502, "Bad Gateway", "upstream timed out")).toBe("upstream timed out (HTTP 502 Bad Gateway)");
    expect(serviceErrorMessage(502, "Bad Gateway", "<html><body>nginx</body></html>")).toBe("HTTP 502 Bad Gateway");
    expect(serviceErrorMessage(500, "", "  ")).toBe("HTTP 500");
  });

  it("truncates long bodies", () => {
    const text = serviceErrorMessage(500, "", "x".repeat(5000));
    expect(text.length).toBeLessThan(400);
  });
});

describe("microphoneError", () => {
  const dom = (name: string) => new DOMException("msg", name);

  it("tells the user how to allow a denied microphone", () => {
    const error = microphoneError(dom("NotAllowedError"), null);
    expect(error.code).toBe("mic_denied");
    expect(error.message).toBe(MIC_DENIED_MESSAGE);
  });

  it("distinguishes no microphone, a vanished chosen one, and a busy one", () => {
    expect(microphoneError(dom("NotFoundError"), null).code).toBe("mic_not_found");
    expect(microphoneError(dom("OverconstrainedError"), "dev-1").message).toMatch(/selected microphone/);
    expect(microphoneError(dom("NotReadableError"), null).message).toMatch(/another application/);
    expect(microphoneError(new Error("weird"), null).message).toMatch(/weird/);
  });
});

describe("networkError", () => {
  it("names the origin only (never the path or query) and mentions CORS", () => {
    const error = networkError("http://127.0.0.1:9999/v1/realtime/calls?x=1", new TypeError("Failed to fetch"));
    expect(error.message).toMatch(/^Could not reach http:\/\/127\.0\.0\.1:9999 /);
    expect(error.message).toMatch(/CORS/);
    expect(error.message).not.toMatch(/x=1/);
  });

  it("says when the service timed out", () => {
    expect(networkError("https://api.openai.com/v1/realtime/calls", new DOMException("t", "TimeoutError")).code).toBe("network_timeout");
  });
});

describe("truncate", () => {
  it("keeps short text and marks what it cut", () => {
    expect(truncate("abc", 5)).toBe("abc");
    expect(truncate("abcdefgh", 3)).toBe("abc… (5 more characters)");
  });
});
