/**
 * The HubSpot properties the integration_tests contracts map to, beyond HubSpot's defaults: what a portal admin
 * would have created for them. The tests start the emulator with these (the demo has its own: scripts/demo.ts).
 */
import type { HubSpotPropertyDefinition } from "../emulators/hubspot/index.ts";

export const integrationPortalProperties: Record<string, HubSpotPropertyDefinition[]> = {
  contacts: [
    { name: "plan_tier", type: "enumeration", fieldType: "select", options: ["starter", "growth", "enterprise"] },
    { name: "engagement_band", type: "enumeration", fieldType: "select", options: ["high", "medium", "low"] },
  ],
  companies: [
    { name: "billing_customer_id", type: "string", fieldType: "text", hasUniqueValue: true },
    { name: "health_score", type: "number", fieldType: "number" },
    { name: "health_band", type: "enumeration", fieldType: "select", options: ["healthy", "watch", "at_risk"] },
  ],
};
