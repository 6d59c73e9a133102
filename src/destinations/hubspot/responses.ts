/** zod shapes of what HubSpot (raw) or its SDK (typed calls) hands back, checked at the boundary rather than trusted. */
import { z } from "zod";

const batchErrorsSchema = z
  .array(
    z.looseObject({
      category: z.string().optional(),
      message: z.string().optional(),
      context: z.record(z.string(), z.array(z.string())).optional(),
      errors: z.array(z.looseObject({ message: z.string().optional(), code: z.string().nullish() })).optional(),
    }),
  )
  .optional();

/**
 * A batch upsert's answer, on every write: each result only for what is read from it (unknown keys are dropped, not
 * copied); its `properties` are checked with `resultPropertiesSchema` only when HubSpot echoed no trace id.
 */
export const upsertResponseSchema = z.looseObject({
  results: z.array(
    z.object({
      id: z.string(),
      // The wire name, parsed from the raw answer (the SDK's serializer would rename it `_new`).
      new: z.boolean().optional(),
      objectWriteTraceId: z.string().nullish(),
      properties: z.unknown().optional(),
    }),
  ),
  numErrors: z.number().optional(),
  errors: batchErrorsSchema,
});

export const resultPropertiesSchema = z.record(z.string(), z.string().nullable());

export const readResponseSchema = z.looseObject({
  results: z.array(
    z.looseObject({
      id: z.string(),
      properties: z.record(z.string(), z.string().nullable()),
      // The SDK turns the timestamps into Date objects.
      updatedAt: z.union([z.date(), z.string()]).optional(),
    }),
  ),
  errors: batchErrorsSchema,
});

export const propertiesResponseSchema = z.looseObject({
  results: z.array(
    z.looseObject({
      name: z.string(),
      type: z.string(),
      fieldType: z.string().optional(),
      options: z.array(z.looseObject({ value: z.string(), hidden: z.boolean().optional() })).optional(),
      hasUniqueValue: z.boolean().optional(),
      calculated: z.boolean().optional(),
      archived: z.boolean().optional(),
      modificationMetadata: z.looseObject({ readOnlyValue: z.boolean().optional() }).optional(),
    }),
  ),
});

export const listResponseSchema = z.looseObject({
  list: z.looseObject({ listId: z.string(), name: z.string().optional(), objectTypeId: z.string().optional(), processingType: z.string().optional() }),
});

export const membershipsResponseSchema = z.looseObject({
  // The SDK's spelling: `recordsIdsAdded` (sic).
  recordsIdsAdded: z.array(z.string()).optional(),
  recordIdsRemoved: z.array(z.string()).optional(),
  recordIdsMissing: z.array(z.string()).optional(),
});

export const errorBodySchema = z.looseObject({
  message: z.string().optional(),
  category: z.string().optional(),
  policyName: z.string().optional(),
});
