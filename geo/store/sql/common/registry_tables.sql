-- The registry's tables, the same on every backend; the names after a $$ sign are the backend's types (geo/store/migrate.py).

-- The one row every writer locks; version = the registry version now served.
CREATE TABLE registry_state (id $int PRIMARY KEY CHECK (id = 1), version $bigint NOT NULL);
INSERT INTO registry_state VALUES (1, 0);

-- The current registry: one row per facility (a feature table QGIS and GDAL open). amenities and entry are
-- vocabulary keys joined with ';'. version = the registry version that last wrote the row.
CREATE TABLE facilities (
  fid $pk,
  geom $point NOT NULL,
  id $text NOT NULL UNIQUE,
  kind $text NOT NULL,
  name $text NOT NULL,
  district_adcode $text NOT NULL,
  district $text NOT NULL,
  name_en $text NOT NULL,
  township $text NOT NULL,
  address $text NOT NULL,
  amenities $text NOT NULL,
  opening_hours $text NOT NULL,
  access $text NOT NULL,
  entry $text NOT NULL,
  capacity $int,
  status $text NOT NULL,
  verified_at $text NOT NULL,
  phone $text NOT NULL,
  host $text NOT NULL,
  sample $bool NOT NULL,
  source_crs $text NOT NULL,
  source_lon $double,
  source_lat $double,
  version $bigint NOT NULL
);
CREATE INDEX facilities_version ON facilities (version);

-- Every version of every record: state at version V = rows with valid_from <= V < coalesce(valid_to, inf).
CREATE TABLE facility_history (
  seq $pk,
  facility_id $text NOT NULL,
  valid_from $bigint NOT NULL,
  valid_to $bigint,
  record $text NOT NULL
);
CREATE INDEX facility_history_open ON facility_history (facility_id, valid_to);
CREATE INDEX facility_history_to ON facility_history (valid_to);
CREATE INDEX facility_history_from ON facility_history (valid_from);

CREATE TABLE registry_versions (
  version $bigint PRIMARY KEY,
  time $text NOT NULL,
  actor $text NOT NULL,
  action $text NOT NULL,
  facility_id $text,
  count $int NOT NULL,
  meta $text NOT NULL
);

CREATE TABLE audit (
  seq $pk,
  time $text NOT NULL,
  actor $text NOT NULL,
  action $text NOT NULL,
  facility_id $text,
  version_before $bigint,
  version_after $bigint,
  before $text,
  after $text,
  extra $text NOT NULL
);

CREATE TABLE admin_tokens (
  sha256 $text PRIMARY KEY,
  name $text NOT NULL,
  created $text NOT NULL,
  revoked $bool NOT NULL,
  revoked_at $text
);

CREATE TABLE worker_reports (
  report_id $pk,
  time $text NOT NULL,
  kind $text NOT NULL,
  facility_id $text,
  lon $double,
  lat $double,
  message $text NOT NULL,
  client_hash $text NOT NULL,
  status $text NOT NULL,
  resolved_at $text,
  resolved_by $text,
  resolution $text
);
CREATE INDEX worker_reports_facility ON worker_reports (facility_id, report_id);
