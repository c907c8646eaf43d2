-- Opening hours may be unknown (opening_hours NULL), and a facility may follow China's working calendar
-- (workday_calendar: closed on statutory holidays, open on make-up working days; see geo/hours.py).
ALTER TABLE facilities ALTER COLUMN opening_hours DROP NOT NULL;
ALTER TABLE facilities ADD COLUMN workday_calendar boolean NOT NULL DEFAULT false;
