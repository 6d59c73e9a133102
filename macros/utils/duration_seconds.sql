{#-
  activation.duration_seconds(duration) -> integer seconds (evaluated in Jinja, not SQL).
  A duration is a whole number and a unit: '30s', '90m', '24h', '7d', '2w'; a bare integer is seconds.
  The same grammar as the contract's durations (src/contract/duration.ts), plus weeks.
-#}
{% macro duration_seconds(duration) %}
  {%- if duration is number -%}
    {{ return(duration | int) }}
  {%- endif -%}
  {%- set match = modules.re.match('^\s*(\d+)\s*([smhdw]?)\s*$', duration | string) -%}
  {%- if not match -%}
    {{ exceptions.raise_compiler_error("activation: '" ~ duration ~ "' is not a duration (a whole number and a unit: 90s, 90m, 24h, 7d, 2w)") }}
  {%- endif -%}
  {%- set units = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800} -%}
  {{ return((match.group(1) | int) * units[match.group(2)]) }}
{% endmacro %}
