/** Progress on long syncs: a line on stderr every second on a terminal, every few seconds in logs. */
import type { SendSummary } from "../engine/send.ts";

export function progressPrinter(write: (text: string) => void, interactive: boolean, everyMs = 5_000): (contract: string, s: SendSummary) => void {
  let last = Date.now();
  return (contract, s) => {
    const now = Date.now();
    if (now - last < (interactive ? 1_000 : everyMs)) return;
    last = now;
    write(`${contract}: ${s.created + s.updated} written, ${s.failed} failed, ${s.requests} requests${s.retries ? `, ${s.retries} retries` : ""}\n`);
  };
}
