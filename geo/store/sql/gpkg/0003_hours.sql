-- Opening hours may be unknown (opening_hours NULL), and a facility may follow China's working calendar
-- (workday_calendar: closed on statutory holidays, open on make-up working days; see geo/hours.py).
-- SQLite cannot drop a NOT NULL constraint, so the table is rebuilt: same rows, fids, id sequence and indexes
-- (gpkg_contents and gpkg_geometry_columns name the table, not its definition).
CREATE TABLE facilities_0003 (
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
  opening_hours TEXT,
  workday_calendar BOOLEAN NOT NULL DEFAULT 0,
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
INSERT INTO facilities_0003 (fid, geom, id, kind, name, district_adcode, district, name_en, township, address,
                             amenities, opening_hours, access, entry, capacity, status, verified_at, phone, host,
                             sample, source_crs, source_lon, source_lat, version)
  SELECT fid, geom, id, kind, name, district_adcode, district, name_en, township, address, amenities, opening_hours,
         access, entry, capacity, status, verified_at, phone, host, sample, source_crs, source_lon, source_lat, version
  FROM facilities;
-- keep the fid sequence (a removed record's fid is never given again)
DELETE FROM sqlite_sequence WHERE name = 'facilities_0003';
INSERT INTO sqlite_sequence (name, seq) SELECT 'facilities_0003', seq FROM sqlite_sequence WHERE name = 'facilities';
DROP TABLE facilities;
ALTER TABLE facilities_0003 RENAME TO facilities;
CREATE INDEX facilities_version ON facilities (version);
