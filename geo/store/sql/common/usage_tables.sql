-- Facility usage (geo/usage.py): visits per facility and day, or per facility, day and hour, from the union's
-- operations spreadsheets (workermap usage import). A later import of the same facility and day replaces its rows.

-- One row per import: who, when, which file, the period it covered, whether its rows are synthetic (the sample).
CREATE TABLE usage_imports (
  import_id $pk,
  time $text NOT NULL,
  actor $text NOT NULL,
  file $text NOT NULL,
  row_count $int NOT NULL,
  first_day $text NOT NULL,
  last_day $text NOT NULL,
  synthetic $bool NOT NULL,
  replaced $bool NOT NULL
);

-- day: the Qingdao calendar date, YYYY-MM-DD; hour: 0-23 (visits in that hour), NULL for the day's total.
CREATE TABLE usage_visits (
  facility_id $text NOT NULL,
  day $text NOT NULL,
  hour $int CHECK (hour IS NULL OR (hour >= 0 AND hour <= 23)),
  visits $int NOT NULL CHECK (visits >= 0),
  synthetic $bool NOT NULL,
  import_id $bigint NOT NULL
);
CREATE INDEX usage_visits_day ON usage_visits (facility_id, day);
