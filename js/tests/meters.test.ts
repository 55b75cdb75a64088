import { describe, expect, it } from "vitest";
import { decay, levelFromSamples } from "../src/meters";

describe("levelFromSamples", () => {
  it("is 0 for silence and for an empty block", () => {
    expect(levelFromSamples(new Float32Array(512))).toBe(0);
    expect(levelFromSamples(new Float32Array(0))).toBe(0);
  });

  it("is 1 at full scale and in between on a dB scale", () => {
    expect(levelFromSamples(new Float32Array(512).fill(1))).toBe(1);
    expect(levelFromSamples(new Float32Array(512).fill(0.1))).toBeCloseTo(2 / 3, 5); // -20 dBFS
    expect(levelFromSamples(new Float32Array(512).fill(0.0001))).toBe(0); // below -60 dBFS
  });

  it("decays slowly and rises at once", () => {
    expect(decay(1, 0)).toBeCloseTo(0.85);
    expect(decay(0.2, 0.9)).toBe(0.9);
  });
});
