/** The model-based suite's postgres → hubspot cell (the suite: ./model.ts). */
import { modelCell } from "./model.ts";

modelCell("postgres", "hubspot");
