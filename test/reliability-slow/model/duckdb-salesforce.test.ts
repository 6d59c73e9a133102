/** The model-based suite's duckdb → salesforce cell (the suite: ./model.ts). */
import { modelCell } from "./model.ts";

modelCell("duckdb", "salesforce");
