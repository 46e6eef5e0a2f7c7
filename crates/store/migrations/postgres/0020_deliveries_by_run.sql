-- A run's deliveries, found by the run: a starting node looks for runs that
-- ended with an alert and have no delivery (the process stopped between
-- writing the run's end and storing its alert) and stores what is missing.
CREATE INDEX IF NOT EXISTS notification_deliveries_by_run
    ON notification_deliveries (run_id);
