-- Facility usage: visits per facility and day or hour (sql/common/usage_tables.sql), listed as attribute tables.

-- @include usage_tables

INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('usage_visits', 'attributes', 'usage_visits', 'Visits per facility and day (or hour), imported'),
         ('usage_imports', 'attributes', 'usage_imports', 'Usage imports: who, when, which file, which period');
