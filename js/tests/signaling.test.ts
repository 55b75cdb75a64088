import { describe, expect, it, vi } from "vitest";
import type { Invoke } from "../src/commands";
import {
  callIdFromLocation,
  checkAnswerSdp,
  mintClientSecret,
  postOfferWithSecret,
  relayOffer,
  secretIsStale,
  SecretPrefetch,
  type ClientSecret,
} from "../src/signaling";

const ANSWER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n";
const SECRET: ClientSecret = { value: "ek_test_SECRET_VALUE", expiresAt: 4_000_000_000, callUrl: "http://127.0.0.1:8123/v1/realtime/calls" };

function fetchAnswering(status: number, body: string, headers: Record<string, string> = {}) {
  return vi.fn(async () => new Response(body, { status, headers }));
}

describe("postOfferWithSecret", () => {
  it("posts the SDP with the bearer secret and reads the call id from Location", async () => {
    const fetchImpl = fetchAnswering(201, ANSWER, { Location: "/v1/realtime/calls/rtc_abc123" });
    const answer = await postOfferWithSecret(SECRET, "v=0 offer", new AbortController().signal, fetchImpl);
    expect(answer).toEqual({ sdp: ANSWER, callId: "rtc_abc123" });
    const [url, init] = fetchImpl.mock.calls[0]! as unknown as [string, RequestInit];
    expect(url).toBe(SECRET.callUrl);
    expect(init.method).toBe("POST");
    expect(init.body).toBe("v=0 offer");
    expect(init.headers).toEqual({ Authorization: "Bearer ek_test_SECRET_VALUE", "Content-Type": "application/sdp" });
  });

  it("works without a readable Location (call id unknown)", async () => {
    const answer = await postOfferWithSecret(SECRET, "o", new AbortController().signal, fetchAnswering(201, ANSWER));
    expect(answer.callId).toBeNull();
  });

  it("shows the service's message for an error and never returns the body as an answer", async () => {
    const body = JSON.stringify({ error: { message: "Invalid ephemeral key.", type: "invalid_request_error" } });
    const promise = postOfferWithSecret(SECRET, "o", new AbortController().signal, fetchAnswering(401, body));
    await expect(promise).rejects.toMatchObject({
      code: "unauthorized",
      message: "The service refused the call: Invalid ephemeral key. (HTTP 401)",
    });
  });

  it("refuses a 2xx body that is not SDP", async () => {
    const promise = postOfferWithSecret(SECRET, "o", new AbortController().signal, fetchAnswering(200, '{"error":{"message":"x"}}'));
    await expect(promise).rejects.toMatchObject({ code: "bad_answer" });
  });

  it("explains network failures without leaking the secret", async () => {
    const fetchImpl = vi.fn(async () => {
      throw new TypeError("Failed to fetch");
    });
    const error = await postOfferWithSecret(SECRET, "o", new AbortController().signal, fetchImpl).catch((e: Error) => e);
    expect(error).toMatchObject({ code: "network_error" });
    expect((error as Error).message).not.toContain(SECRET.value);
  });

  it("rejects with the abort reason when hung up mid-request", async () => {
    const controller = new AbortController();
    const fetchImpl = vi.fn(
      (_url: string, init: RequestInit) =>
        new Promise<Response>((_resolve, reject) => init.signal!.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")))),
    );
    const promise = postOfferWithSecret(SECRET, "o", controller.signal, fetchImpl as unknown as typeof fetch);
    const reason = new DOMException("hung up", "AbortError");
    controller.abort(reason);
    await expect(promise).rejects.toBe(reason);
  });
});

describe("kernel commands", () => {
  const invoking = (reply: unknown) => vi.fn(async () => [reply, []]) as unknown as Invoke & ReturnType<typeof vi.fn>;

  it("mints a secret", async () => {
    const invoke = invoking({ ok: true, value: "ek_1", expires_at: 123, call_url: "http://x/v1/realtime/calls" });
    await expect(mintClientSecret(invoke, new AbortController().signal)).resolves.toEqual({
      value: "ek_1",
      expiresAt: 123,
      callUrl: "http://x/v1/realtime/calls",
    });
    expect(invoke.mock.calls[0]!.slice(0, 2)).toEqual(["mint_client_secret", {}]);
  });

  it("reports a failed mint with the kernel's words", async () => {
    const invoke = invoking({ ok: false, error: "OpenAI rejected the API key (401): Incorrect API key provided." });
    await expect(mintClientSecret(invoke, new AbortController().signal)).rejects.toMatchObject({
      code: "secret_failed",
      message: "OpenAI rejected the API key (401): Incorrect API key provided.",
    });
  });

  it("relays the offer through the kernel", async () => {
    const invoke = invoking({ ok: true, sdp: ANSWER, call_id: "rtc_9" });
    await expect(relayOffer(invoke, "v=0 offer", new AbortController().signal)).resolves.toEqual({ sdp: ANSWER, callId: "rtc_9" });
    expect(invoke.mock.calls[0]!.slice(0, 2)).toEqual(["relay_offer", { sdp: "v=0 offer" }]);
  });

  it("shows the service's message for a failed relay", async () => {
    const invoke = invoking({ ok: false, error: "The service refused the call: Invalid SDP (HTTP 400)" });
    await expect(relayOffer(invoke, "o", new AbortController().signal)).rejects.toMatchObject({ code: "service_error" });
  });
});

describe("callIdFromLocation", () => {
  it("reads relative and absolute locations", () => {
    expect(callIdFromLocation("/v1/realtime/calls/rtc_abc")).toBe("rtc_abc");
    expect(callIdFromLocation("https://api.openai.com/v1/realtime/calls/rtc_x1?y=2")).toBe("rtc_x1");
    expect(callIdFromLocation("/v1/realtime/calls/rtc_abc/")).toBe("rtc_abc");
  });

  it("is null when absent or unrecognised", () => {
    expect(callIdFromLocation(null)).toBeNull();
    expect(callIdFromLocation("")).toBeNull();
    expect(callIdFromLocation("/v1/other/thing")).toBeNull();
  });
});

describe("checkAnswerSdp and secretIsStale", () => {
  it("accepts SDP and rejects anything else with a preview", () => {
    expect(checkAnswerSdp(ANSWER)).toBe(ANSWER);
    expect(() => checkAnswerSdp("")).toThrow(/empty body/);
    expect(() => checkAnswerSdp("<html>")).toThrow(/not an SDP/);
  });

  it("spots a secret about to expire", () => {
    expect(secretIsStale({ ...SECRET, expiresAt: 100 }, 99_000)).toBe(true);
    expect(secretIsStale({ ...SECRET, expiresAt: 200 }, 100_000)).toBe(false);
    expect(secretIsStale({ ...SECRET, expiresAt: Number.NaN }, 1)).toBe(false);
  });
});

describe("SecretPrefetch", () => {
  it("mints one ahead, once, and hands it over once", async () => {
    const mint = vi.fn(async () => SECRET);
    const prefetch = new SecretPrefetch(mint);
    prefetch.warm();
    prefetch.warm(); // one on its way already
    expect(mint).toHaveBeenCalledTimes(1);
    expect(prefetch.ready).toBe(true);
    await expect(prefetch.take()).resolves.toEqual(SECRET);
    expect(prefetch.take()).toBeNull();
    prefetch.warm();
    expect(mint).toHaveBeenCalledTimes(2);
  });

  it("forgets a failed mint, so the next warm() tries again", async () => {
    const mint = vi.fn(async (): Promise<ClientSecret> => {
      throw new Error("the kernel is gone");
    });
    const prefetch = new SecretPrefetch(mint);
    prefetch.warm();
    await Promise.resolve();
    await Promise.resolve();
    expect(prefetch.ready).toBe(false);
    prefetch.warm();
    expect(mint).toHaveBeenCalledTimes(2);
  });

  it("drops the secret (a changed session): the next warm() mints another", async () => {
    const mint = vi.fn(async () => SECRET);
    const prefetch = new SecretPrefetch(mint);
    prefetch.warm();
    prefetch.drop();
    expect(prefetch.take()).toBeNull();
    prefetch.warm();
    expect(mint).toHaveBeenCalledTimes(2);
  });
});
