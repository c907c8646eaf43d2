-- GeoPackage 1.3 core tables (OGC 12-128r18), then the workermap registry.
PRAGMA application_id = 1196444487;
PRAGMA user_version = 10300;

CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326,
   'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
   'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');

CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);

CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);

-- The one row every writer locks (BEGIN IMMEDIATE); version = the registry version now served.
CREATE TABLE registry_state (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO registry_state VALUES (1, 0);

-- The current registry: one row per facility, a GeoPackage feature table (QGIS and GDAL open it).
-- amenities and entry are vocabulary keys joined with ';'. version = the registry version that last wrote the row.
CREATE TABLE facilities (
  fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  geom POINT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  district_adcode TEXT NOT NULL,
  district TEXT NOT NULL,
  name_en TEXT NOT NULL,
  township TEXT NOT NULL,
  address TEXT NOT NULL,
  amenities TEXT NOT NULL,
  opening_hours TEXT NOT NULL,
  access TEXT NOT NULL,
  entry TEXT NOT NULL,
  capacity INTEGER,
  status TEXT NOT NULL,
  verified_at TEXT NOT NULL,
  phone TEXT NOT NULL,
  host TEXT NOT NULL,
  sample BOOLEAN NOT NULL,
  source_crs TEXT NOT NULL,
  source_lon DOUBLE,
  source_lat DOUBLE,
  version INTEGER NOT NULL
);
CREATE INDEX facilities_version ON facilities (version);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('facilities', 'features', 'facilities', 'Qingdao union facilities (WGS84)', 4326);
INSERT INTO gpkg_geometry_columns VALUES ('facilities', 'geom', 'POINT', 4326, 0, 0);

-- Every version of every record: state at version V = rows with valid_from <= V < coalesce(valid_to, inf).
CREATE TABLE facility_history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  facility_id TEXT NOT NULL,
  valid_from INTEGER NOT NULL,
  valid_to INTEGER,
  record TEXT NOT NULL
);
CREATE INDEX facility_history_open ON facility_history (facility_id, valid_to);
CREATE INDEX facility_history_to ON facility_history (valid_to);
CREATE INDEX facility_history_from ON facility_history (valid_from);

CREATE TABLE registry_versions (
  version INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  facility_id TEXT,
  count INTEGER NOT NULL,
  meta TEXT NOT NULL
);

CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  facility_id TEXT,
  version_before INTEGER,
  version_after INTEGER,
  before TEXT,
  after TEXT,
  extra TEXT NOT NULL
);

CREATE TABLE admin_tokens (
  sha256 TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created TEXT NOT NULL,
  revoked BOOLEAN NOT NULL,
  revoked_at TEXT
);

CREATE TABLE worker_reports (
  report_id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  kind TEXT NOT NULL,
  facility_id TEXT,
  lon DOUBLE,
  lat DOUBLE,
  message TEXT NOT NULL,
  client_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  resolved_at TEXT,
  resolved_by TEXT,
  resolution TEXT
);
CREATE INDEX worker_reports_facility ON worker_reports (facility_id, report_id);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('audit', 'attributes', 'audit', 'Every registry write: who, what, the record before and after'),
         ('registry_versions', 'attributes', 'registry_versions', 'Registry versions (restore with workermap restore N)');
