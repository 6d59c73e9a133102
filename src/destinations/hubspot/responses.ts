/** zod shapes of what the HubSpot SDK hands back, checked at the boundary rather than trusted. */
import { z } from "zod";

export const upsertResponseSchema = z.looseObject({
  results: z.array(
    z.looseObject({
      id: z.string(),
      // The SDK's serializer renames `new` to `_new`; accept both.
      _new: z.boolean().optional(),
      new: z.boolean().optional(),
      objectWriteTraceId: z.string().nullish(),
    }),
  ),
  numErrors: z.number().optional(),
  errors: z
    .array(
      z.looseObject({
        category: z.string().optional(),
        message: z.string().optional(),
        context: z.record(z.string(), z.array(z.string())).optional(),
        errors: z.array(z.looseObject({ message: z.string().optional(), code: z.string().nullish() })).optional(),
      }),
    )
    .optional(),
});

export const propertiesResponseSchema = z.looseObject({
  results: z.array(
    z.looseObject({
      name: z.string(),
      type: z.string(),
      hasUniqueValue: z.boolean().optional(),
      calculated: z.boolean().optional(),
      modificationMetadata: z.looseObject({ readOnlyValue: z.boolean().optional() }).optional(),
    }),
  ),
});

export const errorBodySchema = z.looseObject({
  message: z.string().optional(),
  category: z.string().optional(),
  policyName: z.string().optional(),
});
