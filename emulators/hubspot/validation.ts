// Per-value checks HubSpot applies on write. Codes follow HubSpot's PropertyValidationResult
// `error` names; messages are close to HubSpot's but not guaranteed verbatim.
import type { PropertySchema } from "./properties.ts";

export interface PropertyIssue {
  isValid: false;
  message: string;
  error: string;
  name: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const EPOCH_MS = /^-?\d+$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function issue(name: string, error: string, message: string): PropertyIssue {
  return { isValid: false, message, error, name };
}

/** The problem with writing `value` to property `name`, or undefined when it is acceptable. */
export function validateValue(name: string, schema: PropertySchema | undefined, value: string): PropertyIssue | undefined {
  if (!schema) return issue(name, "PROPERTY_DOESNT_EXIST", `Property "${name}" does not exist`);
  if (schema.readOnlyValue) return issue(name, "READ_ONLY_VALUE", `${name} is a read only property; its value cannot be set.`);
  // An empty string clears the value and is valid for every type.
  if (value === "") return undefined;
  switch (schema.type) {
    case "string":
      if (name === "email" && !EMAIL.test(value)) return issue(name, "INVALID_EMAIL", `Email address ${value} is invalid`);
      return undefined;
    case "number":
      if (NUMBER.test(value)) return undefined;
      // HubSpot reports a decimal-looking value against its decimal parser, anything else as a long.
      return /[.,]/.test(value)
        ? issue(name, "INVALID_DECIMAL", `${value} was not a valid decimal.`)
        : issue(name, "INVALID_LONG", `${value} was not a valid long.`);
    case "bool":
      if (/^(true|false)$/i.test(value)) return undefined;
      return issue(name, "INVALID_BOOLEAN", `${value} was not a valid boolean; use 'true' or 'false'.`);
    case "date": {
      if (ISO_DATE.test(value) && !Number.isNaN(Date.parse(value))) return undefined;
      if (!EPOCH_MS.test(value)) return issue(name, "INVALID_DATE", `${value} is not a valid date.`);
      // Date properties hold midnight-UTC epoch milliseconds.
      const time = new Date(Number(value)).toISOString().slice(11, 23);
      if (time !== "00:00:00.000") return issue(name, "INVALID_DATE", `${value} is at ${time} UTC, not midnight!`);
      return undefined;
    }
    case "datetime":
      if (EPOCH_MS.test(value)) return undefined;
      if ((ISO_DATETIME.test(value) || ISO_DATE.test(value)) && !Number.isNaN(Date.parse(value))) return undefined;
      return issue(name, "INVALID_DATETIME", `${value} is not a valid datetime.`);
    case "enumeration": {
      const allowed = schema.options ?? [];
      // Multi-checkbox properties take several values joined with ";".
      const values = schema.fieldType === "checkbox" ? value.split(";") : [value];
      const bad = values.find((v) => !allowed.includes(v));
      if (bad === undefined) return undefined;
      return issue(name, "INVALID_OPTION", `${bad} was not one of the allowed options: [${allowed.join(", ")}]`);
    }
  }
}
