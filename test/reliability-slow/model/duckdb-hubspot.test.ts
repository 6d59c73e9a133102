/** The model-based suite's duckdb → hubspot cell (the suite: ./model.ts). */
import { modelCell } from "./model.ts";

modelCell("duckdb", "hubspot");
