"""dbt-activation in Dagster: the dbt project's models as assets (`dbt build`), and the sync as an asset downstream
of them, reading the artifacts of that same build.

The gate reads `manifest.json` and `run_results.json` of one dbt invocation, so the build writes them to a target path
of its own per Dagster run (dagster-dbt would otherwise pick a fresh one per invocation that the sync cannot name), and
the sync reads that path. Exit codes: 0 synced, 3 held back by the gate, 4 rows failed, 6 stopped by a check,
7 another runner holds a contract (docs/operations.md); anything but 0 fails the asset, with the syncer's JSON report
in the error.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from dagster import AssetExecutionContext, Definitions, MaterializeResult, asset
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

PROJECT_DIR = Path(os.environ.get("DBT_PROJECT_DIR", "/opt/dbt/analytics"))
project = DbtProject(project_dir=PROJECT_DIR)


def run_target_path(context: AssetExecutionContext) -> str:
    """The target path of this Dagster run's build: one per run, shared by the build and the sync."""
    return f"/tmp/dbt-activation/{context.run.run_id}/target"


@dbt_assets(manifest=project.manifest_path)
def analytics_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build", "--target-path", run_target_path(context)], context=context).stream()


@asset(deps=[analytics_dbt_assets])
def activation_sync(context: AssetExecutionContext) -> MaterializeResult:
    command = f"npx dbt-activation sync --project-dir {PROJECT_DIR} --target-path {run_target_path(context)} --json"
    result = subprocess.run(command.split(), capture_output=True, text=True, check=False)
    context.log.info(result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"dbt-activation sync exited {result.returncode}: {result.stdout}")
    report = json.loads(result.stdout)
    return MaterializeResult(metadata={"exit_code": result.returncode, "contracts": len(report.get("contracts", []))})


defs = Definitions(
    assets=[analytics_dbt_assets, activation_sync],
    resources={"dbt": DbtCliResource(project_dir=project)},
)
