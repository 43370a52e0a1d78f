-- Changes made while the connector streams.
INSERT INTO tms.shipment (reference, carrier_id, weight_kg) VALUES ('SHP-3', 1, 42.00);
UPDATE tms.shipment SET status = 'dispatched' WHERE reference = 'SHP-1';
BEGIN;
INSERT INTO tms.note VALUES (1, 1, 'fragile');
DELETE FROM tms.note WHERE id = 1;
INSERT INTO tms.note VALUES (1, 1, 'fragile, keep upright');
COMMIT;
DELETE FROM tms.shipment WHERE reference = 'SHP-2';
