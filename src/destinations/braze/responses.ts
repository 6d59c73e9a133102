/** zod shapes of Braze's answers, checked at the boundary rather than trusted. */
import { z } from "zod";

/** A non-fatal (201) or fatal (4xx) problem with one object of a `/users/track` request. */
export const trackErrorSchema = z.looseObject({
  type: z.string().optional(),
  input_array: z.string().optional(),
  index: z.number().int().optional(),
});

export const trackResponseSchema = z.looseObject({
  message: z.string().optional(),
  attributes_processed: z.number().optional(),
  // Braze documents `errors` as objects for /users/track, plain strings on other endpoints: keep both.
  errors: z.array(z.union([trackErrorSchema, z.string()])).optional(),
});
export type TrackResponse = z.infer<typeof trackResponseSchema>;

export const errorBodySchema = z.looseObject({
  message: z.string().optional(),
  errors: z.array(z.unknown()).optional(),
});

export const customAttributesResponseSchema = z.looseObject({
  message: z.string().optional(),
  attributes: z.array(
    z.looseObject({
      name: z.string(),
      data_type: z.string().nullish(),
      status: z.string().nullish(),
      array_length: z.number().nullish(),
    }),
  ),
});

const aliasSchema = z.looseObject({ alias_name: z.string(), alias_label: z.string() });

export const exportResponseSchema = z.looseObject({
  message: z.string().optional(),
  users: z.array(
    z.looseObject({
      braze_id: z.string().optional(),
      external_id: z.string().nullish(),
      email: z.string().nullish(),
      user_aliases: z.array(aliasSchema).nullish(),
      custom_attributes: z.record(z.string(), z.unknown()).nullish(),
    }),
  ),
  invalid_user_ids: z.array(z.string()).optional(),
});
export type ExportedUser = z.infer<typeof exportResponseSchema>["users"][number];

export const deleteResponseSchema = z.looseObject({ deleted: z.number().optional(), message: z.string().optional() });
