-- Changes that show the domain pipeline (examples/connectors/postgres-tms-domain.json)
-- collapsing each transaction into its net effect per row.
ALTER TABLE tms.note REPLICA IDENTITY FULL;           -- lets no-op updates be recognised
INSERT INTO tms.note VALUES (100, 1, 'pick-up at 9:00');

-- delete + re-insert in one transaction: one NoteUpdated with the final text
BEGIN;
DELETE FROM tms.note WHERE id = 100;
INSERT INTO tms.note VALUES (100, 1, 'pick-up at 10:30');
COMMIT;

-- insert + update: one NoteCreated with the final text
BEGIN;
INSERT INTO tms.note VALUES (101, 2, 'fragile');
UPDATE tms.note SET body = 'fragile, keep upright' WHERE id = 101;
COMMIT;

-- insert + delete: nothing on tms.domain.notes
BEGIN;
INSERT INTO tms.note VALUES (102, 2, 'typo');
DELETE FROM tms.note WHERE id = 102;
COMMIT;

-- a no-op update: nothing
UPDATE tms.note SET body = body WHERE id = 101;

-- a status change: one ShipmentUpdated
UPDATE tms.shipment SET status = 'dispatched' WHERE reference = 'SHP-1';
