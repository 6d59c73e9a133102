// Endpoint handlers. Each takes the already-JSON-parsed body, validates it with zod at the
// boundary and returns a Reply; the server adds auth, limits, faults and logging around them.
import { z } from "zod";
import { batchError, errorReply, type ErrorDetail, type Reply } from "./errors.ts";
import { INJECTED_REJECTION, type FaultInjector } from "./faults.ts";
import { objectTypeLabel, propertyResponse, resolveObjectType, type ObjectSchema, type Schemas } from "./properties.ts";
import type { Lists } from "./lists.ts";
import type { HubSpotRecord, RecordStore } from "./store.ts";
import { normalizeUnique } from "./store.ts";
import { validateValue, type PropertyIssue } from "./validation.ts";

export interface HandlerContext {
  schemas: Schemas;
  store: RecordStore;
  faults: FaultInjector;
  /** createdAt/updatedAt reported for property definitions. */
  schemaStamp: string;
  /**
   * How invalid property values are answered: per record in a 207 (the batch upsert's usual answer), or by refusing
   * the whole batch with 400 "Property values were not valid" (also seen from HubSpot; see destinations.md).
   */
  invalidValues: "per-record" | "whole-batch";
  /** "documented": answers as HubSpot's documented examples do, without trace ids or error detail codes. */
  answers: "echo" | "documented";
  lists: Lists;
}

const MAX_BATCH = 100;

const UpsertBody = z.object({
  inputs: z.array(
    z.object({
      id: z.string().min(1),
      idProperty: z.string().min(1).optional(),
      objectWriteTraceId: z.string().optional(),
      // Values are strings on the wire; null means "clear the value".
      properties: z.record(z.string(), z.string().nullable()),
    }),
  ),
});

const ReadBody = z.object({
  inputs: z.array(z.object({ id: z.string().min(1) })),
  properties: z.array(z.string()).optional(),
  propertiesWithHistory: z.array(z.string()).optional(),
  idProperty: z.string().min(1).optional(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): { ok: true; value: T } | { ok: false; reply: Reply } {
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  const errors: ErrorDetail[] = result.error.issues.map((i) => ({ message: i.message, in: i.path.join(".") }));
  const first = errors[0];
  const message = `Invalid input JSON: ${first ? `${first.in ? `${first.in}: ` : ""}${first.message}` : "malformed body"}`;
  return { ok: false, reply: errorReply(400, message, "VALIDATION_ERROR", { errors }) };
}

function unknownType(raw: string): Reply {
  return errorReply(400, `Unable to infer object type from: ${raw}`, "VALIDATION_ERROR");
}

function tooMany(n: number): Reply {
  // Wording modelled on HubSpot's batch-size message; the exact text is [unverified].
  return errorReply(400, `The maximum number of inputs supported in a batch request is ${MAX_BATCH} (got ${n}). Please reduce the number of items and try again`, "VALIDATION_ERROR");
}

/** `hs_object_id` addresses records by id, like omitting idProperty. */
function effectiveIdProperty(p: string | undefined): string | undefined {
  return p === undefined || p === "hs_object_id" ? undefined : p;
}

/** 400 unless `name` exists and has unique values (HubSpot refuses to address records otherwise). */
function checkIdProperty(schema: ObjectSchema, name: string, verb: string): Reply | undefined {
  const def = schema.get(name);
  if (!def) return errorReply(400, `Unable to perform ${verb} by unknown property ${name}: it does not exist`, "VALIDATION_ERROR");
  if (!def.hasUniqueValue) return errorReply(400, `Unable to perform ${verb} by non-unique ${name} property`, "VALIDATION_ERROR");
  return undefined;
}

function selectProperties(record: HubSpotRecord, requested: string[], schema: ObjectSchema): Record<string, string | null> {
  if (requested.length === 0) return { ...record.properties };
  const out: Record<string, string | null> = { hs_object_id: record.id };
  // HubSpot silently skips unknown requested properties and returns null for unset ones.
  for (const name of requested) if (schema.has(name)) out[name] = record.properties[name] ?? null;
  return out;
}

function batchEnvelope(results: unknown[], errors: unknown[], startedAt: string): Reply {
  const base = { status: "COMPLETE", results, startedAt, completedAt: new Date().toISOString() };
  if (errors.length === 0) return { status: 200, body: base };
  return { status: 207, body: { ...base, numErrors: errors.length, errors } };
}

function propertyError(issues: PropertyIssue[], input: { id: string; objectWriteTraceId?: string | undefined }): Record<string, unknown> {
  return batchError(
    "VALIDATION_ERROR",
    `Property values were not valid: ${JSON.stringify(issues)}`,
    issues.map((i) => ({ message: i.message, code: i.error, in: i.name })),
    input,
  );
}

export function batchUpsert(ctx: HandlerContext, rawType: string, body: unknown, query: URLSearchParams): Reply {
  const startedAt = new Date().toISOString();
  const type = resolveObjectType(ctx.schemas, rawType);
  if (!type) return unknownType(rawType);
  const schema = ctx.schemas.get(type) as ObjectSchema;
  const parsed = parse(UpsertBody, body);
  if (!parsed.ok) return parsed.reply;
  const inputs = parsed.value.inputs;
  if (inputs.length > MAX_BATCH) return tooMany(inputs.length);

  // The SDK sends idProperty per input; the docs also show it as a query parameter.
  const queryIdProperty = query.get("idProperty") ?? undefined;
  const idProps = inputs.map((input) => effectiveIdProperty(input.idProperty ?? queryIdProperty));
  for (const p of new Set(idProps)) {
    if (p === undefined) continue;
    const bad = checkIdProperty(schema, p, "update/upsert");
    if (bad) return bad;
  }

  // Duplicate ids reject the whole batch before anything is written.
  // Reported as first spelled in the batch.
  const firstSeen = new Map<string, string>();
  const duplicates: string[] = [];
  inputs.forEach((input, i) => {
    const p = idProps[i];
    const key = `${p ?? ""}\u0000${p ? normalizeUnique(p, input.id) : input.id}`;
    const first = firstSeen.get(key);
    if (first === undefined) firstSeen.set(key, input.id);
    else if (!duplicates.includes(first)) duplicates.push(first);
  });
  if (duplicates.length > 0) {
    return errorReply(400, `Duplicate IDs found in batch input: [${duplicates.join(", ")}]. IDs must be unique`, "VALIDATION_ERROR", {
      context: { ids: duplicates },
    });
  }

  // Partial success: valid inputs are written even when others fail. When every input fails the
  // emulator still answers 207 with empty results (HubSpot may answer 400 for some all-invalid
  // batches), so clients always get per-input errors to map back by objectWriteTraceId.
  const checked = inputs.map((input, i) => {
    const idProperty = idProps[i];
    const issues: PropertyIssue[] = [];
    const props: Record<string, string> = {};
    for (const [name, raw] of Object.entries(input.properties)) {
      const value = raw ?? "";
      const problem = validateValue(name, schema.get(name), value);
      if (problem) issues.push(problem);
      // HubSpot stores email addresses lower-cased.
      else props[name] = name === "email" ? value.toLowerCase() : value;
    }
    if (idProperty !== undefined && !issues.some((x) => x.name === idProperty)) {
      const def = schema.get(idProperty);
      const problem = def && validateValue(idProperty, { ...def, readOnlyValue: false }, input.id);
      if (problem) issues.push(problem);
    }
    return { issues, props };
  });
  if (ctx.invalidValues === "whole-batch") {
    const issues = checked.flatMap((c) => c.issues);
    if (issues.length > 0) return errorReply(400, `Property values were not valid: ${JSON.stringify(issues)}`, "VALIDATION_ERROR");
  }

  const results: unknown[] = [];
  const errors: unknown[] = [];
  inputs.forEach((sent, i) => {
    // What the answer refers the input by: HubSpot's documented examples carry no trace id.
    const input = ctx.answers === "documented" ? { ...sent, objectWriteTraceId: undefined } : sent;
    const idProperty = idProps[i];
    const { issues, props } = checked[i]!;
    if (issues.length > 0) {
      errors.push(propertyError(issues, input));
      return;
    }

    let targetId: string | undefined;
    if (idProperty !== undefined) {
      targetId = ctx.store.ownerOf(type, idProperty, input.id);
      if (targetId === undefined && props[idProperty] === undefined) {
        props[idProperty] = idProperty === "email" ? input.id.toLowerCase() : input.id;
      }
    } else {
      // Without idProperty the id is a record id: there is nothing to create from it.
      targetId = ctx.store.get(type, input.id) ? input.id : undefined;
      if (targetId === undefined) {
        errors.push(batchError("OBJECT_NOT_FOUND", `Object not found.  objectId are usually numeric.`, [{ message: `No ${objectTypeLabel(type)} with id ${input.id}` }], input));
        return;
      }
    }

    for (const [name, value] of Object.entries(props)) {
      if (!value || !ctx.store.isUnique(type, name)) continue;
      const owner = ctx.store.ownerOf(type, name, value);
      if (owner !== undefined && owner !== targetId) {
        const label = objectTypeLabel(type).toLowerCase();
        const message = `${label.charAt(0).toUpperCase()}${label.slice(1)} already exists. Existing ID: ${owner}`;
        errors.push(batchError("CONFLICT", message, [{ message, code: "CONFLICT", in: name }], input));
        return;
      }
    }

    if (ctx.faults.rejectRecord()) {
      errors.push(batchError("VALIDATION_ERROR", INJECTED_REJECTION, [{ message: INJECTED_REJECTION, code: "INJECTED_REJECTION" }], input));
      return;
    }

    const created = targetId === undefined;
    const record = created ? ctx.store.create(type, props) : ctx.store.update(type, targetId as string, props);
    results.push({
      id: record.id,
      properties: { ...record.properties },
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      archived: false,
      new: created,
      ...(input.objectWriteTraceId !== undefined ? { objectWriteTraceId: input.objectWriteTraceId } : {}),
    });
  });
  if (ctx.answers === "documented") {
    // HubSpot's documented 207 example has no `errors[].code`: clients must read category, message and context.
    for (const error of errors as { errors?: ErrorDetail[] }[]) error.errors = error.errors?.map(({ code: _code, ...rest }) => rest);
  }
  return batchEnvelope(results, errors, startedAt);
}

export function batchRead(ctx: HandlerContext, rawType: string, body: unknown): Reply {
  const startedAt = new Date().toISOString();
  const type = resolveObjectType(ctx.schemas, rawType);
  if (!type) return unknownType(rawType);
  const schema = ctx.schemas.get(type) as ObjectSchema;
  const parsed = parse(ReadBody, body);
  if (!parsed.ok) return parsed.reply;
  const { inputs, properties = [] } = parsed.value;
  if (inputs.length > MAX_BATCH) return tooMany(inputs.length);
  const idProperty = effectiveIdProperty(parsed.value.idProperty);
  if (idProperty !== undefined) {
    const bad = checkIdProperty(schema, idProperty, "read");
    if (bad) return bad;
  }

  const results: unknown[] = [];
  const missing: string[] = [];
  const returned = new Set<string>();
  for (const { id } of inputs) {
    const recordId = idProperty === undefined ? id : ctx.store.ownerOf(type, idProperty, id);
    const record = recordId === undefined ? undefined : ctx.store.get(type, recordId);
    if (!record) {
      if (!missing.includes(id)) missing.push(id);
      continue;
    }
    if (returned.has(record.id)) continue;
    returned.add(record.id);
    results.push({
      id: record.id,
      properties: selectProperties(record, properties, schema),
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      archived: false,
    });
  }
  // HubSpot groups all missing ids into one OBJECT_NOT_FOUND error.
  const errors =
    missing.length === 0
      ? []
      : [
          {
            status: "error",
            category: "OBJECT_NOT_FOUND",
            message: `Could not get some ${objectTypeLabel(type)} objects, they may be deleted or not exist. Check that ids are valid.`,
            errors: [],
            context: { ids: missing },
            links: {},
          },
        ];
  return batchEnvelope(results, errors, startedAt);
}

const ArchiveBody = z.object({ inputs: z.array(z.object({ id: z.string().min(1) })) });

/** POST /crm/v3/objects/{type}/batch/archive: 204, also for ids that do not exist (HubSpot does not report them). */
export function batchArchive(ctx: HandlerContext, rawType: string, body: unknown): Reply {
  const type = resolveObjectType(ctx.schemas, rawType);
  if (!type) return unknownType(rawType);
  const parsed = parse(ArchiveBody, body);
  if (!parsed.ok) return parsed.reply;
  if (parsed.value.inputs.length > MAX_BATCH) return tooMany(parsed.value.inputs.length);
  for (const { id } of parsed.value.inputs) ctx.store.remove(type, id);
  return { status: 204, body: undefined };
}

export function getObject(ctx: HandlerContext, rawType: string, id: string, query: URLSearchParams): Reply {
  const type = resolveObjectType(ctx.schemas, rawType);
  if (!type) return unknownType(rawType);
  const schema = ctx.schemas.get(type) as ObjectSchema;
  const idProperty = effectiveIdProperty(query.get("idProperty") ?? undefined);
  if (idProperty !== undefined) {
    const bad = checkIdProperty(schema, idProperty, "read");
    if (bad) return bad;
  }
  const recordId = idProperty === undefined ? id : ctx.store.ownerOf(type, idProperty, id);
  const record = recordId === undefined ? undefined : ctx.store.get(type, recordId);
  if (!record) return errorReply(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND");
  const requested = query.getAll("properties").flatMap((p) => p.split(",")).filter(Boolean);
  return {
    status: 200,
    body: { id: record.id, properties: selectProperties(record, requested, schema), createdAt: record.createdAt, updatedAt: record.updatedAt, archived: false },
  };
}

export function getProperties(ctx: HandlerContext, rawType: string): Reply {
  const type = resolveObjectType(ctx.schemas, rawType);
  if (!type) return unknownType(rawType);
  const schema = ctx.schemas.get(type) as ObjectSchema;
  return { status: 200, body: { results: [...schema.values()].map((p) => propertyResponse(type, p, ctx.schemaStamp)) } };
}

export function getProperty(ctx: HandlerContext, rawType: string, name: string): Reply {
  const type = resolveObjectType(ctx.schemas, rawType);
  if (!type) return unknownType(rawType);
  const p = ctx.schemas.get(type)?.get(name);
  if (!p) return errorReply(404, `Unable to find property ${name} for object type ${type}`, "OBJECT_NOT_FOUND");
  return { status: 200, body: propertyResponse(type, p, ctx.schemaStamp) };
}
