/** The retry policy: throttles wait their turn (bounded by the run's budget), failures give up after maxAttempts. */
import { describe, expect, it } from "vitest";
import { DestinationRequestError } from "../../src/destinations/types.ts";
import { Pacer } from "../../src/engine/pacing.ts";
import { RetryBudget, retrying } from "../../src/engine/retry.ts";

const throttle = (): DestinationRequestError => new DestinationRequestError("HubSpot 429: You have reached your ten_secondly_rolling limit.", { status: 429, code: "RATE_LIMIT", retryable: true });
const serverError = (): DestinationRequestError => new DestinationRequestError("HubSpot 502", { status: 502, code: "SERVER_ERROR", retryable: true });

/** A call that fails with `errors` in order, then answers "ok"; counts its calls. */
function flaky(errors: (() => Error)[]): { call: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    call: () => {
      calls += 1;
      const next = errors[calls - 1];
      return next ? Promise.reject(next()) : Promise.resolve("ok");
    },
    calls: () => calls,
  };
}

const noSleep = { sleep: () => Promise.resolve(), baseDelayMs: 1 };

describe("retrying", () => {
  it("counts throttles apart from failures: five of each still land (a throttled request was never processed)", async () => {
    const f = flaky([throttle, serverError, throttle, serverError, throttle, serverError, throttle, serverError, throttle, serverError]);
    const counters = { requests: 0, retries: 0 };
    await expect(retrying(f.call, { ...noSleep, maxAttempts: 6 }, counters)).resolves.toBe("ok");
    expect(f.calls()).toBe(11);
    expect(counters).toEqual({ requests: 11, retries: 10 });
  });

  it("gives up after maxAttempts server errors, throttles in between not counted", async () => {
    const f = flaky([serverError, throttle, throttle, serverError, serverError, throttle, serverError, serverError, serverError, serverError]);
    await expect(retrying(f.call, { ...noSleep, maxAttempts: 6 }, { requests: 0, retries: 0 })).rejects.toMatchObject({ code: "SERVER_ERROR" });
    // The sixth server error is the ninth call.
    expect(f.calls()).toBe(9);
  });

  it("stops a throttle storm at the run's retry budget, as a clean end of the run", async () => {
    const f = flaky(Array.from({ length: 1000 }, () => throttle));
    const budget = new RetryBudget({ maxRetries: 5 });
    await expect(retrying(f.call, { ...noSleep, budget, maxThrottledAttempts: 100 }, { requests: 0, retries: 0 })).rejects.toMatchObject({ code: "RETRY_BUDGET_SPENT", exhausted: true });
    expect(f.calls()).toBe(6);
  });

  it("stops at maxThrottledAttempts when no budget bounds it", async () => {
    const f = flaky(Array.from({ length: 1000 }, () => throttle));
    await expect(retrying(f.call, { ...noSleep, maxThrottledAttempts: 40 }, { requests: 0, retries: 0 })).rejects.toMatchObject({ code: "RATE_LIMIT" });
    expect(f.calls()).toBe(40);
  });

  it("does not open the circuit on throttles: the destination answered", async () => {
    const pacer = new Pacer({ limits: { windowMs: 10, requestsPerWindow: 1000, concurrency: 1 }, breaker: { threshold: 3 }, maxPauseMs: 1 });
    for (let i = 0; i < 10; i += 1) await expect(pacer.request(() => Promise.reject(throttle()))).rejects.toMatchObject({ code: "RATE_LIMIT" });
    await expect(pacer.request(() => Promise.resolve("answered"))).resolves.toBe("answered");
    expect(pacer.stats.throttled).toBe(10);
    for (let i = 0; i < 3; i += 1) await expect(pacer.request(() => Promise.reject(serverError()))).rejects.toMatchObject({ code: "SERVER_ERROR" });
    await expect(pacer.request(() => Promise.resolve("answered"))).rejects.toThrow(/consecutive failed requests/);
  });
});
