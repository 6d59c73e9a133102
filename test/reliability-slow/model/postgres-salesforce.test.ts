/** The model-based suite's postgres → salesforce cell (the suite: ./model.ts). */
import { modelCell } from "./model.ts";

modelCell("postgres", "salesforce");
