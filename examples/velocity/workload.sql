-- What the TMS does while Velocity streams: the changes the main job shows.
-- 1. the TMS edits a note the way it always does: DELETE + INSERT in one
--    transaction (one NoteUpdated domain event, one fast-storage update)
BEGIN;
DELETE FROM tms.note WHERE id = 1;
INSERT INTO tms.note VALUES (1, 1, 'call 30 minutes before delivery');
COMMIT;
-- 2. a new shipment, created with its stops and a handling unit in one transaction
BEGIN;
INSERT INTO tms.shipment VALUES (3, 'SHP-3', 'Initech', 'planned', 42.00);
INSERT INTO tms.stop VALUES (4, 3, 1, 'Bologna'), (5, 3, 2, 'Florence');
INSERT INTO tms.handling_unit VALUES (3, 3, '00012345600000000031', 42.00);
COMMIT;
-- 3. SHP-1 moves through its statuses (one ShipmentStatusChanged each,
--    and a ShipmentDelivered at the end)
UPDATE tms.shipment SET status = 'dispatched' WHERE id = 1;
UPDATE tms.trip SET status = 'departed' WHERE id = 1;
UPDATE tms.shipment SET status = 'in_transit' WHERE id = 1;
-- an update that ends where it started within one transaction: nothing
BEGIN;
UPDATE tms.shipment SET status = 'delayed' WHERE id = 2;
UPDATE tms.shipment SET status = 'planned' WHERE id = 2;
COMMIT;
UPDATE tms.shipment SET status = 'delivered' WHERE id = 1;
-- 4. a stop moves, a note is added and removed in one transaction (nothing),
--    a handling unit is deleted
UPDATE tms.stop SET city = 'Naples' WHERE id = 2;
BEGIN;
INSERT INTO tms.note VALUES (2, 2, 'typo');
DELETE FROM tms.note WHERE id = 2;
COMMIT;
DELETE FROM tms.handling_unit WHERE id = 2;
-- 5. SHP-2 is cancelled: its stop goes, then the shipment
BEGIN;
DELETE FROM tms.stop WHERE shipment_id = 2;
DELETE FROM tms.shipment WHERE id = 2;
COMMIT;
