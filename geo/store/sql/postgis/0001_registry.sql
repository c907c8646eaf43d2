-- The workermap registry on PostgreSQL + PostGIS (same tables and columns as the GeoPackage).
CREATE EXTENSION IF NOT EXISTS postgis;

-- The one row every writer locks (SELECT … FOR UPDATE); version = the registry version now served.
CREATE TABLE registry_state (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL);
INSERT INTO registry_state VALUES (1, 0);

CREATE TABLE facilities (
  fid bigserial PRIMARY KEY,
  geom geometry(Point, 4326) NOT NULL,
  id text NOT NULL UNIQUE,
  kind text NOT NULL,
  name text NOT NULL,
  district_adcode text NOT NULL,
  district text NOT NULL,
  name_en text NOT NULL,
  township text NOT NULL,
  address text NOT NULL,
  amenities text NOT NULL,
  opening_hours text NOT NULL,
  access text NOT NULL,
  entry text NOT NULL,
  capacity integer,
  status text NOT NULL,
  verified_at text NOT NULL,
  phone text NOT NULL,
  host text NOT NULL,
  sample boolean NOT NULL,
  source_crs text NOT NULL,
  source_lon double precision,
  source_lat double precision,
  version bigint NOT NULL
);
CREATE INDEX facilities_version ON facilities (version);
CREATE INDEX facilities_geom ON facilities USING gist (geom);

CREATE TABLE facility_history (
  seq bigserial PRIMARY KEY,
  facility_id text NOT NULL,
  valid_from bigint NOT NULL,
  valid_to bigint,
  record text NOT NULL
);
CREATE INDEX facility_history_open ON facility_history (facility_id, valid_to);
CREATE INDEX facility_history_to ON facility_history (valid_to);
CREATE INDEX facility_history_from ON facility_history (valid_from);

CREATE TABLE registry_versions (
  version bigint PRIMARY KEY,
  time text NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  facility_id text,
  count integer NOT NULL,
  meta text NOT NULL
);

CREATE TABLE audit (
  seq bigserial PRIMARY KEY,
  time text NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  facility_id text,
  version_before bigint,
  version_after bigint,
  before text,
  after text,
  extra text NOT NULL
);

CREATE TABLE admin_tokens (
  sha256 text PRIMARY KEY,
  name text NOT NULL,
  created text NOT NULL,
  revoked boolean NOT NULL,
  revoked_at text
);

CREATE TABLE worker_reports (
  report_id bigserial PRIMARY KEY,
  time text NOT NULL,
  kind text NOT NULL,
  facility_id text,
  lon double precision,
  lat double precision,
  message text NOT NULL,
  client_hash text NOT NULL,
  status text NOT NULL,
  resolved_at text,
  resolved_by text,
  resolution text
);
CREATE INDEX worker_reports_facility ON worker_reports (facility_id, report_id);
