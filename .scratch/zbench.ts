import { z } from "zod";
import { upsertResponseSchema } from "/work/wt-hsraw/src/destinations/hubspot/responses.ts";
const at = "2026-11-30T00:00:00.000Z";
const body = JSON.stringify({ status: "COMPLETE", startedAt: at, completedAt: at, results: Array.from({ length: 100 }, (_, i) => ({ id: String(i), properties: { email: `p${i}@example.com`, firstname: "F", lastname: "L", hs_object_id: String(i), createdate: at, lastmodifieddate: at }, createdAt: at, updatedAt: at, archived: false, new: true, objectWriteTraceId: String(i) })) });
const lean = z.looseObject({
  results: z.array(z.object({ id: z.string(), new: z.boolean().optional(), objectWriteTraceId: z.string().nullish(), properties: z.unknown().optional() })),
  numErrors: z.number().optional(),
  errors: z.array(z.unknown()).optional(),
});
for (const [name, s] of [["current", upsertResponseSchema], ["lean", lean], ["current", upsertResponseSchema], ["lean", lean]] as const) {
  const t = performance.now(); let n = 0;
  for (let i = 0; i < 3000; i++) { const v = JSON.parse(body); if (s.safeParse(v).success) n++; }
  const t2 = performance.now();
  for (let i = 0; i < 3000; i++) { JSON.parse(body); }
  console.log(name, ((t2 - t) / 3000 * 1000).toFixed(1), "µs/batch (parse+zod); parse alone", ((performance.now() - t2) / 3000 * 1000).toFixed(1), n);
}
