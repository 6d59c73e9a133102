/**
 * `export jsonschema`: the JSON Schema of `meta.activation`, generated from the zod schema (the source of truth), for
 * editors. The document validates a dbt schema YAML file loosely (only `models[].config.meta.activation` and
 * `models[].meta.activation` are constrained), so a `# yaml-language-server: $schema=…` modeline on a schema file
 * completes and checks contracts without flagging the rest of the file. Shipped as dbt_package/activation.schema.json.
 */
import { z } from "zod";
import { contractSchema } from "../contract/schema.ts";
import { BadInputError } from "../errors.ts";

/** Where the repository ships the generated schema (relative to the package root). */
export const SHIPPED_JSON_SCHEMA = "dbt_package/activation.schema.json";

export function activationJsonSchema(): Record<string, unknown> {
  // draft-07: the dialect YAML language servers and most editors support best.
  const contract = z.toJSONSchema(contractSchema, { target: "draft-7", io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  const { $schema: _dialect, ...contractBody } = contract;
  if ("definitions" in contractBody || "$defs" in contractBody) throw new BadInputError("the contract's JSON Schema has shared definitions; nest them before shipping");
  const activation = {
    description: "dbt-activation contracts: one contract, or a list of them (one model may feed several syncs).",
    anyOf: [{ $ref: "#/definitions/contract" }, { type: "array", items: { $ref: "#/definitions/contract" } }],
  };
  const meta = { type: "object", properties: { activation: { $ref: "#/definitions/activation" } } };
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "dbt-activation contracts in a dbt schema YAML file",
    description: "Generated from the zod schema in src/contract/schema.ts by `dbt-activation export jsonschema`; do not edit.",
    type: "object",
    properties: {
      models: {
        type: "array",
        items: {
          type: "object",
          properties: {
            config: { type: "object", properties: { meta } },
            meta,
          },
        },
      },
    },
    definitions: { activation, contract: contractBody },
  };
}

export function activationJsonSchemaText(): string {
  return `${JSON.stringify(activationJsonSchema(), null, 2)}\n`;
}
