// Types for the lint config's export that test/architecture/direction.test.ts reads.
import type { Linter } from "eslint";

/** What each folder of src/ may import besides itself and the shared modules. */
export declare const STAGE_IMPORTS: Record<string, string[]>;
declare const config: Linter.Config[];
export default config;
