/** zod shapes of Salesforce's answers, checked at the boundary rather than trusted. */
import { z } from "zod";

export const saveResultsSchema = z.array(
  z.looseObject({
    id: z.string().nullish(),
    success: z.boolean(),
    created: z.boolean().optional(),
    errors: z.array(z.looseObject({ statusCode: z.string(), message: z.string(), fields: z.array(z.string()).optional() })).default([]),
  }),
);

export const describeSchema = z.looseObject({
  name: z.string(),
  fields: z.array(
    z.looseObject({
      name: z.string(),
      type: z.string(),
      createable: z.boolean(),
      updateable: z.boolean(),
      nillable: z.boolean().optional(),
      externalId: z.boolean().optional(),
      unique: z.boolean().optional(),
      caseSensitive: z.boolean().optional(),
      restrictedPicklist: z.boolean().optional(),
      picklistValues: z.array(z.looseObject({ value: z.string(), active: z.boolean().optional() })).optional(),
    }),
  ),
});

export const queryResultSchema = z.looseObject({
  done: z.boolean(),
  nextRecordsUrl: z.string().optional(),
  records: z.array(z.record(z.string(), z.unknown())),
});

export const jobInfoSchema = z.looseObject({
  id: z.string(),
  state: z.string(),
  errorMessage: z.string().nullish(),
  numberRecordsProcessed: z.number().optional(),
  numberRecordsFailed: z.number().optional(),
});

/** One row of a Bulk API 2.0 job's results CSV, by column. */
export const bulkRowSchema = z.record(z.string(), z.string());
