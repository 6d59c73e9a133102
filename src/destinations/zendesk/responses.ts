/** zod shapes of Zendesk's answers, checked at the boundary rather than trusted. */
import { z } from "zod";

const id = z.union([z.number(), z.string()]).transform(String);

export const jobResultSchema = z.looseObject({
  id: id.nullish(),
  index: z.number().int().nullish(),
  status: z.string().nullish(),
  action: z.string().nullish(),
  success: z.boolean().nullish(),
  error: z.string().nullish(),
  errors: z.string().nullish(),
  details: z.unknown().optional(),
});
export type JobResult = z.infer<typeof jobResultSchema>;

export const jobStatusSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
  message: z.string().nullish(),
  total: z.number().nullish(),
  progress: z.number().nullish(),
  // Results are null until the job ends; a permanent ticket deletion answers one object instead of an array.
  results: z.union([z.array(jobResultSchema), z.looseObject({}).transform(() => [] as JobResult[])]).nullish(),
});
export type JobStatus = z.infer<typeof jobStatusSchema>;

export const jobStatusBodySchema = z.looseObject({ job_status: jobStatusSchema });
export const jobStatusesBodySchema = z.looseObject({ job_statuses: z.array(jobStatusSchema) });

/** A user or an organization as show_many / search return it. */
export const recordSchema = z.looseObject({
  id,
  email: z.string().nullish(),
  external_id: z.string().nullish(),
  updated_at: z.string().nullish(),
  tags: z.array(z.string()).nullish(),
});
export type ZendeskRecordView = z.infer<typeof recordSchema> & Record<string, unknown>;

export function recordsBodySchema(kind: "users" | "organizations") {
  return z.looseObject({ [kind]: z.array(recordSchema), next_page: z.string().nullish() });
}

export const customFieldSchema = z.looseObject({
  key: z.string(),
  type: z.string(),
  active: z.boolean().optional(),
  custom_field_options: z.array(z.looseObject({ value: z.string() })).nullish(),
});

export function fieldsBodySchema(key: "user_fields" | "organization_fields") {
  return z.looseObject({ [key]: z.array(customFieldSchema), next_page: z.string().nullish() });
}

export const errorBodySchema = z.looseObject({
  error: z.union([z.string(), z.looseObject({ title: z.string().optional(), message: z.string().optional() })]).optional(),
  description: z.string().optional(),
  details: z.unknown().optional(),
});
