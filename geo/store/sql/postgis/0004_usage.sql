-- Facility usage: visits per facility and day or hour (sql/common/usage_tables.sql).

-- @include usage_tables
