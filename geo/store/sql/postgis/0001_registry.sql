-- The workermap registry on PostgreSQL + PostGIS (same tables and columns as the GeoPackage).
CREATE EXTENSION IF NOT EXISTS postgis;

-- @include registry_tables

CREATE INDEX facilities_geom ON facilities USING gist (geom);
