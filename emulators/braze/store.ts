// The workspace's users and custom attributes, in memory. Users are found by external_id (exact), email (regardless
// of case; several users may share one), alias (name + label, exact) or braze_id.
import { randomBytes } from "node:crypto";

export const ATTRIBUTE_TYPES = ["String", "Number", "Boolean", "Time", "Array"] as const;
export type BrazeAttributeType = (typeof ATTRIBUTE_TYPES)[number];

export interface BrazeAttributeDefinition {
  name: string;
  type: BrazeAttributeType;
  /** A blocklisted attribute is listed with that status and its writes are dropped. */
  status?: "Active" | "Blocklisted";
}

export interface BrazeAlias {
  alias_name: string;
  alias_label: string;
}

export type AttributeValue = string | number | boolean | AttributeValue[];

export interface BrazeUser {
  braze_id: string;
  external_id?: string;
  email?: string;
  user_aliases: BrazeAlias[];
  /** Profile fields other than email (first_name, …). */
  profile: Record<string, string>;
  custom_attributes: Record<string, AttributeValue>;
  /** Subscription group id → state. */
  subscription_groups: Record<string, "subscribed" | "unsubscribed">;
  created_at: string;
  updated_at: string;
}

export class UserStore {
  private users = new Map<string, BrazeUser>();
  /** external_id → braze_id: an external id is set when its user is created and never changes, and a lookup per
   * object of every /users/track made the emulator, not the client, the bound of a large run (quadratic). */
  private byExternal = new Map<string, string>();
  private lastStamp = 0;
  readonly attributes = new Map<string, BrazeAttributeDefinition>();
  private readonly declared: BrazeAttributeDefinition[];

  constructor(declared: BrazeAttributeDefinition[]) {
    this.declared = declared;
    this.clear();
  }

  clear(): void {
    this.users.clear();
    this.byExternal.clear();
    this.attributes.clear();
    for (const a of this.declared) this.attributes.set(a.name, { status: "Active", ...a });
  }

  /** Strictly increasing, so "most recently updated" is never a tie. */
  stamp(): string {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return new Date(this.lastStamp).toISOString();
  }

  all(): BrazeUser[] {
    return [...this.users.values()];
  }

  byBrazeId(id: string): BrazeUser | undefined {
    return this.users.get(id);
  }

  byExternalId(id: string): BrazeUser | undefined {
    const brazeId = this.byExternal.get(id);
    return brazeId === undefined ? undefined : this.users.get(brazeId);
  }

  /** Case-insensitively; [unverified] for characters outside ASCII (undocumented): toLowerCase() is our choice. */
  byEmail(email: string): BrazeUser[] {
    const wanted = email.toLowerCase();
    const found: BrazeUser[] = [];
    // A scan (a user's email changes with its writes), without copying the users first.
    for (const u of this.users.values()) if (u.email?.toLowerCase() === wanted) found.push(u);
    return found;
  }

  byAlias(alias: BrazeAlias): BrazeUser | undefined {
    for (const u of this.users.values()) if (u.user_aliases.some((a) => a.alias_name === alias.alias_name && a.alias_label === alias.alias_label)) return u;
    return undefined;
  }

  create(seed: Partial<Pick<BrazeUser, "external_id" | "email" | "user_aliases">>): BrazeUser {
    const now = this.stamp();
    const user: BrazeUser = {
      // 24 hex digits, as Braze ids look.
      braze_id: randomBytes(12).toString("hex"),
      user_aliases: [],
      profile: {},
      custom_attributes: {},
      subscription_groups: {},
      created_at: now,
      updated_at: now,
      ...seed,
    };
    this.users.set(user.braze_id, user);
    if (user.external_id !== undefined) this.byExternal.set(user.external_id, user.braze_id);
    return user;
  }

  touch(user: BrazeUser): void {
    user.updated_at = this.stamp();
  }

  delete(id: string): boolean {
    const user = this.users.get(id);
    if (user?.external_id !== undefined && this.byExternal.get(user.external_id) === id) this.byExternal.delete(user.external_id);
    return this.users.delete(id);
  }
}
