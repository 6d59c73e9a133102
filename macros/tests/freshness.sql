{#-
  Test activation.freshness(max_age) on a timestamp column (or column_name=... at model level): the newest value is
  no older than `max_age` (a duration: '90m', '24h', '7d') before now (dbt.current_timestamp()). An empty model or
  an all-null column fails too: nothing proves it fresh. Fails with one row: newest, max_age and `reason`.
-#}
{% test freshness(model, column_name, max_age) %}
  {{ return(adapter.dispatch('test_freshness', 'activation')(model, column_name, max_age)) }}
{% endtest %}

{% macro default__test_freshness(model, column_name, max_age) %}
{%- set seconds = activation.duration_seconds(max_age) -%}
{%- set now = "cast(" ~ dbt.current_timestamp() ~ " as " ~ dbt.type_timestamp() ~ ")" %}
with newest as (
    select max(cast({{ column_name }} as {{ dbt.type_timestamp() }})) as newest_value
    from {{ model }}
)

select
    newest_value,
    {{ activation.sql_literal(max_age | string) }} as max_age,
    case
        when newest_value is null then {{ activation.sql_literal('no ' ~ column_name ~ ' value: nothing proves the model fresh') }}
        else {{ dbt.concat([activation.sql_literal('newest ' ~ column_name ~ ' '), activation.as_text('newest_value'), activation.sql_literal(' is older than ' ~ max_age)]) }}
    end as reason
from newest
where newest_value is null
    or newest_value < {{ activation.seconds_before(now, seconds) }}
{% endmacro %}
