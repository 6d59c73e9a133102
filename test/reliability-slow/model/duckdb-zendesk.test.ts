/** The model-based suite's duckdb → zendesk cell (the suite: ./model.ts; DuckDB only, see CELL_SEQUENCES there). */
import { modelCell } from "./model.ts";

modelCell("duckdb", "zendesk");
