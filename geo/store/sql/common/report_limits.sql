-- Worker reports, second step: the store's own secrets (the salt of the reporters' client hashes: never in code,
-- the same for every worker and server sharing the database) and the indexes of the rate limit and the queue.
CREATE TABLE store_secrets (
  name $text PRIMARY KEY,
  value $text NOT NULL
);
CREATE INDEX worker_reports_client ON worker_reports (client_hash, time);
CREATE INDEX worker_reports_status ON worker_reports (status, report_id);
