"""dbt-activation in Airflow: `dbt build`, then the syncer fanned out over N shards with dynamic task mapping.

Each shard (`--shard i/n`, a stable hash of the sync key) holds its own lease and its own share of the
destination's rate limit. Exit codes: 0 synced, 3 held back by the gate, 4 rows failed, 6 stopped by a check,
7 another runner holds a shard (see docs/operations.md); anything but 0 fails the task.
"""
from __future__ import annotations

import os
from datetime import datetime

from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator

PROJECT_DIR = os.environ.get("DBT_PROJECT_DIR", "/opt/dbt/analytics")
SHARDS = int(os.environ.get("DBT_ACTIVATION_SHARDS", "4"))
TARGET_PATH = "/tmp/dbt-activation/{{ run_id }}/target"


@dag(schedule="@daily", start_date=datetime(2026, 1, 1), catchup=False, tags=["dbt", "activation"])
def dbt_activation():
    build = BashOperator(
        task_id="dbt_build",
        bash_command=f"dbt build --project-dir {PROJECT_DIR} --target-path {TARGET_PATH}",
    )

    @task
    def shards() -> list[str]:
        return [f"{i}/{SHARDS}" for i in range(SHARDS)]

    sync = BashOperator.partial(task_id="sync_shard").expand(
        bash_command=shards().map(
            lambda shard: f"npx dbt-activation sync --project-dir {PROJECT_DIR} --target-path {TARGET_PATH} --shard {shard} --json"
        )
    )
    build >> sync


dbt_activation()
