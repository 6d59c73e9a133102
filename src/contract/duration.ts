/** Durations in contracts: a whole number and a unit, `90s`, `90m`, `24h`, `7d`. */
import { z } from "zod";

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const DURATION = /^(\d+)(s|m|h|d)$/;

export const durationSchema = z.string().regex(DURATION, "must be a duration like 90m, 24h or 7d");

export function durationSeconds(duration: string): number {
  const match = DURATION.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  return Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
}
