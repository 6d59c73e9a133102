/**
 * The activation contract: the zod schema is the source of truth for what `config.meta.activation` may say, and the
 * JSON Schema shipped for editors is generated from it. Objects are strict, so a misspelt key is an error rather
 * than a silently ignored setting. A contract answers the ten questions an activation exists for: decision, grain,
 * matching, lineage, destination mapping, freshness, suppression, quality gates, owners, monitoring and rollback.
 */
import { z } from "zod";
import { durationSchema } from "./duration.ts";

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a plain identifier (letters, digits, underscores; not starting with a digit)");

/**
 * The longest contract name: it names the generated models `<name>` and `<name>__excluded` (their files and
 * relations), and PostgreSQL keeps 63 characters of an identifier (it would silently cut a longer one).
 */
export const CONTRACT_NAME_MAX = 53;

export const contractNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, "must be lower snake_case (it names the sync in logs, the ledger and dbt docs)")
  .max(CONTRACT_NAME_MAX, `must be at most ${CONTRACT_NAME_MAX} characters (it names the generated models, and PostgreSQL keeps 63 characters of a name)`);

const share = z.number().min(0).max(1);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be the name of an environment variable");
const percent = z.number().gt(0).max(100);

export const DESTINATION_TYPES = ["hubspot", "salesforce", "braze", "zendesk"] as const;
export const SYNC_MODES = ["upsert", "update", "create", "mirror", "audience"] as const;
export const ON_REMOVED = ["keep", "clear", "delete"] as const;
/**
 * What a consent or suppression removal does to the destination record: clear the mapped fields, delete the record,
 * unlist it (audience mode: leave the contract's list, which is Braze's unsubscribe from the subscription group), or
 * keep it (only with a stated reason).
 */
export const SUPPRESSION_REMOVALS = ["clear", "delete", "unlist", "keep"] as const;
/** `late_arriving.max_skipped_runs` when the contract does not say. */
export const LATE_ARRIVING_MAX_SKIPPED_RUNS = 3;

export const destinationSchema = z
  .strictObject({
    type: z.enum(DESTINATION_TYPES).describe("The destination system."),
    object: z.string().min(1).describe("HubSpot object type (contacts, companies, p_custom), Salesforce sObject (Account), …"),
    match: z
      .strictObject({
        field: z.string().min(1).describe("The destination's unique field the sync key matches: HubSpot idProperty, Salesforce external id, Braze external_id | email | user_alias."),
        alias_label: z
          .string()
          .min(1)
          .optional()
          .describe("Braze with field user_alias: the alias label; the sync key is the alias name."),
      })
      .describe("How rows match destination records: one unique field, no fuzzy fallback."),
    mode: z.enum(SYNC_MODES).default("upsert").describe("upsert | update (existing only) | create (new only) | mirror | audience"),
    on_removed: z.enum(ON_REMOVED).default("keep").describe("What happens to a destination record when its row leaves the eligible set."),
    list_id: z.string().min(1).optional().describe("Audience mode: the destination list (HubSpot list id, Braze subscription group id) whose membership is synced."),
    create_attributes: z
      .boolean()
      .optional()
      .describe("Braze: a mapped custom attribute the workspace does not list yet is created by the first write (default: the run stops before sending)."),
  })
  .superRefine((d, ctx) => {
    if (d.mode === "audience" && !d.list_id) ctx.addIssue({ code: "custom", path: ["list_id"], message: "audience mode needs the list_id to sync membership of" });
    if (d.mode !== "audience" && d.list_id) ctx.addIssue({ code: "custom", path: ["list_id"], message: "list_id applies to mode: audience only" });
    if (d.mode === "create" && d.on_removed !== "keep") ctx.addIssue({ code: "custom", path: ["on_removed"], message: "create mode never touches records it did not create: use on_removed: keep" });
    if (d.type === "zendesk") zendeskRules(d, ctx);
    if (d.mode === "mirror" && d.on_removed === "keep") ctx.addIssue({ code: "custom", path: ["on_removed"], message: "mirror mode clears or deletes what leaves the eligible set: use on_removed: clear or delete" });
    brazeRules(d, ctx);
    if (d.type === "salesforce" && d.match.field.toLowerCase() === "id" && d.mode !== "update") {
      // Id is the record id Salesforce assigns: a row whose record does not exist cannot be created under it.
      ctx.addIssue({ code: "custom", path: ["match", "field"], message: `Id is Salesforce's record id, not an external id: ${d.mode} mode would have to create records under it. Match on an External ID field, or use mode: update` });
    }
  });

export const BRAZE_MATCH_FIELDS = ["external_id", "email", "user_alias"] as const;

/** Braze-only settings, and the identifiers Braze can address a user by. */
function brazeRules(d: { type: string; match: { field: string; alias_label?: string | undefined }; create_attributes?: boolean | undefined }, ctx: z.RefinementCtx): void {
  if (d.type !== "braze") {
    if (d.match.alias_label !== undefined) ctx.addIssue({ code: "custom", path: ["match", "alias_label"], message: "alias_label applies to type: braze with match field user_alias only" });
    if (d.create_attributes !== undefined) ctx.addIssue({ code: "custom", path: ["create_attributes"], message: "create_attributes applies to type: braze only" });
    return;
  }
  if (!(BRAZE_MATCH_FIELDS as readonly string[]).includes(d.match.field)) {
    ctx.addIssue({ code: "custom", path: ["match", "field"], message: `Braze matches users by ${BRAZE_MATCH_FIELDS.join(" | ")} (got ${d.match.field})` });
  }
  if (d.match.field === "user_alias" && d.match.alias_label === undefined) ctx.addIssue({ code: "custom", path: ["match", "alias_label"], message: "match field user_alias needs the alias_label (the sync key is the alias name)" });
  if (d.match.field !== "user_alias" && d.match.alias_label !== undefined) ctx.addIssue({ code: "custom", path: ["match", "alias_label"], message: "alias_label applies to match field user_alias only" });
}
export type DestinationSpec = z.infer<typeof destinationSchema>;

/** Zendesk: users or organizations, matched by external_id (or email, users only); an audience is a tag. */
function zendeskRules(d: { object: string; match: { field: string }; list_id?: string | undefined }, ctx: z.RefinementCtx): void {
  const matchFields: Record<string, string[]> = { users: ["external_id", "email"], organizations: ["external_id"] };
  const allowed = matchFields[d.object];
  if (!allowed) ctx.addIssue({ code: "custom", path: ["object"], message: `Zendesk objects are users or organizations (got ${d.object})` });
  else if (!allowed.includes(d.match.field)) {
    ctx.addIssue({ code: "custom", path: ["match", "field"], message: `Zendesk ${d.object} match by ${allowed.join(" or ")} (got ${d.match.field})` });
  }
  // The audience's tag: Zendesk splits tags on whitespace and stores them lower-cased, so another spelling would
  // never match what it stored.
  if (d.list_id !== undefined && !/^[a-z0-9_\-:/.]+$/.test(d.list_id)) {
    ctx.addIssue({ code: "custom", path: ["list_id"], message: `a Zendesk tag is lower case, without spaces (letters, digits, _ - : / .); got "${d.list_id}"` });
  }
}

const fieldValue = z.union([z.string(), z.number(), z.boolean()]);

export const fieldSpecSchema = z.strictObject({
  to: z.string().min(1).describe("The destination field."),
  on_null: z.enum(["skip", "clear", "fail"]).default("skip").describe("When the column is null. skip: the field is not sent, the destination keeps its value; clear: the field is sent empty, the destination's value is removed; fail: the row is dead-lettered with the reason (code NULL_FIELD) and nothing of it is sent."),
  allowed: z.array(fieldValue).min(1).optional().describe("The only values that may be sent (checked by a dbt test and against the destination)."),
  overwrite: z
    .enum(["always", "if_empty", "unless_edited"])
    .default("always")
    .describe("always; if_empty: only when the destination has no value; unless_edited: not when a person changed it since our last write."),
});
export type FieldSpec = z.infer<typeof fieldSpecSchema>;

/** A mapped field: `column: destination_field`, or `column: {to: destination_field, …}`. */
const fieldSchema = z.union([z.string().min(1), fieldSpecSchema]);

const predicate = z.string().min(1);

export const suppressionSchema = z
  .strictObject({
    exclude: z.array(predicate).optional().describe("Boolean columns or SQL predicates; a row matching any is never synced."),
    consent: z
      .strictObject({
        column: identifier.describe("Boolean consent column: only true rows are synced."),
        updated_at: identifier.describe("When the consent value was last updated."),
        max_lag: durationSchema.describe("How much older than the synced value's timestamp the consent may be."),
      })
      .optional(),
    holdout: z.strictObject({ percent, salt: z.string().min(1) }).optional().describe("A stable share of keys never synced (measurement)."),
    review: z.strictObject({ when: predicate }).optional().describe("Rows matching this predicate are held for human review, not synced."),
    not_needed: z.string().min(10).optional().describe("Declare explicitly, with the reason, that nobody needs suppressing."),
    on_removed: z
      .strictObject({
        consent: z.enum(SUPPRESSION_REMOVALS).optional().describe("When a synced row loses consent (no_consent, consent_stale): clear | delete | unlist (audience mode) | keep (needs reason). Default: clear, or unlist in audience mode."),
        excluded: z.enum(SUPPRESSION_REMOVALS).optional().describe("When a synced row matches an exclude item: clear | delete | unlist (audience mode) | keep (needs reason). Default: clear, or unlist in audience mode."),
        reason: z.string().min(10).optional().describe("Why the destination may keep what it holds: required when consent or excluded is keep."),
      })
      .optional()
      .describe("What happens to the destination record of a synced row that leaves the eligible set because of consent or an exclude item (other removals follow destination.on_removed)."),
  })
  .superRefine((s, ctx) => {
    const declared = s.exclude?.length || s.consent || s.holdout || s.review;
    if (!declared && !s.not_needed) ctx.addIssue({ code: "custom", message: "declare exclude, consent, holdout or review, or not_needed with the reason" });
    if (declared && s.not_needed) ctx.addIssue({ code: "custom", path: ["not_needed"], message: "not_needed contradicts the suppression declared beside it" });
    const removal = s.on_removed;
    for (const cause of ["consent", "excluded"] as const) {
      if (removal?.[cause] === "keep" && !removal.reason) {
        ctx.addIssue({ code: "custom", path: ["on_removed", cause], message: `keep leaves the values this project activated in the destination after ${cause === "consent" ? "consent is withdrawn" : "the row is excluded"}: state why in on_removed.reason, or use clear, delete or unlist` });
      }
    }
    if (removal?.reason && removal.consent !== "keep" && removal.excluded !== "keep") ctx.addIssue({ code: "custom", path: ["on_removed", "reason"], message: "reason applies to keep only" });
  });
export type SuppressionSpec = z.infer<typeof suppressionSchema>;

/** `gates.parity`: what drift found by the generated parity test does to the next sync. */
export const PARITY_ON_DRIFT = ["warn", "hold"] as const;

export const gatesSchema = z.strictObject({
  min_rows: z.number().int().min(0).optional().describe("Fewer eligible rows than this stops the run before it sends."),
  max_change: z
    .strictObject({ percent: percent.optional(), rows: z.number().int().min(0).optional() })
    .refine((m) => m.percent !== undefined || m.rows !== undefined, "give percent, rows or both")
    .optional()
    .describe("Blast radius: more changed rows than this (against the ledger) stops the run before it sends."),
  max_null_rate: z.record(identifier, share).optional().describe("Per column: the largest share of nulls allowed."),
  min_match_rate: share
    .optional()
    .describe("The smallest share of rows that must match existing destination records (before the first sync the syncer looks the keys up; after it, the dbt match_rate test reads reconcile's snapshot). 0 tests nothing."),
  match_rate_not_needed: z
    .string()
    .min(10)
    .optional()
    .describe("Declare explicitly, with the reason, that no share of rows needs to match existing records (a sync that creates them): launch readiness then asks for no min_match_rate."),
  parity: z
    .enum(PARITY_ON_DRIFT)
    .default("warn")
    .describe("Whether drift between the activation model and the destination snapshot (the generated <contract>__parity model's test) holds the next sync back: warn (default: shown in dbt build as a warning, never holds) or hold (the gate holds the contract until parity is restored)."),
  allow_warn: z.boolean().default(false).describe("Whether a dbt test with status warn counts as passed for the gate (default false: a warn holds the contract back)."),
}).superRefine((g, ctx) => {
  if (g.match_rate_not_needed && (g.min_match_rate ?? 0) > 0) {
    ctx.addIssue({ code: "custom", path: ["match_rate_not_needed"], message: "match_rate_not_needed contradicts the min_match_rate declared beside it" });
  }
});

export const ownersSchema = z.strictObject({
  model: z.string().min(1).optional().describe("Owns the dbt model (usually the data team)."),
  field: z.string().min(1).optional().describe("Owns the meaning of the synced fields."),
  destination: z.string().min(1).optional().describe("Administers the destination object (e.g. the Salesforce admin)."),
  workflow: z.string().min(1).optional().describe("Owns the business workflow the values drive."),
});
export type OwnersSpec = z.infer<typeof ownersSchema>;

export const ROLLBACK_STRATEGIES = ["restore_previous", "clear_fields", "manual"] as const;

/** `monitoring.pause_if.min_attempted` when the contract does not say: a share of fewer rows says little. */
export const PAUSE_RULE_MIN_ATTEMPTED = 20;

export const monitoringSchema = z.strictObject({
  alert: z
    .strictObject({
      slack_webhook_env: envName.optional().describe("Environment variable holding a Slack incoming-webhook URL."),
      webhook_env: envName.optional().describe("Environment variable holding a generic HTTPS webhook URL (JSON body, signed)."),
      webhook_secret_env: envName.optional().describe("Environment variable holding the secret the webhook body is signed with (HMAC-SHA256)."),
      pagerduty_routing_key_env: envName.optional().describe("Environment variable holding a PagerDuty Events API v2 routing key."),
      // Kept in the schema only to refuse it with a reason: the syncer has no way to send mail.
      email: z.array(z.string().min(3)).optional().describe("Not supported: the syncer sends no email (route it through Slack, a webhook or PagerDuty)."),
      failed_rows: z.number().int().min(1).optional().describe("Alert when a run fails at least this many rows (default: any failed row)."),
      failed_rows_percent: percent.optional().describe("Alert when a run fails at least this share of the rows it sent."),
    })
    .superRefine((a, ctx) => {
      if (a.email) ctx.addIssue({ code: "custom", path: ["email"], message: "email alerts cannot be sent by the syncer: use slack_webhook_env, webhook_env or pagerduty_routing_key_env (and route email from there)" });
      if (!a.slack_webhook_env && !a.webhook_env && !a.pagerduty_routing_key_env) ctx.addIssue({ code: "custom", message: "name at least one channel: slack_webhook_env, webhook_env or pagerduty_routing_key_env" });
      if (a.webhook_env && !a.webhook_secret_env) ctx.addIssue({ code: "custom", path: ["webhook_secret_env"], message: "a webhook is signed: name the environment variable holding its signing secret" });
      if (a.webhook_secret_env && !a.webhook_env) ctx.addIssue({ code: "custom", path: ["webhook_secret_env"], message: "webhook_secret_env applies to webhook_env only" });
    })
    .optional()
    .describe("Where alerts go. Each value names an environment variable: secrets and URLs never sit in a contract."),
  pause_if: z
    .strictObject({
      failed_rows_percent: percent.optional(),
      failed_rows: z.number().int().min(1).optional(),
      min_attempted: z
        .number()
        .int()
        .min(1)
        .default(PAUSE_RULE_MIN_ATTEMPTED)
        .describe("The smallest number of rows attempted in a run for failed_rows_percent to apply (default 20): below it a share is noise."),
    })
    .refine((p) => p.failed_rows_percent !== undefined || p.failed_rows !== undefined, "give failed_rows_percent, failed_rows or both")
    .optional()
    .describe("The pause rule: the sync pauses itself when a run fails this many rows."),
  retry_budget: z
    .strictObject({
      max_retries: z.number().int().min(0).optional().describe("Retries one run of the contract may spend, over all its calls (default 1,000)."),
      max_duration: durationSchema.optional().describe("Time one run may spend waiting before retries."),
    })
    .optional()
    .describe("Spent: the run ends cleanly, the rest is not sent and goes next run."),
  rollback: z.enum(ROLLBACK_STRATEGIES).optional().describe("What `rollback` does with a run: restore_previous (the values the ledger saved; records the run created are left), clear_fields (empty the mapped fields of every record it wrote), manual (refused: a runbook for people)."),
  alert_only: z.boolean().default(false).describe("Plan and alert, never write (allowed for status caveats)."),
}).superRefine((m, ctx) => {
  if (m.alert_only && !m.alert) ctx.addIssue({ code: "custom", path: ["alert_only"], message: "an alert-only contract sends nothing but alerts: declare monitoring.alert with a channel" });
});

export const contractSchema = z
  .strictObject({
    name: contractNameSchema,
    decision: z.string().min(1).optional().describe("The business decision the synced values serve."),
    status: z.enum(["launch", "caveats", "paused"]).default("launch").describe("launch (must be launch-ready) | caveats (alert-only or limited rollout) | paused"),
    grain: z.string().min(1).optional().describe("What one row is (account, contact, …)."),
    key: identifier.describe("The sync key: unique and not null per row; matched against destination.match.field."),
    destination: destinationSchema,
    fields: z
      .record(identifier, fieldSchema)
      .refine((fields) => Object.keys(fields).length > 0, "map at least one column to a destination field"),
    lineage: z.strictObject({ sources: z.array(z.string().min(1)).min(1), notes: z.string().optional() }).optional(),
    freshness: z
      .strictObject({ column: identifier, max_age: durationSchema, expire_after: durationSchema.optional() })
      .optional()
      .describe("The newest value must be younger than max_age (a dbt test); rows whose column is older than expire_after at sync time are not sent, and what the destination holds for them follows destination.on_removed."),
    late_arriving: z
      .strictObject({
        source: identifier,
        destination: z.string().min(1),
        max_skipped_runs: z
          .number()
          .int()
          .min(1)
          .default(LATE_ARRIVING_MAX_SKIPPED_RUNS)
          .describe("After this many runs in a row skip one record as newer (default 3), it is dead-lettered (LATE_ARRIVAL_STUCK): a timestamp in the far future cannot hold it forever."),
      })
      .optional()
      .describe("Never overwrite a destination record whose timestamp field is newer than the row's source timestamp."),
    suppression: suppressionSchema.optional(),
    gates: gatesSchema.optional(),
    rollout: z.strictObject({ percent, salt: z.string().min(1).optional() }).optional().describe("Sync only a stable share of keys."),
    owners: ownersSchema.optional(),
    monitoring: monitoringSchema.optional(),
  })
  .superRefine((c, ctx) => {
    const targets = new Map<string, string>();
    for (const [column, spec] of Object.entries(c.fields)) {
      const to = typeof spec === "string" ? spec : spec.to;
      const previous = targets.get(to);
      if (previous) ctx.addIssue({ code: "custom", path: ["fields", column], message: `maps to ${to}, which ${previous} already maps to` });
      targets.set(to, column);
      // Another column written to the match field would change which record the sync key finds next run (a new
      // record each run, the old one left with the wrong value). Salesforce field names are case-insensitive.
      const matchField = c.destination.match.field;
      const same = c.destination.type === "salesforce" ? to.toLowerCase() === matchField.toLowerCase() : to === matchField;
      if (same && column !== c.key) {
        ctx.addIssue({ code: "custom", path: ["fields", column], message: `maps to ${to}, the match field: the sync key (${c.key}) is what finds and writes it; map ${c.key} or nothing to it` });
      }
    }
    suppressionRemovalRules(c, ctx);
    if (c.gates?.max_null_rate) {
      for (const column of Object.keys(c.gates.max_null_rate)) {
        if (!(column in c.fields)) ctx.addIssue({ code: "custom", path: ["gates", "max_null_rate", column], message: `${column} is not a mapped field` });
      }
    }
  });
export type ContractSpec = z.infer<typeof contractSchema>;

/** A consent or suppression removal's action must be one the contract's mode can do to the destination. */
function suppressionRemovalRules(c: { destination: DestinationSpec; suppression?: SuppressionSpec | undefined }, ctx: z.RefinementCtx): void {
  const removal = c.suppression?.on_removed;
  if (!removal) return;
  const audience = c.destination.mode === "audience";
  for (const cause of ["consent", "excluded"] as const) {
    const action = removal[cause];
    if (action === undefined || action === "keep") continue;
    if (audience && action !== "unlist") ctx.addIssue({ code: "custom", path: ["suppression", "on_removed", cause], message: `audience mode removes the record from list ${c.destination.list_id ?? ""}: use unlist (or keep with a reason)` });
    if (!audience && action === "unlist") ctx.addIssue({ code: "custom", path: ["suppression", "on_removed", cause], message: `unlist applies to mode: audience only (mode ${c.destination.mode} writes fields: use clear or delete)` });
  }
}
export type ContractInput = z.input<typeof contractSchema>;

export interface FieldMapping extends FieldSpec {
  column: string;
}

/** Every mapped field with its defaults filled in, in declaration order. */
export function fieldMappings(contract: ContractSpec): FieldMapping[] {
  return Object.entries(contract.fields).map(([column, spec]) =>
    typeof spec === "string" ? { column, ...fieldSpecSchema.parse({ to: spec }) } : { column, ...spec },
  );
}
