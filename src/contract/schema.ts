/**
 * The activation contract, first cut: the zod schema is the source of truth for what `config.meta.activation` may say.
 * Objects are strict so a misspelt key is an error rather than a silently ignored setting.
 */
import { z } from "zod";

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a plain identifier (letters, digits, underscores; not starting with a digit)");

export const contractNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, "must be lower snake_case (it names the sync in logs, the ledger and dbt docs)");

const hubspotDestinationSchema = z.strictObject({
  type: z.literal("hubspot"),
  /** `contacts`, `companies`, or a custom object type such as `p_renewals` / `2-1234567`. */
  object: z.string().min(1),
  /** The HubSpot property with unique values that records are matched on (contacts: `email`). */
  idProperty: z.string().min(1),
});

export const destinationSchema = z.discriminatedUnion("type", [hubspotDestinationSchema]);
export type DestinationSpec = z.infer<typeof destinationSchema>;

/** A mapped field: `column: property`, or `column: {to: property}`. */
const fieldSchema = z.union([z.string().min(1), z.strictObject({ to: z.string().min(1) })]);

export const contractSchema = z.strictObject({
  name: contractNameSchema,
  /** The sync key: the model column whose value is unique per row and matches `destination.idProperty`. */
  key: identifier,
  destination: destinationSchema,
  fields: z
    .record(identifier, fieldSchema)
    .refine((fields) => Object.keys(fields).length > 0, "map at least one column to a destination field"),
});
export type ContractSpec = z.infer<typeof contractSchema>;

/** One model may feed several syncs: `activation` is a list, or a single contract for brevity. */
export const activationMetaSchema = z.union([contractSchema, z.array(z.unknown())]);

export interface FieldMapping {
  column: string;
  to: string;
}

export function fieldMappings(contract: ContractSpec): FieldMapping[] {
  return Object.entries(contract.fields).map(([column, spec]) => ({ column, to: typeof spec === "string" ? spec : spec.to }));
}
