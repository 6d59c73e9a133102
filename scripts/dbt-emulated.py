"""Runs dbt (from .venv-snowflake, scripts/setup-snowflake-venv.sh) against a warehouse that is not there, for the dbt
package's third-engine check (test/compat/warehouses.test.ts). Three modes:

  dbt-emulated.py fakesnow DB_DIR DBT_ARGS...   dbt-snowflake with the Snowflake connector patched in-process by
                                                 fakesnow (Snowflake SQL translated onto DuckDB files in DB_DIR).
  dbt-emulated.py bigquery-offline DBT_ARGS...  dbt-bigquery with no connection: every relation is reported missing
                                                 and any query raises, so `dbt compile` renders the package's
                                                 bigquery__ macros exactly as dbt-bigquery dispatches them, offline.
  dbt-emulated.py parse-sql DIALECT DIR         parses every compiled .sql file under DIR with sqlglot in that dialect;
                                                 prints a JSON object {"parsed": n, "errors": {path: message}}.
"""

import json
import pathlib
import sys


def run_dbt(args):
    from dbt.cli.main import cli

    sys.argv = ["dbt", *args]
    cli()


def fakesnow_mode(db_dir, args):
    import fakesnow

    pathlib.Path(db_dir).mkdir(parents=True, exist_ok=True)
    with fakesnow.patch(db_path=db_dir):
        run_dbt(args)


class NoWarehouse:
    """The connection handle: compile-time rendering may not run a query (the check is that it needs none)."""

    def close(self):
        pass

    def __getattr__(self, name):
        raise RuntimeError(f"bigquery-offline: the compile tried to reach BigQuery ({name})")


def bigquery_offline_mode(args):
    from dbt.adapters.bigquery.connections import BigQueryConnectionManager
    from dbt.adapters.bigquery.impl import BigQueryAdapter
    from dbt.adapters.contracts.connection import ConnectionState

    def open_offline(cls, connection):
        connection.handle = NoWarehouse()
        connection.state = ConnectionState.OPEN
        return connection

    BigQueryConnectionManager.open = classmethod(open_offline)
    # Nothing exists yet: activation.relation_or_empty then renders its typed empty stand-in, as before a first sync.
    BigQueryAdapter.get_relation = lambda self, database, schema, identifier: None
    BigQueryAdapter.list_relations_without_caching = lambda self, schema_relation: []
    BigQueryAdapter.list_schemas = lambda self, database: []
    BigQueryAdapter.check_schema_exists = lambda self, database, schema: False
    run_dbt(args)


def parse_sql_mode(dialect, root):
    import sqlglot

    errors = {}
    parsed = 0
    for path in sorted(pathlib.Path(root).rglob("*.sql")):
        try:
            statements = [s for s in sqlglot.parse(path.read_text(), read=dialect) if s is not None]
            if not statements:
                raise ValueError("no statement")
            parsed += 1
        except Exception as error:  # sqlglot raises ParseError and TokenError; both mean the SQL is not valid
            errors[str(path.relative_to(root))] = str(error).splitlines()[0][:300]
    print(json.dumps({"parsed": parsed, "errors": errors}))


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: dbt-emulated.py fakesnow DB_DIR ARGS... | bigquery-offline ARGS... | parse-sql DIALECT DIR")
    mode = sys.argv[1]
    if mode == "fakesnow" and len(sys.argv) >= 3:
        fakesnow_mode(sys.argv[2], sys.argv[3:])
    elif mode == "bigquery-offline":
        bigquery_offline_mode(sys.argv[2:])
    elif mode == "parse-sql" and len(sys.argv) == 4:
        parse_sql_mode(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"dbt-emulated.py: unknown mode or missing arguments: {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
