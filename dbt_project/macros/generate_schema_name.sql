{# Models land in exactly the schema they name (staging, intermediate, marts): the API and the dashboard
   read `marts.*` whatever the profile's default schema is. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
